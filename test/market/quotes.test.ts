/**
 * The DIFF quote and the day's statistics, from real engine events: static fields from the
 * catalog and the instrument's definition, units (price decimals, volume multiple, money),
 * "-" for what is not known, the datetime string in China time, versions and the
 * never-modified quote objects, and trading-day rollover.
 */

import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MarketData } from "../../src/market/market.ts";
import { SplitTime, diffDatetime, chinaDate, tradingDayStartSeconds } from "../../src/market/time.ts";
import { Side, TradingState } from "../../src/schema/codes.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { MINUTE, SECOND, T0, Venue, catalogLookup, numbersIn, plainParams } from "./market_kit.ts";

const CU = "SHFE.cu2601";
const IF = "CFFEX.IF2603";

function expectFinite(q: object): void {
  for (const [path, x] of numbersIn(q)) expect(Number.isFinite(x), `${path} is ${x}`).toBe(true);
}

describe("quote", () => {
  it("has the catalog's static fields and '-' for everything not yet known", () => {
    const v = new Venue();
    v.defineCatalog(CU);
    const q = v.market.quote(CU)!;
    expect(q).toMatchObject({
      instrument_id: CU, exchange_id: "SHFE", ins_id: "cu2601", product_id: "cu", instrument_name: "copper 2601",
      ins_class: "FUTURE", price_tick: 10, price_decs: 0, volume_multiple: 5, max_limit_order_volume: 500,
      min_limit_order_volume: 1, max_market_order_volume: 0, min_market_order_volume: 0, expired: false,
      underlying_symbol: "", upper_limit: 90_000, lower_limit: 70_000, margin: 0, commission: 10,
      trading_time: catalogLookup(CU)!.tradingTime,
      datetime: "2024-11-05 10:00:00.000000",
      last_price: "-", highest: "-", lowest: "-", open: "-", close: "-", average: "-", settlement: "-",
      pre_close: "-", pre_settlement: "-", volume: 0, amount: 0, open_interest: 0, pre_open_interest: 0,
    });
    for (let n = 1; n <= 5; n++) {
      expect(q[`ask_price${n}`]).toBe("-");
      expect(q[`ask_volume${n}`]).toBe(0);
      expect(q[`bid_price${n}`]).toBe("-");
      expect(q[`bid_volume${n}`]).toBe(0);
    }
    expect(q["ask_price6"]).toBeUndefined();
    expectFinite(q);
  });

  it("follows the book and the day's trades in DIFF units (price decimals 0)", () => {
    const v = new Venue();
    const cu = v.defineCatalog(CU);
    v.order(cu, "a1", "sell", 75_010, 3);
    v.order(cu, "a1", "sell", 75_020, 2);
    v.order(cu, "a2", "buy", 74_990, 2);
    v.advance(1_500_000_000n + 123_456_789n);
    v.order(cu, "a3", "buy", 75_010, 1, "ioc");
    let q = v.market.quote(CU)!;
    expect(q).toMatchObject({
      datetime: "2024-11-05 10:00:01.623456",
      ask_price1: 75_010, ask_volume1: 2, ask_price2: 75_020, ask_volume2: 2, ask_price3: "-", ask_volume3: 0,
      bid_price1: 74_990, bid_volume1: 2, bid_price2: "-", bid_volume2: 0,
      last_price: 75_010, open: 75_010, highest: 75_010, lowest: 75_010, average: 75_010,
      volume: 1, amount: 75_010 * 5,
      // 10% of one lot's notional at the day's open (75,010 x 5).
      margin: 37_505, commission: 10,
    });
    v.advance(SECOND);
    v.order(cu, "a4", "sell", 74_990, 2, "ioc");
    q = v.market.quote(CU)!;
    expect(q).toMatchObject({
      bid_price1: "-", bid_volume1: 0, last_price: 74_990, open: 75_010, highest: 75_010, lowest: 74_990,
      volume: 3, amount: (75_010 + 2 * 74_990) * 5, average: 74_996.6667,
    });
    expectFinite(q);
    const s = v.market.stats(CU)!;
    expect([s.open, s.high, s.low, s.last, s.volume, s.amountRaw]).toEqual([75_010, 75_010, 74_990, 74_990, 3, 75_010 + 2 * 74_990]);
  });

  it("converts prices with one decimal, and rate-based money per lot (CFFEX.IF)", () => {
    const v = new Venue();
    const i = v.defineCatalog(IF);
    v.order(i, "a1", "sell", 38_002, 2); // 3800.2
    v.order(i, "a2", "buy", 38_002, 2, "ioc");
    v.order(i, "a2", "buy", 37_996, 1);
    const q = v.market.quote(IF)!;
    expect(q).toMatchObject({
      price_tick: 0.2, price_decs: 1, volume_multiple: 300, upper_limit: 4_500, lower_limit: 3_500,
      last_price: 3_800.2, average: 3_800.2, volume: 2, amount: 3_800.2 * 2 * 300,
      bid_price1: 3_799.6, bid_volume1: 1, ask_price1: "-",
      // 1 bp of 3800.2 x 300 = 114.006, rounded up to the fen as the engine charges it.
      commission: 114.01,
      margin: 136_807.2, // 12% of 3800.2 x 300
    });
    expectFinite(q);
  });

  it("takes engine integers as prices for an instrument the catalog does not list", () => {
    const v = new Venue({}, () => undefined);
    const i = v.define(plainParams("X.ABC", 5));
    v.order(i, "a1", "sell", 100, 4);
    v.order(i, "a2", "buy", 100, 3, "ioc");
    const q = v.market.quote("X.ABC")!;
    expect(q).toMatchObject({
      instrument_id: "X.ABC", exchange_id: "X", ins_id: "ABC", instrument_name: "X.ABC", product_id: "", ins_class: "",
      price_tick: 5, price_decs: 0, volume_multiple: 1, trading_time: { day: [], night: [] },
      last_price: 100, volume: 3, amount: 300, average: 100, ask_price1: 100, ask_volume1: 1, margin: 0, commission: 0,
    });
    expectFinite(q);
  });

  it("changes version (and object) only when the quote changes; an old object is never modified", () => {
    const v = new Venue();
    const cu = v.defineCatalog(CU);
    for (let k = 0; k < 6; k++) v.order(cu, "a1", "sell", 75_000 + 10 * k, 1);
    const version = v.market.quoteVersion(CU);
    const q1 = v.market.quote(CU)!;
    const copy = structuredClone(q1);
    expect(v.market.quote(CU)).toBe(q1);
    v.order(cu, "a1", "sell", 75_050, 1); // the 6th level: not in the quote
    expect(v.market.quoteVersion(CU)).toBe(version);
    expect(v.market.quote(CU)).toBe(q1);
    v.order(cu, "a1", "sell", 75_040, 1); // the 5th
    expect(v.market.quoteVersion(CU)).toBeGreaterThan(version);
    const q2 = v.market.quote(CU)!;
    expect(q2).not.toBe(q1);
    expect(q2.ask_volume5).toBe(2);
    expect(q1).toEqual(copy);
    expect(() => {
      (q1 as { last_price: number | "-" }).last_price = 1;
    }).toThrow(TypeError);
    // A trading-state change is not in the quote.
    const v2 = v.market.quoteVersion(CU);
    v.setState(cu, TradingState.halted);
    expect(v.market.tradingState(CU)).toBe(TradingState.halted);
    expect(v.market.quoteVersion(CU)).toBe(v2);
    expect(v.market.quoteVersion("NO.SUCH")).toBe(-1);
    expect(v.market.quote("NO.SUCH")).toBeUndefined();
  });

  it("shows up to quoteLevels levels", () => {
    const v = new Venue({ quoteLevels: 10 });
    const cu = v.defineCatalog(CU);
    for (let k = 0; k < 7; k++) v.order(cu, "a1", "buy", 74_000 - 10 * k, k + 1);
    const q = v.market.quote(CU)!;
    expect(q["bid_price7"]).toBe(73_940);
    expect(q["bid_volume7"]).toBe(7);
    expect(q["bid_price8"]).toBe("-");
    expect(q["bid_price10"]).toBe("-");
    expect(q["bid_price11"]).toBeUndefined();
  });
});

describe("trading days", () => {
  it("newTradingDay starts the day's statistics again; pre_close and pre_settlement are the last price", () => {
    const v = new Venue({ tradingDays: "explicit" });
    const cu = v.defineCatalog(CU);
    v.order(cu, "a1", "sell", 75_000, 5);
    v.order(cu, "a2", "buy", 75_000, 2, "ioc");
    expect(v.market.tradingDay).toBe("20241105");
    const version = v.market.quoteVersion(CU);
    v.market.newTradingDay("20241106");
    expect(v.market.tradingDay).toBe("20241106");
    expect(v.market.quoteVersion(CU)).toBeGreaterThan(version);
    let q = v.market.quote(CU)!;
    expect(q).toMatchObject({
      last_price: 75_000, pre_close: 75_000, pre_settlement: 75_000, open: "-", highest: "-", lowest: "-",
      average: "-", volume: 0, amount: 0, ask_price1: 75_000, ask_volume1: 3,
      margin: 37_500, // now at the previous settlement
    });
    v.advance(MINUTE);
    v.order(cu, "a2", "buy", 75_000, 1, "ioc");
    q = v.market.quote(CU)!;
    expect(q).toMatchObject({ open: 75_000, volume: 1, amount: 375_000 });
    expect(() => v.market.newTradingDay("20241106")).toThrow(/not after/);
    expect(() => v.market.newTradingDay("2024-11-07")).toThrow(/YYYYMMDD/);
  });

  it("rolls on the China-time calendar date by default", () => {
    // 23:59:59 China time on 2024-11-05, then two seconds later.
    const start = BigInt(tradingDayStartSeconds("20241105") + 86_399) * SECOND;
    const v = new Venue({}, catalogLookup, start);
    const cu = v.defineCatalog(CU);
    v.order(cu, "a1", "sell", 75_000, 5);
    v.order(cu, "a2", "buy", 75_000, 2, "ioc");
    expect(v.market.tradingDay).toBe("20241105");
    v.advance(2n * SECOND);
    v.order(cu, "a2", "buy", 75_000, 1, "ioc");
    expect(v.market.tradingDay).toBe("20241106");
    expect(v.market.quote(CU)).toMatchObject({ volume: 1, pre_close: 75_000, datetime: "2024-11-06 00:00:01.000000" });
  });

  it("explicit days do not roll at midnight; the first day can be given", () => {
    const start = BigInt(tradingDayStartSeconds("20241105") + 86_399) * SECOND;
    const v = new Venue({ tradingDays: "explicit", initialTradingDay: "20241106" }, catalogLookup, start);
    const cu = v.defineCatalog(CU);
    v.order(cu, "a1", "sell", 75_000, 5);
    v.order(cu, "a2", "buy", 75_000, 2, "ioc");
    v.advance(2n * SECOND);
    v.order(cu, "a2", "buy", 75_000, 1, "ioc");
    expect(v.market.tradingDay).toBe("20241106");
    expect(v.market.quote(CU)).toMatchObject({ volume: 3 });
  });

  it("refuses bad options", () => {
    expect(() => new MarketData(() => undefined, { quoteLevels: 11 })).toThrow(RangeError);
    expect(() => new MarketData(() => undefined, { durationsNs: [1.5e9] })).toThrow(RangeError);
    expect(() => new MarketData(() => undefined, { initialTradingDay: "20241332" })).toThrow(RangeError);
    expect(() => new MarketData(() => undefined, { barsPerSeries: 0 })).toThrow(RangeError);
  });
});

describe("time", () => {
  it("writes DIFF's datetime in China time with microseconds", () => {
    expect(diffDatetime(1_730_772_000, 0)).toBe("2024-11-05 10:00:00.000000");
    expect(diffDatetime(1_730_772_000, 999_999_999)).toBe("2024-11-05 10:00:00.999999");
    expect(diffDatetime(0, 1_000)).toBe("1970-01-01 08:00:00.000001");
    // 16:00 UTC is midnight in China: the next date.
    expect(diffDatetime(Date.UTC(2024, 11, 31, 16, 0, 0) / 1000, 0)).toBe("2025-01-01 00:00:00.000000");
    expect(chinaDate(Date.UTC(2024, 11, 31, 15, 59, 59) / 1000)).toBe("20241231");
    expect(chinaDate(Date.UTC(2024, 11, 31, 16, 0, 0) / 1000)).toBe("20250101");
    expect(tradingDayStartSeconds("20241105")).toBe(Date.UTC(2024, 10, 4, 16) / 1000);
  });

  it("splits any u64 timestamp into exact seconds and nanoseconds", () => {
    const seed = seedFromEnv();
    console.log(`market time: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const t = new SplitTime();
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (ns) => {
      t.setBigint(ns);
      return BigInt(t.seconds) === ns / SECOND && BigInt(t.nanos) === ns % SECOND;
    }), { seed, numRuns: 2_000 });
    t.setBigint(T0 + 123_456_789n);
    expect([t.seconds, t.nanos]).toEqual([1_730_772_000, 123_456_789]);
  });
});

describe("seeding", () => {
  it("starts from an engine's state, then follows its events to the same book and quote", () => {
    const v = new Venue({}, catalogLookup, T0, true);
    const cu = v.defineCatalog(CU);
    for (let k = 0; k < 8; k++) {
      v.order(cu, "a1", "sell", 75_000 + 10 * k, k + 1);
      v.order(cu, "a2", "buy", 74_990 - 10 * k, k + 2);
    }
    const fresh = new MarketData(catalogLookup);
    fresh.seedInstrument(cu, { ...v.engine.instruments.spec(cu), ...v.engine.accounts.moneyParamsOf(cu) }, v.ts);
    fresh.seedBook(cu, Side.buy, v.engine.depth(cu, Side.buy));
    fresh.seedBook(cu, Side.sell, v.engine.depth(cu, Side.sell));
    expect(fresh.quote(CU)).toEqual(v.market.quote(CU));
    const from = v.events.length;
    v.advance(SECOND);
    v.order(cu, "a3", "buy", 75_020, 4, "ioc");
    v.order(cu, "a4", "sell", 74_970, 3);
    v.order(cu, "a4", "sell", 75_030, 3);
    const view = new EventView(Buf.alloc(8));
    for (const rec of v.events.slice(from)) fresh.onEvent(view.wrap(new Buf(rec.buffer, rec.byteOffset, rec.byteLength), 0));
    expect(fresh.depth(CU, Side.buy)).toEqual(v.engine.depth(cu, Side.buy));
    expect(fresh.depth(CU, Side.sell)).toEqual(v.engine.depth(cu, Side.sell));
    expect(fresh.quote(CU)).toEqual(v.market.quote(CU));
    expect(() => fresh.seedBook(99, Side.buy, [])).toThrow(/not defined/);
  });
});
