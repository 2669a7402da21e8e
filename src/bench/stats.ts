/**
 * The summaries the benchmarks report, one definition for all: a latency distribution's
 * percentiles and a median of rounds.
 */

import type { RecordableHistogram } from "node:perf_hooks";

/** A latency distribution, in the unit it was recorded in (ns unless said); NaN where there were no samples. */
export interface Percentiles {
  count: number;
  p50: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** The percentiles of a perf_hooks histogram. */
export function percentilesOf(h: RecordableHistogram): Percentiles {
  if (h.count === 0) return { count: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  return { count: h.count, p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9), max: h.max, mean: h.mean };
}

/** The median (of an even count, the mean of the two middle values); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
