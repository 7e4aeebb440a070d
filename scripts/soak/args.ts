/** Command line of `npm run soak`, parsed and bounded. */
import { fileURLToPath } from 'node:url';
import { UsageError, defineCommand, numberValue } from '../commandLine.mjs';

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url));

export interface SoakOptions {
  minutes: number;
  sockets: number;
  /** Churn operations per second across the fleet. */
  rate: number;
  /** Seconds between samples. */
  sampleS: number;
  /** Share of the sockets held by email accounts (their churn is sign-in + revoke of the old session). */
  accountShare: number;
  /** Seconds between a client's heartbeats. */
  heartbeatS: number;
  out: string;
  quiet: boolean;
  /** Judge and report the samples of this earlier result (JSON) instead of running. */
  from: string | null;
}

/** One sample every 20 s in a long run (about 90 in 30 min), at least one every 2 s in a short one. */
export function defaultSampleS(minutes: number): number {
  return Math.min(20, Math.max(2, Math.round((minutes * 60) / 90)));
}

export const soakCommand = defineCommand(
  {
    usage: 'npm run soak -- --minutes N [options]',
    options: {
      minutes: { type: 'string', value: 'N', help: 'minutes of churn after the sockets are open, 0.2-600 (required; may be a fraction)' },
      sockets: { type: 'string', value: 'N', help: 'authorized sockets held, 100-18000 (default 10000; the fd limit is 20000)' },
      rate: { type: 'string', value: 'N', help: 'churn operations per second, 0.5-500 (default sockets / 500: 20 for 10000)' },
      sample: { type: 'string', value: 'S', help: 'seconds between samples, 1-60 (default: minutes*60/90 within 2-20)' },
      heartbeat: { type: 'string', value: 'S', help: 'seconds between heartbeats of each socket, 1-300 (default 30, as real clients)' },
      out: { type: 'string', value: 'DIR', help: 'results folder (default bench/results)' },
      from: { type: 'string', value: 'FILE', help: "judge and report an earlier run's soak-*.json again (no run; with the current rule)" },
      quiet: { type: 'boolean', help: 'no progress lines' },
    },
    notes: `churn mix: 60 % reconnect with resume (close, new socket, Initialize, Authorize with the token),
  20 % guest sign-out (auth.revokeSessions of its own session: closed with 4001, replaced by a new sign-up),
  20 % email sign-in on a new socket that revokes the account's previous session (its socket closed with 4001).
exit 1 when any judged series grows without bound (docs/faults.md, "Soak"), or a churn operation misbehaved.`,
  },
  (v): SoakOptions => {
    if (v.minutes === undefined && v.from === undefined) throw new UsageError('--minutes is required');
    const minutes = v.minutes === undefined ? 0 : numberValue('minutes', v.minutes, { min: 0.2, max: 600, integer: false });
    const sockets = v.sockets === undefined ? 10_000 : numberValue('sockets', v.sockets, { min: 100, max: 18_000 });
    return {
      minutes,
      sockets,
      rate: v.rate === undefined ? sockets / 500 : numberValue('rate', v.rate, { min: 0.5, max: 500, integer: false }),
      sampleS: v.sample === undefined ? defaultSampleS(minutes) : numberValue('sample', v.sample, { min: 1, max: 60, integer: false }),
      accountShare: 0.1,
      heartbeatS: v.heartbeat === undefined ? 30 : numberValue('heartbeat', v.heartbeat, { min: 1, max: 300, integer: false }),
      out: v.out ?? DEFAULT_OUT,
      quiet: v.quiet,
      from: v.from ?? null,
    };
  },
);
