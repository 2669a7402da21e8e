/**
 * One clock for every thread of a benchmark: nanoseconds on CLOCK_MONOTONIC (the clock
 * behind `process.hrtime`), as a double, read cheaply through `performance.now()`.
 *
 * `performance.now()` counts from its thread's time origin; at import, each thread finds
 * that origin on the monotonic clock (the largest of 200 differences hrtime - now: the
 * read of `now` comes after the hrtime read, so every difference is at most the origin,
 * and the largest is within a few tens of ns of it). `nowNs()` is then comparable across
 * threads. Its values (~1e13 to 1e16 ns) are exact in a double to well under 1 ns.
 *
 * The engine loop stamps commands with wall-clock ns since the epoch (src/node/engine_loop.ts:
 * anchored once at `performance.timeOrigin + performance.now()`, in µs, then advanced by
 * `performance.now()`). `StampAnchor`, taken on the main thread, maps such stamps onto this
 * clock: both advance with the same monotonic clock, so only the anchors' µs rounding
 * remains (under ~1 µs of error).
 */

import { performance } from "node:perf_hooks";

function findOriginNs(): number {
  let best = -Infinity;
  for (let k = 0; k < 200; k++) {
    const hr = Number(process.hrtime.bigint());
    const o = hr - performance.now() * 1e6;
    if (o > best) best = o;
  }
  return best;
}

const ORIGIN_NS = findOriginNs();

/** Monotonic nanoseconds, comparable across the threads of this process. */
export function nowNs(): number {
  return performance.now() * 1e6 + ORIGIN_NS;
}

/** Maps the engine loop's epoch stamps (u64 ns as two u32 halves) onto `nowNs`. */
export interface StampAnchor {
  /** An epoch time in ns, as its u32 halves. */
  hi: number;
  lo: number;
  /** The same instant on `nowNs`. */
  atNs: number;
}

/** Takes the anchor on the thread whose loop stamps the records (the main thread). */
export function stampAnchor(): StampAnchor {
  const p = performance.now();
  const epochNs = BigInt(Math.round((performance.timeOrigin + p) * 1000)) * 1000n;
  return { hi: Number(epochNs >> 32n), lo: Number(epochNs & 0xffffffffn), atNs: p * 1e6 + ORIGIN_NS };
}

/** A stamp's time on `nowNs` (exact arithmetic: the halves are subtracted before scaling). */
export function stampToNs(a: StampAnchor, hi: number, lo: number): number {
  return (hi - a.hi) * 4294967296 + (lo - a.lo) + a.atNs;
}
