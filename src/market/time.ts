/**
 * Time as the market model reads it: an event's timestamp is a u64 of nanoseconds since
 * the Unix epoch, stored as two u32 halves in the record header. About 1.7e18 ns do not
 * fit a double exactly, so the model never adds the halves in floating point. It splits a
 * timestamp into whole seconds (about 1.7e9, exact) and the nanoseconds within the second,
 * by long division in 16-bit digits, which allocates nothing.
 *
 * Whole seconds times 1e9 is exact as a double (1e9 = 2^9 x 5^9 and seconds x 5^9 < 2^53),
 * so bar start times written as ns numbers are exact. A tick's time with its nanoseconds
 * is not: it is the nearest double (within 128 ns at today's dates); see `nsNumber`.
 *
 * Pure functions; any thread.
 */

import { assert } from "../stdx/assert.ts";
import { CHINA_UTC_OFFSET_SECONDS, NS_PER_SECOND } from "./limits.ts";
import { H_TIMESTAMP } from "../schema/layout.ts";

/** A timestamp split into whole seconds and the ns within the second. Reused, never shared. */
export class SplitTime {
  seconds = 0;
  nanos = 0;

  /** Splits the u64 ns whose halves are `hi` and `lo`. */
  setHalves(hi: number, lo: number): this {
    // Long division of (hi, lo) by 1e9, one 16-bit digit at a time: every partial value
    // is below 1e9 x 2^16 < 2^53, so each step is exact.
    let r = hi >>> 16;
    const q3 = Math.floor(r / NS_PER_SECOND);
    r -= q3 * NS_PER_SECOND;
    r = r * 65536 + (hi & 0xffff);
    const q2 = Math.floor(r / NS_PER_SECOND);
    r -= q2 * NS_PER_SECOND;
    r = r * 65536 + (lo >>> 16);
    const q1 = Math.floor(r / NS_PER_SECOND);
    r -= q1 * NS_PER_SECOND;
    r = r * 65536 + (lo & 0xffff);
    const q0 = Math.floor(r / NS_PER_SECOND);
    r -= q0 * NS_PER_SECOND;
    this.seconds = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
    this.nanos = r;
    return this;
  }

  /** Splits the timestamp in the record header at `offset` of `dv`. */
  setRecord(dv: DataView, offset: number): this {
    return this.setHalves(dv.getUint32(offset + H_TIMESTAMP + 4, true), dv.getUint32(offset + H_TIMESTAMP, true));
  }

  /** Edge code: from a bigint. */
  setBigint(ns: bigint): this {
    assert(ns >= 0n && ns < 1n << 64n, "timestamp outside u64");
    return this.setHalves(Number(ns >> 32n), Number(ns & 0xffffffffn));
  }
}

/** Exact ns as a bigint (edge code). */
export function nsBigint(seconds: number, nanos: number): bigint {
  return BigInt(seconds) * 1_000_000_000n + BigInt(nanos);
}

/** ns as the nearest double: exact when `nanos` is 0, else within 128 ns at today's dates. */
export function nsNumber(seconds: number, nanos: number): number {
  return seconds * NS_PER_SECOND + nanos;
}

/** Whole seconds x 1e9, exact (see the file comment). */
export function secondsToNs(seconds: number): number {
  return seconds * NS_PER_SECOND;
}

const pad2 = (n: number): string => (n < 10 ? "0" : "") + n;

/** `"YYYY-MM-DD HH:MM:SS.ffffff"` in China time (UTC+8), DIFF's quote datetime. Microseconds are truncated. */
export function diffDatetime(seconds: number, nanos: number): string {
  const d = new Date((seconds + CHINA_UTC_OFFSET_SECONDS) * 1000);
  const micros = Math.floor(nanos / 1000);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())}.${String(micros).padStart(6, "0")}`;
}

/** `"YYYYMMDD"` of the UTC date of `ms` (ms since the epoch). */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  return `${String(d.getUTCFullYear()).padStart(4, "0")}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}`;
}

/** Midnight UTC of date `"YYYYMMDD"`, ms since the epoch (the inverse of `utcDay` for real dates). */
export function dayUtcMs(day: string): number {
  return Date.UTC(Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)));
}

/** The China-time calendar date of an instant, as `"YYYYMMDD"`. */
export function chinaDate(seconds: number): string {
  return utcDay((seconds + CHINA_UTC_OFFSET_SECONDS) * 1000);
}

/** A trading day `"YYYYMMDD"` is well formed and a real date (no 30 February, no year below 100). */
export function validTradingDay(day: string): boolean {
  return /^\d{8}$/.test(day) && utcDay(dayUtcMs(day)) === day;
}

/** Seconds since the epoch of 00:00 China time on trading day `"YYYYMMDD"` (DIFF's daily bar start). */
export function tradingDayStartSeconds(day: string): number {
  assert(validTradingDay(day), `trading day must be YYYYMMDD, not ${day}`);
  return dayUtcMs(day) / 1000 - CHINA_UTC_OFFSET_SECONDS;
}
