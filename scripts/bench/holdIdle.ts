/**
 * Child process of the benchmark (figures 2 and 7): opens idle authorized sockets
 * with the tokens it is sent, reports over IPC when they are all open, and
 * holds them until told to stop. A separate process so that the load side
 * has its own file-descriptor limit.
 */
import type { LoadOptions } from '../load/args.js';
import { runLoad } from '../load/run.js';

interface Start {
  type: 'start';
  options: LoadOptions;
  tokens: string[];
}

process.once('message', (start: Start) => {
  let release!: () => void;
  const stopSignal = new Promise<void>((resolve) => (release = resolve));
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') release();
  });
  let announced = false;
  void runLoad(start.options, {
    tokens: start.tokens,
    stopSignal,
    onProgress(p) {
      if (p.slotsReady + p.slotsFailed >= start.options.connections && !announced) {
        announced = true;
        process.send!({ type: 'ready', open: p.openSockets, errors: p.slotsFailed });
      }
    },
  }).then((report) => {
    process.send!({ type: 'done', report }, () => process.exit(0));
  });
});
