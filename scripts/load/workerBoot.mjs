// Worker-thread entry: registers tsx in this thread (loader hooks of the main
// thread do not reach workers on Node 20), then runs the TypeScript worker.
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
