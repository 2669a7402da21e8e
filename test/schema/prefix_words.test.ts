/**
 * Key prefixes as words (src/schema/sstable.ts), which the event store's searches compare
 * before whole keys: for random keys of every length 0..40 (short ones take the loop, 16 and
 * more the unrolled path), comparing the words agrees in sign with comparing the keys' first
 * 16 bytes zero-padded, and ties exactly when those bytes are equal. The seed is printed.
 */

import { expect, it } from "vitest";
import { compareBytes, comparePrefixWords, prefixWords } from "../../src/schema/sstable.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

it("prefix words compare as the keys' first 16 bytes do, at any length and offset", () => {
  const seed = seedFromEnv();
  console.log(`prefix words: seed ${seed} (replay with VENUE_SEED=${seed})`);
  const r = new Prng(seed);
  const padded = (k: Uint8Array): Uint8Array => {
    const p = new Uint8Array(16);
    p.set(k.subarray(0, 16));
    return p;
  };
  for (let n = 0; n < 20_000; n++) {
    // Small alphabets and shared starts, so that ties and near-ties are common.
    const base = Uint8Array.from({ length: r.int(0, 40) }, () => r.int(0, 2));
    const other = base.slice(0, r.int(0, base.length));
    const b = Uint8Array.from([...other, ...Array.from({ length: r.int(0, 20) }, () => r.int(0, 2))]);
    const buf = new Uint8Array(base.length + 7);
    const off = r.int(0, 7);
    buf.set(base, off);
    const wa = new Uint32Array(8);
    const wb = new Uint32Array(4);
    prefixWords(buf, off, base.length, wa, 4);
    prefixWords(b, 0, b.length, wb, 0);
    const want = Math.sign(compareBytes(padded(base), 0, 16, padded(b), 0, 16));
    expect(Math.sign(comparePrefixWords(wa, 4, wb)), `seed ${seed}, case ${n}: ${base} against ${b}`).toBe(want);
  }
});
