/**
 * What does a flush cost per entry? A sealed MemTable of the event workload (16-byte event
 * keys of 3 topics x 8 instruments, interleaved, seq rising; 120-byte values; a 17-byte
 * time key with an 8-byte value after every 4th event) flushed by `runFlush` into one table
 * per partition, three ways in alternating rounds on the same workload: following the
 * skiplist (`followList`); a table at a time in the order found from the nodes
 * (`MemTable.flushIterator`, what the node does with more partitions than it writes at
 * once); and every table at once, the MemTable read front to back (what the node does
 * here). Each way twice: writing the files (each table fsynced) and with the writes
 * discarded (a file layer that drops them: the CPU alone).
 *
 *   npx tsx bench/lsm_flush.ts [--quick] [--rounds R] [--mib M]
 *
 * Reports ns per entry, median of rounds. A fresh MemTable per round (filled untimed), as
 * the tree seals one and starts another. One thread; no spinning thread; temp files under
 * .bench-out/lsm-flush-tmp, removed at the end.
 */

import { mkdirSync, rmSync } from "node:fs";
import { cpus } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { runFlush } from "../src/lsm/jobs.ts";
import { MemTable } from "../src/lsm/memtable.ts";
import { eventKey, timeKey } from "../src/schema/store.ts";
import { REAL_FS, type JournalFs } from "../src/wal/file.ts";
import { benchArgs } from "./args.ts";

const args = benchArgs({ commands: 1, quickCommands: 1, rounds: 5 }, ["mib"]);
const MIB = args.extra["mib"] ?? (args.quick ? 2 : 32);
const ROUNDS = args.quick ? 1 : args.rounds;
const TMP = join(".bench-out", "lsm-flush-tmp");
const PARTITION_BYTES = 5;

/** A file layer that takes every write and keeps nothing: the flush's CPU without the disk. */
const DISCARD: JournalFs = {
  create: () => ({ pwrite: (_src, _off, len) => len, fdatasync() {}, fsync() {}, ftruncate() {}, close() {} }),
  open: () => {
    throw new Error("the discarding file layer opens nothing");
  },
  fsyncDir() {},
  rename() {},
  unlink() {},
};

function fill(): MemTable {
  const mt = MemTable.create(MIB << 20, PARTITION_BYTES);
  const key = new Uint8Array(17);
  const value = new Uint8Array(120);
  for (let i = 0; i < value.length; i++) value[i] = (i * 7) & 0xff;
  for (let seq = 1; ; seq++) {
    eventKey(key, 1 + (seq % 3), seq & 7, seq, 0);
    if (!mt.put(key, 0, 16, value, 0, value.length, seq)) break;
    if (seq % 4 === 0) {
      timeKey(key, BigInt(seq) * 1000n, seq);
      if (!mt.put(key, 0, 17, value, 0, 8, seq)) break;
    }
  }
  mt.seal();
  return mt;
}

const WAYS = [
  { name: "follow the list, files", followList: true, streamedTablesMax: 0, fs: REAL_FS },
  { name: "a table at a time, files", followList: false, streamedTablesMax: 0, fs: REAL_FS },
  { name: "all tables at once, files", followList: false, streamedTablesMax: undefined, fs: REAL_FS },
  { name: "follow the list, no I/O", followList: true, streamedTablesMax: 0, fs: DISCARD },
  { name: "a table at a time, no I/O", followList: false, streamedTablesMax: 0, fs: DISCARD },
  { name: "all tables at once, no I/O", followList: false, streamedTablesMax: undefined, fs: DISCARD },
] as const;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function main(): void {
  console.log(`flush benchmark: a sealed ${MIB} MiB MemTable of the event workload, ${ROUNDS} rounds; ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; one thread, no spinning thread${args.quick ? " (--quick: proves it runs, not a measurement)" : ""}`);
  const ns: number[][] = WAYS.map(() => []);
  let entries = 0;
  let tables = 0;
  let bytes = 0;
  try {
    for (let r = 0; r < ROUNDS; r++) {
      // Alternate which way goes first.
      const order = [0, 1, 2].map((i) => (i + r) % 3).flatMap((i) => [i, i + 3]);
      const line: string[] = [];
      for (const w of order) {
        const way = WAYS[w]!;
        const mt = fill();
        const dir = join(TMP, `r${r}-${w}`);
        mkdirSync(dir, { recursive: true });
        const numbers = Array.from({ length: mt.partitions }, (_, i) => i + 1);
        const t0 = performance.now();
        const out = runFlush({ dir, numbers, buffers: mt.buffers, blockBytes: 4096, partitionBytes: PARTITION_BYTES, followList: way.followList, ...(way.streamedTablesMax !== undefined ? { streamedTablesMax: way.streamedTablesMax } : {}) }, way.fs);
        const ms = performance.now() - t0;
        rmSync(dir, { recursive: true, force: true });
        entries = mt.entries;
        tables = out.length;
        bytes = out.reduce((s, t) => s + t.fileSize, 0);
        ns[w]!.push((ms * 1e6) / mt.entries);
        line.push(`${way.name} ${((ms * 1e6) / mt.entries).toFixed(0)}`);
      }
      console.log(`  round ${r + 1}/${ROUNDS} (ns per entry): ${line.join(", ")}`);
    }
  } finally {
    rmSync(TMP, { recursive: true, force: true });
  }
  console.log(`\n${entries.toLocaleString("en-US")} entries, ${tables} tables, ${(bytes / 1e6).toFixed(1)} MB per flush`);
  for (const [w, way] of WAYS.entries()) console.log(`  ${way.name.padEnd(28)} ${median(ns[w]!).toFixed(0).padStart(5)} ns per entry (median of ${ROUNDS})`);
  const ratio = (a: number, b: number): string => `${(median(ns[a]!) / median(ns[b]!)).toFixed(2)}x`;
  console.log(`  a table at a time / follow the list: files ${ratio(1, 0)}, no I/O ${ratio(4, 3)} the time`);
  console.log(`  all tables at once / a table at a time: files ${ratio(2, 1)}, no I/O ${ratio(5, 4)} the time`);
}

main();
