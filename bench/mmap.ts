/**
 * Reading a file through the native mmap addon against pread: random 4 KiB reads from one
 * file that sits whole in the page cache, the access pattern of SSTable data-block reads.
 *
 *   npx tsx bench/mmap.ts [--quick] [--commands READS] [--rounds R] [--seed S] [--mib SIZE]
 *
 * The file (default 256 MiB; --quick: 16 MiB and 20,000 reads, a few seconds) is written
 * under .bench-out/mmap-tmp, read through once so the page cache holds it, and deleted at
 * the end. Both paths go through src/native/mmap.ts: `openReadOnly(path, { native: true })`
 * returns views of the mapping, `{ native: false }` a fresh array per read filled by
 * fs.readSync. A read is `bytes(offset, 4096)` at a random offset (not page-aligned, as
 * blocks are not) and then a touch of one byte per 64 (each cache line), so that both paths
 * pay for bringing the bytes in: a view alone costs nothing until it is read.
 *
 * Each round, per path: a warm-up pass (for mmap, every page touched once, so the measured
 * reads take no first-touch page faults: a long-lived table's steady state), a throughput
 * pass (reads/s, no timer in the loop), and a latency pass timing each read with
 * process.hrtime.bigint (ns per read, p50 and p99; the timer's own cost is measured and
 * shown beside them). Rates are the median of R rounds (default 3).
 *
 * Threads: this one only. Results go to stdout and .bench-out/mmap.json.
 */

import { closeSync, mkdirSync, openSync, readSync, rmSync, statfsSync, writeFileSync, writeSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { mappingStats, nativeStatus, openReadOnly, type ReadOnlyFile } from "../src/native/mmap.ts";
import { Prng } from "../src/stdx/prng.ts";
import { benchArgs } from "./args.ts";

const args = benchArgs({ commands: 1_000_000, quickCommands: 20_000 }, ["mib"]);
const MIB = args.extra["mib"] ?? (args.quick ? 16 : 256);
const READS = args.commands;
const READ_BYTES = 4096;
const FILE_BYTES = MIB * 1024 * 1024;
const OUT = join(import.meta.dirname, "..", ".bench-out");
const DIR = join(OUT, "mmap-tmp");
const FILE = join(DIR, "data.bin");

const status = nativeStatus();
if (!status.loaded) throw new Error(`the native mmap addon is not loaded (${status.reason ?? "?"}); build it with npm install`);

mkdirSync(DIR, { recursive: true });
const TMPFS = 0x01021994;
const fsType = statfsSync(DIR).type === TMPFS ? "tmpfs" : "a disk file system";
console.log(
  `mmap bench: ${READS.toLocaleString("en-US")} random ${READ_BYTES}-byte reads from a ${MIB} MiB file (${fsType}, page cache warm), ${args.rounds} rounds; ` +
    `${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, node ${process.version}`,
);

// The file: pseudo-random bytes, written in 1 MiB chunks, then read through once.
{
  const prng = new Prng(args.seed);
  const chunk = new Uint8Array(1 << 20);
  const words = new Uint32Array(chunk.buffer);
  const fd = openSync(FILE, "w");
  for (let written = 0; written < FILE_BYTES; written += chunk.length) {
    for (let i = 0; i < words.length; i++) words[i] = prng.nextU32();
    writeSync(fd, chunk, 0, Math.min(chunk.length, FILE_BYTES - written));
  }
  closeSync(fd);
  const rfd = openSync(FILE, "r");
  for (let at = 0; at < FILE_BYTES; at += chunk.length) readSync(rfd, chunk, 0, chunk.length, at);
  closeSync(rfd);
}

const offsets = new Float64Array(READS);
{
  const prng = new Prng(args.seed + 1);
  for (let i = 0; i < READS; i++) offsets[i] = prng.int(0, FILE_BYTES - READ_BYTES);
}

/** One read as a table reader does it: get the bytes, then look at every cache line. */
function readOnce(f: ReadOnlyFile, offset: number): number {
  const b = f.bytes(offset, READ_BYTES);
  let sum = 0;
  for (let i = 0; i < READ_BYTES; i += 64) sum += b[i]!;
  return sum;
}

let sink = 0;

function throughput(f: ReadOnlyFile): number {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < READS; i++) sink += readOnce(f, offsets[i]!);
  return READS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

function latencies(f: ReadOnlyFile): Float64Array {
  const ns = new Float64Array(READS);
  for (let i = 0; i < READS; i++) {
    const t0 = process.hrtime.bigint();
    sink += readOnce(f, offsets[i]!);
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return ns.sort();
}

function timerCost(): number {
  const ns = new Float64Array(Math.min(READS, 100_000));
  for (let i = 0; i < ns.length; i++) {
    const t0 = process.hrtime.bigint();
    ns[i] = Number(process.hrtime.bigint() - t0);
  }
  return pct(ns.sort(), 0.5);
}

function pct(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface PathResult {
  readsPerS: number[];
  p50Ns: number[];
  p99Ns: number[];
}

const paths = [
  { name: "mmap", native: true },
  { name: "pread", native: false },
] as const;
const results: Record<string, PathResult> = {};
for (const p of paths) results[p.name] = { readsPerS: [], p50Ns: [], p99Ns: [] };

for (let round = 0; round < args.rounds; round++) {
  for (const p of paths) {
    const f = openReadOnly(FILE, { native: p.native });
    if (f.mapped !== p.native) throw new Error(`${p.name}: opened on the wrong path`);
    f.advise("random");
    if (p.native) for (let at = 0; at + READ_BYTES <= FILE_BYTES; at += 4096) sink += f.bytes(at, 1)[0]!;
    for (let i = 0; i < Math.min(READS, 50_000); i++) sink += readOnce(f, offsets[i]!);
    const r = results[p.name]!;
    r.readsPerS.push(throughput(f));
    const ns = latencies(f);
    r.p50Ns.push(pct(ns, 0.5));
    r.p99Ns.push(pct(ns, 0.99));
    f.close();
  }
}
const timerNs = timerCost();
if (mappingStats().live !== 0) throw new Error("a mapping outlived its close()");

const fmt = (n: number): string => Math.round(n).toLocaleString("en-US");
console.log(`${"".padEnd(8)}${"reads/s".padStart(14)}${"ns/read".padStart(10)}${"p50 ns".padStart(10)}${"p99 ns".padStart(10)}`);
const summary: Record<string, { readsPerS: number; meanNs: number; p50Ns: number; p99Ns: number }> = {};
for (const p of paths) {
  const r = results[p.name]!;
  const rate = median(r.readsPerS);
  summary[p.name] = { readsPerS: rate, meanNs: 1e9 / rate, p50Ns: median(r.p50Ns), p99Ns: median(r.p99Ns) };
  const s = summary[p.name]!;
  console.log(`${p.name.padEnd(8)}${fmt(s.readsPerS).padStart(14)}${fmt(s.meanNs).padStart(10)}${fmt(s.p50Ns).padStart(10)}${fmt(s.p99Ns).padStart(10)}`);
}
const speedup = summary["mmap"]!.readsPerS / summary["pread"]!.readsPerS;
console.log(`mmap is ${speedup.toFixed(1)}x pread in reads/s; p50/p99 include the timer itself (~${fmt(timerNs)} ns a pair of hrtime reads). (checksum ${sink % 1000})`);

writeFileSync(
  join(OUT, "mmap.json"),
  `${JSON.stringify({ reads: READS, readBytes: READ_BYTES, fileMiB: MIB, rounds: args.rounds, cores: cpus().length, node: process.version, timerNs, results: summary }, null, 2)}\n`,
);
rmSync(DIR, { recursive: true, force: true });
