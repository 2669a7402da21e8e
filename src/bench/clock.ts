/**
 * One clock for every thread of a benchmark: nanoseconds on CLOCK_MONOTONIC, comparable
 * across threads (`monoNowNs`, src/stdx/mono_clock.ts).
 *
 * The engine loop stamps commands with wall-clock ns since the epoch (src/node/engine_loop.ts:
 * anchored once at `performance.timeOrigin + performance.now()`, in µs, then advanced by
 * `performance.now()`). `StampAnchor`, taken on the main thread, maps such stamps onto this
 * clock: both advance with the same monotonic clock, so only the anchors' µs rounding
 * remains (under ~1 µs of error).
 */

import { performance } from "node:perf_hooks";
import { monoNowNs, monoOriginNs } from "../stdx/mono_clock.ts";

/** Monotonic nanoseconds, comparable across the threads of this process. */
export const nowNs = monoNowNs;

monoOriginNs(); // found at import, not in a timed path

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
  return { hi: Number(epochNs >> 32n), lo: Number(epochNs & 0xffffffffn), atNs: p * 1e6 + monoOriginNs() };
}

/** A stamp's time on `nowNs` (exact arithmetic: the halves are subtracted before scaling). */
export function stampToNs(a: StampAnchor, hi: number, lo: number): number {
  return (hi - a.hi) * 4294967296 + (lo - a.lo) + a.atNs;
}
