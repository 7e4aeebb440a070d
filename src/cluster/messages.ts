/** What a cluster worker tells its primary over IPC about its start. */
export type WorkerMessage =
  /** The worker serves. */
  | { type: 'osmium:worker-ready' }
  /** The worker could not start and is exiting; `reason` is the one line of src/startFailure.ts. */
  | { type: 'osmium:worker-start-failed'; reason: string };

export function isWorkerMessage(message: unknown): message is WorkerMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'osmium:worker-ready' || type === 'osmium:worker-start-failed';
}
