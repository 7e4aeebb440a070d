/**
 * `npm run soak -- --minutes N`: 10 000 authorized sockets on one gateway
 * process with churn (reconnects with resume, revocations, sign-ins) for N
 * minutes, sampling the gateway's RSS, heap and descriptors, Redis keys and
 * memory and Postgres rows; exits 1 when a series grows without bound
 * (docs/faults.md, "Soak"). scripts/soak/ holds the parts.
 */
import { soakCommand } from './soak/args.js';
import { formatReport, writeResults } from './soak/report.js';
import { readFileSync } from 'node:fs';
import { rejudge, runSoak, type SoakResult } from './soak/run.js';

const options = soakCommand.parseOrExit();
// Ctrl-C or a kill: exit, so that the stack's exit handler stops Postgres and Redis (the gateway dies with its pipe).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));
const log = (line: string) => process.stderr.write(`${line}\n`);
try {
  const result = options.from ? rejudge(JSON.parse(readFileSync(options.from, 'utf8')) as SoakResult) : await runSoak(options, log);
  console.log(formatReport(result));
  for (const file of writeResults(result, options.out)) console.log(`wrote ${file}`);
  process.exit(result.ok ? 0 : 1);
} catch (err) {
  console.error(`soak: could not run: ${(err as Error).stack ?? err}`);
  process.exit(2);
}
