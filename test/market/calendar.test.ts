/**
 * The trading calendar (src/market/calendar.ts): weekends never trade, listed holidays do
 * not, and "next" walks over runs of both, across months and years. Bad holiday lists are
 * refused with the reason.
 */

import { expect, test } from "vitest";
import { HOLIDAYS_MAX, TradingCalendar, holidayListError } from "../../src/market/calendar.ts";

test("weekdays trade, weekends do not; next skips weekends", () => {
  const c = new TradingCalendar();
  expect(["20261123", "20261124", "20261125", "20261126", "20261127"].map((d) => c.trades(d))).toEqual([true, true, true, true, true]);
  expect(c.trades("20261128")).toBe(false); // Saturday
  expect(c.trades("20261129")).toBe(false); // Sunday
  expect(c.next("20261126")).toBe("20261127");
  expect(c.next("20261127")).toBe("20261130"); // Friday → Monday
  expect(c.next("20261128")).toBe("20261130");
  expect(c.next("20261231")).toBe("20270101"); // a Thursday into a Friday, across the year, with no holidays listed
  expect(c.onOrAfter("20261129")).toBe("20261130");
  expect(c.onOrAfter("20261124")).toBe("20261124");
  expect(c.holidayList).toEqual([]);
});

test("listed holidays do not trade; next walks over a run of them and the weekends between", () => {
  // A year-end closure: Thursday 12-31 and Friday 01-01, then the weekend; and a week in February.
  const c = new TradingCalendar(["20270101", "20261231", "20270208", "20270209", "20270210", "20270211", "20270212"]);
  expect(c.holidayList).toEqual(["20261231", "20270101", "20270208", "20270209", "20270210", "20270211", "20270212"]);
  expect(c.trades("20261231")).toBe(false);
  expect(c.next("20261230")).toBe("20270104"); // Wednesday → Monday
  expect(c.onOrAfter("20261231")).toBe("20270104");
  expect(c.next("20270205")).toBe("20270215"); // Friday → (weekend, Mon-Fri closed, weekend) Monday
  expect(c.onOrAfter("20270210")).toBe("20270215");
  expect(c.next("20270215")).toBe("20270216");
});

test("a holiday list must hold real dates as YYYYMMDD, at most HOLIDAYS_MAX of them", () => {
  expect(holidayListError([])).toBeUndefined();
  expect(holidayListError(["20270101"])).toBeUndefined();
  expect(holidayListError(["2027-01-01"])).toBe('a holiday must be a date as YYYYMMDD, not "2027-01-01"');
  expect(holidayListError(["20270230"])).toBe('a holiday must be a date as YYYYMMDD, not "20270230"');
  expect(holidayListError(["2027011"])).toMatch(/YYYYMMDD/);
  expect(holidayListError(Array.from({ length: HOLIDAYS_MAX + 1 }, () => "20270101"))).toBe(`at most ${HOLIDAYS_MAX} holidays, not ${HOLIDAYS_MAX + 1}`);
  expect(() => new TradingCalendar(["x"])).toThrow(/YYYYMMDD/);
});
