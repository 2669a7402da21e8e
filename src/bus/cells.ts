/**
 * Shared cells: a few 32-bit flags and counters in one SharedArrayBuffer, for threads that
 * coordinate outside the rings (a benchmark's driver, probes and the thread that runs
 * them: go, stop, progress counts). Every access is sequentially consistent, so plain
 * typed-array writes a thread made before a `store` or `add` are visible to a thread that
 * then `load`s that cell and sees the new value. Any thread may hold Cells over the same
 * buffer; `sleep` and `waitWhile` block, so they belong to worker threads (or to a main
 * thread that has nothing else to do).
 */

import { assert } from "../stdx/assert.ts";

export class Cells {
  readonly i32: Int32Array;

  constructor(readonly sab: SharedArrayBuffer) {
    assert(sab.byteLength >= 4 && (sab.byteLength & 3) === 0, "cells need a buffer of whole 32-bit words");
    this.i32 = new Int32Array(sab);
  }

  /** New zeroed cells, `count` of them. */
  static create(count: number): Cells {
    assert(Number.isInteger(count) && count >= 1, "at least one cell");
    return new Cells(new SharedArrayBuffer(count * 4));
  }

  load(i: number): number {
    return Atomics.load(this.i32, i);
  }

  store(i: number, v: number): void {
    Atomics.store(this.i32, i, v);
  }

  /** Adds `v`; returns the value before. */
  add(i: number, v: number): number {
    return Atomics.add(this.i32, i, v);
  }

  /** Stores `v` if cell `i` holds `expected`; returns the value it held (so `=== expected`: it was stored). */
  compareExchange(i: number, expected: number, v: number): number {
    return Atomics.compareExchange(this.i32, i, expected, v);
  }

  /** Blocks while cell `i` holds `expected`, for at most `ms` (fractions allowed); returns whether it was woken or found it changed. */
  waitWhile(i: number, expected: number, ms: number): boolean {
    return Atomics.wait(this.i32, i, expected, ms) !== "timed-out";
  }

  /** Wakes every thread blocked in `waitWhile` on cell `i`. */
  notify(i: number): void {
    Atomics.notify(this.i32, i);
  }
}

/** Blocks the calling thread for about `ms` (the kernel's timer slack, ~50 µs, comes on top). */
export function sleepMs(ms: number): void {
  Atomics.wait(SLEEP_CELL, 0, 0, ms);
}

const SLEEP_CELL = new Int32Array(new SharedArrayBuffer(4));
