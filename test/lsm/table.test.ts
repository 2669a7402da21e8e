/**
 * SSTables and MemTables against a sorted model: every key reads back, absent keys read as
 * absent, iterators visit keys in order from any seek point, and a damaged byte anywhere
 * in a table is an error that names the file, never a wrong answer.
 */

import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compareKeys, tableName } from "../../src/schema/sstable.ts";
import { eventKey, timeKey } from "../../src/schema/store.ts";
import { FLUSH_STREAMED_TABLES_MAX, SYNC_BATCH_TABLES_MIN, runCompact, runFlush } from "../../src/lsm/jobs.ts";
import { MemTable } from "../../src/lsm/memtable.ts";
import { MergingIterator } from "../../src/lsm/merge.ts";
import { openTableSource } from "../../src/lsm/source.ts";
import { DELETED, TableCorruptError, TableReader, type EntryIterator } from "../../src/lsm/table_reader.ts";
import { TABLE_SYNC_EVERY_BYTES, TABLE_WRITE_BACK_EVERY_BYTES, TableWriter, type TableWriterOptions } from "../../src/lsm/table_writer.ts";
import { REAL_FS, type JournalFs } from "../../src/wal/file.ts";
import { syncLoggingFs, syncedEvery, wroteBackInPieces } from "../sync_log_fs.ts";
import { FaultFs } from "../wal/fault_fs.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function randomKey(r: Prng): Uint8Array {
  const k = new Uint8Array(1 + (r.nextU32() % 24));
  for (let i = 0; i < k.length; i++) k[i] = r.nextU32() % 6; // small alphabet: shared prefixes
  return k;
}

function randomModel(r: Prng, n: number): Map<string, Uint8Array | undefined> {
  const m = new Map<string, Uint8Array | undefined>();
  for (let i = 0; i < n; i++) {
    const k = randomKey(r);
    const v = r.nextU32() % 10 === 0 ? undefined : new Uint8Array(r.nextU32() % 300).map(() => r.nextU32() & 0xff);
    m.set(hex(k), v);
  }
  return m;
}

function sorted(m: Map<string, Uint8Array | undefined>): [Uint8Array, Uint8Array | undefined][] {
  return [...m].map(([k, v]) => [Buffer.from(k, "hex") as Uint8Array, v] as [Uint8Array, Uint8Array | undefined]).sort((a, b) => compareKeys(a[0], b[0]));
}

function collect(it: EntryIterator): string[] {
  const out: string[] = [];
  for (; it.valid; it.next()) {
    const k = hex(it.buf.subarray(it.keyOff, it.keyOff + it.keyLen));
    out.push(it.valLen < 0 ? `${k}=DEL` : `${k}=${hex(it.buf.subarray(it.valOff, it.valOff + it.valLen))}`);
  }
  return out;
}

function expected(entries: [Uint8Array, Uint8Array | undefined][]): string[] {
  return entries.map(([k, v]) => (v === undefined ? `${hex(k)}=DEL` : `${hex(k)}=${hex(v)}`));
}

function writeTable(path: string, entries: [Uint8Array, Uint8Array | undefined][], blockBytes = 512): void {
  const w = new TableWriter(REAL_FS, path, { blockBytes });
  for (const [k, v] of entries) w.add(k, 0, k.length, v, 0, v?.length ?? 0);
  const meta = w.finish(77);
  expect(meta.entries).toBe(entries.length);
}

describe("SSTable", () => {
  const seed = seedFromEnv();
  it(`reads back every entry, absent keys and seeks (seed ${seed})`, () => {
    console.log(`sstable: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const r = new Prng(seed);
    const dir = mkdtempSync(join(tmpdir(), "venue-sst-"));
    const entries = sorted(randomModel(r, 3000));
    const path = join(dir, "00000001.sst");
    writeTable(path, entries);
    const t = TableReader.open(path, openTableSource(path));
    expect(t.meta.entries).toBe(entries.length);
    expect(t.meta.maxSeq).toBe(77);
    expect(hex(t.meta.smallest)).toBe(hex(entries[0]![0]));
    expect(hex(t.meta.largest)).toBe(hex(entries.at(-1)![0]));
    expect(t.blockCount).toBeGreaterThan(10);
    for (const [k, v] of entries) {
      const got = t.get(k);
      if (v === undefined) expect(got).toBe(DELETED);
      else expect(hex(got!)).toBe(hex(v));
    }
    const present = new Set(entries.map(([k]) => hex(k)));
    for (let i = 0; i < 2000; i++) {
      const k = randomKey(r);
      if (!present.has(hex(k))) expect(t.get(k)).toBeUndefined();
    }
    const it = t.iterator();
    it.seekFirst();
    expect(collect(it)).toEqual(expected(entries));
    for (let i = 0; i < 200; i++) {
      const k = randomKey(r);
      const from = entries.findIndex(([e]) => compareKeys(e, k) >= 0);
      const it2 = t.iterator();
      it2.seek(k);
      expect(collect(it2)).toEqual(from < 0 ? [] : expected(entries.slice(from)));
    }
    t.close();
  });

  /** A table of 30,000 entries of 200-byte values (over 5 MiB), written through `fs`; returns its size. */
  const writeLargeTable = (path: string, fs: JournalFs, opts: TableWriterOptions): number => {
    const w = new TableWriter(fs, path, opts);
    const key = new Uint8Array(8);
    const kv = new DataView(key.buffer);
    const value = new Uint8Array(200).fill(7);
    for (let i = 0; i < 30_000; i++) {
      kv.setUint32(4, i);
      w.add(key, 0, 8, value, 0, value.length);
    }
    return w.finish(1).fileSize;
  };

  it("writes a large table back in pieces of 128 KiB as it goes, syncs it once, and the bytes are the same", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-sst-wb-"));
    try {
      const write = writeLargeTable;
      const synced: number[] = [];
      const ranges: Array<[number, number]> = [];
      const size = write(join(dir, "a.sst"), syncLoggingFs(synced, ranges), {});
      expect(size).toBeGreaterThan(40 * TABLE_WRITE_BACK_EVERY_BYTES);
      expect(wroteBackInPieces(ranges, size, TABLE_WRITE_BACK_EVERY_BYTES)).toBeUndefined();
      expect(synced).toEqual([size]); // finish's fsync only: no fdatasync of its own on the way
      // With write-back off, the same layer syncs every 1 MiB instead; the files are equal.
      const synced2: number[] = [];
      const ranges2: Array<[number, number]> = [];
      write(join(dir, "b.sst"), syncLoggingFs(synced2, ranges2), { writeBackEveryBytes: 0 });
      expect(ranges2).toEqual([]);
      expect(syncedEvery(synced2, size, TABLE_SYNC_EVERY_BYTES)).toBeUndefined();
      expect(readFileSync(join(dir, "a.sst")).equals(readFileSync(join(dir, "b.sst")))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("where the file layer cannot write back, syncs a large table as it is written, at most every 1 MiB, and the bytes are the same as one synced at the end", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-sst-sync-"));
    try {
      const syncedAt: number[] = [];
      const counting = syncLoggingFs;
      const write = (path: string, fs: JournalFs, syncEveryBytes?: number): number => writeLargeTable(path, fs, syncEveryBytes === undefined ? {} : { syncEveryBytes });
      const size = write(join(dir, "a.sst"), counting(syncedAt));
      expect(size).toBeGreaterThan(5 * TABLE_SYNC_EVERY_BYTES);
      // Every sync but the last (finish's) came after about 1 MiB more was written.
      expect(syncedEvery(syncedAt, size, TABLE_SYNC_EVERY_BYTES)).toBeUndefined();
      const once: number[] = [];
      write(join(dir, "b.sst"), counting(once), 0);
      expect(once).toEqual([size]);
      expect(readFileSync(join(dir, "a.sst")).equals(readFileSync(join(dir, "b.sst")))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(`a damaged byte anywhere is an error naming the file, never a wrong answer (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x5555);
    const dir = mkdtempSync(join(tmpdir(), "venue-sst-"));
    const entries = sorted(randomModel(r, 400));
    const path = join(dir, "00000002.sst");
    writeTable(path, entries, 256);
    const good = readFileSync(path);
    const want = expected(entries);
    let caught = 0;
    for (let at = 0; at < good.length; at += 1 + (r.nextU32() % 29)) {
      const bad = Buffer.from(good);
      bad[at] = bad[at]! ^ (1 << (r.nextU32() % 8));
      const p = join(dir, "damaged.sst");
      writeFileSync(p, bad);
      try {
        const t = TableReader.open(p, openTableSource(p));
        const it = t.iterator();
        it.seekFirst();
        const got = collect(it);
        expect(got, `flip at ${at} went unnoticed`).toEqual(want);
        t.close();
        throw new Error(`flip at ${at} went unnoticed`);
      } catch (e) {
        expect(e, `flip at ${at}`).toBeInstanceOf(TableCorruptError);
        expect((e as Error).message).toContain(p);
        caught++;
      }
    }
    expect(caught).toBeGreaterThan(100);
    // Cut short: also an error.
    const p = join(dir, "short.sst");
    writeFileSync(p, good.subarray(0, good.length - 10));
    expect(() => TableReader.open(p, openTableSource(p))).toThrow(TableCorruptError);
  });
});

/** The model: how many runs of keys sharing their first `bytes` bytes (all keys one run when `bytes` is 0) a sorted source holds. */
function countPartitions(it: EntryIterator, bytes: number): number {
  let n = 0;
  let last: string | undefined;
  for (it.seekFirst(); it.valid; it.next()) {
    const prefix = hex(it.buf.subarray(it.keyOff, it.keyOff + Math.min(it.keyLen, bytes)));
    if (last === undefined || (bytes > 0 && prefix !== last)) n++;
    last = prefix;
  }
  return n;
}

describe("MemTable", () => {
  const seed = seedFromEnv();
  it(`agrees with a Map under overwrites and deletions, in order (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x1234);
    const mt = MemTable.create(1 << 20);
    const model = new Map<string, Uint8Array | undefined>();
    for (let i = 0; i < 5000; i++) {
      const k = randomKey(r);
      const v = r.nextU32() % 8 === 0 ? undefined : new Uint8Array(r.nextU32() % 40).map(() => r.nextU32() & 0xff);
      expect(mt.put(k, 0, k.length, v, 0, v?.length ?? 0, i + 1)).toBe(true);
      model.set(hex(k), v);
    }
    expect(mt.entries).toBe(model.size);
    expect(mt.maxSeq).toBe(5000);
    for (const [k, v] of model) {
      const got = mt.get(Buffer.from(k, "hex"));
      if (v === undefined) expect(got).toBe(DELETED);
      else expect(hex(got!)).toBe(hex(v));
    }
    const it = mt.iterator();
    it.seekFirst();
    expect(collect(it)).toEqual(expected(sorted(model)));
    mt.seal();
    const other = MemTable.attach(mt.buffers);
    const it2 = other.iterator();
    it2.seekFirst();
    expect(collect(it2)).toEqual(expected(sorted(model)));
  });

  it(`builds the same skiplist with insert hints as without, for keys in and out of order (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x5678);
    // Per partition (first byte) keys mostly rising, some out of order, some repeated.
    const writes: Uint8Array[] = [];
    const next = new Uint32Array(6).fill(50); // keys below a partition's first one come later too
    for (let i = 0; i < 20_000; i++) {
      const p = r.nextU32() % 6;
      const roll = r.nextU32() % 10;
      // Rising by 1 to 3 (gaps that later out-of-order keys may fill), sometimes a key drawn from below (new or present), sometimes the last again.
      let n: number;
      if (roll === 0) n = r.nextU32() % (next[p]! + 1);
      else if (roll === 1 && next[p]! > 0) n = next[p]! - 1;
      else {
        n = next[p]!;
        next[p] = n + 1 + (r.nextU32() % 3);
      }
      writes.push(Uint8Array.of(p, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff));
    }
    const build = (hintBytes: number): MemTable => {
      const mt = MemTable.create(1 << 20, hintBytes);
      for (const [i, k] of writes.entries()) {
        const v = i % 9 === 0 ? undefined : Uint8Array.of(i & 0xff, i >>> 8);
        expect(mt.put(k, 0, k.length, v, 0, v?.length ?? 0, i + 1)).toBe(true);
      }
      return mt;
    };
    const plain = build(-1);
    for (const hintBytes of [0, 1, 3, 5]) {
      const mt = build(hintBytes);
      expect(mt.partitions, `partitions, hintBytes ${hintBytes}`).toBe(countPartitions(mt.iterator(), hintBytes));
      expect(Buffer.from(mt.arena).equals(Buffer.from(plain.arena)), `arena, hintBytes ${hintBytes}`).toBe(true);
      expect(Buffer.from(mt.nodes.buffer).equals(Buffer.from(plain.nodes.buffer)), `nodes, hintBytes ${hintBytes}`).toBe(true);
    }
    const model = new Map<string, Uint8Array | undefined>();
    for (const [i, k] of writes.entries()) model.set(hex(k), i % 9 === 0 ? undefined : Uint8Array.of(i & 0xff, i >>> 8));
    const it = plain.iterator();
    it.seekFirst();
    expect(collect(it)).toEqual(expected(sorted(model)));
  });

  it(`takes values from any offset of any buffer, a shared one too (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x2468);
    const mt = MemTable.create(1 << 16, 2);
    const sources = [new Uint8Array(new SharedArrayBuffer(4096)), new Uint8Array(4096), new Uint8Array(new ArrayBuffer(4100), 4)];
    for (const src of sources) for (let i = 0; i < src.length; i++) src[i] = r.nextU32() & 0xff;
    const model = new Map<string, string>();
    for (let i = 0; i < 600; i++) {
      const src = sources[i % 3]!;
      const keyLen = [8, 16, 16, 5, 17][i % 5]!;
      const k = new Uint8Array(keyLen);
      k[0] = i % 7;
      k[1] = (i >>> 8) & 0xff;
      k[2] = i & 0xff;
      const off = r.nextU32() % 2 === 0 ? 8 * (r.nextU32() % 400) : r.nextU32() % 3000;
      const len = r.nextU32() % 2 === 0 ? 8 * (r.nextU32() % 20) : r.nextU32() % 150;
      expect(mt.put(k, 0, keyLen, src, off, len, i + 1)).toBe(true);
      model.set(hex(k), hex(src.subarray(off, off + len)));
    }
    for (const [k, v] of model) expect(hex(mt.get(Buffer.from(k, "hex"))!)).toBe(v);
  });

  it(`a table emptied for reuse builds the same skiplist, byte for byte, as a new one (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x9abc);
    const fill = (mt: MemTable, n: number, salt: number): void => {
      for (let i = 0; i < n; i++) {
        const k = Uint8Array.of(r.nextU32() % 4, (i >>> 8) & 0xff, i & 0xff, salt);
        const v = (i + salt) % 7 === 0 ? undefined : new Uint8Array(r.nextU32() % 30).fill(i & 0xff);
        if (!mt.put(k, 0, k.length, v, 0, v?.length ?? 0, i + 1)) break;
      }
    };
    const used = MemTable.create(1 << 16, 1);
    fill(used, 100_000, 1); // until full
    used.seal();
    expect(() => used.put(Uint8Array.of(1), 0, 1, undefined)).toThrow();
    used.reset();
    expect(used.entries).toBe(0);
    expect(used.sealed).toBe(false);
    const state = r.nextU32();
    const fresh = MemTable.create(1 << 16, 1);
    const rr = new Prng(state);
    // Above every key of the first fill in each partition: a stale hint (the last node the
    // first fill put in a partition) would bracket them and take new nodes off the list.
    const writes = Array.from({ length: 1500 }, (_, i) => Uint8Array.of(rr.nextU32() % 4, 0xff, i >>> 8, i & 0xff));
    for (const mt of [used, fresh]) for (const [i, k] of writes.entries()) expect(mt.put(k, 0, k.length, Uint8Array.of(i & 0xff), 0, 1, i + 1)).toBe(true);
    expect(used.entries).toBe(fresh.entries);
    expect(used.partitions).toBe(fresh.partitions);
    expect(used.maxSeq).toBe(fresh.maxSeq);
    expect(used.bytesUsed).toBe(fresh.bytesUsed);
    // The words in use match (the reused table's older bytes beyond them are never read).
    const words = (used.bytesUsed - used.arenaBytesUsed) / 4;
    expect(Buffer.from(used.nodes.buffer, 0, words * 4).equals(Buffer.from(fresh.nodes.buffer, 0, words * 4))).toBe(true);
    expect(Buffer.from(used.arena.buffer, 0, used.arenaBytesUsed).equals(Buffer.from(fresh.arena.buffer, 0, fresh.arenaBytesUsed))).toBe(true);
    const a = used.iterator();
    const b = fresh.iterator();
    a.seekFirst();
    b.seekFirst();
    expect(collect(a)).toEqual(collect(b));
    // A table attached from another thread is never reset.
    fresh.seal();
    expect(() => MemTable.attach(fresh.buffers).reset()).toThrow();
  });

  it(`a flush reads the entries in the list's order without following it, when each partition's keys came in order (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x9abc);
    const P = 3; // partition bytes
    // 80 streams (more partitions than the partition table's first size), each a 3-byte
    // prefix and rising suffixes; some streams start with the bare prefix (the smallest key
    // of its partition); short keys (1-2 bytes) are partitions of their own; some writes
    // repeat the stream's last key (an overwrite in place) or delete it.
    const prefixes = Array.from({ length: 80 }, (_, i) => Uint8Array.of(i % 5, (i * 7) % 11, i));
    const counters = new Uint32Array(80);
    const writes: { k: Uint8Array; v: Uint8Array | undefined }[] = [];
    const last: (Uint8Array | undefined)[] = [];
    for (let s = 0; s < 80; s += 3) writes.push({ k: prefixes[s]!, v: Uint8Array.of(s) });
    for (let i = 0; i < 6000; i++) {
      const roll = r.nextU32() % 20;
      const s = r.nextU32() % 80;
      let k: Uint8Array;
      if (roll === 0) k = Uint8Array.of(r.nextU32() % 5, ...(r.nextU32() % 2 === 0 ? [] : [r.nextU32() % 11]));
      else if (roll === 1 && last[s] !== undefined) k = last[s]!;
      else {
        const n = (counters[s]! += 1 + (r.nextU32() % 3));
        const tail = Array.from({ length: 1 + (r.nextU32() % 4) }, (_, j) => (n >>> (8 * (3 - j))) & 0xff);
        k = Uint8Array.of(...prefixes[s]!, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff, ...tail);
        last[s] = k;
      }
      writes.push({ k, v: i % 11 === 0 ? undefined : new Uint8Array(r.nextU32() % 200).map(() => r.nextU32() & 0xff) });
    }
    const build = (ws: typeof writes): MemTable => {
      const mt = MemTable.create(4 << 20, P);
      for (const [i, w] of ws.entries()) expect(mt.put(w.k, 0, w.k.length, w.v, 0, w.v?.length ?? 0, i + 1)).toBe(true);
      mt.seal();
      return MemTable.attach(mt.buffers);
    };
    const listed = (mt: MemTable): string[] => {
      const it = mt.iterator();
      it.seekFirst();
      return collect(it);
    };
    const flushed = (mt: MemTable): string[] => {
      const it = mt.flushIterator(P);
      it.seekFirst();
      return collect(it);
    };
    // The short keys' own partitions may repeat a key (an overwrite), never go down: keep
    // only the writes that keep every partition rising.
    const seen = new Map<string, string>();
    const rising = writes.filter(({ k }) => {
      const part = hex(k.subarray(0, Math.min(P, k.length))) + (k.length < P ? `/${k.length}` : "");
      const prev = seen.get(part);
      if (prev !== undefined && prev !== hex(k) && Buffer.compare(Buffer.from(prev, "hex"), Buffer.from(k)) > 0) return false;
      seen.set(part, hex(k));
      return true;
    });
    const inOrder = build(rising);
    expect(inOrder.insertionOrder(P), "the fast path applies").not.toBeNull();
    expect(flushed(inOrder)).toEqual(listed(inOrder));
    // Seeks land where the list's do.
    for (let i = 0; i < 300; i++) {
      const key = i % 3 === 0 ? rising[r.nextU32() % rising.length]!.k : randomKey(r);
      const a = inOrder.iterator();
      const b = inOrder.flushIterator(P);
      a.seek(key);
      b.seek(key);
      expect(collect(b).slice(0, 3)).toEqual(collect(a).slice(0, 3));
    }
    // One key out of order in one partition: the list's own order, the same entries.
    const k0 = rising.find((w) => w.k.length > P + 4)!.k;
    const outOfOrder = build([...rising, { k: Uint8Array.of(...k0.subarray(0, P), 0), v: Uint8Array.of(9) }]);
    expect(outOfOrder.insertionOrder(P)).toBeNull();
    expect(flushed(outOfOrder)).toEqual(listed(outOfOrder));
  });

  /** A sealed MemTable of the event workload: 3 topics x `instruments`, seq rising; a time key every 4th event. */
  const eventTable = (r: Prng, instruments: number, outOfOrder = false, bytes = 1 << 20): MemTable => {
    const mt = MemTable.create(bytes, 5);
    const key = new Uint8Array(17);
    const value = new Uint8Array(160);
    for (let seq = 1; ; seq++) {
      eventKey(key, 1 + (seq % 3), r.nextU32() % instruments, seq, 0);
      for (let i = 0; i < value.length; i++) value[i] = r.nextU32() & 0xff;
      if (!mt.put(key, 0, 16, value, 0, 40 + (r.nextU32() % 120), seq)) break;
      if (seq % 4 === 0) {
        timeKey(key, BigInt(seq) * 1000n, seq);
        if (!mt.put(key, 0, 17, value, 0, 8, seq)) break;
      }
    }
    if (outOfOrder) {
      // A key below its partition's last: that partition is no longer in insertion order.
      mt.seal();
      const fresh = MemTable.create(2 * bytes, 5); // room for the copy and the key added
      const it = mt.iterator();
      for (it.seekFirst(); it.valid; it.next()) fresh.put(it.buf, it.keyOff, it.keyLen, it.valLen < 0 ? undefined : it.buf, it.valOff, Math.max(0, it.valLen));
      eventKey(key, 1, 0, 1, 0);
      expect(fresh.put(key, 0, 16, value, 0, 8, 1)).toBe(true);
      fresh.seal();
      return fresh;
    }
    mt.seal();
    return mt;
  };

  const flushInto = (mt: MemTable, followList: boolean, fs: JournalFs = REAL_FS): { dir: string; tables: { number: number; fileSize: number }[] } => {
    const dir = mkdtempSync(join(tmpdir(), "venue-flush-"));
    const numbers = Array.from({ length: mt.partitions }, (_, i) => i + 1);
    return { dir, tables: runFlush({ dir, numbers, buffers: mt.buffers, blockBytes: 1024, partitionBytes: 5, followList }, fs) };
  };

  it(`a flush writes the same tables whether it follows the list or not, on each of its paths (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0xdef0);
    const cases = [
      // Every partition's table written at once, the MemTable read front to back.
      { what: "streamed", mt: eventTable(r, 8), inOrder: true, streamed: true },
      // More partitions than tables written at once: the order, a table at a time.
      { what: "ordered", mt: eventTable(r, 30), inOrder: true, streamed: false },
      // A partition out of insertion order: the list's own order.
      { what: "listed", mt: eventTable(r, 8, true), inOrder: false, streamed: false },
    ];
    for (const c of cases) {
      const { mt } = c;
      expect(mt.insertionOrder(5) !== null, `${c.what}: in insertion order`).toBe(c.inOrder);
      expect(mt.partitions <= FLUSH_STREAMED_TABLES_MAX, `${c.what}: ${mt.partitions} partitions`).toBe(c.streamed || !c.inOrder);
      const listed = flushInto(mt, true);
      const flushed = flushInto(mt, false);
      expect(flushed.tables, c.what).toEqual(listed.tables);
      expect(listed.tables.length).toBe(mt.partitions);
      for (const t of listed.tables) {
        const a = readFileSync(join(listed.dir, tableName(t.number)));
        const b = readFileSync(join(flushed.dir, tableName(t.number)));
        expect(b.equals(a), `${c.what}: table ${t.number}`).toBe(true);
      }
      for (const f of [listed, flushed]) rmSync(f.dir, { recursive: true, force: true });
    }
  });

  it("a job of more than 16 tables makes them durable with one batch commit where the file layer can; fewer, or without batches, an fsync each", () => {
    /** REAL_FS noting creates, syncs and batch commits in order; batches only when `batches`. */
    const { beginSyncBatch: realBatch, ...withoutBatches } = REAL_FS;
    const noting = (log: string[], batches: boolean, failCommit = false): JournalFs => ({
      ...withoutBatches,
      create(path: string) {
        const f = REAL_FS.create(path);
        const name = basename(path);
        log.push(`create ${name}`);
        return {
          pwrite: (src, offset, len, position) => f.pwrite(src, offset, len, position),
          writeBack: (offset, length) => f.writeBack?.(offset, length) ?? false,
          ftruncate: (size) => f.ftruncate(size),
          close: () => f.close(),
          fdatasync: () => (log.push(`sync ${name}`), f.fdatasync()),
          fsync: () => (log.push(`sync ${name}`), f.fsync()),
        };
      },
      ...(batches && {
        beginSyncBatch: (dir: string) => {
            log.push("begin");
            const real = realBatch?.(dir);
            return {
              commit: () => {
                log.push("commit");
                if (failCommit) throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
                real?.commit();
              },
              close: () => real?.close(),
            };
          },
      }),
    });
    const r = new Prng(seed ^ 0xba7c);
    const cases = [
      { what: "streamed, 8 instruments", mt: eventTable(r, 8) },
      { what: "ordered, 30 instruments", mt: eventTable(r, 30) },
      { what: "few tables, 3 instruments", mt: eventTable(r, 3) },
    ];
    for (const c of cases) {
      const batched = c.mt.partitions > SYNC_BATCH_TABLES_MIN;
      const log: string[] = [];
      const { dir, tables } = flushInto(c.mt, false, noting(log, true));
      expect(tables.length, c.what).toBe(c.mt.partitions);
      const syncs = log.filter((e) => e.startsWith("sync ")).length;
      if (batched) {
        // Begun before the first table, committed once after the last, no fsync of a table's own.
        expect([log[0], log.at(-1), syncs, log.filter((e) => e === "commit").length], c.what).toEqual(["begin", "commit", 0, 1]);
      } else {
        expect([log.includes("begin"), syncs], c.what).toEqual([false, tables.length]);
      }
      // The same tables, byte for byte, as a flush through a layer without batches, which fsyncs each.
      const plain: string[] = [];
      const other = flushInto(c.mt, false, noting(plain, false));
      expect(plain.filter((e) => e.startsWith("sync ")).length, c.what).toBe(tables.length);
      for (const t of tables) expect(readFileSync(join(other.dir, tableName(t.number))).equals(readFileSync(join(dir, tableName(t.number)))), `${c.what}: table ${t.number}`).toBe(true);
      for (const d of [dir, other.dir]) rmSync(d, { recursive: true, force: true });
    }
    expect(cases.map((c) => c.mt.partitions > SYNC_BATCH_TABLES_MIN)).toEqual([true, true, false]);
    // A compaction with more than 16 outputs: the same rule.
    const source = flushInto(eventTable(r, 30), false);
    const inputs = source.tables.map((t) => t.number);
    const compact = (fs: JournalFs) => runCompact({ dir: source.dir, inputs, levelInputs: inputs.length, outputs: inputs.map((n) => n + 1000), targetFileBytes: 1 << 20, blockBytes: 1024, dropDeletions: false, partitionBytes: 5 }, fs);
    const clog: string[] = [];
    const merged = compact(noting(clog, true));
    expect(merged.tables.length).toBe(inputs.length);
    expect([clog[0], clog.at(-1), clog.filter((e) => e.startsWith("sync ")).length]).toEqual(["begin", "commit", 0]);
    rmSync(source.dir, { recursive: true, force: true });
    // A commit that fails fails the flush, and no table is left behind.
    const failing = eventTable(r, 8);
    const dir = mkdtempSync(join(tmpdir(), "venue-flush-"));
    const numbers = Array.from({ length: failing.partitions }, (_, i) => i + 1);
    expect(() => runFlush({ dir, numbers, buffers: failing.buffers, blockBytes: 1024, partitionBytes: 5 }, noting([], true, true))).toThrow(/EIO/);
    expect(readdirSync(dir)).toEqual([]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a flush that fails at any file operation throws and leaves no file behind", () => {
    // 8 MiB: each table larger than its write buffer, so a flush writes each in pieces.
    const mt = eventTable(new Prng(seed ^ 0x51ed), 8, false, 8 << 20);
    // Count the operations of a flush that succeeds, then fail each one in turn.
    const counting = new FaultFs();
    const ok = flushInto(mt, false, counting);
    const ops = counting.ops;
    expect(ok.tables.length).toBe(mt.partitions);
    rmSync(ok.dir, { recursive: true, force: true });
    expect(ops).toBeGreaterThan(3 * mt.partitions); // a create, writes and an fsync per table
    for (let at = 0; at < ops; at++) {
      const fs = new FaultFs();
      fs.failAt = at;
      const dir = mkdtempSync(join(tmpdir(), "venue-flush-"));
      const numbers = Array.from({ length: mt.partitions }, (_, i) => i + 1);
      expect(() => runFlush({ dir, numbers, buffers: mt.buffers, blockBytes: 1024, partitionBytes: 5 }, fs), `failing operation ${at}`).toThrow(/EIO/);
      expect(readdirSync(dir), `files left after failing operation ${at}`).toEqual([]);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a write it has no room for, and keeps what it has", () => {
    const mt = MemTable.create(4096);
    const v = new Uint8Array(100);
    let n = 0;
    while (mt.put(Uint8Array.of(n >> 8, n & 0xff), 0, 2, v, 0, 100)) n++;
    expect(n).toBeGreaterThan(30);
    expect(mt.entries).toBe(n);
    expect(mt.get(Uint8Array.of(0, 0))).toHaveLength(100);
  });

  it("a merging iterator shows the newest source's entry for a key", () => {
    const a = MemTable.create(1 << 16);
    const b = MemTable.create(1 << 16);
    const put = (m: MemTable, k: number, v: number | undefined): void => {
      m.put(Uint8Array.of(k), 0, 1, v === undefined ? undefined : Uint8Array.of(v), 0, 1);
    };
    put(b, 1, 10);
    put(b, 2, 20);
    put(b, 4, 40);
    put(a, 2, 21);
    put(a, 3, 31);
    put(a, 4, undefined);
    const it = new MergingIterator([a.iterator(), b.iterator()]);
    it.seekFirst();
    expect(collect(it)).toEqual(["01=0a", "02=15", "03=1f", "04=DEL"]);
  });
});
