/**
 * The event store's LSM tree against lmdb and classic-level (LevelDB) on the same keys and
 * values, in the same run: MemTable insert, ingest of an event-shaped workload (16-byte
 * keys of topic, instrument, seq, index; 120-byte values; 8 instruments interleaved, or --instruments),
 * warm point reads of present and absent keys, a range scan of one instrument's history,
 * and the write amplification of flushes and compactions.
 *
 *   npx tsx bench/lsm.ts [--commands N] [--rounds R] [--instruments I] [--quick]
 *
 * Ingest runs in R rounds (default 3), each store in turn on a fresh directory, and reports
 * the median of rounds (the first round also warms the JIT); the reads use the last round's
 * stores. Venue's rounds share one job pool, as the node's storage worker keeps one for its
 * life.
 *
 * Threads: the main thread, plus one piscina job thread for flushes and compactions
 * (ours), lmdb's and LevelDB's own background threads. No thread spins. Venue reads its
 * tables through the mmap addon, then again with pread (the fallback) on the same files.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { open as lmdbOpen } from "lmdb";
import { ClassicLevel } from "classic-level";
import { MemTable } from "../src/lsm/memtable.ts";
import { LsmTree } from "../src/lsm/tree.ts";
import { poolJobs } from "../src/lsm/pool.ts";
import { nativeStatus } from "../src/native/mmap.ts";
import { eventKey } from "../src/schema/store.ts";
import { Prng } from "../src/stdx/prng.ts";
import { benchArgs } from "./args.ts";
import { median } from "../src/bench/stats.ts";

const args = benchArgs({ commands: 1_000_000, quickCommands: 20_000 }, ["instruments"]);
const N = args.commands;
const VALUE = 120;
/** Instruments interleaved: the event store makes a table per topic and instrument a flush holds. */
const INSTRUMENTS = args.extra["instruments"] ?? 8;
if (!(INSTRUMENTS >= 4 && INSTRUMENTS <= 65_535)) throw new RangeError("--instruments: 4 to 65535 (the scan reads instrument 3)");
const READS = Math.min(N, 200_000);

console.log(`lsm bench: ${N.toLocaleString("en-US")} events of 16-byte keys and ${VALUE}-byte values over ${INSTRUMENTS} instruments; ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), node ${process.version}; no spinning threads`);

function keyOf(i: number, k: Uint8Array): Uint8Array {
  // Commands in seq order, each with an event on one of the instruments.
  return eventKey(k, 1, i % INSTRUMENTS, 1 + Math.floor(i / 2), i & 1);
}

const value = new Uint8Array(VALUE);
for (let i = 0; i < VALUE; i++) value[i] = (i * 7) & 0xff;
const key = new Uint8Array(16);

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function row(name: string, cells: string[]): void {
  console.log(`${name.padEnd(34)}${cells.map((c) => c.padStart(16)).join("")}`);
}

// 1. MemTable insert: three rounds on fresh tables, the median (the first warms the JIT).
{
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    // As the event store makes them: insert hints per partition (topic and instrument, 5 key bytes).
    const mt = MemTable.create(Math.max(1 << 20, N * 200), 5);
    const t0 = performance.now();
    for (let i = 0; i < N; i++) mt.put(keyOf(i, key), 0, 16, value, 0, VALUE);
    rates.push(N / ((performance.now() - t0) / 1000));
  }
  rates.sort((a, b) => a - b);
  row("MemTable insert (median of 3)", [`${(rates[1]! / 1e6).toFixed(2)}M/s`, "target 2M/s"]);
}

const dirs: string[] = [];
const tmp = (p: string): string => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};

// 2. Ingest: rounds, each store in turn on a fresh directory; the median of rounds.
const BATCH = 10_000;
const jobs = poolJobs(1);
async function ingestVenue(): Promise<{ tree: LsmTree; rate: number }> {
  // As the event store opens it: tables partitioned by topic and instrument (5 key bytes).
  const tree = LsmTree.open(tmp("venue-bench-lsm-"), { jobs, memtableBytes: 16 << 20, partitionBytes: 5 });
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    if (!tree.writable) await tree.whenWritable();
    tree.put(keyOf(i, key), value, 1 + Math.floor(i / 2));
  }
  await tree.flush();
  await tree.idle();
  return { tree, rate: N / ((performance.now() - t0) / 1000) };
}
function ingestLmdb(): { lmdb: ReturnType<typeof lmdbOpen>; dir: string; rate: number } {
  const dir = tmp("venue-bench-lmdb-");
  const lmdb = lmdbOpen({ path: dir, keyEncoding: "binary", encoding: "binary", noSync: false });
  const t0 = performance.now();
  for (let b = 0; b < N; b += BATCH) {
    lmdb.transactionSync(() => {
      for (let i = b; i < Math.min(N, b + BATCH); i++) lmdb.putSync(Buffer.from(keyOf(i, key)), value);
    });
  }
  return { lmdb, dir, rate: N / ((performance.now() - t0) / 1000) };
}
async function ingestLevel(): Promise<{ level: ClassicLevel<Uint8Array, Uint8Array>; dir: string; rate: number }> {
  const dir = tmp("venue-bench-level-");
  const level = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: "view", valueEncoding: "view" });
  await level.open();
  const t0 = performance.now();
  for (let b = 0; b < N; b += BATCH) {
    const ops = [];
    for (let i = b; i < Math.min(N, b + BATCH); i++) ops.push({ type: "put" as const, key: keyOf(i, new Uint8Array(16)), value });
    await level.batch(ops);
  }
  return { level, dir, rate: N / ((performance.now() - t0) / 1000) };
}
const rates = { venue: [] as number[], lmdb: [] as number[], level: [] as number[] };
let tree!: LsmTree;
let lmdb!: ReturnType<typeof lmdbOpen>;
let level!: ClassicLevel<Uint8Array, Uint8Array>;
const rounds = args.quick ? 1 : args.rounds;
for (let round = 0; round < rounds; round++) {
  const last = round === rounds - 1;
  // Each store's files are removed once its round is done (unwritten pages go with them),
  // so no round writes behind another's dirty data.
  const drop = (dir: string): void => rmSync(dir, { recursive: true, force: true });
  const v = await ingestVenue();
  rates.venue.push(v.rate);
  if (!last) {
    await v.tree.close();
    drop(v.tree.dir);
  }
  const l = ingestLmdb();
  rates.lmdb.push(l.rate);
  if (!last) {
    l.lmdb.close();
    drop(l.dir);
  }
  const lv = await ingestLevel();
  rates.level.push(lv.rate);
  if (!last) {
    await lv.level.close();
    drop(lv.dir);
  }
  console.log(`  ingest round ${round + 1}/${rounds}: venue ${(v.rate / 1e6).toFixed(2)}M/s, lmdb ${(l.rate / 1e6).toFixed(2)}M/s, classic-level ${(lv.rate / 1e6).toFixed(2)}M/s`);
  if (last) {
    tree = v.tree;
    lmdb = l.lmdb;
    level = lv.level;
  }
}
const [ourIngest, lmdbIngest, levelIngest] = [median(rates.venue), median(rates.lmdb), median(rates.level)];
row("", ["venue", "lmdb", "classic-level"]);
row(`ingest (events/s, median of ${rounds})`, [ourIngest, lmdbIngest, levelIngest].map((x) => `${(x / 1e6).toFixed(2)}M/s`));
console.log(`  venue/lmdb ${(ourIngest / lmdbIngest).toFixed(2)}x (target >= 2x); batches of ${BATCH} for lmdb and classic-level`);

// 3. Point reads, warm: the same random present keys, then absent ones.
const r = new Prng(args.seed);
const picks = new Int32Array(READS).map(() => r.nextU32() % N);
/** Times each read alone; a synchronous store is called synchronously (no await per read). */
async function timeReads(label: string, get: (k: Uint8Array) => unknown, absent: boolean, isAsync = false): Promise<number[]> {
  const lat = new Float64Array(READS);
  const k = new Uint8Array(16);
  let found = 0;
  for (let pass = 0; pass < 2; pass++) {
    // The second pass is the one recorded: the tables are warm in the page cache by then.
    for (let j = 0; j < READS; j++) {
      keyOf(picks[j]!, k);
      if (absent) k[15] = 1;
      const s = performance.now();
      const v = isAsync ? await get(k) : get(k);
      lat[j] = performance.now() - s;
      if (v !== undefined && v !== null) found++;
    }
  }
  if (!absent && found !== 2 * READS) throw new Error(`${label}: ${found} of ${2 * READS} present keys found`);
  if (absent && found !== 0) throw new Error(`${label}: found absent keys`);
  lat.sort();
  return [pct(lat, 0.5) * 1e3, pct(lat, 0.99) * 1e3];
}
const levelGet = async (k: Uint8Array): Promise<unknown> => level.get(k);
const mapped = nativeStatus().loaded;
if (!mapped) console.log(`  the mmap addon is not loaded (${nativeStatus().reason}): venue's "mmap" column reads with pread too`);
const reads: Record<string, number[][]> = {};
for (const absent of [false, true]) {
  reads[absent ? "absent" : "present"] = [
    await timeReads("venue", (k) => tree.get(k), absent),
    await timeReads("lmdb", (k) => lmdb.getBinary(Buffer.from(k)), absent),
    await timeReads("classic-level", levelGet, absent, true),
  ];
}
// The same present keys in a tight loop, untimed per read: throughput without the timer.
{
  const k = new Uint8Array(16);
  const loop = (get: (k: Uint8Array) => unknown): number => {
    const t0 = performance.now();
    for (let j = 0; j < READS; j++) get(keyOf(picks[j]!, k));
    return ((performance.now() - t0) * 1e3) / READS;
  };
  const ours = [loop((x) => tree.get(x)), loop((x) => tree.get(x))][1]!;
  const lm = [loop((x) => lmdb.getBinary(Buffer.from(x))), loop((x) => lmdb.getBinary(Buffer.from(x)))][1]!;
  row("present get, tight loop (µs/read)", [ours.toFixed(2), lm.toFixed(2)]);
  console.log("  (venue mmap, lmdb; the second of two loops over the same keys)");
}
console.log("  classic-level's get is async (a promise per read, awaited); the others are called synchronously; each read is timed alone (performance.now() twice, ~0.1 µs)");

// 4. Range scan: one instrument's whole history.
{
  const from = eventKey(new Uint8Array(16), 1, 3, 0, 0);
  const to = eventKey(new Uint8Array(16), 1, 4, 0, 0);
  let t0 = performance.now();
  const n = tree.scan(from, to, () => {});
  const ours = n / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let m = 0;
  for (const _ of lmdb.getRange({ start: Buffer.from(from), end: Buffer.from(to) })) m++;
  const lm = m / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  let q = 0;
  for await (const _ of level.iterator({ gte: from, lt: to })) q++;
  const lv = q / ((performance.now() - t0) / 1000);
  if (n !== m || m !== q) throw new Error(`range scan counts differ: ${n} ${m} ${q}`);
  row(`range scan, ${n} events (events/s)`, [ours, lm, lv].map((x) => `${(x / 1e6).toFixed(2)}M/s`));
}

// 5. Write amplification of ours.
const raw = N * (16 + VALUE);
const st = tree.stats;
console.log(`write amplification: ${((st.flushBytes + st.compactionBytesWritten) / raw).toFixed(2)} (flushes ${(st.flushBytes / 1e6).toFixed(0)} MB in ${st.flushes}, compactions wrote ${(st.compactionBytesWritten / 1e6).toFixed(0)} MB in ${st.compactions}, ${st.moves} tables moved down without a rewrite; raw ${(raw / 1e6).toFixed(0)} MB)`);
console.log(`levels: ${tree.levelStats().map((l, i) => `L${i} ${l.tables}`).filter((s) => !s.endsWith(" 0")).join(", ")}`);

const storeDir = tree.dir;
await tree.close();
await jobs.close();
// The same tables read with pread (the fallback where the addon is not built).
const preadTree = LsmTree.open(storeDir, { background: false, mapTables: false, partitionBytes: 5 });
for (const absent of [false, true]) reads[absent ? "absent" : "present"]!.push(await timeReads("venue pread", (k) => preadTree.get(k), absent));
preadTree.closeSync();
row("", ["venue mmap", "venue pread", "lmdb", "classic-level"]);
for (const kind of ["present", "absent"]) {
  const [ours, lm, lv, pr] = reads[kind]!;
  row(`${kind} get p50 / p99 (µs)`, [ours!, pr!, lm!, lv!].map(([a, b]) => `${a!.toFixed(2)} / ${b!.toFixed(2)}`));
}
console.log(`  targets: warm get p99 <= 3 µs via mmap, p50 at least as fast as lmdb (venue mmap/lmdb p50: ${(reads.present![1]![0]! / reads.present![0]![0]!).toFixed(2)}x)`);
lmdb.close();
await level.close();
for (const d of dirs) rmSync(d, { recursive: true, force: true });
