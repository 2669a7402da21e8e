/**
 * The event store under faults (TESTING.md 9, 12, 16):
 * - a crash at every file operation of a workload that flushes and compacts many times,
 *   followed by a simulated power cut: the store reopens, holds exactly the writes up to
 *   its flushed sequence, and that sequence never goes back;
 * - the same, with tables written back in pieces before their fsync (or sync batch), and EIO
 *   at write-backs;
 * - a full disk (ENOSPC) at every operation: the store stops taking writes with the
 *   error, and reopens consistent;
 * - a damaged table: reads fail with an error naming it or answer right, and compaction
 *   refuses it.
 */

import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TableCorruptError } from "../../src/lsm/table_reader.ts";
import { LsmTree, inlineJobs, type LsmJobs, type LsmOptions } from "../../src/lsm/tree.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import type { JournalFs } from "../../src/wal/file.ts";
import { FaultFs, SimulatedCrash } from "../wal/fault_fs.ts";
import { DeadAfterCrash, contents, expectedAt, workloadOp } from "./lsm_kit.ts";

interface Workload {
  keys: number;
  writes: number;
  opts: LsmOptions;
  /** Flush a table at a time (the path for MemTables of more partitions than are streamed at once). */
  tableAtATime?: boolean;
  /**
   * Bytes between a table's write-backs. Tables written back (the production path, in pieces
   * of 128 KiB, for tables that large) are durable only by the fsync or sync batch at their
   * end; this workload's tables are a few KiB, so they take the path only with pieces this small.
   */
  writeBack?: number;
}

/** Two partitions (the keys' first three bytes): a few tables per flush, each fsynced. */
const FEW: Workload = {
  keys: 300,
  writes: 1500,
  opts: { memtableBytes: 8192, blockBytes: 512, targetFileBytes: 4096, l1Bytes: 16384, l0Trigger: 3, partitionBytes: 3 },
};
const { keys: KEYS, writes: WRITES, opts: OPTS } = FEW;
/**
 * A partition per key (all four bytes), 40 keys: a flush or compaction writes more tables
 * than SYNC_BATCH_TABLES_MIN, which the jobs make durable with one sync batch.
 */
const MANY: Workload = { keys: 40, writes: 400, opts: { ...OPTS, partitionBytes: 4 } };

/** The jobs of the workload, run inline on `fs`. */
function jobsOf(fs: JournalFs, w: Workload): LsmJobs {
  const jobs = inlineJobs(fs);
  const wb = w.writeBack === undefined ? {} : { writeBackEveryBytes: w.writeBack };
  return {
    ...jobs,
    flush: (req) => jobs.flush({ ...req, ...wb, ...(w.tableAtATime === true ? { streamedTablesMax: 0 } : {}) }),
    compact: (req) => jobs.compact({ ...req, ...wb }),
  };
}

/** Runs the workload until it ends or the store fails; returns the flushed seq it saw last. */
async function workload(dir: string, fs: JournalFs, w: Workload = FEW): Promise<{ seenFlushed: number; error: Error | undefined }> {
  let t: LsmTree;
  try {
    t = LsmTree.open(dir, { ...w.opts, fs, jobs: jobsOf(fs, w) });
  } catch (e) {
    return { seenFlushed: 0, error: e as Error };
  }
  let seenFlushed = 0;
  for (let seq = 1; seq <= w.writes && t.error === undefined; seq++) {
    const { key, value } = workloadOp(seq, w.keys);
    if (!t.writable) await t.whenWritable();
    if (t.error !== undefined) break;
    if (value === undefined) t.delete(key, seq);
    else t.put(key, value, seq);
    seenFlushed = Math.max(seenFlushed, t.flushedSeq);
    if (seq % 97 === 0) await new Promise((r) => setImmediate(r));
  }
  if (t.error === undefined) {
    try {
      await t.flush();
      await t.idle();
    } catch {
      // t.error says what
    }
  }
  seenFlushed = Math.max(seenFlushed, t.flushedSeq);
  const error = t.error;
  await t.close();
  return { seenFlushed, error };
}

async function check(dir: string, seenFlushed: number, label: string, w: Workload = FEW): Promise<number> {
  const t = LsmTree.open(dir, w.opts);
  expect(t.flushedSeq, `${label}: flushed seq went back`).toBeGreaterThanOrEqual(seenFlushed);
  expect(contents(t), `${label}: content at flushed seq ${t.flushedSeq}`).toEqual(expectedAt(t.flushedSeq, w.keys));
  const f = t.flushedSeq;
  await t.idle(); // a compaction due from before may have started at open
  expect(contents(t), `${label}: content after the compaction at open`).toEqual(expectedAt(f, w.keys));
  await t.close();
  return f;
}

/** The workload without faults, through a fault layer that counts its operations: it must end with every write. */
async function probeRun(w: Workload): Promise<FaultFs> {
  const probe = new FaultFs();
  const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
  const clean = await workload(dir, probe, w);
  expect(clean.error).toBeUndefined();
  expect(await check(dir, clean.seenFlushed, "no fault", w)).toBe(w.writes);
  return probe;
}

/**
 * A crash at every `stride`-th of the workload's `total` operations (from a seeded start),
 * each followed by a power cut: the store reopens consistent. Returns the runs that crashed.
 */
async function crashSweep(w: Workload, total: number, r: Prng, stride: number): Promise<number> {
  let crashed = 0;
  for (let n = r.nextU32() % stride; n < total; n += stride) {
    const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
    const fault = new FaultFs();
    fault.crashAt = n;
    const res = await workload(dir, new DeadAfterCrash(fault), w);
    if (res.error !== undefined) crashed++;
    fault.powerLoss(r);
    await check(dir, res.seenFlushed, `crash at op ${n}`, w);
  }
  return crashed;
}

/** EIO at operation `n` (`what` it is): the store stops with the error and reopens consistent, with no table of the failed job left. */
async function eioAt(n: number, w: Workload, what: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
  const fault = new FaultFs();
  fault.failAt = n;
  const res = await workload(dir, fault, w);
  const label = `EIO at ${what} at op ${n}`;
  expect(res.error?.message, label).toMatch(/EIO/);
  await check(dir, res.seenFlushed, label, w);
  const t = LsmTree.open(dir, w.opts);
  await t.idle();
  expect(readdirSync(dir).filter((x) => x.endsWith(".sst")).length, label).toBe(t.levelStats().reduce((sum, l) => sum + l.tables, 0));
  await t.close();
}

describe("event store faults", () => {
  const seed = seedFromEnv();

  it(`a crash at every file operation, then a power cut: a consistent prefix (seed ${seed})`, async () => {
    console.log(`lsm faults: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const probe = new FaultFs();
    const dir0 = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
    const clean = await workload(dir0, probe);
    expect(clean.error).toBeUndefined();
    expect(await check(dir0, clean.seenFlushed, "no fault")).toBe(WRITES);
    const total = probe.ops;
    console.log(`lsm faults: ${total} file operations in the workload`);
    expect(total).toBeGreaterThan(200);
    const r = new Prng(seed);
    let crashed = 0;
    let returned = 0;
    for (let n = 0; n < total; n++) {
      const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
      const fault = new FaultFs();
      fault.crashAt = n;
      const res = await workload(dir, new DeadAfterCrash(fault));
      if (res.error !== undefined) {
        expect(res.error instanceof SimulatedCrash || (res.error.cause as Error) instanceof SimulatedCrash || /simulated crash|process is dead/.test(res.error.message), `op ${n}: ${res.error.message}`).toBe(true);
        crashed++;
      }
      returned += fault.powerLoss(r).returned;
      await check(dir, res.seenFlushed, `crash at op ${n}`);
    }
    console.log(`lsm faults: ${crashed} crashes; the power cuts brought back ${returned} removed files`);
    expect(crashed).toBeGreaterThan(total / 2);
  });

  it.each([
    ["streamed", MANY],
    ["a table at a time", { ...MANY, tableAtATime: true }],
  ] as const)(`many tables per job, made durable by one sync batch (flushes %s): a crash at every third operation, then a power cut (seed ${seed})`, async (_, w: Workload) => {
    const probe = await probeRun(w);
    // The jobs took the batch path (the fault layer's batch makes durable only what its contract says).
    expect(probe.batchCommitOps.length).toBeGreaterThan(0);
    const total = probe.ops;
    console.log(`lsm faults, many tables (${_}): ${total} file operations, ${probe.batchCommitOps.length} sync batches in the workload`);
    expect(await crashSweep(w, total, new Prng(seed ^ 0x5bd1e995), 3)).toBeGreaterThan(total / 6);
    // A commit that fails (EIO): the store stops with the error, reopens consistent, and
    // keeps no table of the failed job.
    for (const n of probe.batchCommitOps) await eioAt(n, w, "the commit");
  });

  it.each([
    ["two key partitions", { ...FEW, writeBack: 1024 }],
    ["a partition per key: sync batches", { ...MANY, writeBack: 1024 }],
  ] as const)(`tables written back in pieces (%s): a crash at every third operation, then a power cut; EIO at write-backs (seed ${seed})`, async (label, w: Workload) => {
    const probe = await probeRun(w);
    // The tables took the write-back path: several pieces each, durable only at their end.
    expect(probe.writeBacks).toBeGreaterThan(50);
    const total = probe.ops;
    console.log(`lsm faults, written back (${label}): ${total} file operations, ${probe.writeBacks} write-backs, ${probe.batchCommitOps.length} sync batches`);
    expect(await crashSweep(w, total, new Prng(seed ^ 0x2545f491), 3)).toBeGreaterThan(total / 6);
    // A write-back that fails (EIO, as sync_file_range reports a failed write-out): the job
    // fails, the store stops with the error, and reopens consistent with no stray table.
    for (const n of probe.writeBackOps.filter((_, k) => k % 10 === 0)) await eioAt(n, w, "a write-back");
  });

  it("ENOSPC at every file operation: the store stops with the error and reopens consistent", async () => {
    const probe = new FaultFs();
    await workload(mkdtempSync(join(tmpdir(), "venue-lsmf-")), probe);
    let failed = 0;
    for (let n = 0; n < probe.ops; n += 3) {
      const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
      const fault = new FaultFs();
      fault.failAt = n;
      fault.failCode = "ENOSPC";
      const res = await workload(dir, fault);
      if (res.error !== undefined) {
        expect(res.error.message, `op ${n}`).toMatch(/ENOSPC/);
        failed++;
      }
      await check(dir, res.seenFlushed, `ENOSPC at op ${n}`);
      // Nothing but live tables, the manifest and CURRENT is left behind.
      const t = LsmTree.open(dir, OPTS);
      await t.idle();
      const names = readdirSync(dir).filter((x) => x.endsWith(".sst"));
      expect(names.length, `ENOSPC at op ${n}`).toBe(t.levelStats().reduce((s, l) => s + l.tables, 0));
      await t.close();
    }
    expect(failed).toBeGreaterThan(0);
  });

  it("a damaged table: reads name it or answer right, and compaction refuses it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-lsmf-"));
    const t = LsmTree.open(dir, { ...OPTS, l0Trigger: 100 });
    for (let seq = 1; seq <= 600; seq++) {
      const { key, value } = workloadOp(seq, KEYS);
      if (value === undefined) t.delete(key, seq);
      else t.put(key, value, seq);
      if (!t.writable) await t.whenWritable();
    }
    await t.flush();
    await t.close();
    const tables = readdirSync(dir).filter((x) => x.endsWith(".sst")).sort();
    expect(tables.length).toBeGreaterThan(3);
    const victim = join(dir, tables.at(-1)!);
    const bytes = readFileSync(victim);
    bytes[100] = bytes[100]! ^ 0x40; // inside the first data block
    writeFileSync(victim, bytes);
    const want = new Map(expectedAt(600, KEYS).map((l) => l.split("=") as [string, string]));
    const u = LsmTree.open(dir, { ...OPTS, l0Trigger: 100 });
    let named = 0;
    for (let k = 0; k < KEYS; k++) {
      const key = Uint8Array.of(0x10, 0, (k >>> 8) & 0xff, k & 0xff);
      try {
        const v = u.get(key);
        expect(v === undefined ? undefined : Buffer.from(v).toString("hex")).toBe(want.get(Buffer.from(key).toString("hex")));
      } catch (e) {
        expect(e).toBeInstanceOf(TableCorruptError);
        expect((e as Error).message).toContain(victim);
        named++;
      }
    }
    expect(named).toBeGreaterThan(0);
    expect(() => contents(u)).toThrow(TableCorruptError);
    await u.close();
    // Compaction reads every input whole: it refuses, and the store keeps its tables.
    const c = LsmTree.open(dir, { ...OPTS, l0Trigger: 2 });
    c.put(Uint8Array.of(0x20), Uint8Array.of(1), 601);
    await c.flush().catch(() => {});
    await c.idle().catch(() => {});
    expect(c.error).toBeInstanceOf(TableCorruptError);
    expect(c.error!.message).toContain(tables.at(-1));
    await c.close();
    expect(readdirSync(dir).filter((x) => x.endsWith(".sst")).sort()).toEqual(expect.arrayContaining(tables));
  });
});
