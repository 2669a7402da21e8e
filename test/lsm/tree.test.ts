/**
 * The LSM tree against a Map: random puts, deletes, point reads, range and prefix scans,
 * with flushes, compactions and reopenings interleaved at random points. Small MemTables,
 * blocks and levels make every run flush and compact many times.
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareKeys } from "../../src/schema/sstable.ts";
import { LsmTree, prefixEnd, type LsmOptions } from "../../src/lsm/tree.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";

const SEED = seedFromEnv();
const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

type Op =
  | { k: "put"; key: number[]; size: number; fill: number }
  | { k: "del"; key: number[] }
  | { k: "get"; key: number[] }
  | { k: "scan"; from: number[]; to: number[] | null }
  | { k: "prefix"; prefix: number[] }
  | { k: "flush" }
  | { k: "idle" }
  | { k: "tick" }
  | { k: "reopen" };

const key = fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 6 });
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 40, arbitrary: fc.record({ k: fc.constant("put" as const), key, size: fc.integer({ min: 0, max: 200 }), fill: fc.integer({ min: 0, max: 255 }) }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant("del" as const), key }) },
  { weight: 15, arbitrary: fc.record({ k: fc.constant("get" as const), key }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("scan" as const), from: key, to: fc.option(key, { nil: null }) }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("prefix" as const), prefix: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 2 }) }) },
  { weight: 2, arbitrary: fc.constant({ k: "flush" as const }) },
  { weight: 2, arbitrary: fc.constant({ k: "idle" as const }) },
  { weight: 6, arbitrary: fc.constant({ k: "tick" as const }) },
  { weight: 1, arbitrary: fc.constant({ k: "reopen" as const }) },
);

function value(size: number, fill: number): Uint8Array {
  const v = new Uint8Array(size);
  for (let i = 0; i < size; i++) v[i] = (fill + i * 31) & 0xff;
  return v;
}

function modelScan(model: Map<string, Uint8Array>, from: Uint8Array, to: Uint8Array | undefined): string[] {
  return [...model]
    .map(([k, v]) => [new Uint8Array(Buffer.from(k, "hex")), v] as const)
    .filter(([k]) => compareKeys(k, from) >= 0 && (to === undefined || compareKeys(k, to) < 0))
    .sort((a, b) => compareKeys(a[0], b[0]))
    .map(([k, v]) => `${hex(k)}=${hex(v)}`);
}

function treeScan(t: LsmTree, from: Uint8Array, to: Uint8Array | undefined): string[] {
  const out: string[] = [];
  t.scan(from, to, (k, v) => {
    out.push(`${hex(k)}=${hex(v)}`);
  });
  return out;
}

async function runOps(ops: Op[], partitionBytes: number, prefix: number[] = []): Promise<{ flushes: number; compactions: number; moves: number }> {
  // Every key (and scan bound) gets `prefix` in front: with 14 bytes, keys tie on the first 16
  // bytes (the words point reads search by) and differ after them.
  const bytes = (k: number[]): Uint8Array => Uint8Array.from([...prefix, ...k]);
  const dir = mkdtempSync(join(tmpdir(), "venue-lsm-"));
  const opts: LsmOptions = { memtableBytes: 4096, blockBytes: 256, targetFileBytes: 2048, l1Bytes: 8192, l0Trigger: 4, partitionBytes };
  let t = LsmTree.open(dir, opts);
  const model = new Map<string, Uint8Array>();
  let flushes = 0;
  let compactions = 0;
  let moves = 0;
  let seq = 0;
  for (const o of ops) {
    switch (o.k) {
      case "put": {
        const v = value(o.size, o.fill);
        if (!t.writable) await t.whenWritable();
        t.put(bytes(o.key), v, ++seq);
        model.set(hex(bytes(o.key)), v);
        break;
      }
      case "del":
        if (!t.writable) await t.whenWritable();
        t.delete(bytes(o.key), ++seq);
        model.delete(hex(bytes(o.key)));
        break;
      case "get": {
        const got = t.get(bytes(o.key));
        const want = model.get(hex(bytes(o.key)));
        expect(got === undefined ? undefined : hex(got)).toBe(want === undefined ? undefined : hex(want));
        break;
      }
      case "scan": {
        const from = bytes(o.from);
        const to = o.to === null ? undefined : bytes(o.to);
        expect(treeScan(t, from, to)).toEqual(modelScan(model, from, to));
        break;
      }
      case "prefix": {
        const p = bytes(o.prefix);
        const out: string[] = [];
        t.scanPrefix(p, (k, v) => {
          out.push(`${hex(k)}=${hex(v)}`);
        });
        expect(out).toEqual(modelScan(model, p, prefixEnd(p)));
        break;
      }
      case "flush":
        await t.flush();
        expect(t.flushedSeq).toBe(seq);
        break;
      case "idle":
        await t.idle();
        break;
      case "tick":
        await new Promise((r) => setImmediate(r));
        break;
      case "reopen": {
        // A clean restart keeps what was flushed; the rest would come back from the journal.
        await t.flush();
        await t.idle();
        flushes += t.stats.flushes;
        compactions += t.stats.compactions;
        moves += t.stats.moves;
        await t.close();
        t = LsmTree.open(dir, opts);
        expect(t.flushedSeq).toBe(seq);
        break;
      }
    }
  }
  await t.flush();
  await t.idle();
  expect(treeScan(t, new Uint8Array(0), undefined)).toEqual(modelScan(model, new Uint8Array(0), undefined));
  flushes += t.stats.flushes;
  compactions += t.stats.compactions;
  moves += t.stats.moves;
  await t.close();
  const again = LsmTree.open(dir, opts);
  expect(treeScan(again, new Uint8Array(0), undefined)).toEqual(modelScan(model, new Uint8Array(0), undefined));
  await again.close();
  return { flushes, compactions, moves };
}

describe("LSM tree against a Map", () => {
  for (const [partitionBytes, prefix] of [[0, []], [1, []], [0, new Array<number>(14).fill(0xab)]] as const) {
    const what = partitionBytes > 0 ? ", tables partitioned by the first key byte" : prefix.length > 0 ? `, keys behind a common ${prefix.length}-byte prefix` : "";
    it(`random operations with flushes, compactions and reopenings${what} (seed ${SEED})`, async () => {
      console.log(`lsm model: seed ${SEED} (replay with VENUE_SEED=${SEED})`);
      let flushes = 0;
      let compactions = 0;
      let moves = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 50, maxLength: 1500 }), async (ops) => {
          const r = await runOps(ops, partitionBytes, [...prefix]);
          flushes += r.flushes;
          compactions += r.compactions;
          moves += r.moves;
        }),
        { seed: SEED, numRuns: 150, includeErrorInReport: true },
      );
      console.log(`lsm model (partition bytes ${partitionBytes}): ${flushes} flushes, ${compactions} compactions, ${moves} tables moved over 150 runs`);
      expect(flushes).toBeGreaterThan(100);
      expect(compactions).toBeGreaterThan(10);
      if (partitionBytes > 0) expect(moves).toBeGreaterThan(10);
    });
  }
});

describe("tables a reader still uses", () => {
  it("outlive the compaction that replaces them, and go when the cursor closes", async () => {
    const { readdirSync } = await import("node:fs");
    const dir = mkdtempSync(join(tmpdir(), "venue-lsm-pin-"));
    const t = LsmTree.open(dir, { memtableBytes: 4096, blockBytes: 256, targetFileBytes: 1 << 20, l0Trigger: 3 });
    const put = (i: number, v: number): void => t.put(Uint8Array.of(i >> 8, i & 0xff), new Uint8Array(40).fill(v));
    for (let i = 0; i < 60; i++) put(i, 1);
    await t.flush();
    for (let i = 0; i < 60; i++) put(i, 2); // overlaps the first table: a merge, not a move
    await t.flush();
    const before = readdirSync(dir).filter((n) => n.endsWith(".sst")).sort();
    const c = t.cursor(new Uint8Array(0), undefined);
    expect(c.key).toEqual(Uint8Array.of(0, 0));
    for (let i = 0; i < 60; i++) put(i, 3);
    await t.flush();
    await t.idle();
    expect(t.stats.compactions).toBeGreaterThan(0);
    // The replaced tables are still on disk and the cursor still reads them.
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(before));
    let n = 0;
    for (; c.valid; c.next()) {
      expect(c.value[0]).toBe(2);
      n++;
    }
    expect(n).toBe(60);
    c.close();
    const after = readdirSync(dir).filter((x) => x.endsWith(".sst"));
    for (const name of before) expect(after).not.toContain(name);
    expect(t.get(Uint8Array.of(0, 5))![0]).toBe(3);
    await t.close();
  });
});

describe("MemTables a reader still uses", () => {
  it("are not reused after their flush while a cursor reads them; the others are", async () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-lsm-mempin-"));
    const t = LsmTree.open(dir, { memtableBytes: 4096, blockBytes: 256, targetFileBytes: 1 << 20 });
    const put = (i: number, v: number): void => t.put(Uint8Array.of(i >> 8, i & 0xff), new Uint8Array(40).fill(v));
    for (let i = 0; i < 20; i++) put(i, 1);
    const c = t.cursor(new Uint8Array(0), undefined); // reads the active MemTable
    await t.flush();
    // Many rotations and flushes of other keys: a table whose buffers were reused would now hold these.
    for (let i = 1000; i < 1600; i++) {
      put(i, 9);
      if (i % 60 === 0) await t.flush();
    }
    await t.flush();
    expect(t.stats.flushes).toBeGreaterThan(5);
    expect(t.stats.memtablesReused).toBeGreaterThan(3);
    let n = 0;
    for (; c.valid; c.next()) {
      expect(c.key).toEqual(Uint8Array.of(n >> 8, n & 0xff));
      expect(c.value).toEqual(new Uint8Array(40).fill(1));
      n++;
    }
    expect(n).toBe(20);
    c.close();
    // Everything reads back through reused tables.
    for (let i = 0; i < 20; i++) expect(t.get(Uint8Array.of(0, i))![0]).toBe(1);
    for (let i = 1000; i < 1600; i++) expect(t.get(Uint8Array.of(i >> 8, i & 0xff))![0]).toBe(9);
    await t.close();
  });
});

describe("point reads of keys longer than 16 bytes", () => {
  it("find every key when many tables' keys tie on their first 16 bytes", async () => {
    // Point reads pick a level's table by the first 16 bytes of its largest key, then by the
    // whole key where those tie: here every key ties, and the tables of each level split
    // them by the bytes after the 16th.
    const dir = mkdtempSync(join(tmpdir(), "venue-lsm-long-"));
    const t = LsmTree.open(dir, { memtableBytes: 4096, blockBytes: 256, targetFileBytes: 2048, l1Bytes: 8192, l0Trigger: 4 });
    const keyOf = (i: number, extra: number): Uint8Array => Uint8Array.from([...new Array<number>(16).fill(7), i >> 8, i & 0xff, ...new Array<number>(extra).fill(1)]);
    for (let i = 0; i < 1500; i++) {
      if (!t.writable) await t.whenWritable();
      t.put(keyOf(i, i % 3), new Uint8Array(24).fill(i & 0xff), i + 1);
    }
    await t.flush();
    await t.idle();
    expect(t.levelStats().slice(1).some((l) => l.tables > 1)).toBe(true);
    for (let i = 0; i < 1500; i++) {
      expect(t.get(keyOf(i, i % 3))?.[0], `key ${i}`).toBe(i & 0xff);
      expect(t.get(keyOf(i, (i % 3) + 1)), `absent key ${i}`).toBeUndefined();
    }
    await t.close();
  });
});

describe("get", () => {
  it("returns a copy: changing it changes nothing stored, and it outlives the tree", async () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-lsm-copy-"));
    const t = LsmTree.open(dir, { memtableBytes: 4096, blockBytes: 256 });
    t.put(Uint8Array.of(1), new Uint8Array(8).fill(1), 1);
    await t.flush(); // in a table (read through the mapping where the addon is built)
    t.put(Uint8Array.of(2), new Uint8Array(8).fill(2), 2); // in the MemTable
    const fromTable = t.get(Uint8Array.of(1))!;
    const fromMemTable = t.get(Uint8Array.of(2))!;
    fromTable.fill(9);
    fromMemTable.fill(9);
    expect([...t.get(Uint8Array.of(1))!]).toEqual(new Array(8).fill(1));
    expect([...t.get(Uint8Array.of(2))!]).toEqual(new Array(8).fill(2));
    const kept = t.get(Uint8Array.of(1))!;
    await t.close();
    expect([...kept]).toEqual(new Array(8).fill(1));
  });
});

describe("starts in a row (a tree without background work, as a node's replay opens it)", () => {
  it("compactSync keeps the small tables each start's flushes leave from piling up; every key stays", () => {
    // 60 starts, each writing 400 events of rising seq over 4 partitions into 8 KiB
    // MemTables and flushing: many small tables a start. With compactSync at each start's
    // end (as the node does) the count stays bounded; without, it grows with the starts.
    const run = (compact: boolean): { tables: number; keys: string[] } => {
      const dir = mkdtempSync(join(tmpdir(), "venue-lsm-starts-"));
      const o: LsmOptions = { background: false, memtableBytes: 8 << 10, partitionBytes: 1, targetFileBytes: 256 << 10 };
      let seq = 0;
      for (let start = 0; start < 60; start++) {
        const t = LsmTree.open(dir, o);
        for (let i = 0; i < 400; i++) {
          seq++;
          const k = new Uint8Array(9);
          k[0] = seq % 4; // the partition
          new DataView(k.buffer).setUint32(5, seq);
          t.put(k, value(24, seq & 0xff), seq);
          if (!t.writable) t.flushSync();
        }
        t.flushSync();
        if (compact) t.compactSync();
        t.closeSync();
      }
      const t = LsmTree.open(dir, o);
      const tables = t.levelStats().reduce((s, l) => s + l.tables, 0);
      const keys = treeScan(t, new Uint8Array(0), undefined);
      t.closeSync();
      return { tables, keys };
    };
    const piled = run(false);
    const kept = run(true);
    expect(piled.keys.length).toBe(24_000);
    expect(kept.keys).toEqual(piled.keys); // every key and value, merged or not
    console.log(`starts in a row: ${piled.tables} tables without compactSync, ${kept.tables} with`);
    expect(piled.tables).toBeGreaterThanOrEqual(400);
    expect(kept.tables).toBeLessThan(piled.tables / 4);
  });
});

describe("tables kept open (maxOpenTables)", () => {
  it("stay at the cap for point reads; a cursor's tables stay open while it reads", () => {
    // ~100 tables over 8 partitions, some moved down the levels (read through the per-level
    // search) and some still in level 0, read with a cap of 4 open tables.
    const dir = mkdtempSync(join(tmpdir(), "venue-lsm-open-"));
    const o: LsmOptions = { background: false, memtableBytes: 8 << 10, partitionBytes: 1, maxOpenTables: 4 };
    const t = LsmTree.open(dir, o);
    const keyOf = (seq: number): Uint8Array => {
      const k = new Uint8Array(9);
      k[0] = seq % 8;
      new DataView(k.buffer).setUint32(5, seq);
      return k;
    };
    const N = 3_000;
    for (let seq = 1; seq <= N; seq++) {
      t.put(keyOf(seq), value(24, seq & 0xff), seq);
      if (!t.writable) t.flushSync();
      if (seq === N / 2) {
        t.flushSync();
        t.compactSync();
      }
    }
    t.flushSync();
    const levels = t.levelStats();
    expect(levels[0]!.tables).toBeGreaterThan(8);
    expect(levels.slice(1).reduce((s, l) => s + l.tables, 0)).toBeGreaterThan(8);
    const want = (seq: number): string => hex(value(24, seq & 0xff));

    // A cursor over everything, read a step at a time between point reads of other tables.
    const c = t.cursor(new Uint8Array(0), undefined);
    let stepped = 0;
    for (let seq = 1; seq <= N; seq++) {
      expect(hex(t.get(keyOf((seq * 7919) % N + 1))!)).toBe(want((seq * 7919) % N + 1));
      expect(c.valid).toBe(true);
      const s = new DataView(c.key.buffer, c.key.byteOffset).getUint32(5);
      expect(hex(c.value)).toBe(want(s));
      c.next();
      stepped++;
    }
    expect(c.valid).toBe(false);
    c.close();
    expect(stepped).toBe(N);

    // With no cursor open, point reads keep at most 4 tables open.
    const before = t.stats.tablesEvicted;
    for (let seq = N; seq >= 1; seq--) {
      expect(hex(t.get(keyOf(seq))!)).toBe(want(seq));
      expect(t.openTables).toBeLessThanOrEqual(4);
    }
    expect(t.stats.tablesEvicted).toBeGreaterThan(before);
    expect(t.stats.tablesOpened).toBeGreaterThan(100);
    t.closeSync();
  });
});
