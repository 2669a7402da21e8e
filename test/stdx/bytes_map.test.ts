/**
 * BytesMap against a JS Map oracle: random keys of random lengths under random tags,
 * through many doublings of slots, entries and arena, then `retain` compaction. The seed is
 * printed and replays with VENUE_SEED.
 */

import { describe, expect, it } from "vitest";
import { BytesMap } from "../../src/stdx/bytes_map.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

describe("BytesMap", () => {
  it("agrees with a Map through growth and retain", () => {
    const seed = seedFromEnv();
    console.log(`bytes_map: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const rng = new Prng(seed);
    const map = new BytesMap(16, 1 << 20);
    const oracle = new Map<string, number>();
    const src = new Uint8Array(300);
    const key = (): [number, number, number, string] => {
      const tag = rng.int(0, 5);
      const len = rng.int(0, 20);
      const at = rng.int(0, 200);
      for (let i = 0; i < len; i++) src[at + i] = rng.int(97, 100); // a small alphabet: many near-collisions
      return [tag, at, len, `${tag}:${Buffer.from(src.subarray(at, at + len)).toString("latin1")}`];
    };
    for (let i = 0; i < 20_000; i++) {
      const [tag, at, len, k] = key();
      const e = map.find(tag, src, at, len);
      if (oracle.has(k)) {
        expect(e).toBeGreaterThanOrEqual(0);
        expect(map.value(e)).toBe(oracle.get(k));
        if (rng.chance(0.3)) {
          map.setValue(e, i);
          oracle.set(k, i);
        }
      } else {
        expect(e).toBe(-1);
        const inserted = rng.chance(0.5) ? map.insert(tag, src, at, len, i, map.lastHash) : map.insert(tag, src, at, len, i);
        expect(map.find(tag, src, at, len)).toBe(inserted);
        oracle.set(k, i);
      }
    }
    expect(map.size).toBe(oracle.size);

    const moved = new Map<number, number>();
    map.retain((v) => v % 2 === 0, (v, e) => moved.set(v, e));
    for (const [k, v] of [...oracle]) if (v % 2 !== 0) oracle.delete(k);
    expect(map.size).toBe(oracle.size);
    for (const [k, v] of oracle) {
      const [tagText, text] = [k.slice(0, k.indexOf(":")), k.slice(k.indexOf(":") + 1)];
      const bytes = Buffer.from(text, "latin1");
      const e = map.find(Number(tagText), bytes, 0, bytes.length);
      expect(e).toBe(moved.get(v));
      expect(map.value(e)).toBe(v);
    }
  });

  it("refuses to grow past its maximum", () => {
    const map = new BytesMap(16, 2);
    const a = Buffer.from("ab");
    map.insert(0, a, 0, 1, 1);
    map.insert(0, a, 1, 1, 2);
    expect(map.full).toBe(true);
    expect(() => map.insert(0, a, 0, 2, 3)).toThrow(/full/);
  });
});
