/**
 * How long does the market-data worker stop for a checkpoint? The file's encoding (format
 * version 2: arrays copied after the JSON) against version 1's (arrays as base64 in the
 * JSON), and the write with fsync, rename and directory fsync (`writeMarketCheckpoint`),
 * on a checkpoint shaped like a busy node's: 100 arrays of 10,750 doubles (8.6 MB: about
 * what 4 instruments' bar series and ticks hold near their caps), in alternating rounds.
 *
 *   npx tsx bench/market_checkpoint.ts [--quick] [--rounds R]
 *
 * One thread, no spinning thread. The write goes to a temporary directory on the disk
 * under `.bench-out/`.
 */

import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { encodeMarketCheckpoint } from "../src/schema/market_checkpoint.ts";
import { writeMarketCheckpoint } from "../src/market/checkpoint_file.ts";
import type { MarketCheckpoint } from "../src/market/market.ts";
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
    console.log(`  round ${r + 1}/${rounds}: encode v1 ${v1[r]!.toFixed(1)} ms, v2 ${v2[r]!.toFixed(1)} ms; writeMarketCheckpoint (v2 encode + write + fsyncs) ${write[r]!.toFixed(1)} ms`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log("");
console.log(`median of ${rounds}: encode version 1 ${median(v1).toFixed(1)} ms (${(sizes[0]! / 1e6).toFixed(1)} MB body), version 2 ${median(v2).toFixed(1)} ms (${(sizes[1]! / 1e6).toFixed(1)} MB file), ${(median(v1) / median(v2)).toFixed(1)}x; the whole write ${median(write).toFixed(1)} ms`);
