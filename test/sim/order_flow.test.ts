/**
 * The benchmark order-flow generator (src/sim/order_flow.ts): deterministic per seed; its
 * binary encoding and its JSON lines drive the engine to the same book; and the flow has
 * the advertised shape (steady depth, crossing orders that trade, no rejection but the
 * cancels of already-finished orders). Seeded from VENUE_SEED (printed).
 */

import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import { replayText } from "../../src/replay/replayer.ts";
import { EventKind, EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Reason, Side } from "../../src/schema/codes.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { defineInstruments, encodeFlow, generateFlow, instrumentCommands, toJsonl } from "../../src/sim/order_flow.ts";

const seed = seedFromEnv();
console.log(`order_flow.test: VENUE_SEED=${seed}`);

describe("order flow generator", () => {
  it("gives the same flow for the same seed, another for another seed", () => {
    const a = generateFlow({ seed, commands: 3000, instruments: 2, accounts: 50 });
    const b = generateFlow({ seed, commands: 3000, instruments: 2, accounts: 50 });
    const c = generateFlow({ seed: (seed + 1) >>> 0, commands: 3000, instruments: 2, accounts: 50 });
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it("drives the engine to the same book through binary records and through JSON lines", () => {
    const flow = generateFlow({ seed, commands: 20_000, instruments: 2 });
    const defs = instrumentCommands(2);
    const engine = new Engine();
    const enc = encodeFlow(flow, engine, { firstSeq: defineInstruments(engine, defs) });
    expect(enc.offsets.length).toBe(flow.length);
    for (let i = 0; i < flow.length; i++) {
      engine.apply(enc.buf, enc.offsets[i]!);
      engine.out.clear();
    }
    engine.checkInvariants();
    const books = replayText(toJsonl(flow).join("\n"), { finalBook: true }).filter((l) => l.startsWith('{"ev":"book"'));
    expect(books.length).toBe(2);
    defs.forEach((d, i) => {
      const level = ([price, qty]: [number, number, number]): [number, number] => [price, qty];
      expect(JSON.parse(books[i]!)).toEqual({
        ev: "book", symbol: d.symbol, bids: engine.depth(i, Side.buy).map(level), asks: engine.depth(i, Side.sell).map(level),
      });
    });
  });

  it("keeps a steady, realistic book and only rejects cancels of finished orders", () => {
    const flow = generateFlow({ seed, commands: 60_000, instruments: 1 });
    const engine = new Engine();
    const enc = encodeFlow(flow, engine, { firstSeq: defineInstruments(engine, instrumentCommands(1)) });
    const ev = new EventView(Buf.alloc(8));
    let trades = 0;
    const rejections = new Set<number>();
    const resting: number[] = [];
    for (let i = 0; i < flow.length; i++) {
      engine.apply(enc.buf, enc.offsets[i]!);
      const out = engine.out;
      for (let o = 0; o < out.length; o += ev.size) {
        ev.wrap(out.buf, o);
        if (ev.kind === EventKind.trade) trades++;
        if (ev.kind === EventKind.rejected) {
          rejections.add(ev.reason);
          expect(flow[i]!.kind).toBe("cancel");
        }
      }
      out.clear();
      if (i >= 20_000 && i % 5000 === 0) resting.push(engine.orders.live);
    }
    engine.checkInvariants();
    expect([...rejections].every((r) => r === Reason.orderNotLive)).toBe(true);
    expect(trades / flow.length).toBeGreaterThan(0.05);
    for (const n of resting) {
      expect(n).toBeGreaterThan(1000);
      expect(n).toBeLessThan(4000);
    }
    for (const side of [Side.buy, Side.sell]) {
      const levels = engine.depth(0, side).length;
      expect(levels).toBeGreaterThanOrEqual(50);
      expect(levels).toBeLessThanOrEqual(250);
    }
    const kinds = new Set(flow.map((c) => (c.kind === "new" ? `${c.type}.${c.tif}` : c.kind)));
    for (const k of ["limit.gtc", "limit.ioc", "limit.fok", "market.ioc", "cancel", "amend"]) expect(kinds.has(k)).toBe(true);
  });
});
