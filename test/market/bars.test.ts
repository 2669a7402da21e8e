/**
 * K-line bars and ticks from real engine events: period boundaries, contiguous ids that
 * skip periods without trades and never change, the newest bar updated in place, daily
 * bars on the trading day, trading-day ids, bounded history, series opened later (rebuilt
 * from a finer one), and OHLCV against a reference computed from the trades themselves.
 */

import { describe, expect, it } from "vitest";
import { BarSeries, validDurationNs } from "../../src/market/bars.ts";
import { tradingDayStartSeconds } from "../../src/market/time.ts";
import { encodeFlow, generateFlow, instrumentCommands, symbolOf } from "../../src/sim/order_flow.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { MINUTE, SECOND, T0, Venue, numbersIn, plainParams, referenceBars, type RefBar, type TradeRecord } from "./market_kit.ts";
import type { MarketData } from "../../src/market/market.ts";
import type { DiffBar } from "../../src/market/bars.ts";

const S = "X.ABC";
const M1 = 60e9;
const DAY = 86_400e9;

function venue(options: ConstructorParameters<typeof Venue>[0] = {}, start = T0): { v: Venue; i: number } {
  const v = new Venue(options, () => undefined, start);
  const i = v.define(plainParams(S));
  return { v, i };
}

/** Rests an ask at `price` and takes it with an IOC buy: one trade of `qty` at the current time. */
function trade(v: Venue, i: number, price: number, qty = 1): void {
  v.order(i, "mm", "sell", price, qty);
  v.order(i, "tk", "buy", price, qty, "ioc");
}

function allBars(m: MarketData, symbol: string, d: number): DiffBar[] {
  return m.bars(symbol, d, 0, Number.MAX_SAFE_INTEGER)!.bars;
}

function asDiff(r: RefBar): DiffBar {
  return { datetime: r.startSeconds * 1e9, open: r.open, high: r.high, low: r.low, close: r.close, volume: r.volume, open_oi: 0, close_oi: 0 };
}

const chinaDayOf = (t: TradeRecord): number => {
  const sec = Number(t.tsNs / SECOND);
  return Math.floor((sec + 28_800) / 86_400) * 86_400 - 28_800;
};

describe("bars", () => {
  it("start at multiples of the duration and take ids only for periods with trades", () => {
    const { v, i } = venue();
    trade(v, i, 100, 2); // 10:00:00
    v.advance(59n * SECOND + 999_999_999n);
    trade(v, i, 105, 1); // 10:00:59.999999999: same minute
    v.advance(1n);
    trade(v, i, 98, 3); // 10:01:00 exactly: the next bar
    v.advance(4n * MINUTE + SECOND);
    trade(v, i, 101, 1); // 10:05:01: three empty minutes have no ids
    const bars = allBars(v.market, S, M1);
    expect(bars).toEqual([
      { datetime: 1_730_772_000_000_000_000, open: 100, high: 105, low: 100, close: 105, volume: 3, open_oi: 0, close_oi: 0 },
      { datetime: 1_730_772_060_000_000_000, open: 98, high: 98, low: 98, close: 98, volume: 3, open_oi: 0, close_oi: 0 },
      { datetime: 1_730_772_300_000_000_000, open: 101, high: 101, low: 101, close: 101, volume: 1, open_oi: 0, close_oi: 0 },
    ]);
    // ns bar starts are exact integers and print without an exponent.
    expect(JSON.stringify(bars[0]!.datetime)).toBe("1730772000000000000");
    expect(v.market.seriesInfo(S, M1)).toMatchObject({ last_id: 2, first_id: 0, trading_day_start_id: 0, trading_day_end_id: 2 });
    expect(v.market.lastId(S, M1)).toBe(2);
    expect(v.market.lastId(S, 7e9)).toBeUndefined();
    expect(allBars(v.market, S, 1e9).map((b) => b.volume)).toEqual([2, 1, 3, 1]);
  });

  it("update only the newest bar; older bars and their ids never change", () => {
    const { v, i } = venue();
    const seen = new Map<number, string>();
    let prices = 100;
    for (let k = 0; k < 40; k++) {
      trade(v, i, prices + (k % 7), 1 + (k % 3));
      v.advance(BigInt(7 + (k % 5) * 11) * SECOND);
      const info = v.market.seriesInfo(S, M1)!;
      const r = v.market.bars(S, M1, 0, info.last_id)!;
      r.bars.forEach((b, j) => {
        const id = r.fromId + j;
        if (id < info.last_id) {
          const was = seen.get(id);
          if (was !== undefined) expect(JSON.stringify(b), `bar ${id}`).toBe(was);
          seen.set(id, JSON.stringify(b));
        }
      });
      prices += k % 2 === 0 ? 1 : -1;
    }
    expect(seen.size).toBeGreaterThan(10);
  });

  it("change version on trades, not on book changes", () => {
    const { v, i } = venue();
    trade(v, i, 100);
    const version = v.market.seriesInfo(S, M1)!.version;
    v.order(i, "mm", "sell", 120, 1);
    expect(v.market.seriesInfo(S, M1)!.version).toBe(version);
    trade(v, i, 100);
    expect(v.market.seriesInfo(S, M1)!.version).toBeGreaterThan(version);
  });

  it("put a daily bar at 00:00 China time of its trading day, night session included", () => {
    // Explicit days: the night session of 2024-11-05 (21:00 China time) is trading day 2024-11-06.
    const day5 = tradingDayStartSeconds("20241105");
    const { v, i } = venue({ tradingDays: "explicit" }, BigInt(day5 + 14 * 3600) * SECOND); // 14:00
    trade(v, i, 100, 1);
    v.advance(30n * MINUTE);
    trade(v, i, 102, 1); // 14:30
    expect(v.market.seriesInfo(S, DAY)).toMatchObject({ last_id: 0, trading_day_start_id: 0, trading_day_end_id: 0 });
    expect(v.market.seriesInfo(S, M1)).toMatchObject({ last_id: 1, trading_day_start_id: 0, trading_day_end_id: 1 });
    v.market.newTradingDay("20241106");
    expect(v.market.seriesInfo(S, DAY)).toMatchObject({ last_id: 0, trading_day_start_id: -1, trading_day_end_id: -1 });
    v.advance(6n * 60n * MINUTE + 30n * MINUTE); // 21:00
    trade(v, i, 110, 2);
    const daily = allBars(v.market, S, DAY);
    expect(daily.map((b) => b.datetime)).toEqual([day5 * 1e9, (day5 + 86_400) * 1e9]);
    expect(daily[1]).toMatchObject({ open: 110, volume: 2 });
    expect(daily[1]!.datetime).toBeGreaterThan(Number(v.ts)); // the trading day starts after the night session's trades
    expect(v.market.seriesInfo(S, DAY)).toMatchObject({ last_id: 1, trading_day_start_id: 1, trading_day_end_id: 1 });
    expect(v.market.seriesInfo(S, M1)).toMatchObject({ last_id: 2, trading_day_start_id: 2, trading_day_end_id: 2 });
    // Intraday bars stay on UTC multiples: the 21:00 China minute.
    expect(allBars(v.market, S, M1)[2]!.datetime).toBe((day5 + 21 * 3600) * 1e9);
  });

  it("keep at most barsPerSeries bars; ids keep counting", () => {
    const { v, i } = venue({ barsPerSeries: 5, ticksPerInstrument: 4 });
    for (let k = 0; k < 12; k++) {
      trade(v, i, 100 + k, 1);
      v.advance(MINUTE);
    }
    expect(v.market.seriesInfo(S, M1)).toMatchObject({ last_id: 11, first_id: 7 });
    const r = v.market.bars(S, M1, 0, 100)!;
    expect(r.fromId).toBe(7);
    expect(r.bars.map((b) => b.open)).toEqual([107, 108, 109, 110, 111]);
    expect(r.bars[0]!.datetime).toBe(Number(T0) + 7 * M1);
    expect(v.market.bars(S, M1, 9, 9)!.bars.map((b) => b.open)).toEqual([109]);
    expect(v.market.bars(S, M1, 20, 30)!.bars).toEqual([]);
    expect(v.market.tickInfo(S)).toMatchObject({ last_id: 11, first_id: 8 });
    expect(v.market.ticks(S, 0, 100)!.ticks.map((t) => t.last_price)).toEqual([108, 109, 110, 111]);
  });

  it("match a reference computed from the trades, for every tracked duration, over a mixed flow", () => {
    const seed = seedFromEnv();
    console.log(`market bars: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const durations = [1e9, 5e9, 60e9, 300e9, 3_600e9, DAY];
    // Start at 23:40 China time so the flow crosses a calendar day.
    const v = new Venue({ durationsNs: durations }, () => undefined, BigInt(tradingDayStartSeconds("20241105") + 86_400 - 1_200) * SECOND);
    for (const def of instrumentCommands(2)) v.define(def);
    const flow = generateFlow({ seed, commands: 40_000, instruments: 2, accounts: 200 });
    const { buf, offsets } = encodeFlow(flow, v.engine, { firstSeq: v.seq, startNs: v.ts, stepNs: 73_000_000n });
    for (let k = 0; k < offsets.length; k++) v.applyRecord(buf, offsets[k]!);
    for (let i = 0; i < 2; i++) {
      const symbol = symbolOf(i);
      const trades = v.trades.filter((t) => t.instrument === i);
      for (const d of durations) {
        const ref = referenceBars(trades, d / 1e9, chinaDayOf).map(asDiff);
        expect(allBars(v.market, symbol, d), `${symbol} ${d / 1e9}s`).toEqual(ref);
      }
      // Ticks: one per command that traded.
      expect(v.market.tickInfo(symbol)!.last_id + 1).toBe(new Set(trades.map((t) => t.seq)).size);
      // The day's statistics are those of today's trades.
      const today = trades.filter((t) => chinaDayOf(t) === tradingDayStartSeconds(v.market.tradingDay));
      const s = v.market.stats(symbol)!;
      expect(s.volume).toBe(today.reduce((a, t) => a + t.qty, 0));
      expect(s.amountRaw).toBe(today.reduce((a, t) => a + t.price * t.qty, 0));
      expect(s.high).toBe(Math.max(...today.map((t) => t.price)));
      expect(s.low).toBe(Math.min(...today.map((t) => t.price)));
      expect(s.open).toBe(today[0]!.price);
      expect(s.last).toBe(trades[trades.length - 1]!.price);
    }
    expect(v.market.tradingDay).toBe("20241106");
  });
});

describe("series opened later", () => {
  it("is rebuilt from the coarsest tracked series that nests in it, equal to one tracked from the start", () => {
    const seed = seedFromEnv();
    console.log(`market series: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const v = new Venue({ durationsNs: [1e9, 60e9, 120e9, DAY] }, () => undefined);
    for (const def of instrumentCommands(1)) v.define(def);
    const flow = generateFlow({ seed, commands: 20_000, instruments: 1, accounts: 100 });
    const { buf, offsets } = encodeFlow(flow, v.engine, { firstSeq: v.seq, startNs: v.ts, stepNs: 97_000_000n });
    const half = offsets.length >> 1;
    for (let k = 0; k < half; k++) v.applyRecord(buf, offsets[k]!);
    const symbol = symbolOf(0);
    // 2 min is tracked from the start; 4 min, 6 min and 2 days are opened now.
    expect(v.market.openSeries(symbol, 240e9)).toBe(true);
    expect(v.market.openSeries(symbol, 360e9)).toBe(true);
    expect(v.market.openSeries(symbol, 2 * DAY)).toBe(true);
    expect(v.market.openSeries(symbol, 7e9)).toBe(true); // from 1 s
    for (let k = half; k < offsets.length; k++) v.applyRecord(buf, offsets[k]!);
    for (const d of [120e9, 240e9, 360e9, 7e9, 2 * DAY]) {
      expect(allBars(v.market, symbol, d), `${d / 1e9}s`).toEqual(referenceBars(v.trades, d / 1e9, chinaDayOf).map(asDiff));
    }
    expect(v.market.durations(symbol)).toEqual([1e9, 60e9, 120e9, DAY, 240e9, 360e9, 2 * DAY, 7e9]);
  });

  it("leaves out a first bar that could be missing trades the finer series dropped", () => {
    const s = new BarSeries(60e9, 3);
    const t0 = 1_730_772_000;
    for (const [dt, p] of [[0, 1], [60, 2], [120, 3], [180, 4], [240, 5]] as const) s.trade(t0 + dt, 0, p, 1);
    expect([s.firstId, s.lastId]).toEqual([2, 4]);
    // 2-minute periods: [0,120) is gone, [120,240) complete from bars 2-3, [240,360) from bar 4.
    const r = s.rebuild(120e9, 10);
    expect([r.firstId, r.lastId]).toEqual([0, 1]);
    expect([r.open(0), r.close(0), r.volume(0), r.open(1)]).toEqual([3, 4, 2, 5]);
    // 3-minute periods: [0,180) holds bar 2 (120) but bars 0-1 are gone: left out.
    const r3 = s.rebuild(180e9, 10);
    expect([r3.lastId, r3.startSeconds(0) - t0, r3.open(0), r3.volume(0)]).toEqual([0, 180, 4, 2]);
  });

  it("does not count later trades in a left-out period that is still current", () => {
    const s = new BarSeries(60e9, 2);
    const t0 = 1_730_772_000; // a multiple of 300 s
    for (const dt of [0, 60, 120]) s.trade(t0 + dt, 0, 100, 1);
    const r = s.rebuild(300e9, 10); // [t0, t0+300) lost the trade at t0: left out
    expect(r.lastId).toBe(-1);
    r.trade(t0 + 200, 0, 101, 1);
    expect(r.lastId).toBe(-1);
    r.trade(t0 + 300, 0, 102, 1);
    expect([r.lastId, r.startSeconds(0) - t0, r.open(0), r.volume(0)]).toEqual([0, 300, 102, 1]);
  });

  it("refuses what it cannot open", () => {
    const { v } = venue({ seriesPerInstrument: 8 });
    expect(v.market.openSeries(S, 1.5e9)).toBe(false);
    expect(v.market.openSeries(S, 0)).toBe(false);
    expect(v.market.openSeries(S, 29 * DAY)).toBe(false);
    expect(v.market.openSeries("NO.SUCH", 60e9)).toBe(false);
    expect(v.market.openSeries(S, 60e9)).toBe(true); // already tracked
    expect(v.market.openSeries(S, 2e9)).toBe(true); // the 8th
    expect(v.market.openSeries(S, 3e9)).toBe(false); // over the cap
    expect(validDurationNs(28 * DAY)).toBe(true);
    expect(v.market.bars(S, 3e9, 0, 10)).toBeUndefined();
  });
});

describe("ticks", () => {
  it("are one per command that traded, with the book after the command", () => {
    const { v, i } = venue();
    v.order(i, "m1", "sell", 101, 2);
    v.order(i, "m1", "sell", 102, 3);
    v.order(i, "m1", "sell", 104, 1);
    v.order(i, "m2", "buy", 99, 4);
    v.advance(123_456_789n);
    v.order(i, "tk", "buy", 102, 4, "ioc"); // sweeps 101 (2) and 102 (2 of 3): one tick
    expect(v.market.tickInfo(S)).toMatchObject({ last_id: 0, first_id: 0 });
    const [t] = v.market.ticks(S, 0, 0)!.ticks;
    expect(t).toMatchObject({
      last_price: 102, highest: 102, lowest: 101, volume: 4, amount: 2 * 101 + 2 * 102, average: 101.5, open_interest: 0,
      ask_price1: 102, ask_volume1: 1, ask_price2: 104, ask_volume2: 1, ask_price3: "-", ask_volume3: 0,
      bid_price1: 99, bid_volume1: 4, bid_price2: "-", bid_volume2: 0, ask_price5: "-", bid_volume5: 0,
    });
    expect(v.market.tickTimeNs(S, 0)).toBe(T0 + 123_456_789n);
    expect(Math.abs(t!.datetime - Number(T0 + 123_456_789n))).toBeLessThanOrEqual(128);
    for (const [path, x] of numbersIn(t)) expect(Number.isFinite(x), path).toBe(true);
    const version = v.market.tickInfo(S)!.version;
    v.order(i, "m2", "buy", 98, 1); // no trade: no tick, the kept tick does not change
    expect(v.market.tickInfo(S)).toMatchObject({ last_id: 0, version });
    v.advance(SECOND);
    v.order(i, "tk", "sell", 99, 1, "ioc");
    expect(v.market.ticks(S, 0, 5)!.ticks.map((x) => [x.last_price, x.volume, x.bid_volume1])).toEqual([[102, 4, 4], [99, 5, 3]]);
    expect(v.market.tickTimeNs(S, 7)).toBeUndefined();
  });
});
