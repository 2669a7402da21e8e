/**
 * Allocation probe, run in its own process by allocation.test.ts (and usable by hand):
 *
 *   node --expose-gc --import tsx test/engine/alloc_probe.ts [measuredCommands]
 *
 * Builds an engine sized for the flow (so no pool or table grows: growth is a warm-up cost
 * by design), applies a warm-up part of a seeded mixed flow, collects garbage, then applies
 * the measured part while counting garbage collections. Prints one JSON line: heap bytes
 * grown across the measured part, and minor/major GCs during it. With nothing allocated
 * per command the heap does not grow and no GC runs.
 */

import { PerformanceObserver, constants } from "node:perf_hooks";
import { Engine, DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";
import { defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../../src/sim/order_flow.ts";

const measured = Number(process.argv[2] ?? 500_000);
const warmup = 200_000;
const seed = Number(process.env["VENUE_SEED"] ?? 7);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");

const flow = generateFlow({ seed, commands: warmup + measured, instruments: 2 });
const engine = new Engine({ ...DEFAULT_ENGINE_CONFIG, ordersInitial: 1 << 21 });
const firstSeq = defineInstruments(engine, instrumentCommands(2));
const { buf, offsets } = encodeFlow(flow, engine, { firstSeq });

function run(from: number, to: number): void {
  const out = engine.out;
  for (let i = from; i < to; i++) {
    engine.apply(buf, offsets[i]!);
    out.clear();
  }
}

run(0, warmup);
gc();
gc();

let minor = 0;
let major = 0;
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minor++;
    else major++;
  }
});
observer.observe({ entryTypes: ["gc"] });

const before = process.memoryUsage().heapUsed;
run(warmup, warmup + measured);
const after = process.memoryUsage().heapUsed;

setTimeout(() => {
  observer.disconnect();
  process.stdout.write(JSON.stringify({ seed, warmup, measured, heapGrowthBytes: after - before, minorGcs: minor, majorGcs: major, liveOrders: engine.orders.live }) + "\n");
}, 50);
