/**
 * The two kinds of background work of the event store, as plain functions of their
 * request so that they run the same inline (tests) or on a piscina pool (the node): flush
 * a sealed MemTable to one table, and compact tables into new ones. Both write files that
 * no manifest names yet; on any failure they remove what they wrote and throw.
 */

import { join } from "node:path";
import { tableName } from "../schema/sstable.ts";
import { REAL_FS, type JournalFs, type SyncBatch } from "../wal/file.ts";
import { MemTable, NODE_KEY_LEN, NODE_KEY_OFF, NODE_VAL_LEN, NODE_VAL_OFF, type MemTableBuffers, type PartitionPlan } from "./memtable.ts";
import { LevelIterator, MergingIterator } from "./merge.ts";
import { readWholeTable } from "./source.ts";
import { TableReader, type EntryIterator } from "./table_reader.ts";
import { TableWriter, type TableMeta } from "./table_writer.ts";

export interface FlushRequest {
  dir: string;
  /** Table numbers to use, one per key partition the MemTable holds (see `partitionBytes`). */
  numbers: number[];
  buffers: MemTableBuffers;
  blockBytes: number;
  /** A new table starts where the first `partitionBytes` bytes of the key change (0: never). */
  partitionBytes: number;
  /**
   * Follow the skiplist even where its order can be found without it (`MemTable.flushIterator`):
   * for tests and the flush benchmark, which compare the two. The tables are the same.
   */
  followList?: boolean;
  /**
   * The most tables written at once (default FLUSH_STREAMED_TABLES_MAX); a MemTable with more
   * partitions is flushed a table at a time. For the flush benchmark, which compares the two.
   */
  streamedTablesMax?: number;
  /** Bytes between a table's write-backs (default TABLE_WRITE_BACK_EVERY_BYTES): small for the fault tests, so that small tables take that path. */
  writeBackEveryBytes?: number;
}

export interface CompactRequest {
  dir: string;
  /** Input table numbers, newest data first (level-0 tables newest first, then level n, then n + 1). */
  inputs: number[];
  /** How many of the last inputs form one level (disjoint, in key order): read as one source. */
  levelInputs: number;
  /** Output table numbers to use, in order; the job uses as many as it needs. */
  outputs: number[];
  targetFileBytes: number;
  blockBytes: number;
  /** Drop deletions: no older data below the output level can hold their keys. */
  dropDeletions: boolean;
  /** As for a flush; split only while output numbers last. */
  partitionBytes: number;
  /** As FlushRequest.writeBackEveryBytes. */
  writeBackEveryBytes?: number;
}

export interface CompactResult {
  tables: (TableMeta & { number: number })[];
  bytesRead: number;
  bytesWritten: number;
}

function samePrefix(a: Uint8Array, ao: number, al: number, b: Uint8Array, bo: number, bl: number, bytes: number): boolean {
  const n = Math.min(bytes, al, bl);
  if (n < bytes && al !== bl) return false;
  for (let i = 0; i < n; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/** The most tables a flush writes at once, reading the MemTable front to back; more partitions take the ordered path. */
export const FLUSH_STREAMED_TABLES_MAX = 64;

/**
 * A job that may write more tables than this makes them durable together, with one
 * syncfs (`JournalFs.beginSyncBatch`) instead of an fsync each, where the file layer can.
 * Each fsync flushes the device's cache: a flush of 500 instruments' events writes ~1,500
 * small tables, and their fsyncs took about 40% of its time (docs/BENCHMARKS.md, "Many
 * instruments"). A job with fewer tables keeps its fsyncs: a syncfs also waits for
 * whatever else on the file system is being written.
 */
export const SYNC_BATCH_TABLES_MIN = 16;

/** A sync batch for a job that may write `tables` tables in `dir`, or undefined (fsync each). */
function syncBatchFor(fs: JournalFs, dir: string, tables: number): SyncBatch | undefined {
  return tables > SYNC_BATCH_TABLES_MIN ? fs.beginSyncBatch?.(dir) : undefined;
}

export function runFlush(req: FlushRequest, fs: JournalFs = REAL_FS): (TableMeta & { number: number })[] {
  const mt = MemTable.attach(req.buffers);
  // One pass finds the partitions and whether each came in order; both ways of flushing in order use it.
  const plan = req.followList !== true && req.partitionBytes > 0 ? mt.partitionPlan(req.partitionBytes) : null;
  if (plan !== null && plan.sizes.length <= (req.streamedTablesMax ?? FLUSH_STREAMED_TABLES_MAX)) return flushStreamed(req, mt, plan, fs);
  const done: (TableMeta & { number: number })[] = [];
  let w: TableWriter | undefined;
  let next = 0;
  const last = new Uint8Array(req.partitionBytes);
  let lastLen = -1;
  const batch = syncBatchFor(fs, req.dir, plan?.sizes.length ?? req.numbers.length);
  const opts = { blockBytes: req.blockBytes, syncOnFinish: batch === undefined, writeBackEveryBytes: req.writeBackEveryBytes };
  try {
    const it = mt.flushIterator(req.partitionBytes, plan);
    for (it.seekFirst(); it.valid; it.next()) {
      if (w !== undefined && req.partitionBytes > 0 && !samePrefix(last, 0, lastLen, it.buf, it.keyOff, it.keyLen, req.partitionBytes)) {
        done.push({ ...w.finish(mt.maxSeq), number: req.numbers[next++]! });
        w = undefined;
      }
      if (w === undefined) {
        if (next >= req.numbers.length) throw new Error("flush ran out of table numbers");
        w = new TableWriter(fs, join(req.dir, tableName(req.numbers[next]!)), opts);
      }
      w.add(it.buf, it.keyOff, it.keyLen, it.valLen < 0 ? undefined : it.buf, it.valOff, it.valLen < 0 ? 0 : it.valLen);
      if (req.partitionBytes > 0) {
        lastLen = Math.min(it.keyLen, req.partitionBytes);
        for (let i = 0; i < lastLen; i++) last[i] = it.buf[it.keyOff + i]!;
      }
    }
    if (w !== undefined) {
      done.push({ ...w.finish(mt.maxSeq), number: req.numbers[next++]! });
      w = undefined;
    }
    batch?.commit(); // the tables' data and sizes durable (each was fsynced instead where there is no batch)
    return done;
  } catch (e) {
    w?.abort();
    for (const t of done) fs.unlink(join(req.dir, tableName(t.number)));
    throw e;
  } finally {
    batch?.close();
  }
}

/**
 * Writes every partition's table at once, taking the entries in insertion order (the order
 * the plan found to be each partition's key order): the MemTable is read front to back, each
 * entry's lines once, where a table at a time reads every partition's entries scattered
 * across the whole arena.
 */
function flushStreamed(req: FlushRequest, mt: MemTable, plan: PartitionPlan, fs: JournalFs): (TableMeta & { number: number })[] {
  const parts = plan.sizes.length;
  if (parts > req.numbers.length) throw new Error("flush ran out of table numbers");
  // 4 MiB of write buffers in all, each a power of two from 64 KiB to 1 MiB (sizes the next flush finds again).
  const outBytes = Math.max(64 << 10, Math.min(1 << 20, 2 ** Math.floor(Math.log2((4 << 20) / parts))));
  const writers: TableWriter[] = [];
  const done: (TableMeta & { number: number })[] = [];
  const batch = syncBatchFor(fs, req.dir, parts);
  try {
    for (let r = 0; r < parts; r++) writers.push(new TableWriter(fs, join(req.dir, tableName(req.numbers[r]!)), { blockBytes: req.blockBytes, outBytes, expectedEntries: plan.sizes[r]!, syncOnFinish: batch === undefined, writeBackEveryBytes: req.writeBackEveryBytes }));
    const nodes = mt.nodes;
    const arena = mt.arena;
    const { nodeAt, rankOf } = plan;
    for (let i = 0; i < nodeAt.length; i++) {
      const n = nodeAt[i]!;
      const valLen = nodes[n + NODE_VAL_LEN]!;
      writers[rankOf[i]!]!.add(arena, nodes[n + NODE_KEY_OFF]!, nodes[n + NODE_KEY_LEN]!, valLen < 0 ? undefined : arena, nodes[n + NODE_VAL_OFF]!, valLen < 0 ? 0 : valLen);
    }
    for (let r = 0; r < parts; r++) done.push({ ...writers[r]!.finish(mt.maxSeq), number: req.numbers[r]! });
    batch?.commit(); // the tables' data and sizes durable (each was fsynced instead where there is no batch)
    return done;
  } catch (e) {
    // Every file goes, each on its own: one that cannot be removed leaves the others to go.
    for (let r = done.length; r < writers.length; r++) tryQuietly(() => writers[r]!.abort());
    for (const t of done) tryQuietly(() => fs.unlink(join(req.dir, tableName(t.number))));
    throw e;
  } finally {
    batch?.close();
  }
}

/** Runs a cleanup step whose failure must not hide the error being cleaned up after. */
function tryQuietly(step: () => void): void {
  try {
    step();
  } catch {
    // The error that started the cleanup is the one thrown; a file left over is removed at the next open.
  }
}

export function runCompact(req: CompactRequest, fs: JournalFs = REAL_FS): CompactResult {
  const readers: TableReader[] = [];
  try {
    for (const n of req.inputs) {
      const path = join(req.dir, tableName(n));
      readers.push(TableReader.open(path, readWholeTable(path)));
    }
  } catch (e) {
    for (const r of readers) r.close();
    throw e;
  }
  const done: (TableMeta & { number: number })[] = [];
  let w: TableWriter | undefined;
  let maxSeq = 0;
  let batch: SyncBatch | undefined;
  try {
    batch = syncBatchFor(fs, req.dir, req.outputs.length);
    const opts = { blockBytes: req.blockBytes, syncOnFinish: batch === undefined, writeBackEveryBytes: req.writeBackEveryBytes };
    for (const r of readers) maxSeq = Math.max(maxSeq, r.meta.maxSeq);
    const bytesRead = readers.reduce((s, r) => s + r.source.size, 0);
    const split = readers.length - req.levelInputs;
    const sources: EntryIterator[] = readers.slice(0, split).map((r) => r.iterator());
    const level = readers.slice(split);
    if (level.length > 0) sources.push(new LevelIterator(level.map((r) => r.meta.largest), (i) => level[i]!.iterator()));
    const it: EntryIterator = sources.length === 1 ? sources[0]! : new MergingIterator(sources);
    let next = 0;
    const last = new Uint8Array(req.partitionBytes);
    let lastLen = -1;
    for (it.seekFirst(); it.valid; it.next()) {
      if (it.valLen < 0 && req.dropDeletions) continue;
      // A new table where the key partition changes, while numbers last.
      if (w !== undefined && req.partitionBytes > 0 && next + 1 < req.outputs.length && !samePrefix(last, 0, lastLen, it.buf, it.keyOff, it.keyLen, req.partitionBytes)) {
        done.push({ ...w.finish(maxSeq), number: req.outputs[next++]! });
        w = undefined;
      }
      if (req.partitionBytes > 0) {
        lastLen = Math.min(it.keyLen, req.partitionBytes);
        for (let i = 0; i < lastLen; i++) last[i] = it.buf[it.keyOff + i]!;
      }
      if (w === undefined) {
        if (next >= req.outputs.length) throw new Error("compaction ran out of output file numbers");
        w = new TableWriter(fs, join(req.dir, tableName(req.outputs[next]!)), opts);
      }
      w.add(it.buf, it.keyOff, it.keyLen, it.valLen < 0 ? undefined : it.buf, it.valOff, it.valLen < 0 ? 0 : it.valLen);
      if (w.estimatedBytes >= req.targetFileBytes && next + 1 < req.outputs.length) {
        done.push({ ...w.finish(maxSeq), number: req.outputs[next++]! });
        w = undefined;
      }
    }
    if (w !== undefined) {
      done.push({ ...w.finish(maxSeq), number: req.outputs[next++]! });
      w = undefined;
    }
    batch?.commit(); // the tables' data and sizes durable (each was fsynced instead where there is no batch)
    return { tables: done, bytesRead, bytesWritten: done.reduce((s, t) => s + t.fileSize, 0) };
  } catch (e) {
    w?.abort();
    for (const t of done) fs.unlink(join(req.dir, tableName(t.number)));
    throw e;
  } finally {
    batch?.close();
    for (const r of readers) r.close();
  }
}
