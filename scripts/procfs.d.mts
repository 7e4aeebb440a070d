/** Types of scripts/procfs.mjs (process CPU, RSS and I/O from /proc). */
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
export declare const CLOCK_TICKS: number;
export declare function parseProcStat(line: string): ProcStat;
export declare function readProcStat(pid: number): ProcStat | null;
export declare function childrenOf(pid: number): number[];
export declare function processTree(root: number): number[];
export declare function processCpuSeconds(pid: number, stat?: ProcStat | null): number | null;
export declare function treeCpuSeconds(root: number): number;
export declare function processIo(pid: number): { readBytes: number; writtenBytes: number } | null;
export declare function rssBytes(pid: number): number | null;
export declare function openFilesLimit(): number | null;
