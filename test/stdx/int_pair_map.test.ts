/** IntPairMap against a JS Map oracle through growth; the seed is printed and replays with VENUE_SEED. */

import { describe, expect, it } from "vitest";
import { IntPairMap } from "../../src/stdx/int_pair_map.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

describe("IntPairMap", () => {
  it("agrees with a Map through growth", () => {
    const seed = seedFromEnv();
    console.log(`int_pair_map: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const rng = new Prng(seed);
    const map = new IntPairMap(4);
    const oracle = new Map<string, number>();
    for (let i = 0; i < 50_000; i++) {
      const a = rng.int(0, 3000);
      const b = rng.int(0, rng.chance(0.5) ? 3 : 2_000_000_000);
      const k = `${a},${b}`;
      expect(map.get(a, b)).toBe(oracle.get(k) ?? -1);
      if (rng.chance(0.6)) {
        map.set(a, b, i);
        oracle.set(k, i);
      }
    }
    expect(map.size).toBe(oracle.size);
    for (const [k, v] of oracle) {
      const [a, b] = k.split(",").map(Number) as [number, number];
      expect(map.get(a, b)).toBe(v);
    }
  });
});
