/**
 * How long does the market-data worker stop for a checkpoint? The file's encoding (format
 * version 2: arrays copied after the JSON) against version 1's (arrays as base64 in the
 * JSON), and the write with fsync, rename and directory fsync (`writeMarketCheckpoint`),
 * on a checkpoint shaped like a busy node's: 100 arrays of 10,750 doubles (8.6 MB: about
 * what 4 instruments' bar series and ticks hold near their caps), in alternating rounds.
 *
 *   npx tsx bench/market_checkpoint.ts [--quick] [--rounds R]
 *
 * Then a venue of many instruments at the caps (each with 10,000 ticks and seven series of
 * 10,000 bars, 5.5 MB), a few of them busy: the first checkpoint writes every instrument's
 * part, the next only the busy ones' (`MarketCheckpointWriter`, the node's writer); the
 * thread's hold (copy and encode) and the files' time (write, fsyncs, rename) apart.
 *
 * One thread, no spinning thread. The write goes to a temporary directory on the disk
 * under `.bench-out/`.
 */

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { encodeMarketCheckpoint } from "../src/schema/market_checkpoint.ts";
import { MarketCheckpointWriter, writeMarketCheckpoint, type CheckpointSource } from "../src/market/checkpoint_file.ts";
import type { InstrumentCheckpoint, MarketCheckpoint } from "../src/market/market.ts";
import { median } from "../src/bench/stats.ts";
import { benchArgs } from "./args.ts";

const { quick, rounds } = benchArgs({ commands: 0, quickCommands: 0, rounds: 5 });
const ARRAYS = quick ? 10 : 100;
const DOUBLES = 10_750;

/** Version 1's encoding of the body, kept here for the comparison: arrays as base64 text in the JSON. */
function encodeV1(cp: MarketCheckpoint): Buffer {
  return Buffer.from(JSON.stringify(cp, (_k, v: unknown) => (v instanceof Float64Array ? { f64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") } : v)), "utf8");
}

const arrays = Array.from({ length: ARRAYS }, (_, a) => Float64Array.from({ length: DOUBLES }, (_, i) => 75_000 + ((a * 7 + i * 13) % 1000) / 4));
const cp = {
  day: "20261125",
  instruments: [
    {
      symbol: "SHFE.cu2601",
      stats: new Float64Array(8),
      ticks: { ring: { firstId: 0, lastId: 0, count: 0 }, ticks: arrays[0]!, version: 1 },
      series: arrays.slice(1).map((bars, k) => ({ durationNs: (k + 1) * 60e9, ring: { firstId: 0, lastId: 0, count: 0 }, bars, version: 1, tradingDayStartId: 0, tradingDayEndId: 0, incompleteThrough: null })),
      seconds: 0,
      nanos: 0,
      tickSeq: 0,
      lastTradeNo: 0,
      quoteVersion: 0,
    },
  ],
} as unknown as MarketCheckpoint;

const dir = join(".bench-out", "market-checkpoint-tmp");
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });
const cpus = os.cpus();
console.log(`market checkpoint benchmark: ${ARRAYS} arrays of ${DOUBLES.toLocaleString("en-US")} doubles (${((ARRAYS * DOUBLES * 8) / 1e6).toFixed(1)} MB), ${rounds} rounds${quick ? " (quick: proves it runs, not a measurement)" : ""}`);
console.log(`machine: ${cpus[0]?.model ?? "?"} x ${cpus.length}, Node ${process.version}; one thread, no spinning thread; disk under ${dir}`);
const v1: number[] = [];
const v2: number[] = [];
const write: number[] = [];
let sizes = [0, 0];
try {
  for (let r = 0; r < rounds; r++) {
    let t = performance.now();
    const a = encodeV1(cp);
    v1.push(performance.now() - t);
    t = performance.now();
    const b = encodeMarketCheckpoint(1, cp);
    v2.push(performance.now() - t);
    sizes = [a.length, b.length];
    t = performance.now();
    await writeMarketCheckpoint(dir, 1, cp);
    write.push(performance.now() - t);
    console.log(`  round ${r + 1}/${rounds}: encode v1 ${v1[r]!.toFixed(1)} ms, v2 ${v2[r]!.toFixed(1)} ms; writeMarketCheckpoint (encode, write, fsyncs, rename) ${write[r]!.toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("");
console.log(`median of ${rounds}: encode version 1 ${median(v1).toFixed(1)} ms (${(sizes[0]! / 1e6).toFixed(1)} MB body), version 2 ${median(v2).toFixed(1)} ms (${(sizes[1]! / 1e6).toFixed(1)} MB file), ${(median(v1) / median(v2)).toFixed(1)}x; the whole write ${median(write).toFixed(1)} ms`);

// Many instruments, a few busy.
const INSTRUMENTS = quick ? 8 : 40;
const BUSY = quick ? 1 : 4;
const CAP = quick ? 1_000 : 10_000;
const instrument = (i: number): InstrumentCheckpoint => ({
  symbol: `X.i${i}`,
  stats: new Float64Array(8),
  ticks: { ring: { firstId: 0, lastId: CAP - 1, count: CAP }, ticks: Float64Array.from({ length: CAP * 27 }, (_, k) => 5_000 + ((i + k) % 100)), version: 1 },
  series: Array.from({ length: 7 }, (_, k) => ({ durationNs: (k + 1) * 60e9, ring: { firstId: 0, lastId: CAP - 1, count: CAP }, bars: Float64Array.from({ length: CAP * 6 }, (_, j) => 5_000 + ((i + j) % 100)), version: 1, tradingDayStartId: 0, tradingDayEndId: 0, incompleteThrough: null })),
  seconds: 0,
  nanos: 0,
  tickSeq: 0,
  lastTradeNo: 0,
  quoteVersion: 0,
}) as unknown as InstrumentCheckpoint;
const venue = Array.from({ length: INSTRUMENTS }, (_, i) => instrument(i));
const changes = new Array<number>(INSTRUMENTS).fill(0);
const source: CheckpointSource = {
  tradingDay: "20261126",
  instrumentSlots: INSTRUMENTS,
  checkpointKey: (i) => `${i}:${changes[i]}`,
  instrumentCheckpoint: (i) => venue[i],
};
const many = join(".bench-out", "market-checkpoint-many-tmp");
const whole = { hold: [] as number[], files: [] as number[], mb: 0 };
const part = { hold: [] as number[], files: [] as number[], mb: 0 };
console.log("");
console.log(`${INSTRUMENTS} instruments at the caps (${CAP.toLocaleString("en-US")} ticks and 7 x ${CAP.toLocaleString("en-US")} bars each), ${BUSY} busy: the first checkpoint, then the next`);
try {
  for (let r = 0; r < rounds; r++) {
    rmSync(many, { recursive: true, force: true });
    const w = new MarketCheckpointWriter(many);
    for (const into of [whole, part]) {
      let t = performance.now();
      const p = w.prepare(r + 1, source);
      into.hold.push(performance.now() - t);
      t = performance.now();
      await w.write(p);
      into.files.push(performance.now() - t);
      into.mb = p.bytes / 1e6;
      for (let i = 0; i < BUSY; i++) changes[i]!++;
    }
    console.log(`  round ${r + 1}/${rounds}: first ${whole.hold[r]!.toFixed(0)} + ${whole.files[r]!.toFixed(0)} ms (${whole.mb.toFixed(1)} MB); next ${part.hold[r]!.toFixed(0)} + ${part.files[r]!.toFixed(0)} ms (${part.mb.toFixed(1)} MB)`);
  }
} finally {
  rmSync(many, { recursive: true, force: true });
}
console.log("");
console.log(`median of ${rounds}, thread held + files: every instrument ${median(whole.hold).toFixed(1)} + ${median(whole.files).toFixed(1)} ms (${whole.mb.toFixed(1)} MB); ${BUSY} of ${INSTRUMENTS} changed ${median(part.hold).toFixed(1)} + ${median(part.files).toFixed(1)} ms (${part.mb.toFixed(1)} MB)`);
