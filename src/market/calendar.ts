/**
 * The trading calendar: which China-time dates trade. Saturdays and Sundays never do; the
 * operator lists the holidays (the exchanges publish them each December for the next year,
 * for example Spring Festival and National Day weeks). Every "next trading day" in the node
 * comes from here: the daily settlement's timer skips non-trading days, and after a
 * settlement the gateway's trading day moves to the next trading day, not the next weekday.
 *
 * Dates are `"YYYYMMDD"` strings (real dates), compared as strings. Pure; any thread.
 */

import { assert } from "../stdx/assert.ts";
import { dayUtcMs, utcDay, validTradingDay } from "./time.ts";

/** Holidays a calendar takes at most (about forty years of an exchange's closures). */
export const HOLIDAYS_MAX = 1_000;

const MS_PER_DAY = 86_400_000;

/** Why a holiday list cannot be used, or undefined when it can (each a real date, at most HOLIDAYS_MAX). */
export function holidayListError(days: readonly string[]): string | undefined {
  if (days.length > HOLIDAYS_MAX) return `at most ${HOLIDAYS_MAX} holidays, not ${days.length}`;
  const bad = days.find((d) => !validTradingDay(d));
  return bad === undefined ? undefined : `a holiday must be a date as YYYYMMDD, not ${JSON.stringify(bad)}`;
}

export class TradingCalendar {
  private readonly holidays: ReadonlySet<string>;

  constructor(holidays: readonly string[] = []) {
    const err = holidayListError(holidays);
    assert(err === undefined, err ?? "");
    this.holidays = new Set(holidays);
  }

  /** The holidays, sorted (for logs and for passing the calendar to a worker). */
  get holidayList(): string[] {
    return [...this.holidays].sort();
  }

  /** Whether China date `day` trades: a weekday that is not a holiday. */
  trades(day: string): boolean {
    assert(validTradingDay(day), `trading day must be YYYYMMDD, not ${day}`);
    const weekday = new Date(dayUtcMs(day)).getUTCDay();
    return weekday !== 0 && weekday !== 6 && !this.holidays.has(day);
  }

  /** The first trading day after `day`. */
  next(day: string): string {
    assert(validTradingDay(day), `trading day must be YYYYMMDD, not ${day}`);
    // Weekends and at most HOLIDAYS_MAX holidays: the loop ends within HOLIDAYS_MAX * 7 / 5 + 3 days.
    for (let ms = dayUtcMs(day) + MS_PER_DAY; ; ms += MS_PER_DAY) {
      const d = utcDay(ms);
      if (this.trades(d)) return d;
    }
  }

  /** `day` itself if it trades, else the first trading day after it. */
  onOrAfter(day: string): string {
    return this.trades(day) ? day : this.next(day);
  }
}
