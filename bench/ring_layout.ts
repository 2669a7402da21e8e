/**
 * Fixed slots or variable records? The question behind the ring's record layout
 * (docs/formats/ring.md). Both carry the engine's real event stream (the accounts flow of
 * bench/accounts.ts: events of 48 to 184 bytes) through a ring of the same size, producer
 * and consumer on one thread in batches of 64, so only the layout differs:
 *
 *   variable  the node's Ring: records back to back, a padding record at the wrap
 *   fixed     slots of 192 bytes (the largest event, 184, rounded up to a multiple of 64),
 *             one record per slot, a sequence counter instead of byte positions, the same
 *             per-record handler call and a gating check per record
 *
 * It reports events/s, bytes of ring written per event, and how many events the ring
 * holds (how far a consumer may lag before it gates or is overrun).
 *
 *   npx tsx bench/ring_layout.ts [--quick] [--commands N] [--rounds R] [--seed S]
 *
 * One thread, no spinning thread. Results also go to .bench-out/ring_layout.json.
 */

import { performance } from "node:perf_hooks";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { Engine } from "../src/engine/engine.ts";
import { Ring, RingConsumer, RingProducer } from "../src/bus/ring.ts";
import { copyRecord } from "../src/bus/copy.ts";
import { Buf } from "../src/schema/layout.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../src/sim/order_flow.ts";
import { benchArgs } from "./args.ts";

const { quick, commands: COMMANDS, rounds: ROUNDS, seed: SEED } = benchArgs({ commands: 300_000, quickCommands: 10_000 });
const RING_BYTES = 1 << 22;
const SLOT = 192;
const BATCH = 64;

/** The event stream of the accounts flow, back to back, with each event's offset. */
function events(): { buf: Buf; offsets: number[] } {
  const e = new Engine();
  defineInstruments(e, instrumentCommands(4), { money: DEMO_MONEY, accounts: 1000, deposit: 1e14 });
  const enc = encodeFlow(generateFlow({ seed: SEED, commands: COMMANDS, instruments: 4, accounts: 1000 }), e, { firstSeq: 1_000_000 });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (let i = 0; i < COMMANDS; i++) {
    e.apply(enc.buf, enc.offsets[i]!);
    chunks.push(e.out.buf.u8.slice(0, e.out.length));
    total += e.out.length;
    e.out.clear();
  }
  const buf = Buf.alloc(total);
  const offsets: number[] = [];
  let at = 0;
  for (const c of chunks) {
    buf.u8.set(c, at);
    for (let o = 0; o < c.length; o += c[o + 2]! | (c[o + 3]! << 8)) offsets.push(at + o);
    at += c.length;
  }
  return { buf, offsets };
}

function variable(ev: { buf: Buf; offsets: number[] }): number {
  const ring = Ring.create(RING_BYTES, 1, "variable");
  ring.openSlot(0, "gating");
  const p = new RingProducer(ring);
  const c = new RingConsumer(ring, 0);
  const src = ev.buf;
  const data = ring.data;
  let sum = 0;
  const read = (b: Buf, o: number): void => void (sum += b.dv.getUint32(o + 8, true));
  const t0 = performance.now();
  for (let i = 0; i < ev.offsets.length; ) {
    const end = Math.min(ev.offsets.length, i + BATCH);
    for (; i < end; i++) {
      const at = ev.offsets[i]!;
      const size = src.dv.getUint16(at + 2, true);
      copyRecord(src.f64, src.i32, at, data.f64, data.i32, p.claim(size), size);
    }
    p.publish();
    c.poll(read);
  }
  const ms = performance.now() - t0;
  if (sum === -1) console.log(sum);
  return ms;
}

/** A fixed-slot ring, as small as it can be: a published counter and a cursor, slot = seq mod slots. */
function fixed(ev: { buf: Buf; offsets: number[] }): number {
  const sab = new SharedArrayBuffer(RING_BYTES + 256);
  const cells = new Int32Array(sab, 0, 64);
  const data = new Buf(sab, 256, RING_BYTES);
  const slots = RING_BYTES / SLOT | 0;
  const src = ev.buf;
  let written = 0;
  let read = 0;
  let sum = 0;
  let gate = 0; // the consumer's cursor as the producer last read it (gating, as the variable ring does)
  const handler = (b: Buf, o: number): void => void (sum += b.dv.getUint32(o + 8, true));
  const t0 = performance.now();
  for (let i = 0; i < ev.offsets.length; ) {
    const end = Math.min(ev.offsets.length, i + BATCH);
    for (; i < end; i++) {
      const at = ev.offsets[i]!;
      const size = src.dv.getUint16(at + 2, true);
      if (written - gate >= slots) gate = Atomics.load(cells, 32);
      copyRecord(src.f64, src.i32, at, data.f64, data.i32, (written % slots) * SLOT, size);
      written++;
    }
    Atomics.store(cells, 0, written);
    const upTo = Atomics.load(cells, 0);
    for (; read < upTo; read++) handler(data, (read % slots) * SLOT);
    Atomics.store(cells, 32, read);
  }
  const ms = performance.now() - t0;
  if (sum === -1) console.log(sum);
  return ms;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const cpus = os.cpus();
  console.log(`ring layout benchmark: events of ${COMMANDS.toLocaleString("en-US")} commands, ${ROUNDS} rounds, seed ${SEED}${quick ? " (quick: proves it runs, not a measurement)" : ""}`);
  console.log(`machine: ${cpus[0]?.model ?? "?"} x ${cpus.length}, Node ${process.version}; one thread, no spinning thread; ring ${RING_BYTES >> 20} MiB`);
  const ev = events();
  const n = ev.offsets.length;
  const bytes = ev.buf.byteLength;
  variable(ev);
  fixed(ev);
  const v: number[] = [];
  const f: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    v.push(n / (variable(ev) / 1000));
    f.push(n / (fixed(ev) / 1000));
    console.log(`  round ${r + 1}/${ROUNDS}: variable ${(v[r]! / 1e6).toFixed(1)}M events/s, fixed ${(f[r]! / 1e6).toFixed(1)}M events/s`);
  }
  const mv = median(v);
  const mf = median(f);
  console.log("");
  console.log(`results (median of rounds; ${n.toLocaleString("en-US")} events, mean ${(bytes / n).toFixed(0)} bytes)`);
  console.log(`  variable records   ${(mv / 1e6).toFixed(1)}M events/s   ${(bytes / n).toFixed(0)} bytes written per event   ring holds ~${Math.floor(RING_BYTES / (bytes / n)).toLocaleString("en-US")} events`);
  console.log(`  fixed 192 B slots  ${(mf / 1e6).toFixed(1)}M events/s   ${SLOT} bytes of ring per event   ring holds ${Math.floor(RING_BYTES / SLOT).toLocaleString("en-US")} events`);
  console.log(`  variable / fixed   ${(mv / mf).toFixed(2)}x throughput, ${(SLOT / (bytes / n)).toFixed(2)}x the events per byte of ring`);
  mkdirSync(".bench-out", { recursive: true });
  const file = join(".bench-out", "ring_layout.json");
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), commands: COMMANDS, rounds: ROUNDS, seed: SEED, quick, events: n, meanBytes: bytes / n, variable: v, fixed: f }, null, 2));
  console.log(`wrote ${file}`);
}

main();
