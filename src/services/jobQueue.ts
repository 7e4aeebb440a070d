/**
 * A bounded work queue shared by the services that run slow work in the
 * background or on another thread (password hashes, password strength
 * checks, mail). At most `concurrency` jobs run at once; the others wait in
 * FIFO order per source, and sources take turns (round robin), so one source
 * flooding the queue delays its own jobs, not everyone's. Optional bounds
 * refuse new work (QueueFullError) instead of letting the queue, and the
 * wait, grow without end. A job may name several sources (an address and an
 * account): it takes its turn as the first, and every one of them is bounded.
 */

/** Thrown by `run` when a bound is reached; nothing was queued. */
export class QueueFullError extends Error {
  constructor(readonly scope: 'source' | 'total') {
    super(scope === 'source' ? 'too many jobs queued for this source' : 'too many jobs queued');
    this.name = 'QueueFullError';
  }
}

export interface JobQueueOptions {
  /** Jobs running at once. */
  concurrency: number;
  /** Jobs waiting at most, over all sources (default: unbounded). */
  maxQueued?: number;
  /** Jobs waiting at most per source (default: unbounded). */
  maxQueuedPerSource?: number;
}

interface Waiting {
  start: () => void;
  cancel: (err: Error) => void;
  /** Every source the job counts against (the first is its turn's). */
  sources: readonly string[];
}

export class JobQueue {
  private runningJobs = 0;
  private queuedJobs = 0;
  /** Source → its waiting jobs; Map order is the turn order (a source that just had a turn goes last). */
  private readonly waiting = new Map<string, Waiting[]>();
  /** Jobs waiting per source, counting every source a job names. */
  private readonly waitingPerSource = new Map<string, number>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: JobQueueOptions) {}

  get running(): number {
    return this.runningJobs;
  }

  get queued(): number {
    return this.queuedJobs;
  }

  /**
   * Runs `work` when a slot is free and it is its source's turn (the first
   * of `source` when several are named); resolves or rejects with it. Throws
   * QueueFullError at once when a bound is reached.
   */
  async run<T>(work: () => Promise<T>, source: string | readonly string[] = ''): Promise<T> {
    if (this.runningJobs >= this.options.concurrency) {
      const sources = typeof source === 'string' ? [source] : source;
      const turn = sources[0] ?? '';
      if (this.options.maxQueued !== undefined && this.queuedJobs >= this.options.maxQueued) throw new QueueFullError('total');
      const perSource = this.options.maxQueuedPerSource;
      if (perSource !== undefined && sources.some((s) => (this.waitingPerSource.get(s) ?? 0) >= perSource)) {
        throw new QueueFullError('source');
      }
      await new Promise<void>((start, cancel) => {
        const job = { start, cancel, sources };
        const mine = this.waiting.get(turn);
        if (mine) mine.push(job);
        else this.waiting.set(turn, [job]);
        for (const s of sources) this.waitingPerSource.set(s, (this.waitingPerSource.get(s) ?? 0) + 1);
        this.queuedJobs++;
      });
    } else {
      this.runningJobs++;
    }
    try {
      return await work();
    } finally {
      this.next();
    }
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.runningJobs === 0 && this.queuedJobs === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops every waiting job (their `run` rejects with `reason`); returns how many. */
  clear(reason: Error): number {
    const dropped = this.queuedJobs;
    for (const jobs of this.waiting.values()) for (const job of jobs) job.cancel(reason);
    this.waiting.clear();
    this.waitingPerSource.clear();
    this.queuedJobs = 0;
    this.settleIdle();
    return dropped;
  }

  /** A job finished: hand its slot to the next source in turn, or free it. */
  private next(): void {
    const turn = this.waiting.entries().next();
    if (turn.done) {
      this.runningJobs--;
      this.settleIdle();
      return;
    }
    const [source, jobs] = turn.value;
    const job = jobs.shift()!;
    this.waiting.delete(source);
    if (jobs.length) this.waiting.set(source, jobs); // to the back of the turn order
    this.queuedJobs--;
    for (const s of job.sources) {
      const left = (this.waitingPerSource.get(s) ?? 1) - 1;
      if (left > 0) this.waitingPerSource.set(s, left);
      else this.waitingPerSource.delete(s);
    }
    job.start(); // the slot passes on: runningJobs stays
  }

  private settleIdle(): void {
    if (this.runningJobs !== 0 || this.queuedJobs !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
