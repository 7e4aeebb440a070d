/**
 * Latency and outcome recording for the load test: one HDR histogram per
 * operation (microseconds, 3 significant digits), outcomes by code, and the
 * maths that turns them into a summary. Recorders of worker threads travel as
 * plain objects (histograms compressed) and merge in the main thread.
 */
import * as hdr from 'hdr-histogram-js';

type Histogram = ReturnType<typeof hdr.build>;

function newHistogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3, autoResize: true });
}

/** One operation: latencies of successes, and counts of every outcome code. */
interface OperationStats {
  histogram: Histogram;
  ok: number;
  /** Failures by code (RPC error code, or `timeout`, `closed`, `connect`...). */
  errors: Map<string, number>;
  /** Answers that are errors on the wire but the expected outcome of the scenario (e.g. 404 for a random invite). */
  expected: Map<string, number>;
}

export interface SerializedRecorder {
  operations: Record<string, { histogram: string; ok: number; errors: Record<string, number>; expected: Record<string, number> }>;
}

export interface OperationSummary {
  name: string;
  /** Successful and expected outcomes (latency measured). */
  count: number;
  errors: number;
  errorsByCode: Record<string, number>;
  expectedByCode: Record<string, number>;
  /** Successful operations per second over the run. */
  throughput: number;
  /** Milliseconds. */
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export class Recorder {
  private readonly operations = new Map<string, OperationStats>();

  private op(name: string): OperationStats {
    let op = this.operations.get(name);
    if (!op) {
      op = { histogram: newHistogram(), ok: 0, errors: new Map(), expected: new Map() };
      this.operations.set(name, op);
    }
    return op;
  }

  /** A success taking `ms` milliseconds. */
  ok(name: string, ms: number): void {
    const op = this.op(name);
    op.ok++;
    op.histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  /** An answer that is an error code the scenario expects: counted and timed like a success. */
  expected(name: string, code: string, ms: number): void {
    this.ok(name, ms);
    const op = this.op(name);
    op.expected.set(code, (op.expected.get(code) ?? 0) + 1);
  }

  error(name: string, code: string): void {
    const op = this.op(name);
    op.errors.set(code, (op.errors.get(code) ?? 0) + 1);
  }

  get names(): string[] {
    return [...this.operations.keys()];
  }

  get totalOk(): number {
    let n = 0;
    for (const op of this.operations.values()) n += op.ok;
    return n;
  }

  get totalErrors(): number {
    let n = 0;
    for (const op of this.operations.values()) for (const c of op.errors.values()) n += c;
    return n;
  }

  serialize(): SerializedRecorder {
    const operations: SerializedRecorder['operations'] = {};
    for (const [name, op] of this.operations) {
      operations[name] = {
        histogram: hdr.encodeIntoCompressedBase64(op.histogram),
        ok: op.ok,
        errors: Object.fromEntries(op.errors),
        expected: Object.fromEntries(op.expected),
      };
    }
    return { operations };
  }

  /** Adds another recorder's counts (from a worker thread). */
  merge(other: SerializedRecorder): void {
    for (const [name, data] of Object.entries(other.operations)) {
      const op = this.op(name);
      if (data.ok > 0) op.histogram.add(hdr.decodeFromCompressedBase64(data.histogram));
      op.ok += data.ok;
      for (const [code, n] of Object.entries(data.errors)) op.errors.set(code, (op.errors.get(code) ?? 0) + n);
      for (const [code, n] of Object.entries(data.expected)) op.expected.set(code, (op.expected.get(code) ?? 0) + n);
    }
  }

  summary(name: string, elapsedS: number): OperationSummary {
    const op = this.op(name);
    const h = op.histogram;
    const ms = (us: number) => Math.round(us) / 1000;
    const errors = [...op.errors.values()].reduce((a, b) => a + b, 0);
    return {
      name,
      count: op.ok,
      errors,
      errorsByCode: Object.fromEntries(op.errors),
      expectedByCode: Object.fromEntries(op.expected),
      throughput: elapsedS > 0 ? op.ok / elapsedS : 0,
      p50: op.ok ? ms(h.getValueAtPercentile(50)) : 0,
      p90: op.ok ? ms(h.getValueAtPercentile(90)) : 0,
      p99: op.ok ? ms(h.getValueAtPercentile(99)) : 0,
      max: op.ok ? ms(h.maxValue) : 0,
      mean: op.ok ? ms(h.mean) : 0,
    };
  }

  summaries(elapsedS: number): OperationSummary[] {
    return this.names.sort().map((n) => this.summary(n, elapsedS));
  }
}

/** Nearest-rank percentile of plain numbers (used where no histogram is kept, e.g. a few hundred samples). */
export function percentile(values: readonly number[], p: number): number {
  if (!values.length) return NaN;
  if (p < 0 || p > 100) throw new RangeError(`percentile must be 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
