/**
 * Logs refusals of revoked or unknown tokens once per interval per session,
 * not once per attempt: a bot whose token was reset keeps reconnecting every
 * few seconds, forever, and must not fill the log. The first refusal of a
 * session in an interval is logged at once; the count of the rest when the
 * interval ends. Bounded: past MAX_TRACKED sessions in one interval, the rest
 * are only counted in total.
 */
import type { Id } from '../domain/ids.js';
import type { Logger } from '../logger.js';

const MAX_TRACKED = 10_000;

export class RepeatedRefusals {
  private counts = new Map<Id, number>();
  private untracked = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = 60_000,
  ) {}

  note(sessionId: Id): void {
    const seen = this.counts.get(sessionId);
    if (seen !== undefined) {
      this.counts.set(sessionId, seen + 1);
      return;
    }
    if (this.counts.size >= MAX_TRACKED) {
      this.untracked++;
      return;
    }
    this.counts.set(sessionId, 1);
    this.log.info({ sessionId }, 'refused a revoked or unknown session token (repeats are counted, logged once per interval)');
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  private flush(): void {
    this.timer = undefined;
    const repeated = [...this.counts].filter(([, n]) => n > 1);
    if (repeated.length || this.untracked) {
      this.log.info(
        { sessions: repeated.slice(0, 20).map(([sessionId, attempts]) => ({ sessionId, attempts })), repeatedSessions: repeated.length, untracked: this.untracked },
        `revoked or unknown tokens presented again within ${Math.round(this.intervalMs / 1000)} s`,
      );
    }
    this.counts = new Map();
    this.untracked = 0;
  }
}
