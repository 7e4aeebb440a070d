/**
 * The chaos suite's checker: reads the history (every request and answer with
 * its times, every fault with its start and heal, every socket closed) and the
 * final probes made after every fault healed, and says which promise held.
 * Pure: no I/O, so its verdicts are tested on made-up histories too.
 */

export interface Op {
  /** Client-side times (ms, Date.now()) of the request and its answer. */
  t0: number;
  t1: number;
  /** The gateway incarnation asked ("g1", "g1b", …). */
  gw: string;
  op: string;
  /** 0 when answered without error; the RPC error code; -1 socket closed first; -2 no answer within the client's timeout; -3 could not connect. */
  code: number;
  /** ids the answer carried (snowflakes), what the op concerns. */
  ids?: string[];
  session?: string;
  user?: string;
}

export interface FaultWindow {
  name: string;
  /** Gateways the fault is about (killed or paused ones: their own sockets may drop, their requests may hang). */
  gateways: string[];
  /** Dependency faults: the window in which 503 is the expected answer. */
  start: number;
  heal: number;
  /** The gateway process itself was killed or paused. */
  processFault?: boolean;
}

export interface Incarnation {
  gw: string;
  workerId: number;
  startedAt: number;
  /** When killed (kill -9) or stopped at the end. */
  endedAt: number;
}

export interface SocketClose {
  gw: string;
  at: number;
  code: number;
  /** When the client resumed its token on another socket (undefined: never). */
  resumedAt?: number;
}

export interface FinalProbe {
  what: 'signup' | 'password' | 'revocation' | 'verification';
  ok: boolean;
  detail: string;
}

export interface History {
  ops: Op[];
  faults: FaultWindow[];
  incarnations: Incarnation[];
  closes: SocketClose[];
  /** Answered revocations: the session, when the answer arrived. */
  revocations: Array<{ session: string; answeredAt: number }>;
  /** The guess limit checked: its allowance over the whole run (points per window; the run is shorter than one window). */
  guessLimit: { email: string; allowance: number };
  finals: FinalProbe[];
}

export interface Bounds {
  /** A client of a killed instance is back on another socket, its token resumed, within this. */
  resumeMs: number;
  /** No answer takes longer than this on an instance that was not paused (the gateway's own timeouts are below it). */
  hangMs: number;
  /** After a dependency heals, every live instance answers without error again within this. */
  recoverMs: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  failures: string[];
}

export interface Verdict {
  ok: boolean;
  checks: Check[];
  counts: Record<string, number>;
}

const WORKER_SHIFT = 12n;
const TIME_SHIFT = 22n;
const EPOCH = Date.UTC(2024, 0, 1);
export const workerOf = (id: string) => Number((BigInt(id) >> WORKER_SHIFT) & 1023n);
export const timeOf = (id: string) => Number(BigInt(id) >> TIME_SHIFT) + EPOCH;

function check(name: string, failures: string[], detail: string): Check {
  return { name, ok: failures.length === 0, detail, failures: failures.slice(0, 20) };
}

/** Whether `gw` was killed or paused at time `t` (with `slackMs` after). */
function processFaultAt(h: History, gw: string, t0: number, t1: number, slackMs = 0): boolean {
  return h.faults.some((f) => f.processFault && f.gateways.includes(gw) && t1 >= f.start && t0 <= f.heal + slackMs);
}

export function checkHistory(h: History, bounds: Bounds): Verdict {
  const checks: Check[] = [];

  // 1. Answered sign-ups, password changes, revocations (and verifications) still in effect after heal.
  const finalFailures = h.finals.filter((f) => !f.ok).map((f) => `${f.what}: ${f.detail}`);
  const kinds = [...new Set(h.finals.map((f) => f.what))].map((k) => `${h.finals.filter((f) => f.what === k).length} ${k}`).join(', ');
  checks.push(check('answered writes still in effect', finalFailures, `probed after heal: ${kinds || 'nothing'}`));

  // 2. No session served after its revocation was answered, on any instance.
  const revokedAt = new Map(h.revocations.map((r) => [r.session, r.answeredAt]));
  const served = h.ops.filter((o) => o.code === 0 && o.session && revokedAt.has(o.session) && o.t0 > revokedAt.get(o.session)!);
  checks.push(check(
    'no session served after its revocation was answered',
    served.map((o) => `${o.op} on ${o.gw} for session ${o.session} sent ${o.t0 - revokedAt.get(o.session!)!} ms after its revocation was answered`),
    `${h.revocations.length} revocations; ${h.ops.filter((o) => o.session && revokedAt.has(o.session) && o.t0 > revokedAt.get(o.session)!).length} later uses of revoked sessions, all refused`,
  ));

  // 3. The guess limit: wrong passwords evaluated (answered 401) at most its allowance.
  const guesses = h.ops.filter((o) => o.op === 'guess');
  const evaluated = guesses.filter((o) => o.code === 401).length;
  checks.push(check(
    'no limit evaluated more guesses than its allowance',
    evaluated > h.guessLimit.allowance ? [`${evaluated} wrong passwords evaluated for ${h.guessLimit.email}, allowance ${h.guessLimit.allowance}`] : [],
    `${guesses.length} guesses: ${evaluated} evaluated (allowance ${h.guessLimit.allowance}), ${guesses.filter((o) => o.code === 429).length} refused 429, ${guesses.filter((o) => o.code === 503).length} 503`,
  ));

  // 4. Snowflakes: no two equal; no worker id used by two incarnations at overlapping times.
  const seen = new Map<string, string>();
  const dupes: string[] = [];
  const byWorker = new Map<number, Map<string, [number, number]>>();
  for (const o of h.ops) {
    for (const id of o.ids ?? []) {
      const other = seen.get(id);
      if (other !== undefined && other !== o.gw) dupes.push(`id ${id} from ${other} and ${o.gw}`);
      seen.set(id, o.gw);
      const w = workerOf(id);
      const t = timeOf(id);
      const spans = byWorker.get(w) ?? new Map<string, [number, number]>();
      const span = spans.get(o.gw) ?? [t, t];
      spans.set(o.gw, [Math.min(span[0], t), Math.max(span[1], t)]);
      byWorker.set(w, spans);
    }
  }
  for (const [w, spans] of byWorker) {
    const list = [...spans.entries()];
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length; j++) {
        const [a, [a0, a1]] = list[i]!;
        const [b, [b0, b1]] = list[j]!;
        if (a0 <= b1 && b0 <= a1) dupes.push(`worker id ${w} used by ${a} (${a0}-${a1}) and ${b} (${b0}-${b1}) at the same time`);
      }
    }
  }
  checks.push(check('no two snowflake ids equal, no worker id shared at once', dupes, `${seen.size} ids from ${h.incarnations.length} incarnations`));

  // 5a. Clients of a dead instance resumed within resumeMs.
  const resumeFailures: string[] = [];
  let resumed = 0;
  let worst = 0;
  for (const f of h.faults.filter((x) => x.processFault)) {
    for (const c of h.closes.filter((x) => f.gateways.includes(x.gw) && x.at >= f.start && x.at <= f.heal + bounds.resumeMs)) {
      if (c.resumedAt === undefined) resumeFailures.push(`a client of ${c.gw} closed at +${c.at - f.start} ms of ${f.name} never resumed`);
      else {
        const took = c.resumedAt - f.start;
        worst = Math.max(worst, c.resumedAt - c.at);
        if (f.name.startsWith('kill') && took > bounds.resumeMs) resumeFailures.push(`a client of ${c.gw} resumed ${took} ms after ${f.name}`);
        else resumed++;
      }
    }
  }
  checks.push(check(`clients of a dead instance resumed within ${bounds.resumeMs} ms`, resumeFailures, `${resumed} resumed; slowest ${worst} ms after its socket closed`));

  // 5b. No socket of a healthy instance dropped.
  const dropped = h.closes.filter((c) => !processFaultAt(h, c.gw, c.at, c.at, bounds.resumeMs));
  checks.push(check(
    'no socket of a healthy instance dropped for a dependency fault',
    dropped.map((c) => `a socket of ${c.gw} closed (${c.code}) at ${c.at} during ${h.faults.filter((f) => c.at >= f.start && c.at <= f.heal + bounds.recoverMs).map((f) => f.name).join(', ') || 'no fault'}`),
    `${h.closes.length} sockets closed, all on killed or paused instances`,
  ));

  // 6. 503, never 500, no hang; served again after heal without restart.
  const internal = h.ops.filter((o) => o.code === 500);
  const hangs = h.ops.filter((o) => (o.code === -2 || o.t1 - o.t0 > bounds.hangMs) && !processFaultAt(h, o.gw, o.t0, o.t1));
  checks.push(check(
    '503, not 500, no hang past the timeouts',
    [...internal.map((o) => `${o.op} on ${o.gw} answered 500 at ${o.t0}`), ...hangs.map((o) => `${o.op} on ${o.gw} took ${o.t1 - o.t0} ms (code ${o.code})`)],
    `${h.ops.filter((o) => o.code === 503).length} answered 503 during faults; slowest answer on an instance not paused ${Math.max(0, ...h.ops.filter((o) => !processFaultAt(h, o.gw, o.t0, o.t1)).map((o) => o.t1 - o.t0))} ms`,
  ));

  const recovery: string[] = [];
  const recoveredIn: number[] = [];
  for (const f of h.faults.filter((x) => !x.processFault)) {
    const live = h.incarnations.filter((i) => i.startedAt <= f.heal && i.endedAt >= f.heal + bounds.recoverMs);
    for (const inc of live) {
      const first = h.ops.find((o) => o.gw === inc.gw && o.code === 0 && o.t0 >= f.heal);
      if (!first || first.t1 - f.heal > bounds.recoverMs) recovery.push(`${inc.gw} not serving within ${bounds.recoverMs} ms after ${f.name} healed`);
      else recoveredIn.push(first.t1 - f.heal);
    }
  }
  checks.push(check(
    `serving again within ${bounds.recoverMs} ms of heal, without restart`,
    recovery,
    `slowest first success after a heal: ${Math.max(0, ...recoveredIn)} ms`,
  ));

  const counts: Record<string, number> = {};
  for (const o of h.ops) counts[`${o.op}:${o.code}`] = (counts[`${o.op}:${o.code}`] ?? 0) + 1;
  return { ok: checks.every((c) => c.ok), checks, counts };
}
