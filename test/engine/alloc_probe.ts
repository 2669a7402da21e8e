/**
 * Allocation probe, run in its own process by allocation.test.ts (and usable by hand):
 *
 *   node --expose-gc --import tsx test/engine/alloc_probe.ts [measuredCommands] [accounts]
 *
 * With `accounts` the instruments have money parameters, 1,000 accounts are funded and
 * every instrument is marked every 10,000 commands (the accounts benchmark's setting), so
 * every order is checked and frozen and every fill, mark and account and position event
 * is on the measured path.
 *
 * Builds an engine sized for the flow (so no pool or table grows: growth is a warm-up cost
 * by design), applies a warm-up part of a seeded mixed flow, collects garbage, then applies
 * the measured part, in two halves, while counting garbage collections. Prints one JSON
 * line: heap bytes grown across the measured part and in each half, and minor/major GCs
 * during it. With nothing allocated per command the heap does not grow and no GC runs.
 */

import { measureAllocation } from "../alloc_meter.ts";
import { Engine, DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../../src/sim/order_flow.ts";
import { Buf, NO_INSTRUMENT } from "../../src/schema/layout.ts";
import { writeMark } from "../../src/schema/command.ts";

const measured = Number(process.argv[2] ?? 500_000);
const withAccounts = process.argv[3] === "accounts";
const MARK_EVERY = 10_000;
const warmup = 200_000;
const seed = Number(process.env["VENUE_SEED"] ?? 7);

const instruments = withAccounts ? 4 : 2;
const flow = generateFlow({ seed, commands: warmup + measured, instruments, accounts: 1000 });
const engine = new Engine({ ...DEFAULT_ENGINE_CONFIG, ordersInitial: 1 << 21 });
const firstSeq = defineInstruments(engine, instrumentCommands(instruments), withAccounts ? { money: DEMO_MONEY, accounts: 1000, deposit: 1e14 } : {});
const { buf, offsets } = encodeFlow(flow, engine, { firstSeq });
const mark = Buf.alloc(64);
writeMark(mark, 0, NO_INSTRUMENT);

function run(from: number, to: number): void {
  const out = engine.out;
  for (let i = from; i < to; i++) {
    engine.apply(buf, offsets[i]!);
    out.clear();
    if (withAccounts && i % MARK_EVERY === MARK_EVERY - 1) {
      engine.apply(mark, 0);
      out.clear();
    }
  }
}

run(0, warmup);
// Measured in two halves: an allocation per command grows the heap in both; a one-off
// (a function optimized late, as on a loaded machine) in one only.
const half = warmup + Math.floor(measured / 2);
const a = await measureAllocation(() => run(warmup, half));
const b = await measureAllocation(() => run(half, warmup + measured));
process.stdout.write(JSON.stringify({
  seed, accounts: withAccounts, warmup, measured,
  heapGrowthBytes: a.heapGrowthBytes + b.heapGrowthBytes, halves: [a.heapGrowthBytes, b.heapGrowthBytes], codeGrowthBytes: a.codeGrowthBytes + b.codeGrowthBytes,
  minorGcs: a.minorGcs + b.minorGcs, majorGcs: a.majorGcs + b.majorGcs, liveOrders: engine.orders.live,
}) + "\n");
