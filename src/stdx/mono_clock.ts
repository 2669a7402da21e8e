/**
 * Nanoseconds on CLOCK_MONOTONIC (the clock behind `process.hrtime`), as a double, read
 * cheaply through `performance.now()` and comparable across the threads of a process.
 *
 * `performance.now()` counts from its thread's time origin; the first use on a thread finds
 * that origin on the monotonic clock (the largest of 200 differences hrtime - now: the read
 * of `now` comes after the hrtime read, so every difference is at most the origin, and the
 * largest is within a few tens of ns of it). Values (~1e13 to 1e16 ns) are exact in a double
 * to well under 1 ns.
 */

import { performance } from "node:perf_hooks";

let origin = NaN;

/** This thread's `performance.now()` origin on the monotonic clock, in ns (found once). */
export function monoOriginNs(): number {
  if (Number.isNaN(origin)) {
    let best = -Infinity;
    for (let k = 0; k < 200; k++) {
      const hr = Number(process.hrtime.bigint());
      const o = hr - performance.now() * 1e6;
      if (o > best) best = o;
    }
    origin = best;
  }
  return origin;
}

/** Monotonic nanoseconds, comparable across the threads of this process. */
export function monoNowNs(): number {
  return performance.now() * 1e6 + monoOriginNs();
}
