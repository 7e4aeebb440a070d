/**
 * `npm run loadtest -- --help`: drives a gateway with many sockets and prints
 * per-operation throughput, latency percentiles and errors. See README
 * "Load tests and benchmarks".
 */
import { writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { loadCommand } from './load/args.js';
import { formatReport, progressLine } from './load/report.js';
import { runLoad } from './load/run.js';

const options = loadCommand.parseOrExit();

const tty = process.stderr.isTTY && !options.quiet;
let previous = { steps: 0, at: 0 };
let stopSignal: () => void = () => {};
const stopped = new Promise<void>((resolve) => (stopSignal = resolve));
process.once('SIGINT', () => {
  process.stderr.write('\nstopping (Ctrl-C again to abort)\n');
  stopSignal();
  process.once('SIGINT', () => process.exit(130));
});

const report = await runLoad(options, {
  stopSignal: stopped,
  onProgress(p) {
    if (!tty || p.elapsedS - previous.at < 0.9) return;
    process.stderr.write(`\r\x1b[K${progressLine(p, previous)}`);
    previous = { steps: p.steps, at: p.elapsedS };
  },
});
if (tty) process.stderr.write('\r\x1b[K');
console.log(formatReport(report));
if (options.json) {
  mkdirSync(dirname(options.json), { recursive: true });
  writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${options.json}`);
}
process.exit(report.errors > 0 && report.operations.every((o) => o.count === 0) ? 1 : 0);
