/**
 * Allocation probe for the journal worker's per-group path, run in its own process by
 * journal_allocation.test.ts (and usable by hand):
 *
 *   node --expose-gc --import tsx test/wal/journal_alloc_probe.ts metrics|loop counter|clock [groups]
 *
 * metrics: the group commit metrics alone, as the writer drives them through the timing
 *   file layer: per group, `appended` for each of its commands, one write, one fdatasync
 *   (over a file that keeps nothing), and the once-a-second report check.
 * loop: the whole per-group path of the worker (JournalLoop.step: poll the ring, frame each
 *   command, commit, publish the durable seq, metrics), fed on this thread by a producer
 *   that stamps a prebuilt command, over a file layer that keeps nothing.
 *
 * counter: the metrics read a clock that allocates nothing (a counter), so what is measured
 *   is the code itself; clock: they read the real clock (performance.now), which on Node 20
 *   returns a new heap number per read (three reads per group).
 *
 * Warms up, collects garbage, then runs the measured groups while counting collections,
 * three times, and prints one JSON line for the round with the fewest collections and then
 * the least growth (each round's growth beside it): heap bytes grown across it, minor/major GCs. Code that
 * allocates per group does so in every round; optimized code that a loaded machine's
 * compiler delivers in the middle of one (its baseline code boxes numbers meanwhile)
 * costs that round alone.
 */

import { measureAllocation, type AllocationMeasure } from "../alloc_meter.ts";
import { JournalLoop, JournalMetrics } from "../../src/wal/journal_worker.ts";
import type { JournalFile, JournalFs } from "../../src/wal/file.ts";
import { Ring, RingProducer } from "../../src/bus/ring.ts";
import { Control } from "../../src/bus/control.ts";
import { Buf } from "../../src/schema/layout.ts";
import { journalCommand } from "./journal_kit.ts";

const mode = process.argv[2] === "loop" ? "loop" : "metrics";
const clockKind = process.argv[3] === "clock" ? "clock" : "counter";
const measured = Number(process.argv[4] ?? 300_000);
/** Whole milliseconds as small integers (values V8 keeps unboxed), one per 1,024 reads: reports stay about as rare as in a node. */
const ticks = new Int32Array(1);
const clock = clockKind === "clock" ? () => performance.now() : () => (ticks[0] = (ticks[0]! + 1) & 0x3fffffff) >> 10;
const warmup = 500_000;
const PER_GROUP = 4;

const nullFile: JournalFile = { pwrite: (_s, _o, len) => len, fdatasync: () => {}, fsync: () => {}, ftruncate: () => {}, close: () => {} };
const nullFs: JournalFs = { create: () => nullFile, open: () => nullFile, fsyncDir: () => {}, rename: () => {}, unlink: () => {} };

let run: (groups: number) => void;
if (mode === "metrics") {
  const metrics = new JournalMetrics(clock);
  const file = metrics.wrap(nullFs).create("/nowhere/segment");
  const bytes = new Uint8Array(4096);
  let reports = 0;
  run = (groups) => {
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < PER_GROUP; i++) metrics.appended();
      file.pwrite(bytes, 0, 512, 0);
      file.fdatasync();
      if (metrics.dueAfterCommit()) {
        metrics.report(metrics.clock()); // once a second: a copy for the main thread
        reports++;
      }
    }
  };
  void reports;
} else {
  const ring = Ring.create(1 << 22, 1, "journal");
  ring.openSlot(0, "gating", true);
  const control = new Control();
  const producer = new RingProducer(ring);
  const scratch = Buf.alloc(256);
  const size = journalCommand(scratch, 1);
  const template = scratch.u8.slice(0, size);
  const dv = ring.data.dv;
  const u8 = ring.data.u8;
  let seq = 1;
  // Segments of 1 GiB (the default): no rotation during the run.
  const loop = new JournalLoop({ dir: "/nowhere", ring: ring.sab, slot: 0, control: control.sab, nextSeq: 1, live: undefined, segmentBytes: undefined, wait: { kind: "spin" } }, nullFs, () => {}, clock);
  run = (groups) => {
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < PER_GROUP; i++) {
        const at = producer.claim(size);
        u8.set(template, at);
        dv.setUint32(at + 8, seq >>> 0, true);
        dv.setUint32(at + 12, Math.floor(seq / 4294967296), true);
        seq++;
      }
      producer.publish();
      loop.step();
    }
  };
}

run(warmup);
const rounds: AllocationMeasure<void>[] = [];
for (let r = 0; r < 3; r++) rounds.push(await measureAllocation(() => run(measured)));
// The round with the fewest collections (a collection hides what was allocated before it), then the least growth.
const gcs = (x: AllocationMeasure<void>): number => x.minorGcs + x.majorGcs;
const m = rounds.reduce((a, b) => (gcs(b) < gcs(a) || (gcs(b) === gcs(a) && b.heapGrowthBytes < a.heapGrowthBytes) ? b : a));
process.stdout.write(JSON.stringify({ mode, clock: clockKind, measured, commandsPerGroup: PER_GROUP, heapGrowthBytes: m.heapGrowthBytes, codeGrowthBytes: m.codeGrowthBytes, minorGcs: m.minorGcs, majorGcs: m.majorGcs, ms: Math.round(m.ms), roundsHeapGrowthBytes: rounds.map((x) => x.heapGrowthBytes) }) + "\n");
