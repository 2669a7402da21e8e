/**
 * A fixed-bucket histogram for metrics: upper bounds chosen once, a count per bucket, the
 * sum and the count of every value recorded. Recording allocates nothing (the buckets are
 * a preallocated Float64Array), so it can sit on a hot path; a snapshot copies it for
 * another thread (postMessage) and is what the Prometheus rendering reads.
 *
 * Buckets are stored as they are filled (value v goes to the first bucket whose bound is
 * >= v; above the last bound, to the overflow bucket) and made cumulative only when
 * rendered, as Prometheus wants them: `le` buckets count every value at or below the bound.
 *
 * One thread owns a Histogram; counts are float64, exact up to 2^53.
 */

import { assert } from "./assert.ts";

/** A histogram's state at one moment: what crosses threads and gets rendered. */
export interface HistogramSnapshot {
  /** Upper bounds, ascending (the +Inf bucket is implicit). */
  bounds: Float64Array;
  /** Values per bucket, not cumulative: bounds.length + 1 entries, the last one above every bound. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class Histogram {
  readonly bounds: Float64Array;
  /** bounds.length + 1 buckets; the last counts values above the last bound. */
  readonly counts: Float64Array;
  /** [sum, count], in a typed array so that updating them never boxes a number. */
  private readonly totals = new Float64Array(2);

  constructor(bounds: readonly number[]) {
    assert(bounds.length > 0, "a histogram needs at least one bucket bound");
    for (let i = 1; i < bounds.length; i++) assert(bounds[i]! > bounds[i - 1]!, "histogram bounds must rise");
    this.bounds = Float64Array.from(bounds);
    this.counts = new Float64Array(bounds.length + 1);
  }

  record(value: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    const counts = this.counts;
    const totals = this.totals;
    counts[i] = counts[i]! + 1;
    totals[0] = totals[0]! + value;
    totals[1] = totals[1]! + 1;
  }

  get sum(): number {
    return this.totals[0]!;
  }

  get count(): number {
    return this.totals[1]!;
  }

  /** A copy (allocates: call it off the hot path). */
  snapshot(): HistogramSnapshot {
    return { bounds: this.bounds.slice(), counts: this.counts.slice(), sum: this.sum, count: this.count };
  }
}

/** `count` bounds from `first`, each `factor` times the one before. */
export function exponentialBounds(first: number, factor: number, count: number): number[] {
  assert(first > 0 && factor > 1 && count >= 1, "exponential bounds need first > 0, factor > 1 and a count");
  const out: number[] = [];
  for (let i = 0, v = first; i < count; i++, v *= factor) out.push(v);
  return out;
}
