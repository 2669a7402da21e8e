/**
 * The LSM tree: writes go to the active MemTable; a full one is sealed and flushed to a
 * level-0 table by a background job while a fresh one takes writes; leveled compaction
 * keeps reads bounded (level 0 compacts into level 1 at `l0Trigger` tables, level n into
 * n + 1 when it holds more than `l1Bytes * 10^(n-1)`). The manifest names the live tables;
 * a job's output becomes live only through a durable manifest edit, and a table it
 * replaces is deleted only when no open iterator still reads it.
 *
 * One thread owns a tree: writes, reads and the manifest. Jobs run wherever `jobs` runs
 * them (inline or on a worker pool); their results are installed back on this thread.
 *
 * Failures: a flush or compaction that fails (a full disk, a damaged input table) stops
 * the tree taking writes (`error` says why; reads go on). Nothing the manifest names is
 * ever incomplete, so a restart finds a consistent store; the events after its
 * `flushedSeq` come back from the journal.
 */

import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { compareBytes, comparePrefixWords, filterHash, prefixWords, tableName, tableNumber } from "../schema/sstable.ts";
import { assert } from "../stdx/assert.ts";
import { VenueError } from "../stdx/errors.ts";
import { copyOut } from "../stdx/copy.ts";
import { REAL_FS, type JournalFs } from "../wal/file.ts";
import { runCompact, runFlush, type CompactRequest, type CompactResult, type FlushRequest } from "./jobs.ts";
import { Manifest, ManifestCorruptError, toEntry, type LiveFile } from "./manifest.ts";
import { MemTable } from "./memtable.ts";
import { LevelIterator, MergingIterator } from "./merge.ts";
import { openTableSource } from "./source.ts";
import { nativeStatus } from "../native/mmap.ts";
import { DELETED, TableReader, type EntryIterator } from "./table_reader.ts";
import type { TableMeta } from "./table_writer.ts";

/** Where background jobs run. */
export interface LsmJobs {
  flush(req: FlushRequest): Promise<(TableMeta & { number: number })[]>;
  compact(req: CompactRequest): Promise<CompactResult>;
  close(): Promise<void>;
}

/** Runs jobs on the calling thread (tests, tools): each job completes before its promise. */
export function inlineJobs(fs: JournalFs = REAL_FS): LsmJobs {
  return {
    flush: async (req) => runFlush(req, fs),
    compact: async (req) => runCompact(req, fs),
    close: async () => {},
  };
}

export interface LsmOptions {
  /** MemTable size at which it is sealed and flushed (default 32 MiB). */
  memtableBytes?: number;
  /** Data block payload target (default 4 KiB). */
  blockBytes?: number;
  /** Compaction output table size target (default 16 MiB). */
  targetFileBytes?: number;
  /** Level 1's size limit; each deeper level holds 10x the one above (default 64 MiB). */
  l1Bytes?: number;
  /** Level-0 tables that trigger a compaction (default 4). */
  l0Trigger?: number;
  /**
   * Key partitions: tables never span two values of a key's first `partitionBytes` bytes
   * (default 0: no partitions). Where keys rise within a partition (the event store's
   * topic and instrument), a new table overlaps no older one of its partition, and
   * compaction moves it down the levels instead of rewriting it.
   */
  partitionBytes?: number;
  /** Sealed MemTables waiting for a flush beyond which `writable` turns false (default 2). */
  maxImmutable?: number;
  jobs?: LsmJobs;
  /**
   * Background work (default true). Without it nothing is flushed or compacted unless
   * `flushSync` is called: for a writer that must not yield (a replay at start).
   */
  background?: boolean;
  /** Called when a MemTable is sealed; its value is recorded with that MemTable's flush. */
  markOf?: () => unknown;
  fs?: JournalFs;
  log?: (line: string) => void;
  /** Read tables through the mmap addon (true), with pread (false), or the addon if it loaded (default). */
  mapTables?: boolean;
  /**
   * Tables kept open for reads: each open table is a mapping (or, read with pread, a
   * descriptor), and a process has a limited number of either. Past it the least recently
   * read tables that no cursor holds are closed (down to 7/8 of it) and opened again when
   * next read. Default: 20,000 mapped tables (Linux allows 65,530 mappings a process,
   * `vm.max_map_count`), 1,000 read with pread (descriptor limits are often 1,024).
   */
  maxOpenTables?: number;
}

export class StoreFailedError extends VenueError {
  override readonly name = "StoreFailedError";
}

const LEVELS = 7;
/** Default caps on open tables (LsmOptions.maxOpenTables). */
const MAX_OPEN_MAPPED = 20_000;
const MAX_OPEN_PREAD = 1_000;

export interface LsmStats {
  flushes: number;
  compactions: number;
  /** Tables moved down a level without a rewrite. */
  moves: number;
  /** Rotations that reused a flushed MemTable's buffers instead of new ones. */
  memtablesReused: number;
  /** Tables opened for reads, and closed again to keep under `maxOpenTables`. */
  tablesOpened: number;
  tablesEvicted: number;
  /** Bytes of tables written by flushes and by compactions, and read by compactions. */
  flushBytes: number;
  compactionBytesWritten: number;
  compactionBytesRead: number;
  levels: { tables: number; bytes: number }[];
}

export class LsmTree {
  private active: MemTable;
  /** Sealed MemTables, oldest first, each flushed in turn. */
  private readonly immutable: MemTable[] = [];
  private readonly marks: unknown[] = [];
  private levels: LiveFile[][] = [];
  /**
   * For point reads, per level from 1 on: the first 16 bytes of each file's largest key as
   * four big-endian words (zero-padded), so the search for a key's file compares words in
   * one dense array; and each file's reader once looked up. Rebuilt with the levels.
   */
  private levelLargest: Uint32Array[] = [];
  private levelReaders: (TableReader | undefined)[][] = [];
  private readonly readers = new Map<number, TableReader>();
  /** Reads so far: each open table's `lastUse` is the count at its last read, what eviction goes by. */
  private useTick = 0;
  /** `readers.size` past which the next open evicts (above `maxOpenTables` while cursors hold more). */
  private evictAbove: number;
  private readonly pins = new Map<number, number>();
  /** Open cursors per MemTable they read: a flushed table still read is not reused. */
  private readonly tablePins = new Map<MemTable, number>();
  /** A flushed MemTable kept, emptied, for the next rotation (its pages already faulted in). */
  private spare: MemTable | undefined;
  private readonly obsolete = new Set<number>();
  private readonly compactPointer: (Uint8Array | undefined)[] = new Array(LEVELS).fill(undefined);
  private nextNumber: number;
  private flushing: Promise<void> | undefined;
  private compacting: Promise<void> | undefined;
  private failure: Error | undefined;
  private closed = false;
  private readonly waiters: (() => void)[] = [];
  readonly stats: LsmStats = { flushes: 0, compactions: 0, moves: 0, memtablesReused: 0, tablesOpened: 0, tablesEvicted: 0, flushBytes: 0, compactionBytesWritten: 0, compactionBytesRead: 0, levels: [] };

  /** The arena bytes of each MemTable (its size threshold). */
  readonly memtableBytes: number;
  private readonly blockBytes: number;
  private readonly targetFileBytes: number;
  private readonly l1Bytes: number;
  private readonly l0Trigger: number;
  private readonly partitionBytes: number;
  private readonly maxImmutable: number;
  private readonly jobs: LsmJobs;
  private readonly fs: JournalFs;
  private readonly log: (line: string) => void;
  private readonly background: boolean;
  private readonly markOf: (() => unknown) | undefined;
  private readonly mapTables: boolean | undefined;
  private readonly maxOpenTables: number;

  private constructor(readonly dir: string, private readonly manifest: Manifest, o: LsmOptions) {
    this.memtableBytes = o.memtableBytes ?? 32 << 20;
    this.blockBytes = o.blockBytes ?? 4096;
    this.targetFileBytes = o.targetFileBytes ?? 16 << 20;
    this.l1Bytes = o.l1Bytes ?? 64 << 20;
    this.l0Trigger = o.l0Trigger ?? 4;
    this.partitionBytes = o.partitionBytes ?? 0;
    this.maxImmutable = o.maxImmutable ?? 2;
    this.fs = o.fs ?? REAL_FS;
    this.jobs = o.jobs ?? inlineJobs(this.fs);
    this.log = o.log ?? (() => {});
    this.background = o.background ?? true;
    this.markOf = o.markOf;
    this.mapTables = o.mapTables;
    const mapped = o.mapTables ?? nativeStatus().loaded;
    this.maxOpenTables = o.maxOpenTables ?? (mapped ? MAX_OPEN_MAPPED : MAX_OPEN_PREAD);
    assert(Number.isInteger(this.maxOpenTables) && this.maxOpenTables >= 1, `maxOpenTables must be a positive integer, not ${this.maxOpenTables}`);
    this.evictAbove = this.maxOpenTables;
    this.active = MemTable.create(this.memtableBytes, this.partitionBytes);
    this.nextNumber = manifest.state.nextFile;
    this.rebuildLevels();
    this.schedule(); // a compaction may be due from before a restart
  }

  /**
   * Opens the store in `dir` (which must exist), or starts an empty one. Checks that every
   * table the manifest names is present with its recorded size, and removes files no
   * manifest names (left by a crash during a flush or compaction).
   */
  static open(dir: string, o: LsmOptions = {}): LsmTree {
    const fs = o.fs ?? REAL_FS;
    const log = o.log ?? (() => {});
    const manifest = Manifest.open(dir, fs, log);
    const live = manifest.state.files;
    for (const name of readdirSync(dir)) {
      const n = tableNumber(name);
      if ((n >= 0 && !live.has(n)) || name.endsWith(".sst.tmp")) {
        log(`event store: removed ${name}, which no manifest edit names (left by an interrupted flush or compaction)`);
        fs.unlink(join(dir, name));
      }
    }
    for (const f of live.values()) {
      const path = join(dir, tableName(f.number));
      let size = -1;
      try {
        size = statSync(path).size;
      } catch {
        throw new ManifestCorruptError(manifest.path, 0, `it names ${tableName(f.number)}, which is missing`);
      }
      if (size !== f.size) throw new ManifestCorruptError(manifest.path, 0, `it names ${tableName(f.number)} of ${f.size} bytes; the file has ${size}`);
    }
    return new LsmTree(dir, manifest, o);
  }

  /** Every write up to this sequence is in a live table. */
  get flushedSeq(): number {
    return this.manifest.state.flushedSeq;
  }

  /** The mark recorded with the last flush (see `markOf`). */
  get flushedMark(): unknown {
    return this.manifest.state.mark;
  }

  /** Why the tree stopped taking writes, if it did. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** False while flushes lag behind writes: the writer should wait (`whenWritable`). */
  /** Arena bytes the active MemTable holds. */
  get memtableBytesUsed(): number {
    return this.active.bytesUsed;
  }

  /** Sealed MemTables waiting to be flushed. */
  get sealedMemtables(): number {
    return this.immutable.length;
  }

  get writable(): boolean {
    return this.immutable.length < this.maxImmutable;
  }

  put(key: Uint8Array, value: Uint8Array, seq = 0): void {
    this.write(key, value, 0, value.length, seq);
  }

  /** As `put`, with the value `length` bytes of `buf` from `offset` (no view made of them). */
  putRange(key: Uint8Array, buf: Uint8Array, offset: number, length: number, seq = 0): void {
    this.write(key, buf, offset, length, seq);
  }

  delete(key: Uint8Array, seq = 0): void {
    this.write(key, undefined, 0, 0, seq);
  }

  private write(key: Uint8Array, value: Uint8Array | undefined, valueOff: number, vlen: number, seq: number): void {
    if (this.failure !== undefined) throw new StoreFailedError("STORE_FAILED", `event store ${this.dir} takes no writes: ${this.failure.message}`, { cause: this.failure });
    assert(!this.closed, "the event store is closed");
    if (this.active.put(key, 0, key.length, value, valueOff, vlen, seq)) return;
    assert(this.active.entries > 0, `an entry of ${key.length + vlen} bytes does not fit an empty MemTable`);
    assert(this.immutable.length <= this.maxImmutable + 4, "writes outpace flushes: the writer must wait while the store is not writable");
    this.rotate();
    assert(this.active.put(key, 0, key.length, value, valueOff, vlen, seq), `an entry of ${key.length + vlen} bytes does not fit an empty MemTable`);
  }

  /**
   * The value of `key` (a copy: a Buffer that may share its ArrayBuffer with other small
   * buffers, as Node's pooled ones do), or undefined.
   */
  get(key: Uint8Array): Uint8Array | undefined {
    const v = this.lookup(key, true);
    return v === DELETED ? undefined : v;
  }

  /** The value of `key` (a view, or a copy when `copy`), DELETED, or undefined. */
  private lookup(key: Uint8Array, copy = false): Uint8Array | undefined {
    // (An empty MemTable, as the active one is after a flush, is not searched.)
    let v = this.active.entries === 0 ? undefined : this.active.get(key);
    if (v !== undefined) return copy && v !== DELETED ? copyOut(v, 0, v.length) : v;
    for (let i = this.immutable.length - 1; i >= 0; i--) {
      v = this.immutable[i]!.get(key);
      if (v !== undefined) return copy && v !== DELETED ? copyOut(v, 0, v.length) : v;
    }
    const hash = filterHash(key, 0, key.length);
    for (const f of this.levels[0]!) {
      if (!inRange(f, key)) continue;
      v = this.reader(f.number).get(key, hash, copy);
      if (v !== undefined) return v;
    }
    loadWords(key);
    for (let l = 1; l < LEVELS; l++) {
      const files = this.levels[l]!;
      if (files.length === 0) continue;
      const i = firstLargestAtLeastWords(this.levelLargest[l]!, files, key);
      if (i < files.length && compareBytes(files[i]!.smallest, 0, files[i]!.smallest.length, key, 0, key.length) <= 0) {
        const readers = this.levelReaders[l]!;
        let r = readers[i];
        if (r === undefined || r.isClosed) r = readers[i] = this.reader(files[i]!.number);
        else r.lastUse = ++this.useTick;
        v = r.get(key, hash, copy);
        if (v !== undefined) return v;
      }
    }
    return undefined;
  }

  /**
   * Calls `fn` with each live entry whose key is in [from, to) (`to` undefined: to the
   * end), in key order, until it returns false. The views are valid during the call only.
   * Returns how many entries it visited.
   */
  scan(from: Uint8Array, to: Uint8Array | undefined, fn: (key: Uint8Array, value: Uint8Array) => boolean | void): number {
    const c = this.cursor(from, to);
    let n = 0;
    try {
      for (; c.valid; c.next()) {
        n++;
        if (fn(c.key, c.value) === false) break;
      }
    } finally {
      c.close();
    }
    return n;
  }

  /** Every live entry whose key starts with `prefix`. */
  scanPrefix(prefix: Uint8Array, fn: (key: Uint8Array, value: Uint8Array) => boolean | void): number {
    return this.scan(prefix, prefixEnd(prefix), fn);
  }

  /**
   * A cursor over [from, to) that may live across awaits: the tables it reads are kept
   * until `close`. MemTable entries written after it was opened may or may not be seen.
   */
  cursor(from: Uint8Array, to: Uint8Array | undefined): StoreCursor {
    // Only the tables whose keys may fall in [from, to): a store of thousands of small
    // tables (many instruments) would otherwise pin and open every one for a short scan.
    const wanted = (f: LiveFile): boolean =>
      compareBytes(f.largest, 0, f.largest.length, from, 0, from.length) >= 0 && (to === undefined || compareBytes(f.smallest, 0, f.smallest.length, to, 0, to.length) < 0);
    const levels = this.levels.map((files) => files.filter(wanted));
    const files = levels.flat();
    for (const f of files) this.pins.set(f.number, (this.pins.get(f.number) ?? 0) + 1);
    const tables = [this.active, ...this.immutable];
    for (const t of tables) this.tablePins.set(t, (this.tablePins.get(t) ?? 0) + 1);
    const children: EntryIterator[] = [this.active.iterator()];
    for (let i = this.immutable.length - 1; i >= 0; i--) children.push(this.immutable[i]!.iterator());
    for (const f of levels[0]!) children.push(this.reader(f.number).iterator());
    for (let l = 1; l < LEVELS; l++) {
      const level = levels[l]!;
      if (level.length === 0) continue;
      children.push(new LevelIterator(level.map((f) => f.largest), (i) => this.reader(level[i]!.number).iterator()));
    }
    const it = new MergingIterator(children);
    it.seek(from);
    return new StoreCursor(it, to, () => {
      for (const f of files) this.unpin(f.number);
      for (const t of tables) {
        const c = this.tablePins.get(t)! - 1;
        if (c === 0) this.tablePins.delete(t);
        else this.tablePins.set(t, c);
      }
      // The tables it held open past the cap may close now.
      if (this.readers.size > this.maxOpenTables && !this.closed) this.evict();
    });
  }

  /** Seals the active MemTable (if it holds anything) and waits until every sealed one is flushed. */
  async flush(): Promise<void> {
    if (this.active.entries > 0) this.rotate();
    while (this.immutable.length > 0 && this.failure === undefined) await this.nextChange();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits until no job runs and none is due. */
  async idle(): Promise<void> {
    while ((this.flushing !== undefined || this.compacting !== undefined) && this.failure === undefined) await this.nextChange();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Resolves when `writable` (or the tree has failed). */
  async whenWritable(): Promise<void> {
    while (!this.writable && this.failure === undefined) await this.nextChange();
  }

  /** Waits for running jobs, then closes the manifest and the tables. Unflushed MemTable entries are dropped (the journal has them). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([this.flushing, this.compacting]);
    this.manifest.close();
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }

  /**
   * Records the current mark (`markOf`) in the manifest on its own, with nothing to flush:
   * for a mark that moved after the last flush (a clean stop).
   */
  recordMark(): void {
    assert(this.active.entries === 0 && this.immutable.length === 0, "recordMark is for a tree with nothing left to flush");
    if (this.markOf !== undefined) this.manifest.record({ mark: this.markOf() });
  }

  /** Tables open for reads now (see `maxOpenTables`). */
  get openTables(): number {
    return this.readers.size;
  }

  /** Tables per level and their bytes, fresh. */
  levelStats(): { tables: number; bytes: number }[] {
    return this.levels.map((l) => ({ tables: l.length, bytes: l.reduce((s, f) => s + f.size, 0) }));
  }

  private rotate(): void {
    this.active.seal();
    this.immutable.push(this.active);
    this.marks.push(this.markOf?.());
    if (this.spare !== undefined) this.stats.memtablesReused++;
    this.active = this.spare ?? MemTable.create(this.memtableBytes, this.partitionBytes);
    this.spare = undefined;
    this.schedule();
  }

  /**
   * Seals the active MemTable and flushes every sealed one on this thread, now; with
   * `sealedOnly`, flushes the sealed ones and leaves the active one filling (as the
   * background does). Only for a tree opened without background work.
   */
  flushSync(sealedOnly = false): void {
    assert(!this.background && this.flushing === undefined, "flushSync is for a tree without background work");
    if (!sealedOnly && this.active.entries > 0) this.rotate();
    while (this.immutable.length > 0) {
      const mt = this.immutable[0]!;
      this.install(mt, runFlush(this.flushRequest(mt), this.fs));
    }
  }

  /** Closes a tree opened without background work. */
  closeSync(): void {
    assert(!this.background, "closeSync is for a tree without background work");
    this.closed = true;
    this.manifest.close();
    for (const r of this.readers.values()) r.close();
    this.readers.clear();
  }

  private flushRequest(mt: MemTable): FlushRequest {
    const parts = mt.partitions;
    const numbers = Array.from({ length: parts }, () => this.nextNumber++);
    return { dir: this.dir, numbers, buffers: mt.buffers, blockBytes: this.blockBytes, partitionBytes: this.partitionBytes };
  }

  private install(mt: MemTable, tables: (TableMeta & { number: number })[]): void {
    this.fs.fsyncDir(this.dir);
    const add = tables.map((t) => toEntry({ number: t.number, level: 0, size: t.fileSize, entries: t.entries, deletions: t.deletions, smallest: t.smallest, largest: t.largest, maxSeq: t.maxSeq }));
    const mark = this.marks[0];
    this.manifest.record({ add, nextFile: this.nextNumber, flushedSeq: Math.max(this.manifest.state.flushedSeq, mt.maxSeq), ...(mark !== undefined ? { mark } : {}) });
    this.immutable.shift();
    this.marks.shift();
    // The flush has ended, so no other thread reads the table; a cursor may still.
    if (this.spare === undefined && !this.tablePins.has(mt)) {
      mt.reset();
      this.spare = mt;
    }
    this.rebuildLevels();
    this.stats.flushes++;
    for (const t of tables) this.stats.flushBytes += t.fileSize;
  }

  private schedule(): void {
    if (this.failure !== undefined || this.closed || !this.background) return;
    if (this.flushing === undefined && this.immutable.length > 0) this.flushing = this.runFlush(this.immutable[0]!);
    if (this.compacting === undefined) {
      const pick = this.pickCompaction();
      if (pick !== undefined) this.compacting = this.runCompaction(pick);
    }
  }

  private async runFlush(mt: MemTable): Promise<void> {
    try {
      const tables = await this.jobs.flush(this.flushRequest(mt));
      this.install(mt, tables);
    } catch (e) {
      this.fail("a flush", e);
    } finally {
      this.flushing = undefined;
      this.changed();
      this.schedule();
    }
  }

  private async runCompaction(pick: Compaction): Promise<void> {
    if (pick.kind === "move") {
      try {
        this.applyMove(pick);
      } catch (e) {
        this.fail("a compaction", e);
      } finally {
        // Settle first: the next pick runs from a fresh call, not inside this one.
        await Promise.resolve();
        this.compacting = undefined;
        this.changed();
        this.schedule();
      }
      return;
    }
    try {
      this.applyMerge(pick, await this.jobs.compact(this.compactRequest(pick)));
    } catch (e) {
      this.fail("a compaction", e);
    } finally {
      this.compacting = undefined;
      this.changed();
      this.schedule();
    }
  }

  /**
   * Runs on this thread the compactions the tree would run in the background, until none is
   * due or merges have read `maxBytes` (a move reads nothing), and returns how many ran. For
   * a tree without background work, at the end of a start's replay: starts in a row that
   * each end before the background has caught up (a node that keeps crashing) would
   * otherwise leave ever more small tables, each an open file and a mapping once read.
   */
  compactSync(maxBytes = 64 << 20): number {
    assert(!this.background && this.compacting === undefined, "compactSync is for a tree without background work");
    let ran = 0;
    let read = 0;
    for (let pick = this.pickCompaction(); pick !== undefined && read < maxBytes; pick = this.pickCompaction()) {
      if (pick.kind === "move") this.applyMove(pick);
      else {
        this.applyMerge(pick, runCompact(this.compactRequest(pick), this.fs));
        read += pick.inputBytes;
      }
      ran++;
    }
    return ran;
  }

  private applyMove(pick: Compaction): void {
    this.manifest.record({ del: pick.inputs.map((f) => f.number), add: pick.inputs.map((f) => toEntry({ ...f, level: pick.outputLevel })) });
    this.rebuildLevels();
    this.stats.moves += pick.inputs.length;
  }

  /** A merge's job, with the file numbers its outputs may take. */
  private compactRequest(pick: Compaction): CompactRequest {
    const budget = Math.ceil(pick.inputBytes / this.targetFileBytes) + 2 + (this.partitionBytes > 0 ? 2 * pick.inputs.length : 0);
    return {
      dir: this.dir,
      inputs: pick.inputs.map((f) => f.number),
      levelInputs: pick.levelInputs,
      outputs: Array.from({ length: budget }, () => this.nextNumber++),
      targetFileBytes: this.targetFileBytes,
      blockBytes: this.blockBytes,
      dropDeletions: pick.dropDeletions,
      partitionBytes: this.partitionBytes,
    };
  }

  /** Installs a merge's tables in place of its inputs (which go once nothing reads them). */
  private applyMerge(pick: Compaction, r: CompactResult): void {
    this.fs.fsyncDir(this.dir);
    const add = r.tables.map((t) => toEntry({ number: t.number, level: pick.outputLevel, size: t.fileSize, entries: t.entries, deletions: t.deletions, smallest: t.smallest, largest: t.largest, maxSeq: t.maxSeq }));
    this.manifest.record({ add, del: pick.inputs.map((f) => f.number), nextFile: this.nextNumber });
    for (const f of pick.inputs) this.retire(f.number);
    this.rebuildLevels();
    this.stats.compactions++;
    this.stats.compactionBytesRead += r.bytesRead;
    this.stats.compactionBytesWritten += r.bytesWritten;
  }

  private pickCompaction(): Compaction | undefined {
    let best = -1;
    let bestScore = 1;
    for (let l = 0; l < LEVELS - 1; l++) {
      const files = this.levels[l]!;
      const score = l === 0 ? files.length / this.l0Trigger : files.reduce((s, f) => s + f.size, 0) / (this.l1Bytes * 10 ** (l - 1));
      if (score >= bestScore) {
        best = l;
        bestScore = score;
      }
    }
    if (best < 0) return this.pickSmallRun();
    const down = this.levels[best + 1]!;
    let inputs: LiveFile[];
    if (best === 0) {
      // Level-0 tables that overlap no other level-0 table and nothing in level 1 move down
      // as they are (with partitioned rising keys, that is most of them).
      const l0 = this.levels[0]!;
      const movable = l0.filter((f) => !l0.some((g) => g !== f && overlaps(g, f.smallest, f.largest)) && !down.some((g) => overlaps(g, f.smallest, f.largest)));
      if (movable.length > 0) return { kind: "move", inputs: movable, levelInputs: 0, outputLevel: 1, dropDeletions: false, inputBytes: 0 };
      inputs = [...l0];
    } else {
      const files = this.levels[best]!;
      const ptr = this.compactPointer[best];
      let i = 0;
      if (ptr !== undefined) i = Math.max(0, files.findIndex((x) => compareBytes(x.smallest, 0, x.smallest.length, ptr, 0, ptr.length) > 0));
      const f = files[i]!;
      this.compactPointer[best] = f.largest;
      if (!down.some((g) => overlaps(g, f.smallest, f.largest))) {
        // Move it, and the tables after it that overlap nothing below either, up to the excess.
        const limit = this.l1Bytes * 10 ** (best - 1);
        let excess = files.reduce((s, x) => s + x.size, 0) - limit;
        const moving: LiveFile[] = [];
        for (let j = i; j < files.length && excess > 0; j++) {
          const x = files[j]!;
          if (down.some((g) => overlaps(g, x.smallest, x.largest))) break;
          moving.push(x);
          excess -= x.size;
          this.compactPointer[best] = x.largest;
        }
        return { kind: "move", inputs: moving, levelInputs: 0, outputLevel: best + 1, dropDeletions: false, inputBytes: 0 };
      }
      inputs = [f];
    }
    let lo = inputs[0]!.smallest;
    let hi = inputs[0]!.largest;
    for (const f of inputs) {
      if (compareBytes(f.smallest, 0, f.smallest.length, lo, 0, lo.length) < 0) lo = f.smallest;
      if (compareBytes(f.largest, 0, f.largest.length, hi, 0, hi.length) > 0) hi = f.largest;
    }
    const below = down.filter((f) => overlaps(f, lo, hi));
    let dropDeletions = true;
    for (let l = best + 2; l < LEVELS && dropDeletions; l++) if (this.levels[l]!.some((f) => overlaps(f, lo, hi))) dropDeletions = false;
    const all = [...inputs, ...below];
    return { kind: "merge", inputs: all, levelInputs: below.length, outputLevel: best + 1, dropDeletions, inputBytes: all.reduce((s, f) => s + f.size, 0) };
  }

  /**
   * Tables moved down whole stay as small as their flush made them: merge a run of at least
   * `SMALL_RUN` adjacent small tables of one level (and one partition) into one, in place.
   */
  private pickSmallRun(): Compaction | undefined {
    const small = this.targetFileBytes / 4;
    for (let l = 1; l < LEVELS; l++) {
      const files = this.levels[l]!;
      let start = 0;
      let bytes = 0;
      for (let j = 0; j <= files.length; j++) {
        const f = files[j];
        const isSmall = f !== undefined && f.size < small;
        if (isSmall && (j === start || this.samePartition(files[start]!, f)) && bytes + f.size <= this.targetFileBytes) {
          bytes += f.size;
          continue;
        }
        if (j - start >= SMALL_RUN) {
          const run = files.slice(start, j);
          return { kind: "merge", inputs: run, levelInputs: run.length, outputLevel: l, dropDeletions: false, inputBytes: bytes };
        }
        start = isSmall ? j : j + 1;
        bytes = isSmall ? f.size : 0;
      }
    }
    return undefined;
  }

  private samePartition(a: LiveFile, b: LiveFile): boolean {
    const n = this.partitionBytes;
    if (n === 0) return true;
    if (a.smallest.length < n || b.largest.length < n) return false;
    return compareBytes(a.smallest, 0, n, b.largest, 0, n) === 0;
  }

  private rebuildLevels(): void {
    const levels: LiveFile[][] = Array.from({ length: LEVELS }, () => []);
    for (const f of this.manifest.state.files.values()) levels[f.level]!.push(f);
    levels[0]!.sort((a, b) => b.number - a.number);
    for (let l = 1; l < LEVELS; l++) levels[l]!.sort((a, b) => compareBytes(a.smallest, 0, a.smallest.length, b.smallest, 0, b.smallest.length));
    this.levels = levels;
    this.levelLargest = levels.map((files) => {
      const words = new Uint32Array(4 * files.length);
      files.forEach((f, i) => prefixWords(f.largest, 0, f.largest.length, words, 4 * i));
      return words;
    });
    this.levelReaders = levels.map((files) => new Array<TableReader | undefined>(files.length).fill(undefined));
    this.stats.levels = this.levelStats();
  }

  private reader(n: number): TableReader {
    let r = this.readers.get(n);
    if (r === undefined) {
      if (this.readers.size >= this.evictAbove) this.evict();
      const path = join(this.dir, tableName(n));
      r = TableReader.open(path, openTableSource(path, this.mapTables === undefined ? undefined : { native: this.mapTables }));
      this.readers.set(n, r);
      this.stats.tablesOpened++;
    }
    r.lastUse = ++this.useTick;
    return r;
  }

  /**
   * Closes the least recently read open tables that no cursor holds, down to 7/8 of
   * `maxOpenTables` (a batch, so that the sort is paid once per many opens). A pinned table
   * stays open: its cursor reads views of its mapping, which a close would detach. Point
   * reads copy what they return, so closing a table they read before is safe.
   */
  private evict(): void {
    const target = this.maxOpenTables - (this.maxOpenTables >> 3) - 1;
    const free: [number, TableReader][] = [];
    for (const e of this.readers) if (!this.pins.has(e[0])) free.push(e);
    free.sort((a, b) => a[1].lastUse - b[1].lastUse);
    for (let i = 0; i < free.length && this.readers.size > target; i++) {
      const [n, r] = free[i]!;
      r.close();
      this.readers.delete(n);
      this.stats.tablesEvicted++;
    }
    // Cursors may hold more than the cap: evict again only after another eighth is opened.
    this.evictAbove = Math.max(this.maxOpenTables, this.readers.size + (this.maxOpenTables >> 3) + 1);
  }

  private retire(n: number): void {
    this.obsolete.add(n);
    this.collect(n);
  }

  private unpin(n: number): void {
    const c = (this.pins.get(n) ?? 1) - 1;
    if (c === 0) this.pins.delete(n);
    else this.pins.set(n, c);
    this.collect(n);
  }

  /** Deletes a replaced table once nothing reads it. */
  private collect(n: number): void {
    if (!this.obsolete.has(n) || this.pins.has(n)) return;
    this.obsolete.delete(n);
    this.readers.get(n)?.close();
    this.readers.delete(n);
    this.fs.unlink(join(this.dir, tableName(n)));
  }

  private fail(what: string, e: unknown): void {
    const err = e instanceof Error ? e : new Error(String(e));
    if (this.failure === undefined) {
      this.failure = err;
      this.log(`event store: ${what} failed; the store takes no more writes: ${err.message}`);
    }
  }

  private nextChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private changed(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const SMALL_RUN = 8;

interface Compaction {
  /** A merge rewrites its inputs into `outputLevel`; a move only records them there. */
  kind: "merge" | "move";
  inputs: LiveFile[];
  /** The last `levelInputs` inputs are the output level's tables, in key order. */
  levelInputs: number;
  outputLevel: number;
  dropDeletions: boolean;
  inputBytes: number;
}

/** A pinned cursor over the store; `close` releases its tables. */
export class StoreCursor {
  private released = false;
  private done = false;

  constructor(private readonly it: EntryIterator, private readonly to: Uint8Array | undefined, private readonly release: () => void) {
    this.skip();
  }

  get valid(): boolean {
    return !this.done;
  }

  get key(): Uint8Array {
    return this.it.buf.subarray(this.it.keyOff, this.it.keyOff + this.it.keyLen);
  }

  get value(): Uint8Array {
    return this.it.buf.subarray(this.it.valOff, this.it.valOff + this.it.valLen);
  }

  next(): void {
    if (this.done) return;
    this.it.next();
    this.skip();
  }

  close(): void {
    this.done = true;
    if (!this.released) {
      this.released = true;
      this.release();
    }
  }

  /** Steps over deletions; ends at `to`. */
  private skip(): void {
    const it = this.it;
    while (it.valid && it.valLen < 0) it.next();
    if (!it.valid || (this.to !== undefined && compareBytes(it.buf, it.keyOff, it.keyLen, this.to, 0, this.to.length) >= 0)) this.close();
  }
}

function inRange(f: LiveFile, key: Uint8Array): boolean {
  return compareBytes(f.smallest, 0, f.smallest.length, key, 0, key.length) <= 0 && compareBytes(f.largest, 0, f.largest.length, key, 0, key.length) >= 0;
}

function overlaps(f: LiveFile, lo: Uint8Array, hi: Uint8Array): boolean {
  return compareBytes(f.largest, 0, f.largest.length, lo, 0, lo.length) >= 0 && compareBytes(f.smallest, 0, f.smallest.length, hi, 0, hi.length) <= 0;
}

/** The searched key's prefix words (`loadWords`). */
const KEY_WORDS = new Uint32Array(4);
function loadWords(key: Uint8Array): void {
  prefixWords(key, 0, key.length, KEY_WORDS, 0);
}

/**
 * The index of the first file of a level whose largest key is >= `key` (files.length if
 * none), comparing the loaded key's words (`loadWords`) with the level's
 * `largest` words first; only a file whose first 16 bytes tie is compared byte by byte.
 */
function firstLargestAtLeastWords(largest: Uint32Array, files: LiveFile[], key: Uint8Array): number {
  let lo = 0;
  let hi = files.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    let c = comparePrefixWords(largest, 4 * mid, KEY_WORDS);
    if (c === 0) {
      const l = files[mid]!.largest;
      c = compareBytes(l, 0, l.length, key, 0, key.length);
    }
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The smallest key greater than every key starting with `prefix` (undefined: none). */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}
