/**
 * The soak's verdict on one series: does it grow without bound?
 *
 * Rule (docs/faults.md, "Soak"): over the second half of the churn (the first
 * half is warm-up: caches, JIT, pools and allocator arenas fill), fit a
 * least-squares line y = a + b·t. The series FAILS when both
 *   1. the slope projected over one hour exceeds `limitPerHour` of the
 *      series' scale (its mean over that half, or for a residual the number
 *      of sockets held), and
 *   2. the fitted rise over the judged half exceeds `floor` in the series'
 *      own unit, so that a short run's noise (a GC, a page of allocator
 *      arena) extrapolated over an hour is not taken for a leak.
 * A shrinking or flat series passes.
 */

export interface Point {
  /** Seconds since the churn started. */
  t: number;
  y: number;
}

export interface GrowthRule {
  /** Largest allowed growth per hour, as a fraction of the scale (0.1 = 10 %). */
  limitPerHour: number;
  /** Smallest fitted rise over the judged half that counts, in the series' unit. */
  floor: number;
  /** What the limit is a fraction of; default: the mean of the judged points. */
  scale?: number;
}

export interface Verdict {
  ok: boolean;
  /** Points the fit used. */
  points: number;
  /** Fitted slope per hour, in the series' unit. */
  slopePerHour: number;
  /** slopePerHour / scale (NaN when the scale is 0). */
  growthPerHour: number;
  /** Fitted rise over the judged points' span. */
  rise: number;
  scale: number;
  mean: number;
  why: string;
}

/** Least-squares slope and intercept of y over t; slope 0 for fewer than two distinct times. */
export function leastSquares(points: readonly Point[]): { slope: number; intercept: number } {
  const n = points.length;
  if (n === 0) return { slope: 0, intercept: 0 };
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (const p of points) {
    sxy += (p.t - mt) * (p.y - my);
    sxx += (p.t - mt) ** 2;
  }
  const slope = sxx === 0 ? 0 : sxy / sxx;
  return { slope, intercept: my - slope * mt };
}

/** The points of the second half of the run: t at or after half of the last point's time. */
export function secondHalf(points: readonly Point[]): Point[] {
  if (!points.length) return [];
  const end = points[points.length - 1]!.t;
  const start = points[0]!.t;
  const from = start + (end - start) / 2;
  return points.filter((p) => p.t >= from);
}

export function judgeGrowth(points: readonly Point[], rule: GrowthRule): Verdict {
  const judged = secondHalf(points);
  const n = judged.length;
  const mean = n ? judged.reduce((s, p) => s + p.y, 0) / n : 0;
  const scale = rule.scale ?? mean;
  if (n < 3) {
    return { ok: false, points: n, slopePerHour: NaN, growthPerHour: NaN, rise: NaN, scale, mean, why: `only ${n} samples in the second half (3 needed)` };
  }
  const { slope } = leastSquares(judged);
  const slopePerHour = slope * 3600;
  const span = judged[n - 1]!.t - judged[0]!.t;
  const rise = slope * span;
  const growthPerHour = scale === 0 ? (slopePerHour > 0 ? Infinity : 0) : slopePerHour / Math.abs(scale);
  const tooFast = growthPerHour > rule.limitPerHour;
  const real = rise > rule.floor;
  const ok = !(tooFast && real);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const why = ok
    ? tooFast
      ? `projected ${pct(growthPerHour)}/h, but the fitted rise ${rise.toFixed(1)} is within the noise floor ${rule.floor}`
      : `projected ${pct(growthPerHour)}/h within ${pct(rule.limitPerHour)}/h`
    : `projected ${pct(growthPerHour)}/h over ${pct(rule.limitPerHour)}/h, fitted rise ${rise.toFixed(1)} over the floor ${rule.floor}`;
  return { ok, points: n, slopePerHour, growthPerHour, rise, scale, mean, why };
}
