/**
 * Runs a load test: splits the sockets (and the request budget and open-loop
 * rate) over worker threads, shows progress, merges their histograms into one
 * report. Used by `npm run loadtest` and by the benchmark.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { assignScenarios, type LoadOptions } from './args.js';
import { runEngine, type EngineJob, type EngineProgress, type EngineResult } from './engine.js';
import { Recorder, type OperationSummary } from './stats.js';

export interface LoadReport {
  startedAt: string;
  url: string;
  options: Omit<LoadOptions, 'quiet'>;
  /** Seconds of the measured run (after every socket was ready). */
  elapsedS: number;
  setupS: number;
  /** Steps completed (requests or reconnects; idle heartbeats not counted). */
  steps: number;
  errors: number;
  peakSockets: number;
  operations: OperationSummary[];
}

export interface RunHooks {
  /** Progress of all workers together, about twice a second. */
  onProgress?(p: EngineProgress & { elapsedS: number }): void;
  /** Distinct tokens handed out once each to authorize steps (a reconnect storm). */
  tokens?: string[];
  /** Resolving stops the run early (e.g. Ctrl-C). */
  stopSignal?: Promise<void>;
}

/** Splits `n` into `parts` near-equal integers. */
export function split(n: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(n / parts) + (i < n % parts ? 1 : 0));
}

export async function runLoad(options: LoadOptions, hooks: RunHooks = {}): Promise<LoadReport> {
  const startedAt = new Date().toISOString();
  const assignment = assignScenarios(options.scenarios, options.connections);
  const threads = Math.max(1, Math.min(options.workers || 1, options.connections));
  const jobs: EngineJob[] = Array.from({ length: threads }, () => ({ options, slots: [], requestBudget: null, totalRate: null, tokens: null }));
  assignment.forEach((scenario, index) => jobs[index % threads]!.slots.push({ index, scenario }));
  const budgets = options.requests !== null ? split(options.requests, threads) : null;
  jobs.forEach((job, i) => {
    job.requestBudget = budgets ? budgets[i]! : null;
    job.totalRate = options.totalRate !== null ? options.totalRate / threads : null;
    if (hooks.tokens) {
      const share = split(hooks.tokens.length, threads);
      const from = share.slice(0, i).reduce((a, b) => a + b, 0);
      job.tokens = hooks.tokens.slice(from, from + share[i]!);
    }
  });

  const progress: EngineProgress[] = jobs.map(() => ({ steps: 0, errors: 0, openSockets: 0, slotsReady: 0, slotsFailed: 0 }));
  const t0 = performance.now();
  const emit = () =>
    hooks.onProgress?.({
      steps: progress.reduce((s, p) => s + p.steps, 0),
      errors: progress.reduce((s, p) => s + p.errors, 0),
      openSockets: progress.reduce((s, p) => s + p.openSockets, 0),
      slotsReady: progress.reduce((s, p) => s + p.slotsReady, 0),
      slotsFailed: progress.reduce((s, p) => s + p.slotsFailed, 0),
      elapsedS: (performance.now() - t0) / 1000,
    });

  let stopRequested = false;
  void hooks.stopSignal?.then(() => {
    stopRequested = true;
  });
  let results: EngineResult[];
  if (options.workers === 0) {
    results = [
      await runEngine(
        jobs[0]!,
        (p) => {
          progress[0] = p;
          emit();
        },
        () => stopRequested,
      ),
    ];
  } else {
    const boot = new URL('./workerBoot.mjs', import.meta.url);
    const entry = pathToFileURL(new URL('./worker.ts', import.meta.url).pathname).href;
    results = await Promise.all(
      jobs.map(
        (job, i) =>
          new Promise<EngineResult>((resolve, reject) => {
            const worker = new Worker(boot, { workerData: { entry, job } });
            void hooks.stopSignal?.then(() => worker.postMessage({ type: 'stop' }));
            worker.on('message', (m: { type: string; progress?: EngineProgress; result?: EngineResult }) => {
              if (m.type === 'progress') {
                progress[i] = m.progress!;
                emit();
              } else if (m.type === 'done') {
                resolve(m.result!);
                void worker.terminate();
              }
            });
            worker.once('error', reject);
            worker.once('exit', (code) => {
              if (code !== 0 && code !== 1) reject(new Error(`load worker ${i} exited with ${code}`));
            });
          }),
      ),
    );
  }

  const recorder = new Recorder();
  for (const r of results) recorder.merge(r.recorder);
  const elapsedS = Math.max(...results.map((r) => r.elapsedS));
  const { quiet: _quiet, ...reported } = options;
  return {
    startedAt,
    url: options.url,
    options: reported,
    elapsedS,
    setupS: Math.max(...results.map((r) => r.setupS)),
    steps: results.reduce((s, r) => s + r.steps, 0),
    errors: recorder.totalErrors,
    peakSockets: results.reduce((s, r) => s + r.peakSockets, 0),
    operations: recorder.summaries(elapsedS),
  };
}
