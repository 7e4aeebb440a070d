/**
 * What the scripts read about processes from /proc (Linux only): CPU time of
 * one process or of a process tree, RSS, I/O bytes, the parent, the
 * descriptor limit. Every reader returns null (or skips a process) where the
 * process exited meanwhile.
 *
 * CPU of a tree: utime + stime of a process and all its live descendants,
 * plus their cutime + cstime, which is where the CPU of children that exited
 * and were reaped goes (a Postgres backend that ends during a run is still
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

function readOrNull(path) {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/**
 * Parses one /proc/<pid>/stat line. The command name (field 2) is in
 * parentheses and may itself contain spaces and parentheses, so fields are
 * counted from the last ')'.
 */
export function parseProcStat(line) {
  const close = line.lastIndexOf(')');
  const pid = Number(line.slice(0, line.indexOf(' ')));
  // After ')': state(3) ppid(4) ... utime(14) stime(15) cutime(16) cstime(17).
  const rest = line.slice(close + 2).split(' ');
  const field = (n) => Number(rest[n - 3]);
  return { pid, ppid: field(4), utime: field(14), stime: field(15), cutime: field(16), cstime: field(17) };
}

export function readProcStat(pid) {
  const line = readOrNull(`/proc/${pid}/stat`);
  return line === null ? null : parseProcStat(line);
}

function threadIds(pid) {
  try {
    return readdirSync(`/proc/${pid}/task`);
  } catch {
    return null;
  }
}

/** Direct children of a process (from /proc/<pid>/task/<tid>/children, every thread). */
export function childrenOf(pid) {
  const out = [];
  for (const tid of threadIds(pid) ?? []) {
    for (const child of (readOrNull(`/proc/${pid}/task/${tid}/children`) ?? '').trim().split(' ')) if (child) out.push(Number(child));
  }
  return out;
}

/** The process and every live descendant. */
export function processTree(root) {
  const seen = new Set();
  const queue = [root];
  while (queue.length) {
    const pid = queue.pop();
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
function threadsOnCpuNs(pid) {
  const tasks = threadIds(pid);
  if (!tasks) return null;
  let ns = 0;
  for (const tid of tasks) ns += Number((readOrNull(`/proc/${pid}/task/${tid}/schedstat`) ?? '0').split(' ')[0]);
  return Number.isFinite(ns) && ns > 0 ? ns : null;
}

/** CPU seconds the process itself used so far (its threads, not its children); null once it is gone. */
export function processCpuSeconds(pid, stat = readProcStat(pid)) {
  if (!stat) return null;
  const ns = threadsOnCpuNs(pid);
  return ns !== null ? ns / 1e9 : (stat.utime + stat.stime) / CLOCK_TICKS;
}

/**
 * CPU seconds of a process tree so far: each live process's own time and the
 * time of the children it reaped (cutime + cstime). A descendant that exits
 * between two readings moves from its own entry into its parent's cutime, so
 * the sum does not drop. (A thread that exits takes its schedstat with it:
 * the gateway's, Redis's and Postgres's threads live as long as their
 * process.)
 */
export function treeCpuSeconds(root) {
  let seconds = 0;
  for (const pid of processTree(root)) {
    const stat = readProcStat(pid);
    if (!stat) continue;
    seconds += processCpuSeconds(pid, stat) + (stat.cutime + stat.cstime) / CLOCK_TICKS;
  }
  return seconds;
}

/** Bytes a process moved through read()/write() syscalls (sockets included), from /proc/<pid>/io. */
export function processIo(pid) {
  const io = readOrNull(`/proc/${pid}/io`);
  if (io === null) return null;
  return { readBytes: Number(/rchar:\s+(\d+)/.exec(io)?.[1]), writtenBytes: Number(/wchar:\s+(\d+)/.exec(io)?.[1]) };
}

/** Resident set size of a process in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(pid) {
  const kib = Number(/VmRSS:\s+(\d+)/.exec(readOrNull(`/proc/${pid}/status`) ?? '')?.[1]);
  return Number.isFinite(kib) ? kib * 1024 : null;
}

/** The soft limit of open descriptors of this process (ulimit -n), or null where /proc does not tell. */
export function openFilesLimit() {
  const soft = Number(/Max open files\s+(\d+)/.exec(readOrNull('/proc/self/limits') ?? '')?.[1]);
  return Number.isFinite(soft) ? soft : null;
}
