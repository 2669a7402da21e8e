/**
 * What does a cold start cost, and how much of it does the node's warm-up take away? The
 * first commands of a fresh process, through a node's engine loop (a VenueNode without a
 * data directory: its rings, a driver and the topic sink), timed per batch, in child processes that
 * either start cold or first run `warmUp` (src/node/warmup.ts, as `venue start` does with
 * its `warmUpCommands`), alternating:
 *
 *   npx tsx bench/warmup.ts [--quick] [--commands N] [--rounds R] [--seed S] [--warm-up W]
 *
 * The measured flow (N commands, default 100,000, of the accounts flow: 4 money
 * instruments, 1,000 funded accounts) is generated and encoded here, in the parent, and
 * handed to each child as a file: generating it runs engine code, which would warm the
 * "cold" child. Each child defines the instruments and funds the accounts (as a node's
 * start does), then applies the flow in batches of up to 256 (the loop's batch), each batch
 * timed. Reports, median of the rounds: the whole flow's time, its first 10,000 commands,
 * the slowest batch, and the warm-up's own time. One thread; no spinning thread.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Engine } from "../src/engine/engine.ts";
import { VenueNode } from "../src/node/node.ts";
import { warmUp } from "../src/node/warmup.ts";
import { Buf } from "../src/schema/layout.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../src/sim/order_flow.ts";
import { benchArgs } from "./args.ts";
import { machineInfo } from "../src/bench/machine.ts";

const INSTRUMENTS = 4;
const ACCOUNTS = 1000;
const BATCH = 256;
const FIRST = 10_000;

interface ChildResult {
  warmUpMs: number;
  warmUpCommands: number;
  totalMs: number;
  firstMs: number;
  slowestBatchMs: number;
  batchesOver1ms: number;
}

function newEngine(): Engine {
  const e = new Engine();
  defineInstruments(e, instrumentCommands(INSTRUMENTS), { money: DEMO_MONEY, accounts: ACCOUNTS, deposit: 1e14 });
  return e;
}

/** In a child: the optional warm-up, then the flow in `file` through a fresh engine loop. */
function child(file: string, warm: number): ChildResult {
  const w = warm > 0 ? warmUp(warm) : { commands: 0, ms: 0 };
  const bytes = readFileSync(file);
  const n = bytes.readInt32LE(0);
  const offsets = new Int32Array(bytes.buffer.slice(bytes.byteOffset + 8, bytes.byteOffset + 8 + n * 4));
  const body = bytes.subarray(8 + n * 4);
  const buf = Buf.alloc(body.length + 8);
  buf.u8.set(body, 0);

  // A node without a data directory: its engine loop, rings and a driver, no worker started.
  const node = new VenueNode({ engine: newEngine(), drivers: 1 });
  const loop = node.loop;
  const source = node.drivers[0]!;
  let totalMs = 0;
  let firstMs = 0;
  let slowest = 0;
  let over1 = 0;
  for (let i = 0; i < n; ) {
    const end = Math.min(n, i + BATCH);
    for (; i < end; i++) {
      const at = offsets[i]!;
      const size = buf.dv.getUint16(at + 2, true);
      source.scratch.u8.set(buf.u8.subarray(at, at + size), 0);
      source.push(size);
    }
    source.flush();
    const t = performance.now();
    while (loop.drainOnce() > 0);
    const ms = performance.now() - t;
    totalMs += ms;
    if (i <= FIRST) firstMs = totalMs;
    if (ms > slowest) slowest = ms;
    if (ms > 1) over1++;
  }
  if (loop.commands !== n) throw new Error(`the loop applied ${loop.commands} of ${n} commands`);
  return { warmUpMs: w.ms, warmUpCommands: w.commands, totalMs, firstMs, slowestBatchMs: slowest, batchesOver1ms: over1 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const { quick, commands, rounds, seed, extra } = benchArgs({ commands: 100_000, quickCommands: 10_000, rounds: 5 }, ["warm-up"]);
  const warm = extra["warm-up"] ?? (quick ? 5_000 : 50_000);
  console.log(`warm-up benchmark: the first ${commands.toLocaleString("en-US")} commands of a fresh process, cold and after a warm-up of ${warm.toLocaleString("en-US")} commands; ${rounds} rounds, seed ${seed}`);
  const m = machineInfo();
  console.log(`machine: ${m.cpu} x ${m.logicalCpus}, Node ${m.node}; one thread, no spinning thread`);
  const dir = mkdtempSync(join(tmpdir(), "venue-warmup-"));
  try {
    const flow = generateFlow({ seed, commands, instruments: INSTRUMENTS, accounts: ACCOUNTS });
    const { buf, offsets } = encodeFlow(flow, newEngine(), { firstSeq: 1 });
    const end = offsets.length === 0 ? 0 : offsets[offsets.length - 1]! + buf.dv.getUint16(offsets[offsets.length - 1]! + 2, true);
    const head = Buffer.alloc(8);
    head.writeInt32LE(offsets.length, 0);
    const file = join(dir, "flow.bin");
    writeFileSync(file, Buffer.concat([head, Buffer.from(offsets.buffer, offsets.byteOffset, offsets.byteLength), Buffer.from(buf.u8.subarray(0, end))]));

    const results: Record<"cold" | "warm", ChildResult[]> = { cold: [], warm: [] };
    for (let r = 0; r < rounds; r++) {
      for (const mode of r % 2 === 0 ? (["cold", "warm"] as const) : (["warm", "cold"] as const)) {
        const run = spawnSync(process.execPath, ["--import", "tsx", import.meta.filename, "--child", file, String(mode === "warm" ? warm : 0)], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
        if (run.status !== 0) throw new Error(`child (${mode}) exited ${run.status}`);
        const res = JSON.parse(run.stdout.trim().split("\n").at(-1)!) as ChildResult;
        results[mode].push(res);
        console.log(`  round ${r + 1}/${rounds} ${mode.padEnd(4)}: ${res.totalMs.toFixed(1)} ms for the flow, first ${FIRST.toLocaleString("en-US")} ${res.firstMs.toFixed(1)} ms, slowest batch ${res.slowestBatchMs.toFixed(2)} ms${mode === "warm" ? `; warm-up ${res.warmUpMs.toFixed(0)} ms` : ""}`);
      }
    }
    const row = (label: string, f: (x: ChildResult) => number, unit = "ms"): void => {
      const c = median(results.cold.map(f));
      const w = median(results.warm.map(f));
      console.log(`  ${label.padEnd(34)} ${`${c.toFixed(2)} ${unit}`.padStart(12)} ${`${w.toFixed(2)} ${unit}`.padStart(12)}   ${(c / w).toFixed(2)}x`);
    };
    console.log(`\nmedians of ${rounds} rounds                  cold       warmed    cold / warmed`);
    row(`the ${commands.toLocaleString("en-US")} commands`, (x) => x.totalMs);
    row(`their first ${FIRST.toLocaleString("en-US")}`, (x) => x.firstMs);
    row("slowest batch (up to 256)", (x) => x.slowestBatchMs);
    row("batches over 1 ms", (x) => x.batchesOver1ms, "  ");
    console.log(`  warm-up itself: ${median(results.warm.map((x) => x.warmUpMs)).toFixed(0)} ms for ${results.warm[0]!.warmUpCommands.toLocaleString("en-US")} commands (flow generation included)`);
    if (quick) console.log("(quick: proves the benchmark runs; not a measurement)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf("--child");
if (at >= 0) console.log(JSON.stringify(child(process.argv[at + 1]!, Number(process.argv[at + 2]))));
else main();
