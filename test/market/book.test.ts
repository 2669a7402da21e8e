/**
 * The market model's L2 book: the sorted-array side on its own, then the whole book
 * rebuilt from a real engine's l2 events over a seeded mixed flow, which must equal the
 * engine's own depth after every command sampled.
 */

import { describe, expect, it } from "vitest";
import { BookSide, Book } from "../../src/market/book.ts";
import { Side } from "../../src/schema/codes.ts";
import { encodeFlow, generateFlow, instrumentCommands, symbolOf } from "../../src/sim/order_flow.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { Venue, T0 } from "./market_kit.ts";

describe("book side", () => {
  it("keeps bids best (highest) first and reports the rank it changed", () => {
    const s = new BookSide(Side.buy, 2);
    expect(s.apply(100, 5, 1)).toBe(0);
    expect(s.apply(102, 3, 1)).toBe(0); // new best
    expect(s.apply(101, 4, 2)).toBe(1); // between
    expect(s.apply(99, 1, 1)).toBe(3); // grows past the initial 2 slots
    expect(s.levels()).toEqual([[102, 3, 1], [101, 4, 2], [100, 5, 1], [99, 1, 1]]);
    expect(s.apply(101, 4, 2)).toBe(-1); // same values: no change
    expect(s.apply(101, 6, 3)).toBe(1);
    expect(s.apply(102, 0, 0)).toBe(0); // removal: the rank it had
    expect(s.apply(102, 0, 0)).toBe(-1); // absent
    expect(s.levels(2)).toEqual([[101, 6, 3], [100, 5, 1]]);
    expect(s.price(0)).toBe(101);
    expect(s.qty(1)).toBe(5);
    expect(s.orderCount(0)).toBe(3);
  });

  it("keeps asks best (lowest) first", () => {
    const s = new BookSide(Side.sell);
    for (const p of [105, 103, 104, 110]) s.apply(p, p - 100, 1);
    expect(s.levels().map((l) => l[0])).toEqual([103, 104, 105, 110]);
    expect(s.apply(103, 0, 0)).toBe(0);
    expect(s.apply(110, 0, 0)).toBe(2);
    expect(s.levels()).toEqual([[104, 4, 1], [105, 5, 1]]);
  });

  it("resets from levels in any order and refuses a price twice", () => {
    const s = new BookSide(Side.sell, 1);
    s.reset([[7, 1, 1], [5, 2, 1], [6, 3, 2]]);
    expect(s.levels()).toEqual([[5, 2, 1], [6, 3, 2], [7, 1, 1]]);
    expect(() => s.reset([[5, 1, 1], [5, 2, 1]])).toThrow(/twice/);
    expect(() => s.reset([[5, 0, 1]])).toThrow(/bad level/);
  });

  it("gives L1 as NaN price and 0 qty on an empty side", () => {
    const b = new Book();
    expect(Number.isNaN(b.bestBid)).toBe(true);
    expect(b.bestAskQty).toBe(0);
    b.apply(Side.buy, 10, 2, 1);
    b.apply(Side.sell, 12, 3, 1);
    expect([b.bestBid, b.bestBidQty, b.bestAsk, b.bestAskQty]).toEqual([10, 2, 12, 3]);
  });
});

describe("book from engine events", () => {
  it("equals Engine.depth on both sides after every sampled command of a mixed flow", () => {
    const seed = seedFromEnv();
    console.log(`market book: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const v = new Venue();
    for (const def of instrumentCommands(2)) v.define(def);
    const flow = generateFlow({ seed, commands: 30_000, instruments: 2, accounts: 200 });
    const { buf, offsets } = encodeFlow(flow, v.engine, { firstSeq: v.seq, startNs: T0, stepNs: 5_000_000n });
    const check = (): void => {
      for (let i = 0; i < 2; i++) {
        const symbol = symbolOf(i);
        expect(v.market.depth(symbol, Side.buy), `bids of ${symbol}`).toEqual(v.engine.depth(i, Side.buy));
        expect(v.market.depth(symbol, Side.sell), `asks of ${symbol}`).toEqual(v.engine.depth(i, Side.sell));
        const book = v.market.book(symbol)!;
        const [bid] = v.engine.depth(i, Side.buy, 1);
        const [ask] = v.engine.depth(i, Side.sell, 1);
        expect(book.bestBid).toBe(bid?.[0] ?? Number.NaN);
        expect(book.bestAsk).toBe(ask?.[0] ?? Number.NaN);
        expect(book.bestBidQty).toBe(bid?.[1] ?? 0);
        expect(book.bestAskQty).toBe(ask?.[1] ?? 0);
        expect(v.market.depth(symbol, Side.buy, 5)).toEqual(v.engine.depth(i, Side.buy, 5));
      }
    };
    for (let k = 0; k < offsets.length; k++) {
      v.applyRecord(buf, offsets[k]!);
      if (k % 997 === 0) check();
    }
    check();
    expect(v.trades.length).toBeGreaterThan(500);
    expect(v.market.counters.unknownInstrument).toBe(0);
  });
});
