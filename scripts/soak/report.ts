/** The soak's report: a table of samples, the verdict per series, a JSON file, a markdown file and a small SVG of the curves. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Sample, Series, SoakResult } from './run.js';

const MiB = 1024 * 1024;

function human(y: number, unit: Series['unit']): string {
  if (unit === 'B') return `${(y / MiB).toFixed(1)} MiB`;
  if (unit === 'B/key') return `${y.toFixed(1)} B`;
  return String(Math.round(y));
}

/** About `rows` samples spread evenly over the run, the first and the last included. */
export function spread<T>(items: readonly T[], rows: number): T[] {
  if (items.length <= rows) return [...items];
  const picked = new Set<number>();
  for (let i = 0; i < rows; i++) picked.add(Math.round((i * (items.length - 1)) / (rows - 1)));
  return [...picked].sort((a, b) => a - b).map((i) => items[i]!);
}

const COLUMNS: Array<[string, (s: Sample) => string]> = [
  ['t (min)', (s) => (s.t / 60).toFixed(1)],
  ['sockets', (s) => String(s.counters.openSockets)],
  ['RSS MiB', (s) => (s.reading.rss === null ? '-' : (s.reading.rss / MiB).toFixed(1))],
  ['heap MiB', (s) => (s.reading.heapUsed === null ? '-' : (s.reading.heapUsed / MiB).toFixed(1))],
  ['fds', (s) => String(s.reading.fds ?? '-')],
  ['Redis keys', (s) => String(s.reading.redisKeys)],
  ['Redis MiB', (s) => (s.reading.redisMemory / MiB).toFixed(2)],
  ['live sessions', (s) => String(s.reading.liveSessions)],
  ['sessions rows', (s) => String(s.reading.rows.sessions ?? '-')],
  ['users rows', (s) => String(s.reading.rows.users ?? '-')],
  ['revocations', (s) => String(s.counters.revocations)],
];

function textTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

function markdownTable(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

function verdictRows(result: SoakResult): string[][] {
  return result.series.map((s) => {
    const first = s.points[0]?.y;
    const last = s.points.at(-1)?.y;
    const v = s.verdict;
    return [
      s.name,
      first === undefined ? '-' : human(first, s.unit),
      last === undefined ? '-' : human(last, s.unit),
      v ? `${(v.growthPerHour * 100).toFixed(1)} %` : '-',
      v ? `${(s.rule!.limitPerHour * 100).toFixed(0)} % of ${s.rule!.scale === undefined ? 'mean' : `${s.rule!.scale} sockets`}, rise > ${human(s.rule!.floor, s.unit)}${s.rule!.lows ? ', lows' : ''}` : 'reported',
      v ? (v.skipped ? 'short run' : v.ok ? 'pass' : 'GROWS') : '-',
    ];
  });
}

const VERDICT_HEADER = ['series', 'first', 'last', 'fit, 2nd half, per hour', 'fails above', 'verdict'];

export function formatReport(result: SoakResult, rows = 13): string {
  const samples = spread(result.samples, rows);
  const ops = Object.entries(result.done).map(([k, n]) => `${k} ${n}`).join(', ');
  const errors = Object.entries(result.errors).map(([k, n]) => `${k} ×${n}`).join('; ') || 'none';
  return [
    textTable(COLUMNS.map((c) => c[0]), samples.map((s) => COLUMNS.map((c) => c[1](s)))),
    '',
    textTable(VERDICT_HEADER, verdictRows(result)),
    '',
    `churn: ${ops} (${result.operations} operations); errors: ${errors}`,
    result.ok ? `soak: PASS, no series grows without bound${result.series.some((s) => s.verdict?.skipped) ? ' (memory not judged: a run under 10 min)' : ''}` : `soak: FAIL\n${result.failures.map((f) => `  ${f}`).join('\n')}`,
  ].join('\n');
}

/** Small multiples: one panel per judged series, the judged half shaded and its fitted line drawn. */
export function curvesSvg(result: SoakResult): string {
  const panels = result.series.filter((s) => s.rule && s.points.length > 1);
  const cols = 3;
  const w = 300;
  const h = 150;
  const pad = { l: 8, r: 8, t: 34, b: 22 };
  const height = Math.ceil(panels.length / cols) * h;
  const parts: string[] = [];
  panels.forEach((s, i) => {
    const x0 = (i % cols) * w;
    const y0 = Math.floor(i / cols) * h;
    const ts = s.points.map((p) => p.t);
    const ys = s.points.map((p) => p.y);
    const tMin = Math.min(...ts);
    const tMax = Math.max(...ts);
    let yMin = Math.min(...ys);
    let yMax = Math.max(...ys);
    // Flat series stay flat on the page: the axis spans at least 10 % of the level (or the floor).
    const minSpan = Math.max(Math.abs(yMax) * 0.1, s.rule!.floor, 1);
    if (yMax - yMin < minSpan) {
      const mid = (yMax + yMin) / 2;
      yMin = mid - minSpan / 2;
      yMax = mid + minSpan / 2;
    }
    const px = (t: number) => x0 + pad.l + ((t - tMin) / (tMax - tMin || 1)) * (w - pad.l - pad.r);
    const py = (y: number) => y0 + h - pad.b - ((y - yMin) / (yMax - yMin || 1)) * (h - pad.t - pad.b);
    const half = tMin + (tMax - tMin) / 2;
    const v = s.verdict!;
    parts.push(`<clipPath id="p${i}"><rect x="${x0}" y="${y0 + pad.t}" width="${w}" height="${h - pad.t - pad.b}"/></clipPath>`);
    parts.push(`<rect x="${px(half).toFixed(1)}" y="${y0 + pad.t}" width="${(px(tMax) - px(half)).toFixed(1)}" height="${h - pad.t - pad.b}" fill="#eef3fb"/>`);
    parts.push(`<polyline fill="none" stroke="#1f5fbf" stroke-width="1.5" points="${s.points.map((p) => `${px(p.t).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`);
    if (Number.isFinite(v.slopePerHour)) {
      const at = (t: number) => v.intercept + (v.slopePerHour / 3600) * t;
      parts.push(`<line x1="${px(half).toFixed(1)}" y1="${py(at(half)).toFixed(1)}" x2="${px(tMax).toFixed(1)}" y2="${py(at(tMax)).toFixed(1)}" stroke="${v.ok ? '#2a8a3a' : '#c0392b'}" stroke-width="1.5" stroke-dasharray="4 3" clip-path="url(#p${i})"/>`);
    }
    const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    parts.push(`<text x="${x0 + pad.l}" y="${y0 + 14}" font-size="12" font-weight="bold">${esc(s.name)}</text>`);
    parts.push(`<text x="${x0 + pad.l}" y="${y0 + 28}" font-size="10" fill="${v.ok ? '#2a8a3a' : '#c0392b'}">${v.skipped ? 'not judged (short run)' : v.ok ? 'pass' : 'GROWS'}: fit ${(v.growthPerHour * 100).toFixed(1)} %/h; ${esc(human(ys[0]!, s.unit))} → ${esc(human(ys.at(-1)!, s.unit))}</text>`);
    parts.push(`<text x="${x0 + pad.l}" y="${y0 + h - 6}" font-size="9" fill="#666">0 – ${(tMax / 60).toFixed(1)} min; axis ${esc(human(yMin, s.unit))} – ${esc(human(yMax, s.unit))}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${cols * w}" height="${height}" viewBox="0 0 ${cols * w} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${parts.join('\n')}\n</svg>\n`;
}

export function markdownReport(result: SoakResult, svgName: string, rows = 13): string {
  const o = result.options;
  const samples = spread(result.samples, rows);
  const ops = Object.entries(result.done).map(([k, n]) => `${k} ${n}`).join(', ');
  const errors = Object.entries(result.errors).map(([k, n]) => `${k} ×${n}`).join('; ') || 'none';
  return [
    `# Soak ${result.startedAt}`,
    '',
    `${o.sockets} sockets, ${o.rate} churn operations/s for ${o.minutes} min, a sample every ${o.sampleS} s; ${result.ok ? '**PASS**' : '**FAIL**'}.`,
    `Churn: ${ops} (${result.operations} operations); errors: ${errors}.`,
    '',
    `![curves](${svgName})`,
    '',
    markdownTable(COLUMNS.map((c) => c[0]), samples.map((s) => COLUMNS.map((c) => c[1](s)))),
    '',
    markdownTable(VERDICT_HEADER, verdictRows(result)),
    '',
    ...(result.ok ? [] : ['Failures:', ...result.failures.map((f) => `- ${f}`), '']),
  ].join('\n');
}

/** Writes soak-<time>.json, .md and .svg into `dir`; returns their paths. */
export function writeResults(result: SoakResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const stamp = result.startedAt.replace(/[:.]/g, '-').replace(/-\d{3}Z$/, 'Z');
  const base = join(dir, `soak-${stamp}`);
  const svgName = `soak-${stamp}.svg`;
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.svg`, curvesSvg(result));
  writeFileSync(`${base}.md`, markdownReport(result, svgName));
  return [`${base}.json`, `${base}.md`, `${base}.svg`];
}
