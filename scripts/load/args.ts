/**
 * Command line of `npm run loadtest`, parsed and bounded. Every run is
 * bounded in time and count, and only loopback targets are accepted unless the
 * operator names the remote host explicitly with `--allow-remote HOST`.
 */
import { UsageError, defineCommand, numberValue } from '../commandLine.mjs';

export const SCENARIOS = ['signup', 'signin', 'authorize', 'sessions', 'invites', 'idle', 'revoke'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** Hard ceilings: a mistyped option must not turn into an unbounded run. */
export const LIMITS = {
  connections: 100_000,
  durationS: 3_600,
  requests: 10_000_000,
  workers: 16,
  ratePerSocket: 10_000,
  totalRate: 1_000_000,
  rampS: 600,
} as const;

/** How long a `--requests` run may take at most before it stops by itself. */
export const DEFAULT_MAX_TIME_S = 600;

export interface ScenarioWeight {
  name: ScenarioName;
  weight: number;
}

export interface LoadOptions {
  url: string;
  /** URL of a second gateway for `revoke` (the revoked socket lives there); defaults to `url`. */
  peerUrl: string;
  connections: number;
  /** Run length; a `--requests` run stops at `maxTimeS` whatever happens. */
  durationS: number | null;
  requests: number | null;
  maxTimeS: number;
  /** Requests per second per socket (paced; a socket waits for its answer). */
  ratePerSocket: number | null;
  /** Open loop: requests per second across all sockets, sent on schedule whether or not answers came. */
  totalRate: number | null;
  rampS: number;
  scenarios: ScenarioWeight[];
  /** Worker threads running the sockets; 0 runs them in this thread. */
  workers: number;
  json: string | null;
  inviteCode: string | null;
  /** Seconds between heartbeats of `idle` sockets. */
  heartbeatS: number;
  /** Loopback source addresses to spread sockets over (1: the default address only). */
  sourceAddresses: number;
  timeoutMs: number;
  allowRemote: string | null;
  quiet: boolean;
}

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

/** Parses `signin=3,authorize=5` or a single name into normalised weights. */
export function parseScenarioMix(text: string): ScenarioWeight[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new UsageError('--scenario needs a name or a mix');
  const seen = new Set<string>();
  return parts.map((part) => {
    const [name = '', weightText] = part.split('=');
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new UsageError(`unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
    }
    if (seen.has(name)) throw new UsageError(`scenario "${name}" is listed twice`);
    seen.add(name);
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!Number.isFinite(weight) || weight <= 0) throw new UsageError(`weight of "${name}" must be a positive number, got "${weightText}"`);
    return { name: name as ScenarioName, weight };
  });
}

/** Checks that the URL is ws(s) and loopback unless its host is the one allowed explicitly. */
export function checkTarget(url: string, allowRemote: string | null, flag = '--url'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`${flag} is not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new UsageError(`${flag} must be ws:// or wss://, got "${url}"`);
  const host = parsed.hostname;
  if (!LOOPBACK.test(host) && host !== allowRemote) {
    throw new UsageError(`${flag} host ${host} is not loopback; pass --allow-remote ${host} to load-test it`);
  }
  return parsed.toString();
}

export const loadCommand = defineCommand(
  {
    usage: 'npm run loadtest -- [options]',
    options: {
      url: { type: 'string', value: 'URL', help: 'gateway WebSocket URL (default ws://127.0.0.1:8080)' },
      'peer-url': { type: 'string', value: 'URL', help: 'second gateway for the revoke scenario (default: --url)' },
      connections: { type: 'string', value: 'N', help: `concurrent sockets (default 10, at most ${LIMITS.connections})` },
      duration: { type: 'string', value: 'S', help: `run for S seconds (default 10 unless --requests, at most ${LIMITS.durationS})` },
      requests: { type: 'string', value: 'N', help: `stop after N requests (bounded by --max-time, default ${DEFAULT_MAX_TIME_S} s)` },
      'max-time': { type: 'string', value: 'S', help: 'hard stop of a --requests run' },
      rate: { type: 'string', value: 'N', help: 'requests per second per socket (paced, closed loop)' },
      'total-rate': { type: 'string', value: 'N', help: 'open loop: N requests per second across all sockets' },
      ramp: { type: 'string', value: 'S', help: 'open the sockets evenly over S seconds' },
      scenario: {
        type: 'string',
        value: 'S',
        help: `one of ${SCENARIOS.join(', ')},\nor a weighted mix of sockets such as signin=3,authorize=5,sessions=2 (default authorize)`,
      },
      workers: { type: 'string', value: 'N', help: `worker threads for the sockets (default 1; 0 = this thread; at most ${LIMITS.workers})` },
      json: { type: 'string', value: 'FILE', help: 'also write the summary as JSON' },
      'invite-code': { type: 'string', value: 'CODE', help: 'code for the invites scenario (default: random codes, 404 expected)' },
      heartbeat: { type: 'string', value: 'S', help: 'seconds between heartbeats of idle sockets (default 10)' },
      'source-addresses': { type: 'string', value: 'N', help: 'spread sockets over 127.0.0.1..N (default: one per 20 000 sockets)' },
      timeout: { type: 'string', value: 'MS', help: 'per request (default 10000)' },
      'allow-remote': { type: 'string', value: 'HOST', help: 'permit a non-loopback target host (named explicitly)' },
      quiet: { type: 'boolean', help: 'no progress line' },
    },
  },
  (v): LoadOptions => {
    /** A positive number no larger than `max`, or null when not given. */
    const positive = (name: keyof typeof v, max: number, integer = true) => {
      const text = v[name];
      return typeof text === 'string' ? numberValue(name, text, { above: 0, max, integer }) : null;
    };
    const allowRemote = v['allow-remote'] ?? null;
    const url = checkTarget(v.url ?? 'ws://127.0.0.1:8080', allowRemote);
    const peerUrl = v['peer-url'] !== undefined ? checkTarget(v['peer-url'], allowRemote, '--peer-url') : url;
    const requests = positive('requests', LIMITS.requests);
    let durationS = positive('duration', LIMITS.durationS, false);
    if (requests !== null && durationS !== null) throw new UsageError('give --duration or --requests, not both');
    if (requests === null && durationS === null) durationS = 10;
    const ratePerSocket = positive('rate', LIMITS.ratePerSocket, false);
    const totalRate = positive('total-rate', LIMITS.totalRate, false);
    if (ratePerSocket !== null && totalRate !== null) throw new UsageError('give --rate (per socket) or --total-rate (open loop), not both');
    const connections = positive('connections', LIMITS.connections) ?? 10;
    const inviteCode = v['invite-code'] ?? null;
    if (inviteCode !== null && (inviteCode.length === 0 || inviteCode.length > 64)) throw new UsageError('--invite-code must be 1 to 64 characters');
    return {
      url,
      peerUrl,
      connections,
      durationS,
      requests,
      maxTimeS: positive('max-time', LIMITS.durationS, false) ?? DEFAULT_MAX_TIME_S,
      ratePerSocket,
      totalRate,
      rampS: positive('ramp', LIMITS.rampS, false) ?? 0,
      scenarios: parseScenarioMix(v.scenario ?? 'authorize'),
      workers: v.workers === undefined ? 1 : numberValue('workers', v.workers, { min: 0, max: LIMITS.workers }),
      json: v.json ?? null,
      inviteCode,
      heartbeatS: positive('heartbeat', 3_600, false) ?? 10,
      sourceAddresses: positive('source-addresses', 254) ?? Math.ceil(connections / 20_000),
      timeoutMs: positive('timeout', 600_000) ?? 10_000,
      allowRemote,
      quiet: v.quiet,
    };
  },
);

/**
 * Splits `connections` sockets over scenarios by weight (largest remainder),
 * so that `signin=3,authorize=5,sessions=2` over 10 sockets gives 3, 5 and 2.
 * Returns the scenario of each socket slot, interleaved.
 */
export function assignScenarios(mix: readonly ScenarioWeight[], connections: number): ScenarioName[] {
  const total = mix.reduce((s, m) => s + m.weight, 0);
  const exact = mix.map((m) => (m.weight / total) * connections);
  const counts = exact.map(Math.floor);
  let left = connections - counts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of byRemainder) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  // Interleave so that ramp-up and worker split mix the scenarios.
  const out: ScenarioName[] = [];
  const remaining = [...counts];
  while (out.length < connections) {
    for (let i = 0; i < mix.length; i++) {
      if (remaining[i]! > 0) {
        out.push(mix[i]!.name);
        remaining[i]!--;
      }
    }
  }
  return out;
}
