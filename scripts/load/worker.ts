/** Worker thread of the load test: runs one engine and reports to the main thread. */
import { parentPort, workerData } from 'node:worker_threads';
import { runEngine, type EngineJob } from './engine.js';

const { job } = workerData as { job: EngineJob };
let stopRequested = false;
parentPort!.on('message', (message: { type: string }) => {
  if (message.type === 'stop') stopRequested = true;
});
const result = await runEngine(
  job,
  (progress) => parentPort!.postMessage({ type: 'progress', progress }),
  () => stopRequested,
);
parentPort!.postMessage({ type: 'done', result });
