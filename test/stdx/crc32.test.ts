/**
 * The journal's CRC32 against two independent implementations: zlib's and the `crc-32`
 * package's, on random ranges and seeds.
 */

import { crc32 } from "node:zlib";
import CRC32 from "crc-32";
import { describe, expect, it } from "vitest";
import { crc32Range } from "../../src/stdx/crc32.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

describe("crc32Range", () => {
  it("equals zlib.crc32 and the crc-32 package on random ranges and seeds", () => {
    const seed = seedFromEnv();
    const r = new Prng(seed);
    const data = new Uint8Array(1 << 16);
    for (let i = 0; i < data.length; i++) data[i] = r.nextU32() & 0xff;
    for (let n = 0; n < 5_000; n++) {
      const from = r.nextU32() % 60_000;
      const to = from + (r.nextU32() % 2_000);
      const s = n % 3 === 0 ? 0 : r.nextU32();
      const want = crc32(data.subarray(from, to), s);
      expect(crc32Range(data, from, to, s), `seed ${seed}, case ${n}`).toBe(want);
      if (s === 0) expect(CRC32.buf(data.subarray(from, to)) >>> 0).toBe(want);
    }
    expect(crc32Range(new TextEncoder().encode("123456789"), 0, 9)).toBe(0xcbf43926); // the check value
  });
});
