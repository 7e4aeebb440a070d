/**
 * `npm run capacity -- --sockets 1000000 --reconnect-storm-seconds 60`: what
 * a fleet for that many concurrent sockets needs (gateway processes, cores
 * and memory, Redis and Postgres load and memory, network, reconnect-storm
 * time), computed from the figures the last `npm run bench` runs measured
 * (bench/results/*.json). Every output shows its formula. See docs/capacity.md.
 */
import { capacityCommand, loadResults, renderReport } from './capacity/cli.js';
import { MissingInput, computeModel, readInputs } from './capacity/model.js';

const options = capacityCommand.parseOrExit();
try {
  const inputs = readInputs(loadResults(options.results));
  console.log(renderReport(inputs, computeModel(inputs, options.assumptions), options.assumptions, options.markdown));
} catch (err) {
  if (err instanceof MissingInput) {
    console.error(err.message);
    process.exit(1);
  }
  throw err;
}
