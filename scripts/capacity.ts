/**
 * `npm run capacity -- --sockets 1000000 --reconnect-storm-seconds 60`: what
 * a fleet for that many concurrent sockets needs (gateway processes, cores
 * and memory, Redis and Postgres load and memory, network, reconnect-storm
 * time), computed from the figures the last `npm run bench` runs measured
 * (bench/results/*.json). Every output shows its formula. See docs/capacity.md.
 */
import { fileURLToPath } from 'node:url';
import { CapacityArgError, USAGE, loadResults, parseCapacityArgs, renderReport } from './capacity/cli.js';
import { MissingInput, computeModel, readInputs } from './capacity/model.js';

try {
  const options = parseCapacityArgs(process.argv.slice(2), fileURLToPath(new URL('../bench/results', import.meta.url)));
  if (options.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const inputs = readInputs(loadResults(options.results));
  console.log(renderReport(inputs, computeModel(inputs, options.assumptions), options.assumptions, options.markdown));
} catch (err) {
  if (err instanceof CapacityArgError) {
    console.error(`${err.message}\n${USAGE}`);
    process.exit(2);
  }
  if (err instanceof MissingInput) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
