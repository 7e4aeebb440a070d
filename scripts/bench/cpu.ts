/**
 * Server-side CPU of the processes a figure measures: named process trees
 * (gateway, Redis, Postgres) read together from /proc (scripts/procfs.mjs),
 * and the CPU per unit of work between two readings.
 */
import { treeCpuSeconds } from '../procfs.mjs';

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
