/**
 * Metrics of every worker of a node:cluster gateway: a worker asked for
 * /metrics asks the primary over IPC, and the primary aggregates every
 * worker's registry (prom-client's AggregatorRegistry), so any worker answers
 * for the whole machine.
 */
import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';

const REQUEST_ASK = 'osmium:metrics:ask';
const REQUEST_ANSWER = 'osmium:metrics:answer';
const ASK_TIMEOUT_MS = 5_000;

/** Run in a worker: lets the primary's aggregator collect this registry. */
export function shareWithPrimary(registry: Registry): void {
  AggregatorRegistry.setRegistries([registry]);
  new AggregatorRegistry(); // installs the worker's answer to the primary
}

let asked = 0;
const pending = new Map<number, { resolve: (body: string) => void; reject: (err: Error) => void; timer: NodeJS.Timeout }>();
let answerListener = false;

/** A worker's request for the cluster-wide metrics text. */
export function askPrimaryForMetrics(): Promise<string> {
  if (!answerListener) {
    answerListener = true;
    process.on('message', (message: { type?: string; id?: number; body?: string; error?: string }) => {
      if (message?.type !== REQUEST_ANSWER || message.id === undefined) return;
      const waiter = pending.get(message.id);
      if (!waiter) return;
      pending.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.error !== undefined) waiter.reject(new Error(message.error));
      else waiter.resolve(message.body ?? '');
    });
  }
  const id = ++asked;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error('the cluster primary did not answer the metrics request'));
    }, ASK_TIMEOUT_MS);
    pending.set(id, { resolve, reject, timer });
    process.send!({ type: REQUEST_ASK, id });
  });
}

/** Run in the cluster primary: answers workers' /metrics requests with every worker's metrics aggregated. */
export function serveClusterMetrics(): void {
  const aggregator = new AggregatorRegistry();
  cluster.on('message', (worker: Worker, message: { type?: string; id?: number }) => {
    if (message?.type !== REQUEST_ASK) return;
    aggregator.clusterMetrics().then(
      (body) => worker.isConnected() && worker.send({ type: REQUEST_ANSWER, id: message.id, body }),
      (err: Error) => worker.isConnected() && worker.send({ type: REQUEST_ANSWER, id: message.id, error: err.message }),
    );
  });
}
