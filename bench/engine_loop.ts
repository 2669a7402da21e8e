/**
 * What does the bus cost the engine? The same seeded mixed flow (accounts on, as
 * bench/accounts.ts), on one thread, two ways, in alternating rounds:
 *
 *   direct   engine.apply on pre-stamped records (as bench/accounts.ts);
 *   loop     the records pushed through an inbound ring (InboundProducer, in batches of
 *            256), then the engine loop: poll, copy into the journal ring, stamp, apply in
 *            place (each event written in place on its topic ring, a trade copied to its
 *            second topic), publish. No consumers are open,
 *            so the producer never waits; the figure is the loop's own cost per command,
 *            including writing the inbound ring, which a driver thread would do elsewhere.
 *
 *   npx tsx bench/engine_loop.ts [--quick] [--commands N] [--rounds R] [--seed S] [--ring-mib M] [--events-off-rings]
 *
 * Two diagnostics of where the loop's cost goes (neither is a way to run a node):
 *   --ring-mib M         every ring (inbound, journal, topics) M MiB instead of the node's
 *                        defaults (16 and 64 MiB): small rings stay in cache;
 *   --events-off-rings   the engine writes its events into its own buffer, cleared after each
 *                        command, instead of on the topic rings: what writing them there costs.
 *
 * Reports throughput (median of rounds) and the loop's overhead per command in ns.
 * Single-threaded; no spinning thread. Results also go to .bench-out/engine_loop.json.
 */

import { performance } from "node:perf_hooks";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { Engine } from "../src/engine/engine.ts";
import { VenueNode } from "../src/node/node.ts";
import { Buf } from "../src/schema/layout.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands, type EncodedFlow } from "../src/sim/order_flow.ts";
import { benchArgs } from "./args.ts";

const { quick, commands: COMMANDS, rounds: ROUNDS, seed: SEED, extra, flags } = benchArgs({ commands: 1_000_000, quickCommands: 20_000 }, ["ring-mib"], ["events-off-rings"]);
const RING_BYTES = extra["ring-mib"] === undefined ? undefined : extra["ring-mib"] * (1 << 20);
const EVENTS_OFF_RINGS = flags["events-off-rings"] === true;
const INSTRUMENTS = 4;
const ACCOUNTS = 1000;
const BATCH = 256;

function newEngine(): Engine {
  const e = new Engine();
  defineInstruments(e, instrumentCommands(INSTRUMENTS), { money: DEMO_MONEY, accounts: ACCOUNTS, deposit: 1e14 });
  return e;
}

function direct(enc: EncodedFlow, n: number): number {
  const e = newEngine();
  const out = e.out;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    e.apply(enc.buf, enc.offsets[i]!);
    out.clear();
  }
  return performance.now() - t0;
}

function viaLoop(enc: EncodedFlow, n: number): { ms: number; events: number } {
  const engine = newEngine();
  const ringBytes = RING_BYTES === undefined ? undefined : { inbound: RING_BYTES, journal: RING_BYTES, trades: RING_BYTES, accounts: RING_BYTES, l2: RING_BYTES };
  const node = new VenueNode({ engine, drivers: 1, firstSeq: 1_000_000, ...(ringBytes === undefined ? {} : { ringBytes }) });
  if (EVENTS_OFF_RINGS) engine.out.writeTo(null); // the loop clears the engine's buffer after each command
  const d = node.drivers[0]!;
  const src = enc.buf;
  const t0 = performance.now();
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + BATCH);
    for (; i < end; i++) {
      const at = enc.offsets[i]!;
      const size = src.dv.getUint16(at + 2, true);
      copyInto(d.scratch, src, at, size);
      d.push(size);
    }
    d.flush();
    while (node.loop.drainOnce() > 0);
  }
  return { ms: performance.now() - t0, events: node.loop.events };
}

function copyInto(dst: Buf, src: Buf, at: number, size: number): void {
  const s = src.i32;
  const w = dst.i32;
  for (let k = 0; k < size >> 2; k++) w[k] = s[(at >> 2) + k]!;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const cpus = os.cpus();
  console.log(`engine loop benchmark: ${COMMANDS.toLocaleString("en-US")} commands, ${ROUNDS} rounds, seed ${SEED}${quick ? " (quick: proves it runs, not a measurement)" : ""}`);
  console.log(`machine: ${cpus[0]?.model ?? "?"} x ${cpus.length}, Node ${process.version}; one thread, no spinning thread; accounts on`);
  if (RING_BYTES !== undefined || EVENTS_OFF_RINGS) console.log(`diagnostic: ${RING_BYTES !== undefined ? `every ring ${RING_BYTES >> 20} MiB` : "rings at their defaults"}${EVENTS_OFF_RINGS ? "; events kept off the topic rings" : ""}`);
  const flow = generateFlow({ seed: SEED, commands: COMMANDS, instruments: INSTRUMENTS, accounts: ACCOUNTS });
  const enc = encodeFlow(flow, newEngine(), { firstSeq: 1_000_000 });
  direct(enc, Math.min(COMMANDS, 100_000));
  viaLoop(enc, Math.min(COMMANDS, 100_000));
  const d: number[] = [];
  const l: number[] = [];
  let events = 0;
  for (let r = 0; r < ROUNDS; r++) {
    d.push(COMMANDS / (direct(enc, COMMANDS) / 1000));
    const v = viaLoop(enc, COMMANDS);
    events = v.events;
    l.push(COMMANDS / (v.ms / 1000));
    console.log(`  round ${r + 1}/${ROUNDS}: direct ${(d[r]! / 1e6).toFixed(2)}M/s, through the loop ${(l[r]! / 1e6).toFixed(2)}M/s`);
  }
  const md = median(d);
  const ml = median(l);
  const overheadNs = (1 / ml - 1 / md) * 1e9;
  console.log("");
  console.log(`results (median of rounds)`);
  console.log(`  engine.apply directly          ${(md / 1e6).toFixed(2)}M commands/s`);
  console.log(`  through inbound ring + loop    ${(ml / 1e6).toFixed(2)}M commands/s   (${(events / COMMANDS).toFixed(2)} events per command ${EVENTS_OFF_RINGS ? "kept off the rings" : "written on topic rings"})`);
  console.log(`  bus cost per command           ${overheadNs.toFixed(0)} ns (${((1 - ml / md) * 100).toFixed(1)}%)`);
  mkdirSync(".bench-out", { recursive: true });
  const file = join(".bench-out", "engine_loop.json");
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), commands: COMMANDS, rounds: ROUNDS, seed: SEED, quick, ringBytes: RING_BYTES ?? null, eventsOffRings: EVENTS_OFF_RINGS, direct: d, loop: l, overheadNs, eventsPerCommand: events / COMMANDS }, null, 2));
  console.log(`wrote ${file}`);
}

main();
