/**
 * The strength checker's thread, seen from the event loop: one worker
 * (passwordStrengthWorker.mjs), started on demand (or by `start()`), asked
 * one password at a time over messages. It holds the process open only while
 * a check is under way; when it dies, the next check starts another.
 */
import { Worker } from 'node:worker_threads';

/** What zxcvbn says of a password: its score (0-4), the reason for a low one, and how many characters it scored. */
export interface StrengthVerdict {
  score: number;
  /** zxcvbn's warning key (`common`, `userInputs`...), or null. */
  warning: string | null;
  evaluated: number;
}

/** A question to the thread. */
export interface StrengthRequest {
  id: number;
  password: string;
  userInputs: string[];
}

/** Its answer. */
export type StrengthAnswer = { id: number; verdict: StrengthVerdict } | { id: number; error: string };

export interface StrengthOptions {
  /** Characters scored at most. */
  maxLength: number;
  /** l33t substitutions tried at a time. */
  l33tMaxSubstitutions: number;
}

/** The thread's script, beside this module: in src/services/, and copied into dist/server/ by the build. */
const WORKER_FILE = new URL('./passwordStrengthWorker.mjs', import.meta.url);

export class StrengthChecker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, { resolve: (v: StrengthVerdict) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  constructor(private readonly options: StrengthOptions) {}

  /** Starts the thread now, so that its dictionaries are built before the first check (on the other core). */
  start(): void {
    this.thread();
  }

  check(password: string, userInputs: string[]): Promise<StrengthVerdict> {
    const worker = this.thread();
    const id = this.nextId++;
    const verdict = new Promise<StrengthVerdict>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    if (this.pending.size === 1) worker.ref(); // an answer to wait for keeps the process alive
    worker.postMessage({ id, password, userInputs } satisfies StrengthRequest);
    return verdict;
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    // Plain JavaScript: none of this process's node options (a TypeScript loader under tsx) is needed there.
    const worker = new Worker(WORKER_FILE, { workerData: this.options, execArgv: [] });
    worker.on('message', (answer: StrengthAnswer) => {
      const waiting = this.pending.get(answer.id);
      if (!waiting) return;
      this.pending.delete(answer.id);
      if (this.pending.size === 0) worker.unref();
      if ('verdict' in answer) waiting.resolve(answer.verdict);
      else waiting.reject(new Error(`password strength check failed: ${answer.error}`));
    });
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined; // the next check starts a new thread
      for (const { reject } of this.pending.values()) reject(err);
      this.pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the password strength thread exited (code ${code})`)));
    // After the listeners: adding a 'message' listener refs the thread's port again.
    worker.unref();
    this.worker = worker;
    return worker;
  }
}
