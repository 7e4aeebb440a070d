/** Command-line options of `npm run bench`, parsed and bounded. */

export const FIGURES = ['1', '1a', '1b', '2', '3', '4', '5', '6', '7', '8'] as const;
export type FigureId = (typeof FIGURES)[number];

export const USAGE = `usage: npm run bench -- [options]
  --quick                 smaller counts and shorter runs (about half the time)
  --figures LIST          only these figures, e.g. 1a,1b,6 (default: all of ${FIGURES.join(',')})
  --bcrypt-cost N         BCRYPT_COST of the measured gateways (default 12, the configured default)
  --bcrypt-concurrency N  BCRYPT_CONCURRENCY of the gateway and the raw bcrypt ceiling (default: the gateway's default)
  --idle-sockets N        idle sockets of figure 7 (default 10000, --quick 5000)
  --idle-window S         wall seconds figure 7 measures, rounded to whole activity flushes (default 60, --quick 30)
  --idle-time-scale K     figure 7 runs time K times faster than production and divides its rates by K (default 10; 1 = real time)
  --gateway-env KEY=VALUE a setting for every bench gateway (repeatable), e.g. --gateway-env ACTIVITY_PERSIST_GRANULARITY_MS=10000
  --cpu-profile           profile the gateway during the measured rounds of figures 1a/1b and print its top 10 self-time
                          functions (those figures then include the profiler's cost; --figures 1a for the Authorize hot path)
  --out DIR               results folder (default bench/results)

figures: 1 reconnect round trips/s (cache warm), 1a server CPU per Authorize on open sockets,
  1b server CPU per reconnect, 2 memory per idle socket, 3 sign-in throughput, 4 revocation push,
  5 start to ready, 6 hash-pool fairness, 7 writes and state per idle socket, 8 enumeration timing`;

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
  help: boolean;
}

export class BenchArgError extends Error {}

function integer(arg: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new BenchArgError(`${arg} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

export function parseBenchArgs(argv: readonly string[], defaultOut: string): BenchOptions {
  let quick = false;
  let figures: Set<FigureId> = new Set(FIGURES);
  let bcryptCost = 12;
  let bcryptConcurrency: number | null = null;
  let idleSockets: number | null = null;
  let idleWindowS: number | null = null;
  let idleTimeScale = 10;
  const gatewayEnv: Record<string, string> = {};
  let out = defaultOut;
  let help = false;
  let cpuProfile = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new BenchArgError(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--quick':
        quick = true;
        break;
      case '--figures': {
        const list = value().split(',').map((f) => f.trim().toLowerCase()).filter(Boolean);
        const unknown = list.filter((f) => !(FIGURES as readonly string[]).includes(f));
        if (!list.length || unknown.length) throw new BenchArgError(`--figures takes a list of ${FIGURES.join(', ')}; unknown: ${unknown.join(', ') || '(empty)'}`);
        figures = new Set(list as FigureId[]);
        break;
      }
      case '--bcrypt-cost':
        bcryptCost = integer(arg, value(), 4, 15);
        break;
      case '--bcrypt-concurrency':
        bcryptConcurrency = integer(arg, value(), 1, 64);
        break;
      case '--idle-sockets':
        idleSockets = integer(arg, value(), 100, 100_000);
        break;
      case '--idle-window':
        idleWindowS = integer(arg, value(), 2, 3_600);
        break;
      case '--idle-time-scale':
        idleTimeScale = integer(arg, value(), 1, 100);
        break;
      case '--gateway-env': {
        const setting = value();
        const eq = setting.indexOf('=');
        if (eq <= 0 || !/^[A-Z][A-Z0-9_]*$/.test(setting.slice(0, eq))) throw new BenchArgError(`--gateway-env takes KEY=VALUE, got ${JSON.stringify(setting)}`);
        gatewayEnv[setting.slice(0, eq)] = setting.slice(eq + 1);
        break;
      }
      case '--out':
        out = value();
        break;
      case '--cpu-profile':
        cpuProfile = true;
        break;
      case '--help':
      case '-h':
        help = true;
        break;
      default:
        throw new BenchArgError(`unknown option ${arg}`);
    }
  }
  return {
    quick,
    figures,
    bcryptCost,
    bcryptConcurrency,
    idleSockets: idleSockets ?? (quick ? 5_000 : 10_000),
    idleWindowS: idleWindowS ?? (quick ? 30 : 60),
    idleTimeScale,
    gatewayEnv,
    cpuProfile,
    out,
    help,
  };
}

/** Orders rows by figure id as listed in FIGURES (1, 1a, 1b, 2 ...), keeping the order within a figure. */
export function figureOrder(id: string): number {
  const index = (FIGURES as readonly string[]).indexOf(id);
  return index === -1 ? FIGURES.length : index;
}
