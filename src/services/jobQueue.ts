/**
 * A bounded work queue shared by the services that run slow work in the
 * background or on the thread pool (password hashes, mail). At most
 * `concurrency` jobs run at once; the others wait in FIFO order per source,
 * and sources take turns (round robin), so one source flooding the queue
 * delays its own jobs, not everyone's. Optional bounds refuse new work
 * (QueueFullError) instead of letting the queue, and the wait, grow without end.
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
}

export class JobQueue {
  private runningJobs = 0;
  private queuedJobs = 0;
  /** Source → its waiting jobs; Map order is the turn order (a source that just had a turn goes last). */
  private readonly waiting = new Map<string, Waiting[]>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly options: JobQueueOptions) {}

  get running(): number {
    return this.runningJobs;
  }

  get queued(): number {
    return this.queuedJobs;
  }

  /**
   * Runs `work` when a slot is free and it is `source`'s turn; resolves or
   * rejects with it. Throws QueueFullError at once when a bound is reached.
   */
  async run<T>(work: () => Promise<T>, source = ''): Promise<T> {
    if (this.runningJobs >= this.options.concurrency) {
      const mine = this.waiting.get(source);
      if (this.options.maxQueued !== undefined && this.queuedJobs >= this.options.maxQueued) throw new QueueFullError('total');
      if (this.options.maxQueuedPerSource !== undefined && (mine?.length ?? 0) >= this.options.maxQueuedPerSource) {
        throw new QueueFullError('source');
      }
      await new Promise<void>((start, cancel) => {
        if (mine) mine.push({ start, cancel });
        else this.waiting.set(source, [{ start, cancel }]);
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
    job.start(); // the slot passes on: runningJobs stays
  }

  private settleIdle(): void {
    if (this.runningJobs !== 0 || this.queuedJobs !== 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
