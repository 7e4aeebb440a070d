/** Human output of the load test: the live progress line and the final table. */
import type { EngineProgress } from './engine.js';
import type { LoadReport } from './run.js';

/** Formats rows as an aligned text table (first column left-aligned, the rest right-aligned). */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
const codes = (byCode: Record<string, number>) =>
  Object.entries(byCode)
    .map(([code, n]) => `${code}:${n}`)
    .join(' ');

export function progressLine(p: EngineProgress & { elapsedS: number }, previous: { steps: number; at: number }): string {
  const dt = p.elapsedS - previous.at;
  const rate = dt > 0 ? (p.steps - previous.steps) / dt : 0;
  return `${fmt(p.elapsedS)} s  ${p.steps} done  ${fmt(rate, 0)}/s  ${p.errors} errors  ${p.openSockets} open sockets  ${p.slotsReady} ready`;
}

export function formatReport(report: LoadReport): string {
  const rows = report.operations.map((o) => [
    o.name,
    String(o.count),
    fmt(o.throughput),
    fmt(o.p50, 2),
    fmt(o.p90, 2),
    fmt(o.p99, 2),
    fmt(o.max, 2),
    [codes(o.errorsByCode), Object.keys(o.expectedByCode).length ? `(expected ${codes(o.expectedByCode)})` : ''].filter(Boolean).join(' ') || '-',
  ]);
  const scenario = report.options.scenarios.map((s) => `${s.name}=${s.weight}`).join(',');
  return [
    `${report.url}  scenario ${scenario}  ${report.options.connections} sockets  ${fmt(report.elapsedS)} s measured (setup ${fmt(report.setupS)} s)  peak ${report.peakSockets} open sockets`,
    table(['operation', 'count', 'per s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'errors by code'], rows),
  ].join('\n');
}
