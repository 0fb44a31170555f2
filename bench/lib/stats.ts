/**
 * Statistics for the benchmark: medians and spreads over repeated runs, latency percentiles,
 * and the "celeriac vs peer" factor. Pure functions, no I/O.
 */

/** Median and spread of a set of repeated measurements. */
export interface Summary {
  /** How many finite values were summarized. */
  readonly n: number;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  /** First and third quartiles (nearest rank; equal to min/max for n ≤ 3). */
  readonly q1: number;
  readonly q3: number;
}

/** Latency percentiles of one run, in milliseconds. */
export interface LatencySummary {
  readonly n: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/**
 * Nearest-rank quantile of an ascending array: the smallest value with at least `q` of the
 * values at or below it. NaN for an empty array.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil(q * sorted.length);
  const i = Math.min(sorted.length - 1, Math.max(0, rank - 1));
  return sorted[i] ?? NaN;
}

/** Median (mean of the two middle values for an even count), min, max and quartiles; non-finite values are ignored. */
export function summarize(values: readonly number[]): Summary {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return { n: 0, median: NaN, min: NaN, max: NaN, q1: NaN, q3: NaN };
  const mid = v.length >> 1;
  const median = v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
  return {
    n: v.length,
    median,
    min: v[0]!,
    max: v[v.length - 1]!,
    q1: quantile(v, 0.25),
    q3: quantile(v, 0.75),
  };
}

/** p50/p90/p99/mean/max of one run's per-call latencies (ms). */
export function latencySummary(ms: readonly number[]): LatencySummary {
  const s = [...ms].sort((a, b) => a - b);
  const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN;
  return {
    n: s.length,
    mean,
    p50: quantile(s, 0.5),
    p90: quantile(s, 0.9),
    p99: quantile(s, 0.99),
    max: s[s.length - 1] ?? NaN,
  };
}

/** Whether a bigger or a smaller figure is the better one. */
export type Direction = 'higher' | 'lower';

/**
 * How many times better celeriac is than a peer on one figure, from the two medians:
 * celeriac ÷ peer when higher is better (throughput), peer ÷ celeriac when lower is better
 * (latency, memory, CPU). So > 1 always means celeriac is ahead. NaN when either is missing or 0.
 */
export function advantage(celeriac: number, peer: number, direction: Direction): number {
  if (!Number.isFinite(celeriac) || !Number.isFinite(peer) || celeriac <= 0 || peer <= 0)
    return NaN;
  return direction === 'higher' ? celeriac / peer : peer / celeriac;
}

/** A number with a precision that suits its size (3 significant digits, no exponent); '–' for NaN. */
export function fmt(x: number, digits?: number): string {
  if (!Number.isFinite(x)) return '–';
  const a = Math.abs(x);
  const d = digits ?? (a >= 100 ? 0 : a >= 10 ? 1 : a >= 1 ? 2 : 3);
  return x.toFixed(d);
}

/** `median [min–max]`, or just the value for a single run; '–' for none. */
export function fmtSummary(s: Summary, digits?: number): string {
  if (s.n === 0) return '–';
  if (s.n === 1 || s.min === s.max) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} [${fmt(s.min, digits)}–${fmt(s.max, digits)}]`;
}

/** A factor such as `1.35×`; '–' for NaN. */
export function fmtFactor(x: number): string {
  if (!Number.isFinite(x)) return '–';
  return `${x >= 10 ? x.toFixed(1) : x.toFixed(2)}×`;
}
