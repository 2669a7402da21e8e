/**
 * The trading schedule: the node's timed commands. Every `markEveryMs` it submits a mark of
 * every instrument (positions re-valued at the last trade price, margins re-priced, risk
 * ratios rated, breaches liquidated), and each trading day at `settleAt` (China time, UTC+8,
 * the clock DIFF's trading days follow; weekdays that are not holidays, `calendar.ts`) a daily settlement (good-for-day orders expired, today's
 * lots made earlier lots, balances rolled, the trading day ended). Both are ordinary
 * sequenced commands on an inbound ring of their own: the journal holds them, a replay
 * repeats them, and the engine itself reads no clock.
 *
 * A node that is down at the settlement time settles at the next one; an operator can also
 * mark or settle at any time through the admin API (`POST /admin/mark`, `/admin/settle`).
 *
 * Main thread, on timers (the engine loop yields to the event loop between its slices).
 */

import { assert } from "../stdx/assert.ts";
import { NO_INSTRUMENT, type Buf } from "../schema/layout.ts";
import { writeMark, writeSettle } from "../schema/command.ts";
import { CHINA_UTC_OFFSET_SECONDS } from "../market/limits.ts";
import { TradingCalendar } from "../market/calendar.ts";
import { chinaDate, dayUtcMs } from "../market/time.ts";

const MINUTES_PER_DAY = 24 * 60;
const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = MINUTES_PER_DAY * MS_PER_MINUTE;
const CHINA_OFFSET_MS = CHINA_UTC_OFFSET_SECONDS * 1000;
/** Bytes a timed command needs free in its ring; with less, that mark is skipped (the loop is far behind). */
const ROOM_NEEDED = 256;
/** The longest timer Node keeps (2^31 - 1 ms); a settlement further off is re-armed on the way. */
const TIMER_MAX_MS = 2 ** 31 - 1;

/** The minute of the day of "HH:MM" (00:00 to 23:59), or undefined when it is not one. */
export function parseClockTime(text: string): number | undefined {
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  return m === null ? undefined : Number(m[1]) * 60 + Number(m[2]);
}

/** "HH:MM" of a minute of the day. */
export function formatClockTime(minute: number): string {
  return `${String(Math.floor(minute / 60)).padStart(2, "0")}:${String(minute % 60).padStart(2, "0")}`;
}

/**
 * The first instant after `nowMs` (ms since the epoch) at which China time reads `minute`
 * (of the day) on a trading day of `calendar` (Monday to Friday, less its holidays).
 */
export function nextSettlementMs(nowMs: number, minute: number, calendar: TradingCalendar = NO_HOLIDAYS): number {
  assert(Number.isInteger(minute) && minute >= 0 && minute < MINUTES_PER_DAY, "settlement minute out of range");
  const local = nowMs + CHINA_OFFSET_MS;
  const dayStart = Math.floor(local / MS_PER_DAY) * MS_PER_DAY;
  let at = dayStart + minute * MS_PER_MINUTE;
  // China date of the candidate (dayStart is a China-time midnight, shifted to read as UTC).
  const day = chinaDate((dayStart - CHINA_OFFSET_MS) / 1000);
  if (at <= local || !calendar.trades(day)) {
    const next = calendar.next(day);
    at += dayUtcMs(next) - dayStart;
  }
  return at - CHINA_OFFSET_MS;
}

const NO_HOLIDAYS = new TradingCalendar();

export interface ScheduleOptions {
  /** Milliseconds between two marks of every instrument; 0: none. */
  markEveryMs: number;
  /** The minute of the day (China time) of the daily settlement; undefined: none. */
  settleMinute: number | undefined;
  /** The days it settles on (default: Monday to Friday, no holidays). */
  calendar?: TradingCalendar;
  /** Writes one command (`write(buf, offset) -> size`) into the schedule's inbound ring and publishes it. */
  submit: (write: (buf: Buf, offset: number) => number) => void;
  /** Bytes free in that ring now. */
  free: () => number;
  log: (line: string, level?: "info" | "warn") => void;
  /** Wall-clock ms since the epoch (tests set it). */
  nowMs?: () => number;
}

export class TradingSchedule {
  marks = 0;
  marksSkipped = 0;
  settlements = 0;
  private markTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  private readonly nowMs: () => number;
  private readonly calendar: TradingCalendar;

  constructor(private readonly o: ScheduleOptions) {
    assert(Number.isSafeInteger(o.markEveryMs) && o.markEveryMs >= 0, "markEveryMs must be a non-negative integer");
    this.nowMs = o.nowMs ?? Date.now;
    this.calendar = o.calendar ?? NO_HOLIDAYS;
  }

  start(): void {
    if (this.o.markEveryMs > 0) {
      this.markTimer = setInterval(() => this.mark(), this.o.markEveryMs);
    }
    if (this.o.settleMinute !== undefined) this.armSettlement();
    const parts = [
      this.o.markEveryMs > 0 ? `every instrument marked every ${this.o.markEveryMs} ms` : "no timed marks",
      this.o.settleMinute !== undefined
        ? `daily settlement at ${formatClockTime(this.o.settleMinute)} China time on weekdays${this.calendar.holidayList.length > 0 ? ` except ${this.calendar.holidayList.length} holidays` : ""}, next at ${new Date(nextSettlementMs(this.nowMs(), this.o.settleMinute, this.calendar)).toISOString()}`
        : "no timed settlement",
    ];
    this.o.log(`schedule: ${parts.join("; ")}`);
  }

  stop(): void {
    clearInterval(this.markTimer);
    clearTimeout(this.settleTimer);
    this.markTimer = undefined;
    this.settleTimer = undefined;
  }

  private mark(): void {
    if (this.o.free() < ROOM_NEEDED) {
      // The loop has not drained the ring since the last mark: it is far behind, and a mark
      // more would only wait behind the one already queued.
      if (this.marksSkipped++ === 0) this.o.log("schedule: a mark was skipped: the engine has not taken the last one yet", "warn");
      return;
    }
    this.o.submit((b, at) => writeMark(b, at, NO_INSTRUMENT));
    this.marks++;
  }

  /** Sets the timer of the next settlement after `after` (ms since the epoch; default now). */
  private armSettlement(after?: number): void {
    const minute = this.o.settleMinute!;
    const now = this.nowMs();
    const at = nextSettlementMs(Math.max(now, after ?? now), minute, this.calendar);
    if (at - now > TIMER_MAX_MS) {
      // Holidays can put it beyond what one timer holds (24.8 days): wait that long, then again.
      this.settleTimer = setTimeout(() => this.armSettlement(after), TIMER_MAX_MS);
      return;
    }
    this.settleTimer = setTimeout(() => this.settle(at), Math.max(0, at - now));
  }

  private settle(at: number): void {
    this.settleTimer = undefined;
    if (this.o.free() < ROOM_NEEDED) {
      // Never skipped: tried again shortly (the ring is the schedule's own; the loop drains it).
      this.settleTimer = setTimeout(() => this.settle(at), 100);
      return;
    }
    this.o.submit((b, o) => writeSettle(b, o));
    this.settlements++;
    this.o.log(`schedule: daily settlement submitted (${formatClockTime(this.o.settleMinute!)} China time)`);
    this.armSettlement(at);
  }
}
