/**
 * BytesMap against a JS Map oracle: random keys of random lengths (0 to 255 bytes, so that
 * records cross into new chunks often) under random tags, through many doublings of the
 * slots (with lookups, inserts and `retain` while a doubling is under way), then `retain`
 * compaction. Also pins the hash function's values, since replays depend on them. The seed
 * is printed and replays with VENUE_SEED.
 */

import { describe, expect, it } from "vitest";
import { BytesMap } from "../../src/stdx/bytes_map.ts";
import { HASH_SEED, hashKey } from "../../src/stdx/hash.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

const textOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString("latin1");
const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);

describe("BytesMap", () => {
  it("keys crafted to pile up under the public seed pile up under it, and not under another seed", () => {
    // 131,072 slots (the table for 65,536 entries). Crafted like an attacker who knows the
    // hash and its default seed: ids whose home slot is one of the first 64.
    const entries = 1 << 16;
    const mask = (1 << 17) - 1;
    const src = new Uint8Array(8);
    const dv = viewOf(src);
    const tag = 3;
    const crafted: number[] = [];
    for (let i = 0; crafted.length < 3_000; i++) {
      dv.setUint32(0, i);
      if ((hashKey(HASH_SEED, tag, dv, 0, 8) & mask) < 64) crafted.push(i);
    }
    const fill = (seed: number): BytesMap => {
      const map = new BytesMap(entries, entries, seed);
      for (const i of crafted) {
        dv.setUint32(0, i);
        expect(map.find(tag, dv, 0, 8)).toBe(-1);
        map.insert(tag, dv, 0, 8, i, map.lastHash);
      }
      for (const i of crafted) {
        dv.setUint32(0, i);
        expect(map.value(map.find(tag, dv, 0, 8))).toBe(i);
      }
      return map;
    };
    // Under the seed they were made for, one run holds them all: a lookup there reads ~3,000 slots.
    expect(fill(HASH_SEED).longestRun()).toBeGreaterThanOrEqual(crafted.length);
    // Under another (a node with a gateway draws its own), they scatter like any keys.
    const scattered = fill(0x5eed0001).longestRun();
    expect(scattered).toBeLessThan(32);
    expect(scattered).toBeGreaterThan(0);
  });

  it("agrees with a Map through growth, doubling and retain", () => {
    const seed = seedFromEnv();
    console.log(`bytes_map: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const rng = new Prng(seed);
    const map = new BytesMap(16, 1 << 20);
    const oracle = new Map<string, number>();
    const src = new Uint8Array(600);
    const dv = viewOf(src);
    const key = (): [number, number, number, string] => {
      const tag = rng.int(-2, 5); // negative tags too: the engine's account tag is 0x7fffffff, ints are signed
      const len = rng.chance(0.05) ? rng.int(21, 255) : rng.int(0, 20);
      const at = rng.int(0, 300);
      for (let i = 0; i < len; i++) src[at + i] = rng.int(97, 100); // a small alphabet: many near-collisions
      return [tag, at, len, `${tag}:${textOf(src.subarray(at, at + len))}`];
    };
    const check = (): void => {
      expect(map.size).toBe(oracle.size);
      for (const [k, v] of oracle) {
        const [tag, bytes] = split(k);
        const e = map.find(tag, viewOf(bytes), 0, bytes.length);
        expect(e).toBeGreaterThanOrEqual(0);
        expect(map.value(e)).toBe(v);
        expect(map.tag(e)).toBe(tag);
        expect(textOf(map.keyBytes(e))).toBe(textOf(bytes));
      }
    };
    for (let i = 0; i < 40_000; i++) {
      const [tag, at, len, k] = key();
      const e = map.find(tag, dv, at, len);
      if (oracle.has(k)) {
        expect(e).toBeGreaterThanOrEqual(0);
        expect(map.value(e)).toBe(oracle.get(k));
        if (rng.chance(0.3)) {
          map.setValue(e, i);
          oracle.set(k, i);
        }
      } else {
        expect(e).toBe(-1);
        const inserted = rng.chance(0.5) ? map.insert(tag, dv, at, len, i, map.lastHash) : map.insert(tag, dv, at, len, i);
        expect(map.find(tag, dv, at, len)).toBe(inserted);
        oracle.set(k, i);
      }
      // Now and then forget a third of the keys, whatever the map is doing (often mid-doubling).
      if (i % 7919 === 7918) {
        retainAndCheck(map, oracle, (v) => v % 3 !== 0);
        check();
      }
    }
    check();
    retainAndCheck(map, oracle, (v) => v % 2 === 0);
    check();
  });

  it("finds every key at every step of a doubling", () => {
    const map = new BytesMap(16, 1 << 20);
    const bytes = new Uint8Array(8);
    const dv = viewOf(bytes);
    for (let i = 0; i < 5000; i++) {
      dv.setInt32(0, i, true);
      dv.setInt32(4, i * 7, true);
      map.insert(i & 3, dv, 0, 8, i);
      for (let j = Math.max(0, i - 40); j <= i; j++) {
        dv.setInt32(0, j, true);
        dv.setInt32(4, j * 7, true);
        expect(map.value(map.find(j & 3, dv, 0, 8))).toBe(j);
      }
      dv.setInt32(0, -1, true);
      expect(map.find(0, dv, 0, 8)).toBe(-1);
    }
  });

  it("refuses to grow past its maximum", () => {
    const map = new BytesMap(16, 2);
    const a = viewOf(Buffer.from("ab"));
    map.insert(0, a, 0, 1, 1);
    map.insert(0, a, 1, 1, 2);
    expect(map.full).toBe(true);
    expect(() => map.insert(0, a, 0, 2, 3)).toThrow(/full/);
  });
});

describe("hashKey", () => {
  it("keeps its values (replays and tables depend on them)", () => {
    const h = (tag: number, text: string): number => {
      const bytes = Buffer.from(text, "latin1");
      return hashKey(HASH_SEED, tag, viewOf(bytes), 0, bytes.length) >>> 0;
    };
    expect([h(0, ""), h(1, "o1"), h(7, "order-0001"), h(0x7fffffff, "acct-42"), h(3, "a".repeat(37))]).toEqual(PINNED);
  });

  it("reads the same key the same way at any offset", () => {
    const bytes = Buffer.from("..xx-order-12345-yy", "latin1");
    const at = (o: number): number => hashKey(HASH_SEED, 5, viewOf(bytes), o, 11);
    const copy = Buffer.from("order-12345", "latin1");
    expect(at(5)).toBe(hashKey(HASH_SEED, 5, viewOf(copy), 0, 11));
  });
  it("has the doubled slots faulted in before the doubling: the inserts that start the move take few page faults", () => {
    // 3 * 2^18 keys fill 2^20 slots to three-quarters load; the next inserts double them to
    // 2^21 slots (16 MiB, 4,096 pages). The move's first 3,000 inserts place ~48,000 keys at
    // random homes in them: written on first use, they would fault in nearly every page now.
    const map = new BytesMap(1024, 1 << 21);
    const src = new Uint8Array(8);
    const dv = viewOf(src);
    const put = (i: number): void => {
      dv.setUint32(0, i);
      dv.setUint32(4, i ^ 0x5bd1e995);
      map.insert(1, dv, 0, 8, i);
    };
    let i = 0;
    for (; i < 3 * (1 << 18) - 1; i++) put(i);
    const before = process.resourceUsage().minorPageFault;
    for (const end = i + 3_000; i < end; i++) put(i);
    const faults = process.resourceUsage().minorPageFault - before;
    expect(faults, "minor page faults of the 3,000 inserts that start the doubling").toBeLessThan(1_000);
    // And every key is still found.
    for (let k = 0; k < i; k += 997) {
      dv.setUint32(0, k);
      dv.setUint32(4, k ^ 0x5bd1e995);
      expect(map.value(map.find(1, dv, 0, 8))).toBe(k);
    }
  });
  it("faults in no doubled slots for a map whose cap keeps it from ever doubling", () => {
    // 2^18 entries at most in 2^19 slots: half load is the cap, below the doubling load;
    // doubled slots made ahead would be 8 MiB (2,048 pages) faulted in for nothing.
    const cap = 1 << 18;
    const map = new BytesMap(cap, cap); // its own slots and records are faulted in here
    const src = new Uint8Array(4);
    const dv = viewOf(src);
    const before = process.resourceUsage().minorPageFault;
    for (let i = 0; i < cap; i++) {
      dv.setUint32(0, i);
      map.insert(0, dv, 0, 4, i);
    }
    expect(process.resourceUsage().minorPageFault - before, "minor page faults of filling the map").toBeLessThan(1_000);
    expect(map.full).toBe(true);
    for (let i = 0; i < cap; i += 101) {
      dv.setUint32(0, i);
      expect(map.value(map.find(0, dv, 0, 4))).toBe(i);
    }
  });
});

/** Values of `hashKey` for the keys of the test above, as first computed. */
const PINNED = [1202157994, 3685364179, 3531317113, 12971869, 2974849836];

function split(k: string): [number, Uint8Array] {
  const colon = k.indexOf(":");
  return [Number(k.slice(0, colon)), Buffer.from(k.slice(colon + 1), "latin1")];
}

function retainAndCheck(map: BytesMap, oracle: Map<string, number>, keep: (v: number) => boolean): void {
  const moved = new Map<number, number>();
  map.retain(keep, (v, e) => moved.set(v, e));
  for (const [k, v] of [...oracle]) if (!keep(v)) oracle.delete(k);
  expect(moved.size).toBe(oracle.size);
  for (const [k, v] of oracle) {
    const [tag, bytes] = split(k);
    expect(map.find(tag, viewOf(bytes), 0, bytes.length)).toBe(moved.get(v));
  }
}
