/**
 * Writes one SSTable (layout: src/schema/sstable.ts) from entries given in strictly
 * increasing key order. Blocks are built in memory and written in sequential writes, each
 * sent on its way to the disk as it goes (`writeBackEveryBytes`; or synced every
 * `syncEveryBytes` where the file layer cannot write back); `finish` writes the filter,
 * index, properties and footer, fsyncs the file (unless its caller syncs its tables
 * together: `syncOnFinish`) and closes it. Making the new name durable (the directory
 * fsync) and naming the table in the manifest are the caller's steps, in that order. Any
 * failure leaves a file no manifest names; `abort` removes it.
 */

import { crc32 } from "node:zlib";
import type { JournalFile, JournalFs } from "../wal/file.ts";
import {
  SF_CRC,
  SF_FILE_SIZE,
  SF_FILTER_LENGTH,
  SF_FILTER_OFFSET,
  SF_INDEX_LENGTH,
  SF_INDEX_OFFSET,
  SF_MAGIC,
  SF_PROPS_LENGTH,
  SF_PROPS_OFFSET,
  SF_VERSION,
  SST_BLOCK_TRAILER,
  SST_ENTRY_HEADER,
  SST_FOOTER_BYTES,
  SST_KEY_MAX,
  SST_MAGIC,
  SST_TOMBSTONE,
  SST_VERSION,
  compareBytes,
  compareViews,
  setU64,
} from "../schema/sstable.ts";
import { FilterBuilder } from "./bloom.ts";
import { AssertionError, assert } from "../stdx/assert.ts";
import { ViewCache, copyView } from "../stdx/copy.ts";

export interface TableWriterOptions {
  /** Target payload bytes of a data block (default 4 KiB). */
  blockBytes?: number;
  /**
   * Where the file layer can write back (`JournalFile.writeBack`, through the native addon:
   * sync_file_range), the table is written in pieces of this many bytes (default 128 KiB),
   * each one's write-out to the disk started at once, and fdatasynced only in `finish`
   * (0: no write-back, sync every `syncEveryBytes` instead). A flush writes tens of MB;
   * left to the kernel, they reach the disk as one burst at the final sync, and a journal
   * fdatasync behind that burst waits for all of it (tens of ms on the disk measured).
   * Started in small pieces (each after the one before it is written out), at most about
   * two pieces are ahead of any journal commit, and no sync of the table's own puts a
   * flush of the device's cache in the journal's way. As
   * RocksDB's `bytes_per_sync`. Measured (docs/BENCHMARKS.md, "Table and snapshot writes"):
   * a 64-byte write + fdatasync beside a 64 MB/s writer had a p99 of 240-330 µs with
   * 128 KiB pieces written back, against 780-900 µs with an fdatasync every 1 MiB.
   */
  writeBackEveryBytes?: number | undefined;
  /**
   * Where the file layer cannot write back (no addon, a test layer): fdatasync the file
   * each time this many more bytes are written (default 1 MiB; 0: only in `finish`).
   */
  syncEveryBytes?: number;
  /**
   * Bytes of blocks gathered before a write (default 1 MiB). A flush that writes many tables
   * at once gives each a smaller buffer.
   */
  outBytes?: number;
  /** Entries the table is expected to hold (a flush knows): its filter's keys need no growing. */
  expectedEntries?: number;
  /**
   * fsync the file in `finish` (default true). false: `finish` closes it unsynced, for a
   * caller that makes its tables durable together (`JournalFs.beginSyncBatch`, begun
   * before this writer was made) before any manifest names them.
   */
  syncOnFinish?: boolean;
}

/** What a finished table holds: the manifest's record of it. */
export interface TableMeta {
  fileSize: number;
  entries: number;
  deletions: number;
  smallest: Uint8Array;
  largest: Uint8Array;
  /** The largest sequence the writer was told the table covers (0 when unused). */
  maxSeq: number;
}

const OUT_BYTES = 1 << 20;
/** See TableWriterOptions.syncEveryBytes. */
export const TABLE_SYNC_EVERY_BYTES = 1 << 20;
/** See TableWriterOptions.writeBackEveryBytes. */
export const TABLE_WRITE_BACK_EVERY_BYTES = 128 << 10;

/**
 * Finished writers' write buffers, for the next writers on this thread: a flush writes a
 * table per key partition, and a fresh buffer for each has its pages faulted in and zeroed
 * again (a cost too small to show apart in bench/lsm_flush.ts). Buffers come in a few sizes
 * (powers of two, see `runFlush`), so they are found again.
 */
const spareOuts: Uint8Array[] = [];
/** Spare write buffers kept for the next writers on this thread, at most. */
const SPARE_OUTS_MAX = 64;

export class TableWriter {
  private file: JournalFile | undefined;
  private readonly blockBytes: number;
  private out: Uint8Array;
  private readonly trailer = new Uint8Array(SST_BLOCK_TRAILER);
  private readonly trailerView = new DataView(this.trailer.buffer);
  private outLen = 0;
  private written = 0;
  /** Bytes made durable by the last fdatasync, and how often to sync (0: in finish only). */
  private synced = 0;
  private readonly syncEvery: number;
  /** Bytes whose write-out was started, and the piece size (0 once the file layer said it cannot). */
  private sentBack = 0;
  private writeBackEvery: number;
  /** `out` is drained when it holds this many bytes: the piece size while writing back. */
  private drainAt: number;
  private readonly syncOnFinish: boolean;

  private block = new Uint8Array(8192);
  private blockView = new DataView(this.block.buffer);
  private blockLen = 0;
  /** Views of the source arrays (a flush or compaction passes one buffer for many entries). */
  private readonly keyViews = new ViewCache();
  private readonly valueViews = new ViewCache();
  private offsets: Uint32Array = new Uint32Array(256);
  private count = 0;

  private index = new Uint8Array(4096);
  private indexView = new DataView(this.index.buffer);
  private indexLen = 4;
  private blocks = 0;

  private readonly filter: FilterBuilder;
  private last = new Uint8Array(64);
  private lastLen = -1;
  private smallest: Uint8Array | undefined;
  private entries = 0;
  private deletions = 0;

  constructor(private readonly fs: JournalFs, readonly path: string, opts: TableWriterOptions = {}) {
    const outBytes = opts.outBytes ?? OUT_BYTES;
    assert(Number.isInteger(outBytes) && outBytes >= 4096 && outBytes <= OUT_BYTES, "write buffer bytes out of range");
    const i = spareOuts.findIndex((b) => b.length === outBytes);
    this.out = i >= 0 ? spareOuts.splice(i, 1)[0]! : new Uint8Array(outBytes);
    this.blockBytes = opts.blockBytes ?? 4096;
    this.filter = new FilterBuilder(opts.expectedEntries);
    this.syncEvery = opts.syncEveryBytes ?? TABLE_SYNC_EVERY_BYTES;
    assert(Number.isSafeInteger(this.syncEvery) && this.syncEvery >= 0, "sync-every bytes must be an integer of at least 0");
    this.writeBackEvery = opts.writeBackEveryBytes ?? TABLE_WRITE_BACK_EVERY_BYTES;
    assert(Number.isSafeInteger(this.writeBackEvery) && this.writeBackEvery >= 0, "write-back bytes must be an integer of at least 0");
    this.drainAt = this.writeBackEvery > 0 ? Math.min(this.out.length, this.writeBackEvery) : this.out.length;
    this.syncOnFinish = opts.syncOnFinish ?? true;
    assert(this.blockBytes >= 256 && this.blockBytes <= 1 << 20, "block bytes out of range");
    this.file = fs.create(path);
  }

  /** Adds an entry; `value` undefined records a deletion. Keys must strictly increase. */
  add(key: Uint8Array, keyOff: number, keyLen: number, value: Uint8Array | undefined, valueOff = 0, valueLen = 0): void {
    assert(keyLen <= SST_KEY_MAX, "key too long");
    const kdv = this.keyViews.of(key);
    if (this.count > 0) {
      // The previous key is the block's last entry: compare in place.
      const p = this.offsets[this.count - 1]!;
      // (No template string in an argument: it would be built on every call.)
      if (compareViews(this.blockView, p + SST_ENTRY_HEADER, this.block[p]! | (this.block[p + 1]! << 8), kdv, keyOff, keyLen) >= 0) this.outOfOrder();
    } else if (this.lastLen >= 0) {
      if (compareBytes(this.last, 0, this.lastLen, key, keyOff, keyLen) >= 0) this.outOfOrder();
    } else {
      this.smallest = key.slice(keyOff, keyOff + keyLen);
    }
    const vlen = value === undefined ? 0 : valueLen;
    const need = SST_ENTRY_HEADER + keyLen + vlen;
    if (this.count > 0 && this.blockLen + need + 4 * (this.count + 2) > this.blockBytes) this.endBlock();
    this.ensureBlock(need + 4 * (this.count + 2));
    const bdv = this.blockView;
    let at = this.blockLen;
    if (this.count === this.offsets.length) this.offsets = grow32(this.offsets);
    this.offsets[this.count++] = at;
    bdv.setUint16(at, keyLen, true);
    bdv.setUint32(at + 2, value === undefined ? SST_TOMBSTONE : valueLen, true);
    at += SST_ENTRY_HEADER;
    if (value === key && valueOff === keyOff + keyLen) {
      // Key and value side by side in one buffer (a MemTable's arena, a table's block): one copy.
      copyView(bdv, at, kdv, keyOff, keyLen + vlen);
      at += keyLen + vlen;
    } else {
      copyView(bdv, at, kdv, keyOff, keyLen);
      at += keyLen;
      if (value !== undefined) {
        copyView(bdv, at, this.valueViews.of(value), valueOff, valueLen);
        at += valueLen;
      }
    }
    if (value === undefined) this.deletions++;
    this.blockLen = at;
    this.filter.add(key, keyOff, keyLen);
    this.entries++;
  }

  private outOfOrder(): never {
    throw new AssertionError(`table ${this.path}: keys out of order`);
  }

  /** Bytes the table will take so far (for splitting compaction output by size). */
  get estimatedBytes(): number {
    return this.written + this.outLen + this.blockLen + this.indexLen;
  }

  get entryCount(): number {
    return this.entries;
  }

  /** Writes the rest of the table, fsyncs and closes it. */
  finish(maxSeq = 0, user: Uint8Array = new Uint8Array(0)): TableMeta {
    // Once finished, the write buffer belongs to the next writer (spareOuts).
    assert(this.file !== undefined, "a table finished or aborted already");
    assert(this.entries > 0, "an empty table");
    if (this.count > 0) this.endBlock();
    const filterPayload = this.filter.build();
    const filterOffset = this.position;
    this.emitBlock(filterPayload, filterPayload.length);
    this.indexView.setUint32(0, this.blocks, true);
    const indexOffset = this.position;
    this.emitBlock(this.index, this.indexLen);
    const largest = this.last.slice(0, this.lastLen);
    const smallest = this.smallest!;
    const props = new Uint8Array(20 + 2 + smallest.length + 2 + largest.length + 8 + 4 + user.length);
    const pv = new DataView(props.buffer);
    setU64(pv, 0, this.entries);
    setU64(pv, 8, this.deletions);
    pv.setUint32(16, this.blocks, true);
    let p = 20;
    pv.setUint16(p, smallest.length, true);
    props.set(smallest, p + 2);
    p += 2 + smallest.length;
    pv.setUint16(p, largest.length, true);
    props.set(largest, p + 2);
    p += 2 + largest.length;
    setU64(pv, p, maxSeq);
    pv.setUint32(p + 8, user.length, true);
    props.set(user, p + 12);
    const propsOffset = this.position;
    this.emitBlock(props, props.length);
    const footer = new Uint8Array(SST_FOOTER_BYTES);
    const fv = new DataView(footer.buffer);
    fv.setUint32(SF_VERSION, SST_VERSION, true);
    setU64(fv, SF_FILTER_OFFSET, filterOffset);
    setU64(fv, SF_INDEX_OFFSET, indexOffset);
    setU64(fv, SF_PROPS_OFFSET, propsOffset);
    fv.setUint32(SF_FILTER_LENGTH, filterPayload.length, true);
    fv.setUint32(SF_INDEX_LENGTH, this.indexLen, true);
    fv.setUint32(SF_PROPS_LENGTH, props.length, true);
    const fileSize = this.position + SST_FOOTER_BYTES;
    setU64(fv, SF_FILE_SIZE, fileSize);
    fv.setUint32(SF_CRC, crc32(footer.subarray(0, SF_CRC)), true);
    fv.setUint32(SF_MAGIC, SST_MAGIC, true);
    this.emit(footer, 0, footer.length);
    this.drain();
    const file = this.file!;
    if (this.syncOnFinish) file.fsync();
    file.close();
    this.file = undefined;
    if (spareOuts.length < SPARE_OUTS_MAX) spareOuts.push(this.out);
    return { fileSize, entries: this.entries, deletions: this.deletions, smallest, largest, maxSeq };
  }

  /** Closes and removes a table that will not be finished. */
  abort(): void {
    try {
      this.file?.close();
    } finally {
      this.file = undefined;
      this.fs.unlink(this.path);
    }
  }

  private get position(): number {
    return this.written + this.outLen;
  }

  private ensureBlock(extra: number): void {
    if (this.blockLen + extra <= this.block.length) return;
    const grown = new Uint8Array(Math.max(this.block.length * 2, this.blockLen + extra));
    grown.set(this.block.subarray(0, this.blockLen));
    this.block = grown;
    this.blockView = new DataView(grown.buffer);
  }

  private endBlock(): void {
    const n = this.count;
    // The block's last key: the order check across blocks and the index entry.
    const p = this.offsets[n - 1]!;
    const lastLen = this.block[p]! | (this.block[p + 1]! << 8);
    if (this.last.length < lastLen) this.last = new Uint8Array(Math.max(lastLen, this.last.length * 2));
    this.last.set(this.block.subarray(p + SST_ENTRY_HEADER, p + SST_ENTRY_HEADER + lastLen));
    this.lastLen = lastLen;
    this.ensureBlock(4 * (n + 1));
    const dv = this.blockView;
    let at = this.blockLen;
    for (let i = 0; i < n; i++, at += 4) dv.setUint32(at, this.offsets[i]!, true);
    dv.setUint32(at, n, true);
    at += 4;
    const offset = this.position;
    this.emitBlock(this.block, at);
    // Index entry: offset (u64), payload length (u32), last key.
    const need = 14 + this.lastLen;
    if (this.indexLen + need > this.index.length) {
      const grown = new Uint8Array(Math.max(this.index.length * 2, this.indexLen + need));
      grown.set(this.index.subarray(0, this.indexLen));
      this.index = grown;
      this.indexView = new DataView(grown.buffer);
    }
    const iv = this.indexView;
    setU64(iv, this.indexLen, offset);
    iv.setUint32(this.indexLen + 8, at, true);
    iv.setUint16(this.indexLen + 12, this.lastLen, true);
    this.index.set(this.last.subarray(0, this.lastLen), this.indexLen + 14);
    this.indexLen += need;
    this.blocks++;
    this.blockLen = 0;
    this.count = 0;
  }

  private emitBlock(payload: Uint8Array, len: number): void {
    this.emit(payload, 0, len);
    this.trailerView.setUint32(0, crc32(payload.subarray(0, len)), true);
    this.emit(this.trailer, 0, SST_BLOCK_TRAILER);
  }

  private emit(src: Uint8Array, off: number, len: number): void {
    while (len > 0) {
      const n = Math.min(len, this.drainAt - this.outLen);
      this.out.set(src.subarray(off, off + n), this.outLen);
      this.outLen += n;
      off += n;
      len -= n;
      if (this.outLen >= this.drainAt) this.drain();
    }
  }

  private drain(): void {
    let at = 0;
    while (at < this.outLen) {
      const n = this.file!.pwrite(this.out, at, this.outLen - at, this.written + at);
      assert(n > 0, "a write made no progress");
      at += n;
    }
    this.written += this.outLen;
    this.outLen = 0;
    if (this.writeBackEvery > 0) {
      if (this.written === this.sentBack) return;
      if (this.file!.writeBack?.(this.sentBack, this.written - this.sentBack) === true) {
        this.sentBack = this.written;
        return;
      }
      // This file layer cannot: sync every syncEvery bytes, in writes of the whole buffer.
      this.writeBackEvery = 0;
      this.drainAt = this.out.length;
    }
    if (this.syncEvery > 0 && this.written - this.synced >= this.syncEvery) {
      this.file!.fdatasync();
      this.synced = this.written;
    }
  }
}

function grow32(a: Uint32Array): Uint32Array {
  const g = new Uint32Array(a.length * 2);
  g.set(a);
  return g;
}
