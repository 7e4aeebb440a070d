/** Command line of `npm run bench`, parsed and bounded. */
import { fileURLToPath } from 'node:url';
import { configSchema } from '../../src/config.js';
import { UsageError, defineCommand, numberValue } from '../commandLine.mjs';

export const FIGURES = ['1', '1a', '1b', '2', '3', '4', '5', '6', '7', '8', '9', '10', '11'] as const;
export type FigureId = (typeof FIGURES)[number];

const DEFAULT_OUT = fileURLToPath(new URL('../../bench/results', import.meta.url));

/** Read by node and libuv in the gateway's process, not by src/config.ts. */
const PROCESS_SETTINGS = new Set(['UV_THREADPOOL_SIZE', 'NODE_OPTIONS']);

export interface BenchOptions {
  quick: boolean;
  figures: Set<FigureId>;
  bcryptCost: number;
  bcryptConcurrency: number | null;
  idleSockets: number;
  idleWindowS: number;
  idleTimeScale: number;
  gatewayEnv: Record<string, string>;
  cpuProfile: boolean;
  out: string;
}

function figureList(text: string): Set<FigureId> {
  const list = text.split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
  const unknown = list.filter((f) => !(FIGURES as readonly string[]).includes(f));
  if (!list.length || unknown.length) throw new UsageError(`--figures takes a list of ${FIGURES.join(', ')}; unknown: ${unknown.join(', ') || '(empty)'}`);
  return new Set(list as FigureId[]);
}

/** KEY=VALUE settings for the gateways; a name the gateway does not read would be ignored without a word, so it is refused. */
function gatewaySettings(settings: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const setting of settings) {
    const eq = setting.indexOf('=');
    const name = setting.slice(0, eq);
    if (eq <= 0) throw new UsageError(`--gateway-env takes KEY=VALUE, got ${JSON.stringify(setting)}`);
    if (!(name in configSchema.shape) && !PROCESS_SETTINGS.has(name)) {
      throw new UsageError(`--gateway-env ${name}: the gateway has no such setting (src/config.ts lists them)`);
    }
    env[name] = setting.slice(eq + 1);
  }
  return env;
}

export const benchCommand = defineCommand(
  {
    usage: 'npm run bench -- [options]',
    options: {
      quick: { type: 'boolean', help: 'smaller counts and shorter runs (about half the time)' },
      figures: { type: 'string', value: 'LIST', help: `only these figures, e.g. 1a,1b,6 (default: all of ${FIGURES.join(',')})` },
      'bcrypt-cost': { type: 'string', value: 'N', help: 'BCRYPT_COST of the measured gateways, 4-15 (default 12, the configured default)' },
      'bcrypt-concurrency': { type: 'string', value: 'N', help: "BCRYPT_CONCURRENCY of the gateway and the raw bcrypt ceiling, 1-64\n(default: the gateway's default)" },
      'idle-sockets': { type: 'string', value: 'N', help: 'idle sockets of figure 7, 100-100000 (default 10000, --quick 5000)' },
      'idle-window': { type: 'string', value: 'S', help: 'wall seconds figure 7 measures, rounded to whole activity flushes, 2-3600\n(default 60, --quick 30)' },
      'idle-time-scale': { type: 'string', value: 'K', help: 'figure 7 runs time K times faster than production and divides its rates by K, 1-100\n(default 10; 1 = real time)' },
      'gateway-env': {
        type: 'string',
        multiple: true,
        value: 'KEY=VALUE',
        help: 'a setting of src/config.ts for every bench gateway (repeatable; also UV_THREADPOOL_SIZE,\nNODE_OPTIONS), e.g. --gateway-env ACTIVITY_PERSIST_GRANULARITY=10 (seconds)',
      },
      'cpu-profile': {
        type: 'boolean',
        help: "profile the gateway during the measured rounds of figures 1a/1b (and 9, 10, 11) and print\nits top 10 self-time functions (those figures then include the profiler's cost; --figures 1a\nfor the Authorize hot path)",
      },
      out: { type: 'string', value: 'DIR', help: 'results folder (default bench/results)' },
    },
    notes: `figures: 1 reconnect round trips/s (cache warm), 1a server CPU per Authorize on open sockets,
  1b server CPU per reconnect, 2 memory per idle socket, 3 sign-in throughput, 4 revocation push,
  5 start to ready, 6 hash-pool fairness, 7 writes and state per idle socket, 8 enumeration timing,
  9 forwarding to a backend, 10 the push API (and cross-instance push), 11 token introspection`,
  },
  (v): BenchOptions => {
    const quick = v.quick;
    const optional = (name: string, text: string | undefined, min: number, max: number) => (text === undefined ? null : numberValue(name, text, { min, max }));
    return {
      quick,
      figures: v.figures === undefined ? new Set(FIGURES) : figureList(v.figures),
      bcryptCost: optional('bcrypt-cost', v['bcrypt-cost'], 4, 15) ?? 12,
      bcryptConcurrency: optional('bcrypt-concurrency', v['bcrypt-concurrency'], 1, 64),
      idleSockets: optional('idle-sockets', v['idle-sockets'], 100, 100_000) ?? (quick ? 5_000 : 10_000),
      idleWindowS: optional('idle-window', v['idle-window'], 2, 3_600) ?? (quick ? 30 : 60),
      idleTimeScale: optional('idle-time-scale', v['idle-time-scale'], 1, 100) ?? 10,
      gatewayEnv: gatewaySettings(v['gateway-env']),
      cpuProfile: v['cpu-profile'],
      out: v.out ?? DEFAULT_OUT,
    };
  },
);

/** Orders rows by figure id as listed in FIGURES (1, 1a, 1b, 2 ...), keeping the order within a figure. */
export function figureOrder(id: string): number {
  const index = (FIGURES as readonly string[]).indexOf(id);
  return index === -1 ? FIGURES.length : index;
}
