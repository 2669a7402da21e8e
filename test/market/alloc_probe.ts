/**
 * Allocation probe for the market model, run in its own process by allocation.test.ts
 * (and usable by hand):
 *
 *   node --expose-gc --import tsx test/market/alloc_probe.ts [measuredCommands]
 *
 * Runs a seeded mixed flow through an engine and keeps every event in one buffer, then
 * feeds every event to a throwaway MarketData (so the compiler has settled), then the
 * events of a warm-up part to the measured one (so books, rings and series reach their
 * working size: the caps are small so that every ring wraps during warm-up), collects
 * garbage, and feeds the measured part while counting garbage collections.
 * Prints one JSON line: events measured, heap bytes grown across them, minor/major GCs.
 */

import { measureAllocation } from "../alloc_meter.ts";
import { Engine, DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";
import { MarketData } from "../../src/market/market.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../../src/sim/order_flow.ts";

const measured = Number(process.argv[2] ?? 200_000);
const warmup = 100_000;
const seed = Number(process.env["VENUE_SEED"] ?? 7);

const instruments = 2;
const engine = new Engine({ ...DEFAULT_ENGINE_CONFIG, ordersInitial: 1 << 20 });
const firstSeq = defineInstruments(engine, instrumentCommands(instruments));
const flow = generateFlow({ seed, commands: warmup + measured, instruments, accounts: 1000 });
// 1 ms apart: 1 s bars open often, minutes and hours now and then.
const { buf, offsets } = encodeFlow(flow, engine, { firstSeq, stepNs: 1_000_000n });

// Every event of the flow, back to back, and where the measured part starts.
let events = Buf.alloc(1 << 26);
let length = 0;
let measuredFrom = 0;
const keep = (): void => {
  const out = engine.out;
  if (length + out.length > events.byteLength) {
    const next = Buf.alloc(Math.max(events.byteLength * 2, length + out.length));
    next.u8.set(events.u8.subarray(0, length));
    events = next;
  }
  events.u8.set(out.buf.u8.subarray(0, out.length), length);
  length += out.length;
  out.clear();
};
for (let i = 0; i < offsets.length; i++) {
  if (i === warmup) measuredFrom = length;
  engine.apply(buf, offsets[i]!);
  keep();
}

function model(): MarketData {
  const m = new MarketData(() => undefined, { barsPerSeries: 64, ticksPerInstrument: 64, l2UpdatesKept: 1024 });
  // The instruments' definitions were applied before the flow: seed them instead.
  for (let i = 0; i < instruments; i++) m.seedInstrument(i, engine.instruments.spec(i));
  return m;
}
const view = new EventView(events);

/** Feeds up to 1,024 events from `at`; returns where it stopped. Short calls: the compiler optimises it whole during warm-up instead of compiling an on-stack replacement of a long loop later. */
let fed = 0;
function feedSome(market: MarketData, at: number, to: number): number {
  const dv = events.dv;
  for (let k = 0; k < 1024 && at < to; k++, fed++) {
    market.onEvent(view.wrap(events, at));
    at += dv.getUint16(at + 2, true);
  }
  return at;
}

function feed(market: MarketData, from: number, to: number): number {
  const before = fed;
  for (let at = from; at < to; ) at = feedSome(market, at, to);
  return fed - before;
}

// A throwaway model takes every event first, so that the compiler has seen (and
// optimised for) the measured part too: what is measured is the model, not the JIT.
feed(model(), 0, length);
const market = model();
feed(market, 0, measuredFrom);
const m = await measureAllocation(() => feed(market, measuredFrom, length));
console.log(JSON.stringify({ measured: m.result, heapGrowthBytes: m.heapGrowthBytes, codeGrowthBytes: m.codeGrowthBytes, minorGcs: m.minorGcs, majorGcs: m.majorGcs, eventsPerSecond: Math.round(m.result / (m.ms / 1000)) }));
