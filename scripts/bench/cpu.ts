/**
 * Server-side CPU and I/O of the processes a figure measures, read from /proc
 * (Linux only): utime + stime of a process and all its live descendants, plus
 * their cutime + cstime, which is where the CPU of children that exited and
 * were reaped goes (a Postgres backend that ends during the run is still
 * counted, through the postmaster). Readings before and after a run give the
 * CPU the run cost, whatever else the machine did meanwhile.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ). */
export const CLOCK_TICKS = (() => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(ticks) && ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

export interface ProcStat {
  pid: number;
  ppid: number;
  /** Ticks in user and kernel mode, of every thread of the process. */
  utime: number;
  stime: number;
  /** Ticks of children that exited and were waited for. */
  cutime: number;
  cstime: number;
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) is in
 * parentheses and may itself contain spaces and parentheses, so fields are
 * counted from the last ')'.
 */
export function parseProcStat(line: string): ProcStat {
  const close = line.lastIndexOf(')');
  const pid = Number(line.slice(0, line.indexOf(' ')));
  // After ')': state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const rest = line.slice(close + 2).split(' ');
  const field = (n: number) => Number(rest[n - 3]);
  return { pid, ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // exited meanwhile
  }
}

/** Direct children of a process (from /proc/<pid>/task/<tid>/children, every thread). */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tasks) {
    try {
      for (const child of readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(' ')) if (child) out.push(Number(child));
    } catch {
      /* thread gone */
    }
  }
  return out;
}

/** The process and every live descendant. */
export function processTree(root: number): number[] {
  const seen = new Set<number>();
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    queue.push(...childrenOf(pid));
  }
  return [...seen];
}

/**
 * Nanoseconds on CPU of every live thread of a process, from
 * /proc/<pid>/task/<tid>/schedstat (nanosecond resolution, where stat counts
 * 10 ms ticks); null where the kernel does not keep it.
 */
function threadsOnCpuNs(pid: number): number | null {
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
  let ns = 0;
  for (const tid of tasks) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    } catch {
      /* thread gone */
    }
  }
  return Number.isFinite(ns) && ns > 0 ? ns : null;
}

/**
 * CPU seconds of a process tree so far: each live process's own time (its
 * threads' schedstat, else utime + stime) and the time of the children it
 * reaped (cutime + cstime). A descendant that exits between two readings
 * moves from its own entry into its parent's cutime, so the sum does not
 * drop. (A thread that exits takes its schedstat with it: the gateway's,
 * Redis's and Postgres's threads live as long as their process.)
 */
export function treeCpuSeconds(root: number): number {
  let seconds = 0;
  for (const pid of processTree(root)) {
    const stat = readStat(pid);
    if (!stat) continue;
    const ownNs = threadsOnCpuNs(pid);
    seconds += ownNs !== null ? ownNs / 1e9 : (stat.utime + stat.stime) / CLOCK_TICKS;
    seconds += (stat.cutime + stat.cstime) / CLOCK_TICKS;
  }
  return seconds;
}

/** Bytes a process moved through read()/write() syscalls (sockets included), from /proc/<pid>/io. */
export function processIo(pid: number): { readBytes: number; writtenBytes: number } | null {
  try {
    const io = readFileSync(`/proc/${pid}/io`, 'utf8');
    return { readBytes: Number(/rchar:\s+(\d+)/.exec(io)?.[1]), writtenBytes: Number(/wchar:\s+(\d+)/.exec(io)?.[1]) };
  } catch {
    return null;
  }
}

/** A named set of process trees whose CPU is read together. */
export type CpuParts = Record<string, number>;

export interface CpuSample {
  at: number;
  seconds: CpuParts;
}

/** Reads the CPU seconds of each named root pid. */
export function sampleCpu(roots: CpuParts): CpuSample {
  const seconds: CpuParts = {};
  for (const [name, pid] of Object.entries(roots)) seconds[name] = treeCpuSeconds(pid);
  return { at: performance.now(), seconds };
}

/** Microseconds of CPU per unit of work between two samples, per part and in total. */
export function cpuPerUnit(before: CpuSample, after: CpuSample, units: number): { total: number; parts: CpuParts; wallS: number } {
  const parts: CpuParts = {};
  let total = 0;
  for (const name of Object.keys(before.seconds)) {
    const us = ((after.seconds[name]! - before.seconds[name]!) * 1e6) / units;
    parts[name] = us;
    total += us;
  }
  return { total, parts, wallS: (after.at - before.at) / 1000 };
}
