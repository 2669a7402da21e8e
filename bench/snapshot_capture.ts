/**
 * How long does the engine loop stop for a snapshot? `captureState` on an engine that has
 * applied N commands of the seeded mixed flow with accounts (about 29 MB of state after 1M),
 * two ways in alternating rounds: into fresh memory (as the node's first snapshot, and every
 * snapshot before the node reused buffers), and into the buffers of the previous capture
 * (`CaptureBuffers`, as the node's later snapshots: the snapshot worker gives them back).
 *
 *   npx tsx bench/snapshot_capture.ts [--quick] [--commands N] [--rounds R] [--seed S]
 *
 * One thread, no spinning thread, no I/O (the write is the snapshot worker's, off the loop).
 */

import os from "node:os";
import { Engine } from "../src/engine/engine.ts";
import { CaptureBuffers, captureState, stateBufferSizes } from "../src/engine/state.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../src/sim/order_flow.ts";
import { median } from "../src/bench/stats.ts";
import { benchArgs } from "./args.ts";

const { quick, commands: COMMANDS, rounds: ROUNDS, seed: SEED } = benchArgs({ commands: 1_000_000, quickCommands: 20_000, rounds: 8 });

function newEngine(): Engine {
  const e = new Engine();
  defineInstruments(e, instrumentCommands(4), { money: DEMO_MONEY, accounts: 1000, deposit: 1e14 });
  return e;
}

const cpus = os.cpus();
console.log(`snapshot capture benchmark: engine state after ${COMMANDS.toLocaleString("en-US")} commands, ${ROUNDS} rounds, seed ${SEED}${quick ? " (quick: proves it runs, not a measurement)" : ""}`);
console.log(`machine: ${cpus[0]?.model ?? "?"} x ${cpus.length}, Node ${process.version}; one thread, no spinning thread`);
const flow = generateFlow({ seed: SEED, commands: COMMANDS, instruments: 4, accounts: 1000 });
const enc = encodeFlow(flow, newEngine(), { firstSeq: 1 });
const engine = newEngine();
for (let i = 0; i < COMMANDS; i++) {
  engine.apply(enc.buf, enc.offsets[i]!);
  engine.out.clear();
}
const spare = new CaptureBuffers();
let previous = captureState(engine, spare);
const bytes = previous.blobs.reduce((n, b) => n + b.byteLength, 0);
const fresh: number[] = [];
const reused: number[] = [];
const sizing: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  let t = performance.now();
  stateBufferSizes(engine);
  sizing.push(performance.now() - t);
  t = performance.now();
  captureState(engine);
  fresh.push(performance.now() - t);
  spare.give(previous.blobs.map((b) => b.buffer as SharedArrayBuffer));
  t = performance.now();
  previous = captureState(engine, spare);
  reused.push(performance.now() - t);
  if (spare.reusedBytes !== bytes) throw new Error(`only ${spare.reusedBytes} of ${bytes} bytes went into reused buffers`);
  console.log(`  round ${r + 1}/${ROUNDS}: into fresh memory ${fresh[r]!.toFixed(1)} ms, into the previous capture's buffers ${reused[r]!.toFixed(1)} ms`);
}
console.log("");
console.log(`state: ${previous.blobs.length} buffers, ${(bytes / 1e6).toFixed(1)} MB`);
console.log(`the node's ask ahead of a capture (stateBufferSizes: the walk, nothing copied): median ${median(sizing).toFixed(2)} ms (max ${Math.max(...sizing).toFixed(2)})`);
console.log(`median of ${ROUNDS}: into fresh memory ${median(fresh).toFixed(1)} ms (max ${Math.max(...fresh).toFixed(1)}), into reused buffers ${median(reused).toFixed(1)} ms (max ${Math.max(...reused).toFixed(1)}): ${(median(fresh) / median(reused)).toFixed(1)}x`);
