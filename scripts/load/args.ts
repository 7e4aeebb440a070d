/**
 * Command-line options of `npm run loadtest`, parsed and bounded. Every run is
 * bounded in time and count, and only loopback targets are accepted unless the
 * operator names the remote host explicitly with `--allow-remote HOST`.
 */

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

export class ArgError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ArgError';
  }
}

export const USAGE = `usage: npm run loadtest -- [options]
  --url URL              gateway WebSocket URL (default ws://127.0.0.1:8080)
  --peer-url URL         second gateway for the revoke scenario (default: --url)
  --connections N        concurrent sockets (default 10, at most ${LIMITS.connections})
  --duration S           run for S seconds (default 10 unless --requests)
  --requests N           stop after N requests (bounded by --max-time, default ${DEFAULT_MAX_TIME_S} s)
  --max-time S           hard stop of a --requests run
  --rate N               requests per second per socket (paced, closed loop)
  --total-rate N         open loop: N requests per second across all sockets
  --ramp S               open the sockets evenly over S seconds
  --scenario S           one of ${SCENARIOS.join(', ')}, or a weighted mix of
                         sockets such as signin=3,authorize=5,sessions=2 (default authorize)
  --workers N            worker threads for the sockets (default 1; 0 = this thread)
  --json FILE            also write the summary as JSON
  --invite-code CODE     code for the invites scenario (default: random codes, 404 expected)
  --heartbeat S          seconds between heartbeats of idle sockets (default 10)
  --source-addresses N   spread sockets over 127.0.0.1..N (default: one per 20 000 sockets)
  --timeout MS           per request (default 10000)
  --allow-remote HOST    permit a non-loopback target host (named explicitly)
  --quiet                no progress line`;

const LOOPBACK = /^(localhost|127(\.\d{1,3}){3}|\[::1\]|::1)$/i;

function positiveNumber(flag: string, value: string | undefined, max: number, integer = true): number {
  if (value === undefined || value.startsWith('--')) throw new ArgError(`${flag} needs a value`);
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    throw new ArgError(`${flag} must be a positive ${integer ? 'integer' : 'number'}, got "${value}"`);
  }
  if (n > max) throw new ArgError(`${flag} must be at most ${max}, got ${n}`);
  return n;
}

/** Parses `signin=3,authorize=5` or a single name into normalised weights. */
export function parseScenarioMix(text: string): ScenarioWeight[] {
  const parts = text.split(',').map((p) => p.trim()).filter(Boolean);
  if (!parts.length) throw new ArgError('--scenario needs a name or a mix');
  const seen = new Set<string>();
  return parts.map((part) => {
    const [name = '', weightText] = part.split('=');
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new ArgError(`unknown scenario "${name}" (known: ${SCENARIOS.join(', ')})`);
    }
    if (seen.has(name)) throw new ArgError(`scenario "${name}" is listed twice`);
    seen.add(name);
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!Number.isFinite(weight) || weight <= 0) throw new ArgError(`weight of "${name}" must be a positive number, got "${weightText}"`);
    return { name: name as ScenarioName, weight };
  });
}

/** Checks that the URL is ws(s) and loopback unless its host is the one allowed explicitly. */
export function checkTarget(url: string, allowRemote: string | null, flag = '--url'): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ArgError(`${flag} is not a URL: "${url}"`);
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') throw new ArgError(`${flag} must be ws:// or wss://, got "${url}"`);
  const host = parsed.hostname;
  if (!LOOPBACK.test(host) && host !== allowRemote) {
    throw new ArgError(`${flag} host ${host} is not loopback; pass --allow-remote ${host} to load-test it`);
  }
  return parsed.toString();
}

/** Parses argv (without node and script). Throws ArgError with a message fit for the user. */
export function parseArgs(argv: readonly string[]): LoadOptions {
  const raw = new Map<string, string | true>();
  const valueless = new Set(['--quiet', '--help']);
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i]!;
    let value: string | undefined;
    const eq = arg.indexOf('=');
    if (arg.startsWith('--') && eq > 0) {
      value = arg.slice(eq + 1);
      arg = arg.slice(0, eq);
    }
    if (!arg.startsWith('--')) throw new ArgError(`unexpected argument "${arg}"`);
    if (raw.has(arg)) throw new ArgError(`${arg} given twice`);
    if (valueless.has(arg)) {
      raw.set(arg, true);
      continue;
    }
    if (value === undefined) {
      value = argv[i + 1];
      if (value === undefined || value.startsWith('--')) throw new ArgError(`${arg} needs a value`);
      i++;
    }
    raw.set(arg, value);
  }
  const known = new Set([
    '--url', '--peer-url', '--connections', '--duration', '--requests', '--max-time', '--rate', '--total-rate', '--ramp',
    '--scenario', '--workers', '--json', '--invite-code', '--heartbeat', '--source-addresses', '--timeout',
    '--allow-remote', '--quiet', '--help',
  ]);
  for (const key of raw.keys()) if (!known.has(key)) throw new ArgError(`unknown option ${key}`);
  if (raw.has('--help')) throw new ArgError(USAGE);
  const str = (key: string) => raw.get(key) as string | undefined;

  const allowRemote = str('--allow-remote') ?? null;
  const url = checkTarget(str('--url') ?? 'ws://127.0.0.1:8080', allowRemote);
  const peerUrl = str('--peer-url') !== undefined ? checkTarget(str('--peer-url')!, allowRemote, '--peer-url') : url;
  const requests = str('--requests') !== undefined ? positiveNumber('--requests', str('--requests'), LIMITS.requests) : null;
  let durationS = str('--duration') !== undefined ? positiveNumber('--duration', str('--duration'), LIMITS.durationS, false) : null;
  if (requests !== null && durationS !== null) throw new ArgError('give --duration or --requests, not both');
  if (requests === null && durationS === null) durationS = 10;
  const ratePerSocket = str('--rate') !== undefined ? positiveNumber('--rate', str('--rate'), LIMITS.ratePerSocket, false) : null;
  const totalRate = str('--total-rate') !== undefined ? positiveNumber('--total-rate', str('--total-rate'), LIMITS.totalRate, false) : null;
  if (ratePerSocket !== null && totalRate !== null) throw new ArgError('give --rate (per socket) or --total-rate (open loop), not both');
  const connections = str('--connections') !== undefined ? positiveNumber('--connections', str('--connections'), LIMITS.connections) : 10;
  const workersText = str('--workers');
  let workers = 1;
  if (workersText !== undefined) {
    workers = workersText === '0' ? 0 : positiveNumber('--workers', workersText, LIMITS.workers);
  }
  const inviteCode = str('--invite-code') ?? null;
  if (inviteCode !== null && (inviteCode.length === 0 || inviteCode.length > 64)) throw new ArgError('--invite-code must be 1 to 64 characters');
  const sourceAddresses =
    str('--source-addresses') !== undefined ? positiveNumber('--source-addresses', str('--source-addresses'), 254) : Math.ceil(connections / 20_000);
  return {
    url,
    peerUrl,
    connections,
    durationS,
    requests,
    maxTimeS: str('--max-time') !== undefined ? positiveNumber('--max-time', str('--max-time'), LIMITS.durationS, false) : DEFAULT_MAX_TIME_S,
    ratePerSocket,
    totalRate,
    rampS: str('--ramp') !== undefined ? positiveNumber('--ramp', str('--ramp'), LIMITS.rampS, false) : 0,
    scenarios: parseScenarioMix(str('--scenario') ?? 'authorize'),
    workers,
    json: str('--json') ?? null,
    inviteCode,
    heartbeatS: str('--heartbeat') !== undefined ? positiveNumber('--heartbeat', str('--heartbeat'), 3_600, false) : 10,
    sourceAddresses,
    timeoutMs: str('--timeout') !== undefined ? positiveNumber('--timeout', str('--timeout'), 600_000) : 10_000,
    allowRemote,
    quiet: raw.has('--quiet'),
  };
}

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
