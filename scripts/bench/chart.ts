/**
 * The benchmark chart (bench/results/latest.svg): one bar per row, the
 * measured value as a share of its goal, so 100 % is the goal line whatever
 * the unit. Plain SVG, no dependencies.
 */
import type { Row } from './figures.js';

/**
 * How far a row is towards its goal: >= 1 means met. `>= 40 %` compares the
 * ratio with 0.4; `<= 1.5x` compares 1.5 with the ratio; `< 20 ms` compares 20
 * with the value. Null for rows without a numeric goal.
 */
export function goalScore(row: Row): number | null {
  const atLeast = /^>=\s*([\d.]+)\s*%/.exec(row.goal);
  if (atLeast && row.ratio !== null) return row.ratio / (Number(atLeast[1]) / 100);
  const atMostTimes = /^<=\s*([\d.]+)x/.exec(row.goal);
  if (atMostTimes && row.ratio !== null) return row.ratio > 0 ? Number(atMostTimes[1]) / row.ratio : null;
  const under = /<\s*([\d.]+)\s*ms/.exec(row.goal);
  if (under && row.gateway !== null) return row.gateway > 0 ? Number(under[1]) / row.gateway : 10;
  return null;
}

/** The chart's title: what ran, when, where, and how loaded the machine was. */
export function chartCaption(command: string, date: string, machine: { cpus: number; node: string }, loadBefore: number, loadAfter: number): string {
  return `${command}, ${date.slice(0, 10)}: ${machine.cpus} cores, Node ${machine.node}, load average ${loadBefore} → ${loadAfter}`;
}

const escape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderChart(rows: readonly Row[], caption: string): string {
  const scored = rows.map((row) => ({ row, score: goalScore(row) })).filter((r) => r.score !== null) as Array<{ row: Row; score: number }>;
  const labelW = 560;
  const barW = 300;
  const rowH = 26;
  const top = 40;
  const width = labelW + barW + 150;
  const height = top + scored.length * rowH + 40;
  const max = 3; // bars are clipped at 3x the goal
  const x = (score: number) => labelW + (Math.min(score, max) / max) * barW;
  const lines = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="20" font-size="14" font-weight="bold">${escape(caption)}</text>`,
  ];
  scored.forEach(({ row, score }, i) => {
    const y = top + i * rowH;
    const color = score >= 1 ? '#2e8540' : '#c62828';
    lines.push(
      `<text x="10" y="${y + 15}">${escape(`${row.figure}. ${row.metric}`)}</text>`,
      `<rect x="${labelW}" y="${y + 3}" width="${(x(score) - labelW).toFixed(1)}" height="16" fill="${color}"/>`,
      `<text x="${x(score) + 6}" y="${y + 15}">${(score * 100).toFixed(0)} % of goal</text>`,
    );
  });
  const goalX = x(1);
  lines.push(
    `<line x1="${goalX}" y1="${top - 4}" x2="${goalX}" y2="${top + scored.length * rowH}" stroke="#000" stroke-dasharray="4 3"/>`,
    `<text x="${goalX - 14}" y="${top + scored.length * rowH + 16}">goal</text>`,
    `<text x="10" y="${height - 8}" fill="#555">bar = how far each figure is towards its goal: 100 % meets it exactly, longer is better (clipped at ${max * 100} %)</text>`,
    '</svg>',
  );
  return `${lines.join('\n')}\n`;
}
