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
 * A shrinking or flat series passes. For memory (`lows`), the line goes
 * through the lowest sample of each of LOW_SLICES equal slices of the judged
 * half instead of every sample: heap and RSS rise between collections and
 * fall at each, so garbage is not retention, while a leak raises the lows.
 */

/** Slices of the judged half whose lowest samples a `lows` fit goes through. */
export const LOW_SLICES = 5;

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
  /** Fit the lowest sample of each slice of the judged half (memory that garbage collection lowers). */
  lows?: boolean;
  /**
   * Seconds the judged half must span for a verdict; a shorter one passes
   * unjudged (`skipped`): between two collections a heap only rises.
   */
  minSpanS?: number;
}

export interface Verdict {
  ok: boolean;
  /** The judged half was shorter than the rule's minSpanS: reported, not judged. */
  skipped: boolean;
  /** Points the fit used (the slices' lows for a `lows` rule). */
  points: number;
  /** Fitted slope per hour, in the series' unit. */
  slopePerHour: number;
  /** slopePerHour / scale (NaN when the scale is 0). */
  growthPerHour: number;
  /** Fitted rise over the judged half's span. */
  rise: number;
  scale: number;
  mean: number;
  /** The fitted line: y = intercept + slopePerHour / 3600 · t. */
  intercept: number;
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

/** The lowest point of each of `slices` equal time slices of the points (slices without points skipped). */
export function sliceLows(points: readonly Point[], slices = LOW_SLICES): Point[] {
  if (points.length <= slices) return [...points];
  const start = points[0]!.t;
  const span = points[points.length - 1]!.t - start || 1;
  const lows: Point[] = [];
  for (let k = 0; k < slices; k++) {
    const inSlice = points.filter((p) => {
      const f = (p.t - start) / span;
      return k === slices - 1 ? f >= k / slices : f >= k / slices && f < (k + 1) / slices;
    });
    if (inSlice.length) lows.push(inSlice.reduce((low, p) => (p.y < low.y ? p : low)));
  }
  return lows;
}

export function judgeGrowth(points: readonly Point[], rule: GrowthRule): Verdict {
  const half = secondHalf(points);
  const judged = rule.lows ? sliceLows(half) : half;
  const n = judged.length;
  const mean = half.length ? half.reduce((s, p) => s + p.y, 0) / half.length : 0;
  const scale = rule.scale ?? mean;
  if (n < 3) {
    return { ok: false, skipped: false, points: n, slopePerHour: NaN, growthPerHour: NaN, rise: NaN, scale, mean, intercept: NaN, why: `only ${n} samples in the second half (3 needed)` };
  }
  const { slope, intercept } = leastSquares(judged);
  const slopePerHour = slope * 3600;
  const span = half[half.length - 1]!.t - half[0]!.t;
  const rise = slope * span;
  const growthPerHour = scale === 0 ? (slopePerHour > 0 ? Infinity : 0) : slopePerHour / Math.abs(scale);
  if (rule.minSpanS !== undefined && span < rule.minSpanS) {
    const why = `not judged: the second half spans ${span.toFixed(0)} s, under ${rule.minSpanS} s (too short to tell garbage from retention)`;
    return { ok: true, skipped: true, points: n, slopePerHour, growthPerHour, rise, scale, mean, intercept, why };
  }
  const tooFast = growthPerHour > rule.limitPerHour;
  const real = rise > rule.floor;
  const ok = !(tooFast && real);
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const why = ok
    ? tooFast
      ? `projected ${pct(growthPerHour)}/h, but the fitted rise ${rise.toFixed(1)} is within the noise floor ${rule.floor}`
      : `projected ${pct(growthPerHour)}/h within ${pct(rule.limitPerHour)}/h`
    : `projected ${pct(growthPerHour)}/h over ${pct(rule.limitPerHour)}/h, fitted rise ${rise.toFixed(1)} over the floor ${rule.floor}`;
  return { ok, skipped: false, points: n, slopePerHour, growthPerHour, rise, scale, mean, intercept, why };
}
