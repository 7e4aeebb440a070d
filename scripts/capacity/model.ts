/**
 * The capacity model of `npm run capacity`: what a fleet for N concurrent
 * sockets needs, computed from figures `npm run bench` measured (read from
 * bench/results/*.json). Pure arithmetic: every output carries its formula
 * and the measured inputs it used; assumptions are options with defaults,
 * named as such. See docs/capacity.md.
 */

/** One row of a bench results file (the fields the model reads). */
export interface ResultRow {
  figure: string;
  metric: string;
  unit: string;
  gateway: number | null;
  key?: string;
  data?: Record<string, number | string | null>;
}

export interface ResultsFile {
  /** Where it was read from (for the report). */
  path: string;
  date: string;
  quick?: boolean;
  machine?: { cpus?: number; cpuModel?: string };
  noise?: { before?: { loadAverage1m?: number }; after?: { loadAverage1m?: number } };
  rows: ResultRow[];
}

/** A measured input: its value and where it came from. */
export interface Measured {
  value: number;
  /** Row key and results file. */
  from: string;
}

export interface Inputs {
  /** Bytes of RSS per idle authorized socket (figure 2, largest count). */
  rssPerSocket: Measured;
  /** Bytes of RSS of a gateway process with no socket (figure 2). */
  baseRss: Measured | null;
  /** µs of CPU per idle socket per second (figure 7): gateway, Redis, Postgres. */
  idleCpu: { gateway: Measured; redis: Measured; postgres: Measured };
  /** Bytes per idle socket per second through the gateway process (figure 7; client frames + Redis + Postgres traffic). */
  idleBytes: Measured | null;
  /** Postgres row writes/s and Redis commands/s per 10 000 idle sockets (figure 7). */
  postgresWritesPer10k: Measured;
  redisCommandsPer10k: Measured;
  /** µs of CPU per reconnect (figure 1b): gateway, Redis, Postgres. */
  reconnectCpu: { gateway: Measured; redis: Measured; postgres: Measured };
  /** Per reconnect (figure 1b). */
  reconnectRedisCommands: Measured | null;
  reconnectPostgresStatements: Measured | null;
  /** Client-side TCP payload bytes per reconnect, both directions (figure 1b). */
  reconnectClientBytes: Measured | null;
  /** Redis memory per session (figure 7, INFO used_memory). */
  redisBytesPerSession: Measured;
  /** Postgres bytes on disk per session row and per user row (figure 7). */
  postgresBytesPerSession: Measured;
  postgresBytesPerUser: Measured | null;
  /** Extra bytes of a user row with email and password hash over a guest's (figure 7), when measured. */
  accountExtraBytes: Measured | null;
}

export class MissingInput extends Error {}

function byKey(files: readonly ResultsFile[]) {
  // Newest file first: each input comes from the latest run that measured it.
  const sorted = [...files].sort((a, b) => b.date.localeCompare(a.date));
  const find = (match: (key: string) => boolean): { row: ResultRow; file: ResultsFile } | null => {
    for (const file of sorted) {
      const rows = file.rows.filter((r) => r.key && match(r.key) && r.gateway !== null);
      if (rows.length) {
        // Several matches (figure 2 at several counts): the largest socket count.
        const row = rows.sort((a, b) => Number(b.key!.split('@')[1] ?? 0) - Number(a.key!.split('@')[1] ?? 0))[0]!;
        return { row, file };
      }
    }
    return null;
  };
  return find;
}

/** Picks every model input from the results files (newest file that has each). Throws MissingInput naming the figures to run. */
export function readInputs(files: readonly ResultsFile[]): Inputs {
  const find = byKey(files);
  const where = (key: string, file: ResultsFile) => `${key} (${file.path}, ${file.date.slice(0, 16)})`;
  const required = (key: string, figure: string) => {
    const hit = find((k) => k === key || k.startsWith(`${key}@`));
    if (!hit) throw new MissingInput(`no measured "${key}" in the results: run npm run bench -- --figures ${figure}`);
    return hit;
  };
  const optional = (key: string) => find((k) => k === key || k.startsWith(`${key}@`));
  const value = (hit: { row: ResultRow; file: ResultsFile }, scale = 1): Measured => ({ value: hit.row.gateway! * scale, from: where(hit.row.key!, hit.file) });
  const datum = (hit: { row: ResultRow; file: ResultsFile } | null, field: string, scale = 1): Measured | null => {
    const v = hit?.row.data?.[field];
    return typeof v === 'number' ? { value: v * scale, from: `${where(hit!.row.key!, hit!.file)}.${field}` } : null;
  };
  const requiredDatum = (hit: { row: ResultRow; file: ResultsFile }, field: string): Measured => {
    const m = datum(hit, field);
    if (!m) throw new MissingInput(`"${hit.row.key}" in ${hit.file.path} has no ${field}: re-run that figure with this bench`);
    return m;
  };

  const rss = required('rss_per_idle_socket', '2');
  const idle = required('cpu_per_idle_socket', '7');
  const reconnect = required('cpu_per_reconnect', '1b');
  const reconnectPg = optional('postgres_per_reconnect');
  const pgBytes = required('postgres_bytes_per_session', '7');
  const idleBytesIn = datum(idle, 'gatewayBytesIn');
  const idleBytesOut = datum(idle, 'gatewayBytesOut');
  const clientIn = datum(reconnect, 'clientBytesIn');
  const clientOut = datum(reconnect, 'clientBytesOut');
  const accountWidth = datum(pgBytes, 'accountRowWidth');
  const guestWidth = datum(pgBytes, 'guestRowWidth');
  return {
    rssPerSocket: value(rss, 1024),
    baseRss: datum(rss, 'baseRssBytes'),
    idleCpu: { gateway: requiredDatum(idle, 'gatewayUs'), redis: requiredDatum(idle, 'redisUs'), postgres: requiredDatum(idle, 'postgresUs') },
    idleBytes: idleBytesIn && idleBytesOut ? { value: idleBytesIn.value + idleBytesOut.value, from: `${idleBytesIn.from} + gatewayBytesOut` } : null,
    postgresWritesPer10k: value(required('postgres_writes_per_10k_idle', '7')),
    redisCommandsPer10k: value(required('redis_commands_per_10k_idle', '7')),
    reconnectCpu: { gateway: requiredDatum(reconnect, 'gatewayUs'), redis: requiredDatum(reconnect, 'redisUs'), postgres: requiredDatum(reconnect, 'postgresUs') },
    reconnectRedisCommands: datum(reconnect, 'redisCommands'),
    reconnectPostgresStatements: reconnectPg ? value(reconnectPg) : null,
    reconnectClientBytes: clientIn && clientOut ? { value: clientIn.value + clientOut.value, from: `${clientIn.from} + clientBytesOut` } : null,
    redisBytesPerSession: value(required('redis_bytes_per_session', '7')),
    postgresBytesPerSession: value(pgBytes),
    postgresBytesPerUser: datum(pgBytes, 'usersBytesPerRow'),
    accountExtraBytes: accountWidth && guestWidth ? { value: Math.max(0, accountWidth.value - guestWidth.value), from: `${accountWidth.from} - guestRowWidth` } : null,
  };
}

/** What the operator chooses (not measured); each has a default and a reason in docs/capacity.md. */
export interface Assumptions {
  sockets: number;
  /** Seconds in which a full reconnect storm (every socket at once) should be absorbed. */
  reconnectStormSeconds: number;
  /** Share of a core the steady state may use, leaving headroom for storms and GC. */
  targetUtilization: number;
  /** Most sockets one gateway process should hold (a crash drops them all at once). */
  maxSocketsPerProcess: number;
  /** Cores of one machine (processes per machine: one per core). */
  coresPerMachine: number;
  /** Sessions kept per user (devices), for storage per million users. */
  sessionsPerUser: number;
  /** Gateway cores available when the storm hits; null: the steady-state fleet. */
  stormGatewayCores: number | null;
  /** Throughput a single Redis node and a single Postgres primary are trusted with (ops/s, statements/s). */
  redisOpsPerNode: number;
  postgresStatementsPerPrimary: number;
  postgresRowWritesPerPrimary: number;
}

export const DEFAULT_ASSUMPTIONS: Assumptions = {
  sockets: 1_000_000,
  reconnectStormSeconds: 60,
  targetUtilization: 0.5,
  maxSocketsPerProcess: 100_000,
  coresPerMachine: 16,
  sessionsPerUser: 2,
  stormGatewayCores: null,
  // Order of magnitude of one Redis node (single-threaded) for small commands: ~100k ops/s.
  redisOpsPerNode: 100_000,
  // One Postgres primary for short indexed statements; and for single-row updates (WAL, vacuum).
  postgresStatementsPerPrimary: 50_000,
  postgresRowWritesPerPrimary: 20_000,
};

export interface Output {
  section: string;
  name: string;
  value: number;
  unit: string;
  formula: string;
}

export interface Bottleneck {
  tier: string;
  load: number;
  capacity: number;
  /** load / capacity: above 1 it breaks. */
  share: number;
  what: string;
}

export interface Model {
  outputs: Output[];
  /** Tiers by load against their trusted capacity, the most loaded first. */
  bottlenecks: Bottleneck[];
}

const ceil = Math.ceil;

export function computeModel(inputs: Inputs, a: Assumptions): Model {
  const N = a.sockets;
  const out: Output[] = [];
  const add = (section: string, name: string, value: number, unit: string, formula: string) => {
    out.push({ section, name, value, unit, formula });
    return value;
  };

  // Gateway steady state.
  const gwIdleUs = inputs.idleCpu.gateway.value;
  const cpuCores = add('gateway', 'cores for idle sockets (steady state)', (N * gwIdleUs) / 1e6 / a.targetUtilization, 'cores',
    `sockets × gateway µs per socket-second (${gwIdleUs.toFixed(2)}) / 1e6 / target utilization (${a.targetUtilization})`);
  const byProcessCap = ceil(N / a.maxSocketsPerProcess);
  const processes = add('gateway', 'gateway processes (one per core)', Math.max(ceil(cpuCores), byProcessCap, 1), 'processes',
    `max(ceil(cores for idle sockets), ceil(sockets / max sockets per process ${a.maxSocketsPerProcess}))`);
  add('gateway', 'machines', ceil(processes / a.coresPerMachine), 'machines', `ceil(processes / cores per machine ${a.coresPerMachine})`);
  const perProcess = N / processes;
  add('gateway', 'sockets per process', perProcess, 'sockets', 'sockets / processes');
  const base = inputs.baseRss?.value ?? 0;
  add('gateway', 'memory per process', base + perProcess * inputs.rssPerSocket.value, 'bytes',
    `base RSS (${(base / 2 ** 20).toFixed(0)} MiB) + sockets per process × RSS per idle socket (${(inputs.rssPerSocket.value / 1024).toFixed(2)} KiB)`);
  add('gateway', 'memory for all sockets', N * inputs.rssPerSocket.value + processes * base, 'bytes', 'sockets × RSS per socket + processes × base RSS');

  // Redis.
  const redisOps = add('redis', 'commands/s (steady state)', (N * inputs.redisCommandsPer10k.value) / 10_000, '/s',
    `sockets × commands/s per 10 000 idle sockets (${inputs.redisCommandsPer10k.value.toFixed(1)}) / 10 000`);
  add('redis', 'CPU (steady state)', (N * inputs.idleCpu.redis.value) / 1e6, 'cores', `sockets × Redis µs per socket-second (${inputs.idleCpu.redis.value.toFixed(2)}) / 1e6`);
  add('redis', 'memory for connected sessions', N * inputs.redisBytesPerSession.value, 'bytes',
    `sockets × Redis bytes per session (${inputs.redisBytesPerSession.value.toFixed(0)})`);

  // Postgres.
  const pgWrites = add('postgres', 'row writes/s (steady state)', (N * inputs.postgresWritesPer10k.value) / 10_000, '/s',
    `sockets × row writes/s per 10 000 idle sockets (${inputs.postgresWritesPer10k.value.toFixed(1)}) / 10 000`);
  add('postgres', 'CPU (steady state)', (N * inputs.idleCpu.postgres.value) / 1e6, 'cores', `sockets × Postgres µs per socket-second (${inputs.idleCpu.postgres.value.toFixed(2)}) / 1e6`);
  const userBytes = (inputs.postgresBytesPerUser?.value ?? 0) + (inputs.accountExtraBytes?.value ?? 0);
  add('postgres', 'storage per million users', 1e6 * (userBytes + a.sessionsPerUser * inputs.postgresBytesPerSession.value), 'bytes',
    `1e6 × (user row ${userBytes.toFixed(0)} B${inputs.accountExtraBytes ? ' incl. email + hash' : ''} + sessions per user ${a.sessionsPerUser} × session row ${inputs.postgresBytesPerSession.value.toFixed(0)} B), heap + indexes`);

  // Network.
  if (inputs.idleBytes) {
    add('network', 'gateway bytes/s (steady state)', N * inputs.idleBytes.value, 'B/s',
      `sockets × gateway I/O bytes per socket-second (${inputs.idleBytes.value.toFixed(2)}): client frames + Redis + Postgres, no TCP/IP or TLS headers`);
  }

  // Reconnect storm.
  const rc = inputs.reconnectCpu;
  const S = a.reconnectStormSeconds;
  add('storm', 'gateway cores to absorb it in the target time', (N * rc.gateway.value) / 1e6 / S, 'cores',
    `sockets × gateway µs per reconnect (${rc.gateway.value.toFixed(0)}) / 1e6 / storm seconds (${S})`);
  const stormCores = a.stormGatewayCores ?? processes;
  add('storm', `duration on ${stormCores} gateway cores`, (N * rc.gateway.value) / 1e6 / stormCores, 's',
    `sockets × gateway µs per reconnect / 1e6 / gateway cores (${a.stormGatewayCores === null ? 'the steady-state fleet' : 'given'})`);
  const stormRedisCores = add('storm', 'Redis CPU in the target time', (N * rc.redis.value) / 1e6 / S, 'cores', `sockets × Redis µs per reconnect (${rc.redis.value.toFixed(1)}) / 1e6 / storm seconds`);
  const stormPgCores = add('storm', 'Postgres CPU in the target time', (N * rc.postgres.value) / 1e6 / S, 'cores', `sockets × Postgres µs per reconnect (${rc.postgres.value.toFixed(0)}) / 1e6 / storm seconds`);
  const stormRedisOps = inputs.reconnectRedisCommands
    ? add('storm', 'Redis commands/s', (N * inputs.reconnectRedisCommands.value) / S, '/s', `sockets × Redis commands per reconnect (${inputs.reconnectRedisCommands.value.toFixed(2)}) / storm seconds`)
    : null;
  const stormPgStatements = inputs.reconnectPostgresStatements
    ? add('storm', 'Postgres statements/s', (N * inputs.reconnectPostgresStatements.value) / S, '/s', `sockets × statements per reconnect (${inputs.reconnectPostgresStatements.value.toFixed(3)}) / storm seconds`)
    : null;
  if (inputs.reconnectClientBytes) {
    add('storm', 'network bytes/s between clients and gateways', (N * inputs.reconnectClientBytes.value) / S, 'B/s',
      `sockets × client TCP payload per reconnect (${inputs.reconnectClientBytes.value.toFixed(0)} B: upgrade, Initialize, Authorize, answers) / storm seconds; no TLS`);
  }

  const bottlenecks: Bottleneck[] = [
    { tier: 'Postgres primary, steady-state row writes', load: pgWrites, capacity: a.postgresRowWritesPerPrimary, what: 'last_active batches from idle sockets' },
    { tier: 'Redis node, steady-state commands', load: redisOps, capacity: a.redisOpsPerNode, what: 'activity pushes from idle sockets' },
    ...(stormPgStatements !== null ? [{ tier: 'Postgres primary, statements in the storm', load: stormPgStatements, capacity: a.postgresStatementsPerPrimary, what: 'session, user and device statements per Authorize' }] : []),
    ...(stormRedisOps !== null ? [{ tier: 'Redis node, commands in the storm', load: stormRedisOps, capacity: a.redisOpsPerNode, what: 'session cache reads and refills' }] : []),
    { tier: 'Redis node, CPU in the storm', load: stormRedisCores, capacity: 1, what: 'one Redis node runs commands on one core' },
    { tier: 'Postgres primary, CPU in the storm', load: stormPgCores, capacity: a.coresPerMachine, what: `one primary of ${a.coresPerMachine} cores` },
  ].map((b) => ({ ...b, share: b.load / b.capacity }));
  bottlenecks.sort((x, y) => y.share - x.share);
  return { outputs: out, bottlenecks };
}

/** Human units: bytes as KiB/MiB/GiB/TiB, rates and counts with k/M. */
export function formatValue(value: number, unit: string): string {
  if (unit === 'bytes' || unit === 'B/s') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = value;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}${unit === 'B/s' ? '/s' : ''}`;
  }
  const compact = (v: number) =>
    Math.abs(v) >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : Math.abs(v) >= 1e4 ? `${(v / 1e3).toFixed(1)} k` : Number.isInteger(v) || v >= 100 ? v.toFixed(0) : v.toFixed(2);
  const number = compact(value);
  if (!unit) return number;
  // '33.3 k/s' but '50 /s' and '8 cores'.
  return unit.startsWith('/') && / [kM]$/.test(number) ? `${number}${unit}` : `${number} ${unit}`;
}
