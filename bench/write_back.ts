/**
 * What a large file being written costs a journal commit on the same disk, by the way the
 * writer sends its bytes to the disk (temp files under .bench-out/write-back-tmp, deleted
 * at the end).
 *
 *   npx tsx bench/write_back.ts [--quick] [--rounds R] [--fsyncs F] [--rates 64,200]
 *
 * On this thread, the floor loop of bench/journal.ts: F x (a 64-byte appended write +
 * fdatasync) on a zero-filled file, with a 0.2 ms pause between them (a journal committing
 * ~4,000 groups a second). Beside it, on a worker thread, the event store's own
 * TableWriter (src/lsm/table_writer.ts) writing tables of 32 MiB (200-byte values; each
 * finished with its fsync, then removed) at a set rate in MB/s, three ways:
 *
 *   none         no writer: the floor alone;
 *   write-back   the default: pieces of 128 KiB, each one's write-out started as it is
 *                written (JournalFile.writeBack, sync_file_range through the native addon)
 *                after waiting for the piece before it; one fsync per table;
 *   sync 1 MiB   writeBackEveryBytes 0: an fdatasync every 1 MiB, the way the writer goes
 *                where the addon is missing (and the only way before write-back).
 *
 * Ways and rates alternate in R rounds (default 3); the floor's histogram gathers every
 * round. Threads: this one and the writer, neither spins. Each line reports the rate the
 * writer reached and the CPU other processes used meanwhile (/proc/stat): the machine is
 * shared. Results go to stdout and .bench-out/write_back.json.
 */

import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { closeSync, fdatasyncSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { REAL_FS } from "../src/wal/file.ts";
import { TableWriter } from "../src/lsm/table_writer.ts";
import { nativeStatus } from "../src/native/mmap.ts";
import { cpuSample, cpuUse, diskInfo, machineInfo } from "../src/bench/machine.ts";

interface WriterTask {
  dir: string;
  mbPerS: number;
  writeBackEveryBytes: number | undefined;
  /** Int32Array cell 0: set to 1 to stop. */
  stop: SharedArrayBuffer;
}

const TABLE_BYTES = 32 << 20;
const VALUE = 200;

/** The worker: tables written at `mbPerS` until told to stop; posts the bytes written. */
function writeTables(t: WriterTask): void {
  const stop = new Int32Array(t.stop);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  const key = new Uint8Array(8);
  const kv = new DataView(key.buffer);
  const value = new Uint8Array(VALUE).fill(0x5a);
  const perByte = 1000 / (t.mbPerS * 1e6); // ms a byte
  const t0 = performance.now();
  let bytes = 0;
  let n = 0;
  while (Atomics.load(stop, 0) === 0) {
    const path = join(t.dir, `t${n++}.sst`);
    const w = new TableWriter(REAL_FS, path, t.writeBackEveryBytes === undefined ? {} : { writeBackEveryBytes: t.writeBackEveryBytes });
    let i = 0;
    while (w.estimatedBytes < TABLE_BYTES && Atomics.load(stop, 0) === 0) {
      kv.setUint32(0, n);
      kv.setUint32(4, i++);
      w.add(key, 0, 8, value, 0, VALUE);
      bytes += VALUE + 8;
      if ((i & 63) === 0) {
        const ahead = t0 + bytes * perByte - performance.now();
        if (ahead > 0.05) Atomics.wait(nap, 0, 0, ahead);
      }
    }
    w.finish(1);
    rmSync(path, { force: true });
  }
  parentPort!.postMessage({ bytes, ms: performance.now() - t0 });
}

if (!isMainThread) {
  writeTables(workerData as WriterTask);
} else {
  await main();
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: "boolean", default: false }, rounds: { type: "string" }, fsyncs: { type: "string" }, rates: { type: "string" } } });
  const quick = values.quick === true;
  const int = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined) return fallback;
    const x = Number(v);
    if (!Number.isSafeInteger(x) || x < 1) throw new RangeError(`--${name}: expected a positive integer, got ${v}`);
    return x;
  };
  const rounds = int(values.rounds, quick ? 1 : 3, "rounds");
  const fsyncs = int(values.fsyncs, quick ? 200 : 2000, "fsyncs");
  const rates = (values.rates ?? (quick ? "64" : "64,200")).split(",").map((r) => int(r, 0, "rates"));
  const base = join(import.meta.dirname, "..", ".bench-out", "write-back-tmp");
  rmSync(base, { recursive: true, force: true });
  mkdirSync(base, { recursive: true });
  const native = nativeStatus();
  console.log("bench/write_back.ts: a 64-byte write + fdatasync beside a table being written");
  const m = machineInfo();
  const d = diskInfo(base);
  console.log(`  machine: ${m.cpu}, ${m.availableParallelism} cores, ${m.memoryGiB.toFixed(1)} GiB, ${m.platform}, Node ${m.node}; load average ${m.loadAverage.map((x) => x.toFixed(2)).join(" ")}`);
  console.log(`  disk: ${d.device} (${d.fsType}) at ${d.mountPoint}; write cache ${d.writeCache}, rotational ${d.rotational}`);
  console.log(`  native addon: ${native.loaded ? "loaded (write-back available)" : `not loaded (${native.reason ?? "?"}): the write-back way syncs every 1 MiB too`}`);
  console.log(`  ${fsyncs} fdatasyncs per way and rate per round, ${rounds} round(s); rates ${rates.join(", ")} MB/s; threads: 2, none spins`);

  type Way = { name: string; writeBackEveryBytes: number | undefined; rate: number };
  const ways: Way[] = [{ name: "none", writeBackEveryBytes: undefined, rate: 0 }];
  for (const rate of rates) ways.push({ name: "write-back", writeBackEveryBytes: undefined, rate }, { name: "sync 1 MiB", writeBackEveryBytes: 0, rate });
  const hist = new Map<Way, RecordableHistogram>(ways.map((w) => [w, createHistogram()]));
  const reached = new Map<Way, number[]>(ways.map((w) => [w, []]));
  const other = new Map<Way, number[]>(ways.map((w) => [w, []]));

  const floorPath = join(base, "floor");
  const fd = openSync(floorPath, "w");
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < 64; i++) writeSync(fd, zeros);
  fdatasyncSync(fd);
  const rec = Buffer.alloc(64, 1);
  const nap = new Int32Array(new SharedArrayBuffer(4));
  let pos = 0;
  const floor = (h: RecordableHistogram): void => {
    for (let i = 0; i < fsyncs; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, rec, 0, 64, pos);
      fdatasyncSync(fd);
      h.record(Number(process.hrtime.bigint() - t));
      pos = (pos + 64) % (64 << 20);
      Atomics.wait(nap, 0, 0, 0.2);
    }
  };

  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ways : [...ways].reverse();
    for (const way of order) {
      const s0 = cpuSample();
      if (way.rate === 0) {
        floor(hist.get(way)!);
      } else {
        const dir = join(base, `w${r}`);
        mkdirSync(dir, { recursive: true });
        const stop = new SharedArrayBuffer(4);
        const task: WriterTask = { dir, mbPerS: way.rate, writeBackEveryBytes: way.writeBackEveryBytes, stop };
        const worker = new Worker(new URL("./write_back_worker.mjs", import.meta.url), { workerData: task });
        const done = new Promise<{ bytes: number; ms: number }>((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        });
        Atomics.wait(nap, 0, 0, 300); // the writer under way
        floor(hist.get(way)!);
        Atomics.store(new Int32Array(stop), 0, 1);
        const { bytes, ms } = await done;
        await worker.terminate();
        reached.get(way)!.push(bytes / 1e3 / ms);
        rmSync(dir, { recursive: true, force: true });
      }
      other.get(way)!.push(cpuUse(s0, cpuSample()).otherCores);
    }
  }
  closeSync(fd);
  rmSync(base, { recursive: true, force: true });

  const us = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(0)} µs`);
  const mean = (a: number[]): number => (a.length === 0 ? 0 : a.reduce((x, y) => x + y, 0) / a.length);
  console.log("\n  floor beside the writer             p50       p99     p99.9       max   writer MB/s   other cores");
  const out: unknown[] = [];
  for (const way of ways) {
    const h = hist.get(way)!;
    const label = way.rate === 0 ? "no writer" : `${way.rate} MB/s, ${way.name}`;
    const rate = way.rate === 0 ? "" : mean(reached.get(way)!).toFixed(0);
    console.log(`  ${label.padEnd(30)} ${us(h.percentile(50)).padStart(9)} ${us(h.percentile(99)).padStart(9)} ${us(h.percentile(99.9)).padStart(9)} ${us(h.max).padStart(9)} ${rate.padStart(13)} ${mean(other.get(way)!).toFixed(2).padStart(13)}`);
    out.push({ way: way.name, rateMBps: way.rate, reachedMBps: mean(reached.get(way)!), p50Ns: h.percentile(50), p99Ns: h.percentile(99), p999Ns: h.percentile(99.9), maxNs: h.max, otherCores: mean(other.get(way)!) });
  }
  const outDir = join(import.meta.dirname, "..", ".bench-out");
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "write_back.json"), JSON.stringify({ fsyncs, rounds, native: native.loaded, results: out }, null, 2));
  console.log(`\nwrote ${join(outDir, "write_back.json")}`);
}
