/** Command line, results loading and report rendering of `npm run capacity` (the arithmetic is in model.ts). */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineCommand, numberValue } from '../commandLine.mjs';
import { DEFAULT_ASSUMPTIONS, formatValue, type Assumptions, type Inputs, type Model, type ResultsFile } from './model.js';

const DEFAULT_RESULTS = fileURLToPath(new URL('../../bench/results', import.meta.url));

export interface CapacityOptions {
  assumptions: Assumptions;
  results: string;
  markdown: boolean;
}

/** Each assumption's option: the field it sets, its bounds, its usage line. */
const ASSUMPTION_OPTIONS = {
  sockets: { field: 'sockets', min: 1, max: 1e10, help: `concurrent sockets of the fleet (default ${DEFAULT_ASSUMPTIONS.sockets})` },
  'reconnect-storm-seconds': { field: 'reconnectStormSeconds', min: 1, max: 86_400, integer: false, value: 'S', help: `every socket reconnects within S seconds (default ${DEFAULT_ASSUMPTIONS.reconnectStormSeconds})` },
  'storm-cores': { field: 'stormGatewayCores', min: 1, max: 1e7, help: 'gateway cores when the storm hits (default: the steady-state fleet)' },
  'target-utilization': { field: 'targetUtilization', min: 0.01, max: 1, integer: false, value: 'U', help: `share of each core the steady state may use, 0-1 (default ${DEFAULT_ASSUMPTIONS.targetUtilization})` },
  'max-sockets-per-process': { field: 'maxSocketsPerProcess', min: 1, max: 1e7, help: `most sockets one gateway process holds (default ${DEFAULT_ASSUMPTIONS.maxSocketsPerProcess})` },
  'cores-per-machine': { field: 'coresPerMachine', min: 1, max: 4096, help: `cores per gateway machine (default ${DEFAULT_ASSUMPTIONS.coresPerMachine})` },
  'sessions-per-user': { field: 'sessionsPerUser', min: 0, max: 1000, integer: false, help: `sessions kept per user, for storage (default ${DEFAULT_ASSUMPTIONS.sessionsPerUser})` },
  'redis-ops-per-node': { field: 'redisOpsPerNode', min: 1, max: 1e9, help: `commands/s one Redis node is trusted with (default ${DEFAULT_ASSUMPTIONS.redisOpsPerNode})` },
  'postgres-statements-per-primary': { field: 'postgresStatementsPerPrimary', min: 1, max: 1e9, help: `statements/s one Postgres primary is trusted with (default ${DEFAULT_ASSUMPTIONS.postgresStatementsPerPrimary})` },
  'postgres-row-writes-per-primary': { field: 'postgresRowWritesPerPrimary', min: 1, max: 1e9, help: `row writes/s one Postgres primary is trusted with (default ${DEFAULT_ASSUMPTIONS.postgresRowWritesPerPrimary})` },
} satisfies Record<string, { field: keyof Assumptions; min: number; max: number; integer?: boolean; value?: string; help: string }>;

type AssumptionOption = keyof typeof ASSUMPTION_OPTIONS;

export const capacityCommand = defineCommand(
  {
    usage: 'npm run capacity -- [options]',
    options: {
      ...(Object.fromEntries(
        Object.entries(ASSUMPTION_OPTIONS).map(([name, o]) => [name, { type: 'string', value: 'value' in o ? o.value : 'N', help: o.help }]),
      ) as Record<AssumptionOption, { type: 'string'; value: string; help: string }>),
      results: { type: 'string', value: 'PATH', help: 'a results folder or one results file (default bench/results)' },
      markdown: { type: 'boolean', help: 'print Markdown tables (for docs/capacity.md)' },
    },
  },
  (v): CapacityOptions => {
    const assumptions: Assumptions = { ...DEFAULT_ASSUMPTIONS };
    for (const [name, o] of Object.entries(ASSUMPTION_OPTIONS) as Array<[AssumptionOption, (typeof ASSUMPTION_OPTIONS)[AssumptionOption]]>) {
      const text = v[name];
      if (text !== undefined) assumptions[o.field] = numberValue(name, text, { min: o.min, max: o.max, integer: !('integer' in o) || o.integer });
    }
    return { assumptions, results: v.results ?? DEFAULT_RESULTS, markdown: v.markdown };
  },
);

/** Reads one results file, or every bench results file (<date>.json) of a folder. */
export function loadResults(path: string): ResultsFile[] {
  const files = statSync(path).isDirectory()
    ? readdirSync(path)
        .filter((f) => /^\d{4}-\d\d-\d\dT[\d-]+\.json$/.test(f))
        .map((f) => join(path, f))
    : [path];
  return files.map((file) => {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Omit<ResultsFile, 'path'>;
    return { ...parsed, path: file.replace(/^.*\/bench\/results\//, 'bench/results/') };
  });
}

function inputLines(inputs: Inputs): Array<[string, string, string]> {
  const kib = (b: number) => `${(b / 1024).toFixed(2)} KiB`;
  const rows: Array<[string, string, string] | null> = [
    ['RSS per idle authorized socket', kib(inputs.rssPerSocket.value), inputs.rssPerSocket.from],
    inputs.baseRss ? ['RSS of a gateway process without sockets', `${(inputs.baseRss.value / 2 ** 20).toFixed(0)} MiB`, inputs.baseRss.from] : null,
    ['gateway CPU per idle socket-second', `${inputs.idleCpu.gateway.value.toFixed(2)} µs`, inputs.idleCpu.gateway.from],
    ['Redis CPU per idle socket-second', `${inputs.idleCpu.redis.value.toFixed(2)} µs`, inputs.idleCpu.redis.from],
    ['Postgres CPU per idle socket-second', `${inputs.idleCpu.postgres.value.toFixed(2)} µs`, inputs.idleCpu.postgres.from],
    inputs.idleBytes ? ['gateway I/O per idle socket-second', `${inputs.idleBytes.value.toFixed(2)} B`, inputs.idleBytes.from] : null,
    ['Postgres row writes/s per 10 000 idle sockets', inputs.postgresWritesPer10k.value.toFixed(1), inputs.postgresWritesPer10k.from],
    ['Redis commands/s per 10 000 idle sockets', inputs.redisCommandsPer10k.value.toFixed(1), inputs.redisCommandsPer10k.from],
    ['gateway CPU per reconnect', `${inputs.reconnectCpu.gateway.value.toFixed(0)} µs`, inputs.reconnectCpu.gateway.from],
    ['Redis CPU per reconnect', `${inputs.reconnectCpu.redis.value.toFixed(1)} µs`, inputs.reconnectCpu.redis.from],
    ['Postgres CPU per reconnect', `${inputs.reconnectCpu.postgres.value.toFixed(0)} µs`, inputs.reconnectCpu.postgres.from],
    inputs.reconnectRedisCommands ? ['Redis commands per reconnect', inputs.reconnectRedisCommands.value.toFixed(2), inputs.reconnectRedisCommands.from] : null,
    inputs.reconnectPostgresStatements ? ['Postgres statements per reconnect', inputs.reconnectPostgresStatements.value.toFixed(3), inputs.reconnectPostgresStatements.from] : null,
    inputs.reconnectClientBytes ? ['client TCP payload per reconnect', `${inputs.reconnectClientBytes.value.toFixed(0)} B`, inputs.reconnectClientBytes.from] : null,
    ['Redis memory per session', `${inputs.redisBytesPerSession.value.toFixed(0)} B`, inputs.redisBytesPerSession.from],
    ['Postgres bytes per session row', `${inputs.postgresBytesPerSession.value.toFixed(0)} B`, inputs.postgresBytesPerSession.from],
    inputs.postgresBytesPerUser ? ['Postgres bytes per user row (guests)', `${inputs.postgresBytesPerUser.value.toFixed(0)} B`, inputs.postgresBytesPerUser.from] : null,
    inputs.accountExtraBytes ? ['extra bytes of an account row (email, hash)', `${inputs.accountExtraBytes.value.toFixed(0)} B`, inputs.accountExtraBytes.from] : null,
  ];
  return rows.filter((r): r is [string, string, string] => r !== null);
}

export function renderReport(inputs: Inputs, model: Model, a: Assumptions, markdown: boolean): string {
  const lines: string[] = [];
  const table = (header: string[], rows: string[][]) => {
    if (markdown) {
      lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
      return;
    }
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
    lines.push(fmt(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt), '');
  };
  const heading = (text: string) => lines.push(markdown ? `### ${text}\n` : `${text}\n`);
  heading(`Fleet for ${a.sockets.toLocaleString('en-US')} sockets, full reconnect storm in ${a.reconnectStormSeconds} s`);
  heading('Measured inputs (npm run bench)');
  table(['input', 'value', 'from'], inputLines(inputs).map(([n, v, f]) => [n, v, markdown ? `\`${f}\`` : f]));
  heading('Assumptions (options, not measured)');
  table(['assumption', 'value'], [
    ['target utilization of a core in steady state', String(a.targetUtilization)],
    ['max sockets per gateway process', String(a.maxSocketsPerProcess)],
    ['cores per machine', String(a.coresPerMachine)],
    ['sessions per user', String(a.sessionsPerUser)],
    ['trusted Redis commands/s per node', String(a.redisOpsPerNode)],
    ['trusted Postgres statements/s per primary', String(a.postgresStatementsPerPrimary)],
    ['trusted Postgres row writes/s per primary', String(a.postgresRowWritesPerPrimary)],
  ]);
  heading('Outputs');
  table(['tier', 'output', 'value', 'formula'], model.outputs.map((o) => [o.section, o.name, formatValue(o.value, o.unit), o.formula]));
  heading('What breaks first (load against the trusted capacity of one node)');
  table(['tier', 'load', 'capacity', 'share', 'from'], model.bottlenecks.map((b) => [
    b.tier,
    formatValue(b.load, ''),
    formatValue(b.capacity, ''),
    `${(b.share * 100).toFixed(0)} %${b.share > 1 ? ' BREAKS' : ''}`,
    b.what,
  ]));
  return lines.join('\n');
}
