/**
 * The tables' bloom filter: no false negatives, and false positives near the design rate,
 * for the blocked filters tables are written with and for the spread-probe filters earlier
 * tables hold (built here by hand, as the format describes them).
 */

import { describe, expect, it } from "vitest";
import { Filter, FilterBuilder } from "../../src/lsm/bloom.ts";
import { FILTER_BITS_PER_KEY, FILTER_BLOCKED, FILTER_PROBES, filterHash } from "../../src/schema/sstable.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

const SEED = seedFromEnv();

function keys(r: Prng, n: number): Uint8Array[] {
  return Array.from({ length: n }, () => {
    const k = new Uint8Array(16);
    for (let i = 0; i < 16; i++) k[i] = r.nextU32() & 0xff;
    return k;
  });
}

/** A filter whose probes spread over all its bits (the earlier layout), built by hand. */
function spreadFilter(present: Uint8Array[]): Uint8Array {
  const bits = Math.max(64, present.length * FILTER_BITS_PER_KEY);
  const out = new Uint8Array(8 + ((bits + 7) >>> 3));
  const dv = new DataView(out.buffer);
  dv.setUint32(0, FILTER_PROBES, true);
  dv.setUint32(4, bits, true);
  for (const k of present) {
    let h = filterHash(k, 0, k.length);
    const d = ((h >>> 17) | (h << 15)) >>> 0;
    for (let p = 0; p < FILTER_PROBES; p++) {
      const bit = h % bits;
      out[8 + (bit >>> 3)]! |= 1 << (bit & 7);
      h = (h + d) >>> 0;
    }
  }
  return out;
}

function falsePositiveRate(f: Filter, absent: Uint8Array[]): number {
  let fp = 0;
  for (const k of absent) if (f.mayContain(k, 0, k.length)) fp++;
  return fp / absent.length;
}

describe("bloom filter", () => {
  it(`finds every key and admits about 1% of absent ones, blocked and spread (seed ${SEED})`, () => {
    const r = new Prng(SEED);
    for (const n of [1, 100, 20_000]) {
      const present = keys(r, n);
      const absent = keys(r, 100_000);
      const b = new FilterBuilder();
      for (const k of present) b.add(k, 0, k.length);
      const payload = b.build();
      expect(new DataView(payload.buffer).getUint32(0, true)).toBe(FILTER_PROBES | FILTER_BLOCKED);
      for (const [what, bytes] of [["blocked", payload], ["spread", spreadFilter(present)]] as const) {
        const f = new Filter(bytes);
        expect(f.valid, what).toBe(true);
        for (const k of present) expect(f.mayContain(k, 0, k.length), `${what}, seed ${SEED}`).toBe(true);
        const rate = falsePositiveRate(f, absent);
        console.log(`bloom ${what}, ${n} keys: ${(rate * 100).toFixed(2)}% false positives`);
        if (n >= 20_000) expect(rate, `${what}, seed ${SEED}`).toBeLessThan(0.02);
      }
    }
  });

  it("refuses a malformed filter", () => {
    const b = new FilterBuilder();
    b.add(Uint8Array.of(1), 0, 1);
    const good = b.build();
    const with32 = (word: number, bits: number): Uint8Array => {
      const p = good.slice();
      new DataView(p.buffer).setUint32(0, word, true);
      new DataView(p.buffer).setUint32(4, bits, true);
      return p;
    };
    expect(new Filter(good).valid).toBe(true);
    expect(new Filter(with32(FILTER_PROBES | 0x200, 512)).valid).toBe(false); // unknown flag
    expect(new Filter(with32(0 | FILTER_BLOCKED, 512)).valid).toBe(false); // no probes
    const odd = new Uint8Array(8 + 32);
    new DataView(odd.buffer).setUint32(0, FILTER_PROBES | FILTER_BLOCKED, true);
    new DataView(odd.buffer).setUint32(4, 256, true); // blocked, but not whole blocks
    expect(new Filter(odd).valid).toBe(false);
    expect(new Filter(good.subarray(0, good.length - 1)).valid).toBe(false);
  });
});
