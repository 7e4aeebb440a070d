/**
 * Per-socket request limiter: a token bucket (SOCKET_RATE per second, up to
 * SOCKET_BURST) plus a flood detector. Deliberately two numbers and a counter
 * on the connection rather than a library limiter keyed by socket: it is
 * checked on every frame and lives as long as each of tens of thousands of idle
 * sockets, so it must cost nothing when idle. Limits shared across instances
 * (sign-in, mail, invites) use rate-limiter-flexible over Redis instead.
 */
export type LimitDecision = 'allow' | 'refuse' | 'close';

export interface SocketLimits {
  rate: number;
  burst: number;
  floodClose: number;
}

export class SocketLimiter {
  private tokens: number;
  private last: number;
  private refusedWindowStart = 0;
  private refusedInWindow = 0;

  constructor(private readonly limits: SocketLimits) {
    this.tokens = limits.burst;
    this.last = Date.now();
  }

  /** Takes one token for a frame. */
  take(now = Date.now()): LimitDecision {
    const { rate, burst, floodClose } = this.limits;
    this.tokens = Math.min(burst, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 'allow';
    }
    if (now - this.refusedWindowStart >= 1000) {
      this.refusedWindowStart = now;
      this.refusedInWindow = 0;
    }
    this.refusedInWindow++;
    return this.refusedInWindow > floodClose ? 'close' : 'refuse';
  }

  /** Seconds until a token is available again (for the 429 message). */
  retryAfterSeconds(): number {
    return Math.max(1, Math.ceil((1 - this.tokens) / this.limits.rate));
  }
}
