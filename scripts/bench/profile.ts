/**
 * Summary of a V8 CPU profile (a .cpuprofile file, as the bench probe or `node --cpu-prof` writes it): the
 * functions with the most self time, as issue 13 asks for the Authorize hot
 * path. Self time of a node = the sampling intervals whose sample landed in
 * it; nodes of the same function (same name, file and line) are added up.
 */
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTimeEntry {
  name: string;
  /** Where: file:line relative to the repository, '(native)', or '' for V8's pseudo-frames such as (garbage collector). */
  where: string;
  selfMs: number;
  /** Share of the profile's non-idle time. */
  share: number;
}

export function summarizeCpuProfile(profile: CpuProfile, top = 10, root = process.cwd()): { entries: SelfTimeEntry[]; busyMs: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<string, { name: string; where: string; us: number }>();
  let busyUs = 0;
  profile.samples.forEach((id, i) => {
    // timeDeltas[i] is the time since the previous sample: it belongs to sample i.
    const us = profile.timeDeltas[i] ?? 0;
    const frame = byId.get(id)?.callFrame;
    if (!frame || frame.functionName === '(idle)') return;
    busyUs += us;
    const file = frame.url ? relative(root, frame.url.replace(/^file:\/\//, '')) : '';
    // Frames without a script are native code (syscalls, V8 builtins) or V8's pseudo-frames.
    const where = file ? `${file}:${frame.lineNumber + 1}` : frame.functionName.startsWith('(') ? '' : '(native)';
    const key = `${frame.functionName}|${where}`;
    const entry = selfUs.get(key) ?? { name: frame.functionName || '(anonymous)', where, us: 0 };
    entry.us += us;
    selfUs.set(key, entry);
  });
  const entries = [...selfUs.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, selfMs: e.us / 1000, share: busyUs ? e.us / busyUs : 0 }));
  return { entries, busyMs: busyUs / 1000 };
}

export function formatSelfTime(entries: readonly SelfTimeEntry[]): string {
  return entries.map((e, i) => `${String(i + 1).padStart(2)}. ${(e.share * 100).toFixed(1).padStart(5)} %  ${e.selfMs.toFixed(0).padStart(6)} ms  ${e.name}${e.where ? `  ${e.where}` : ''}`).join('\n');
}
