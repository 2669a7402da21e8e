/**
 * Property: for any sequence of orders (crossing or resting, at any time steps), trading
 * days started by hand, and bar series opened at any point, the market model agrees with
 * naive references: its book is the engine's depth; every series' kept bars are the tail
 * of the bars computed from the trades by grouping, with ids counting from the first;
 * the day's statistics are those of the day's trades; there is one tick per command that
 * traded; versions never go back; and no quote, bar or tick holds NaN or Infinity.
 */

import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Side } from "../../src/schema/codes.ts";
import { tradingDayStartSeconds } from "../../src/market/time.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { T0, Venue, numbersIn, plainParams, referenceBars, type TradeRecord } from "./market_kit.ts";

const S = "X.P";
const DAY = 86_400e9;
const TRACKED = [1e9, 60e9, DAY];
const OPENABLE = [2e9, 7e9, 120e9, 300e9, 2 * DAY];

type Step =
  | { kind: "order"; side: "buy" | "sell"; offset: number; qty: number; ioc: boolean; dtMs: number }
  | { kind: "day" }
  | { kind: "open"; durationNs: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant("order" as const), side: fc.constantFrom("buy" as const, "sell" as const), offset: fc.integer({ min: -6, max: 6 }), qty: fc.integer({ min: 1, max: 5 }), ioc: fc.boolean(), dtMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1_500 }), fc.integer({ min: 1_500, max: 40_000 }), fc.integer({ min: 40_000, max: 400_000 })) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "day" as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("open" as const), durationNs: fc.constantFrom(...OPENABLE) }) },
);

function nextDay(day: string): string {
  const t = new Date((tradingDayStartSeconds(day) + 86_400 + 28_800) * 1000);
  return `${t.getUTCFullYear()}${String(t.getUTCMonth() + 1).padStart(2, "0")}${String(t.getUTCDate()).padStart(2, "0")}`;
}

function run(steps: Step[], barsPerSeries: number): void {
  const v = new Venue({ tradingDays: "explicit", durationsNs: TRACKED, barsPerSeries, ticksPerInstrument: barsPerSeries }, () => undefined, T0);
  const i = v.define(plainParams(S));
  const dayOfTrade: number[] = [];
  const trades = v.trades;
  const dayOf = (t: TradeRecord): number => dayOfTrade[trades.indexOf(t)]!;
  /** The series' kept bars are the tail of the reference bars of the trades so far. */
  const checkTail = (d: number): void => {
    const ref = referenceBars(trades, d / 1e9, dayOf);
    const info = v.market.seriesInfo(S, d)!;
    const got = v.market.bars(S, d, 0, info.last_id)!;
    if (TRACKED.includes(d)) {
      // Ids count from the first bar ever: bar id k is reference bar k.
      expect(info.last_id, `last_id of ${d / 1e9}s`).toBe(ref.length - 1);
      expect(got.fromId).toBe(Math.max(0, ref.length - barsPerSeries));
    }
    // A series opened later may begin later, but never with a bar the reference does not have.
    const tail = ref.slice(ref.length - got.bars.length);
    expect(got.bars.map((b) => [b.datetime / 1e9, b.open, b.high, b.low, b.close, b.volume]), `bars of ${d / 1e9}s`)
      .toEqual(tail.map((b) => [b.startSeconds, b.open, b.high, b.low, b.close, b.volume]));
    for (const [path, x] of numbersIn(got.bars)) expect(Number.isFinite(x), path).toBe(true);
  };
  const opened = new Set<number>(TRACKED);
  let lastQuoteVersion = -1;
  for (const s of steps) {
    if (s.kind === "day") {
      v.market.newTradingDay(nextDay(v.market.tradingDay));
    } else if (s.kind === "open") {
      expect(v.market.openSeries(S, s.durationNs)).toBe(true);
      opened.add(s.durationNs);
      checkTail(s.durationNs);
    } else {
      v.advance(BigInt(s.dtMs) * 1_000_000n);
      v.order(i, s.side === "buy" ? "b" : "s", s.side, 100 + s.offset, s.qty, s.ioc ? "ioc" : "gtc");
      while (dayOfTrade.length < v.trades.length) dayOfTrade.push(tradingDayStartSeconds(v.market.tradingDay));
    }
    const qv = v.market.quoteVersion(S);
    expect(qv).toBeGreaterThanOrEqual(lastQuoteVersion);
    lastQuoteVersion = qv;
  }
  expect(v.market.depth(S, Side.buy)).toEqual(v.engine.depth(i, Side.buy));
  expect(v.market.depth(S, Side.sell)).toEqual(v.engine.depth(i, Side.sell));

  for (const d of opened) checkTail(d);

  const today = trades.filter((t) => dayOf(t) === tradingDayStartSeconds(v.market.tradingDay));
  const st = v.market.stats(S)!;
  expect(st.volume).toBe(today.reduce((a, t) => a + t.qty, 0));
  expect(st.amountRaw).toBe(today.reduce((a, t) => a + t.price * t.qty, 0));
  if (today.length > 0) expect([st.open, st.high, st.low]).toEqual([today[0]!.price, Math.max(...today.map((t) => t.price)), Math.min(...today.map((t) => t.price))]);
  expect(v.market.tickInfo(S)!.last_id + 1).toBe(new Set(trades.map((t) => t.seq)).size);
  const q = v.market.quote(S)!;
  for (const [path, x] of numbersIn(q)) expect(Number.isFinite(x), path).toBe(true);
  for (const [path, x] of numbersIn(v.market.ticks(S, 0, Number.MAX_SAFE_INTEGER))) expect(Number.isFinite(x), path).toBe(true);
}

describe("market model property", () => {
  it("agrees with naive references over random orders, days and series", () => {
    const seed = seedFromEnv();
    console.log(`market property: seed ${seed} (replay with VENUE_SEED=${seed})`);
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 200, size: "max" }), fc.constantFrom(3, 10_000), (steps, cap) => run(steps, cap)),
      { seed, numRuns: 150 },
    );
  });
});
