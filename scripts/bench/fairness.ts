/**
 * Figure 6, hash-pool fairness: a legitimate sign-in's latency while one
 * address floods sign-ins for random unknown emails, against the same
 * sign-in on the idle gateway, with the gateway's rate limits ON (as in
 * production). The legitimate client signs in from 127.0.0.1, the flood comes
 * from 127.0.0.2. Idle and flood phases alternate in rounds; after each flood
 * the bench waits for every flood request to be answered, so the hash queue
 * is empty before the next idle phase.
 */
import { randomBytes } from 'node:crypto';
import { percentile } from '../load/stats.js';
import { BENCH_DEVICE, BenchSocket } from './driver.js';
import { spawnGateway } from './processes.js';
import type { BenchSettings, Row } from './figures.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export const FAIRNESS = {
  /** bcrypt cost of this figure's gateway: the ratio does not depend on it, and the flood drains 4x faster than at 12. */
  bcryptCost: 10,
  legitimateAddress: '127.0.0.1',
  floodAddress: '127.0.0.2',
  /** Flood sockets and their total open-loop rate: under SOCKET_RATE (20/s) per socket, far over what the hash pool serves. */
  floodSockets: 4,
  floodPerSecond: 60,
  /** The flood runs this long before the first legitimate sign-in, so the queue is full. */
  floodLeadMs: 3_000,
  /** Legitimate sign-ins per phase, sent this far apart (whether or not the previous one was answered). */
  legitimatePerPhase: 6,
  legitimateSpacingMs: 500,
  /** A legitimate sign-in not answered within this counts as failed (and at this latency). */
  timeoutMs: 60_000,
};

const PASSWORD = 'a legitimate password 1';

interface Phase {
  latencies: number[];
  failures: Record<string, number>;
}

/** `count` sign-ins of the legitimate account, `spacingMs` apart, on one socket from 127.0.0.1. */
async function legitimateSignIns(url: string, email: string, count: number, spacingMs: number): Promise<Phase> {
  const socket = await BenchSocket.open(url, FAIRNESS.legitimateAddress);
  await socket.request({ core_initialize: BENCH_DEVICE });
  const phase: Phase = { latencies: [], failures: {} };
  const fail = (code: string) => (phase.failures[code] = (phase.failures[code] ?? 0) + 1);
  const one = async () => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      const result = await Promise.race([
        socket.request({ auth_sign_in: { email, password: PASSWORD } }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), FAIRNESS.timeoutMs))),
      ]);
      if (result.authorization) phase.latencies.push(performance.now() - started);
      else fail(String(result.error?.error_code ?? 'no-authorization'));
    } catch (err) {
      fail((err as Error).message === 'timeout' ? 'timeout' : 'closed');
      // A timed-out sign-in still counts at the timeout: its latency is at least that.
      phase.latencies.push(performance.now() - started);
    } finally {
      clearTimeout(timer);
    }
  };
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < count; i++) {
    pending.push(one());
    if (i < count - 1) await sleep(spacingMs);
  }
  await Promise.all(pending);
  socket.terminate();
  return phase;
}

/** The flood: sign-ins for random unknown emails from 127.0.0.2 at a fixed rate until stopped; counts answers by code. */
function startFlood(url: string) {
  const answers: Record<string, number> = {};
  let sent = 0;
  let stopped = false;
  const inFlight = new Set<Promise<unknown>>();
  const ready = Promise.all(
    Array.from({ length: FAIRNESS.floodSockets }, async () => {
      const socket = await BenchSocket.open(url, FAIRNESS.floodAddress);
      await socket.request({ core_initialize: BENCH_DEVICE });
      return socket;
    }),
  );
  const done = (async () => {
    const sockets = await ready;
    const started = performance.now();
    while (!stopped) {
      await sleep(10);
      const due = Math.floor(((performance.now() - started) * FAIRNESS.floodPerSecond) / 1000) - sent;
      for (let i = 0; i < due; i++) {
        const socket = sockets[sent++ % sockets.length]!;
        const email = `flood.${randomBytes(6).toString('hex')}@unknown.test`;
        const request = socket
          .request({ auth_sign_in: { email, password: 'not the password 1' } })
          .then((r) => String(r.error?.error_code ?? 'signed-in'))
          .catch(() => 'closed')
          .then((code) => {
            answers[code] = (answers[code] ?? 0) + 1;
          });
        inFlight.add(request);
        void request.finally(() => inFlight.delete(request));
      }
    }
    // Every flood request answered: the gateway's hash queue holds nothing of the flood any more.
    const drainStarted = performance.now();
    await Promise.race([Promise.all([...inFlight]), sleep(180_000)]);
    const drainMs = performance.now() - drainStarted;
    for (const socket of sockets) socket.terminate();
    return drainMs;
  })();
  return {
    ready,
    answers,
    get sent() {
      return sent;
    },
    async stop(): Promise<number> {
      stopped = true;
      return done;
    },
  };
}

export async function figureFairness(s: BenchSettings, env: Record<string, string>, rounds: number): Promise<Row[]> {
  const gateway = await spawnGateway({ ...env, RATE_LIMITS: 'on', BCRYPT_COST: String(FAIRNESS.bcryptCost) });
  try {
    const email = `legit.${randomBytes(4).toString('hex')}@bench.test`;
    const setup = await BenchSocket.open(gateway.url, FAIRNESS.legitimateAddress);
    const signedUp = await setup.request({ auth_sign_up: { name: 'Legitimate', email, password: PASSWORD } });
    setup.terminate();
    if (!signedUp.authorization) throw new Error(`legitimate sign-up failed: ${signedUp.error?.error_code} ${signedUp.error?.error_message}`);

    const idle: Phase[] = [];
    const flooded: Phase[] = [];
    const floodAnswers: Record<string, number> = {};
    let floodSent = 0;
    const drains: number[] = [];
    for (let r = 0; r < rounds; r++) {
      s.log(`  round ${r + 1}/${rounds}: ${FAIRNESS.legitimatePerPhase} legitimate sign-ins on the idle gateway, then the same during a flood of ${FAIRNESS.floodPerSecond} sign-ins/s for unknown emails from ${FAIRNESS.floodAddress}`);
      idle.push(await legitimateSignIns(gateway.url, email, FAIRNESS.legitimatePerPhase, FAIRNESS.legitimateSpacingMs));
      const flood = startFlood(gateway.url);
      await flood.ready;
      await sleep(FAIRNESS.floodLeadMs);
      flooded.push(await legitimateSignIns(gateway.url, email, FAIRNESS.legitimatePerPhase, FAIRNESS.legitimateSpacingMs));
      drains.push(await flood.stop());
      floodSent += flood.sent;
      for (const [code, n] of Object.entries(flood.answers)) floodAnswers[code] = (floodAnswers[code] ?? 0) + n;
      s.log(`    legitimate p99 idle ${percentile(idle.at(-1)!.latencies, 99).toFixed(0)} ms, flooded ${percentile(flooded.at(-1)!.latencies, 99).toFixed(0)} ms; flood drained in ${(drains.at(-1)! / 1000).toFixed(1)} s`);
    }
    const all = (phases: Phase[]) => phases.flatMap((p) => p.latencies);
    const failures = (phases: Phase[]) => {
      const out: Record<string, number> = {};
      for (const p of phases) for (const [c, n] of Object.entries(p.failures)) out[c] = (out[c] ?? 0) + n;
      return out;
    };
    const idleP99 = percentile(all(idle), 99);
    const floodP99 = percentile(all(flooded), 99);
    const floodFailures = failures(flooded);
    const idleFailures = failures(idle);
    const failed = Object.values(floodFailures).reduce((a, b) => a + b, 0) + Object.values(idleFailures).reduce((a, b) => a + b, 0);
    const codes = (m: Record<string, number>) => Object.entries(m).map(([c, n]) => `${c}: ${n}`).join(', ') || 'none';
    const ratio = floodP99 / idleP99;
    return [
      {
        figure: '6',
        key: 'signin_p99_under_flood',
        metric: 'legitimate sign-in p99 while another address floods sign-ins',
        unit: 'ms',
        gateway: floodP99,
        ceiling: idleP99,
        ratio,
        goal: '<= 2x idle',
        met: ratio <= 2 && failed === 0,
        note:
          `${all(flooded).length} legitimate sign-ins from ${FAIRNESS.legitimateAddress} during the flood (p50 ${percentile(all(flooded), 50).toFixed(0)} ms; failed: ${codes(floodFailures)}), ` +
          `${all(idle).length} on the idle gateway (p50 ${percentile(all(idle), 50).toFixed(0)} ms; failed: ${codes(idleFailures)}); p99 of so few is their maximum; ` +
          `flood: ${floodSent} sign-ins for unknown emails from ${FAIRNESS.floodAddress} over ${FAIRNESS.floodSockets} sockets at ${FAIRNESS.floodPerSecond}/s, answered ${codes(floodAnswers)}; ` +
          `drained ${drains.map((d) => (d / 1000).toFixed(1)).join(', ')} s after it stopped; rate limits ON, bcrypt cost ${FAIRNESS.bcryptCost}`,
        data: { idleP50: percentile(all(idle), 50), floodP50: percentile(all(flooded), 50), floodSent, failed },
      },
    ];
  } finally {
    await gateway.stop();
  }
}
