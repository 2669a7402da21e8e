/**
 * The journal's CRC32 against two independent implementations: zlib's and the `crc-32`
 * package's, on random ranges and seeds.
 */

import { crc32 } from "node:zlib";
import CRC32 from "crc-32";
import { describe, expect, it } from "vitest";
import { CrcShift, crc32Range, crc32Residue } from "../../src/stdx/crc32.ts";
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

  it("shifts a running CRC over n unread bytes, and a frame ending in its own CRC leaves the residue", () => {
    const seed = seedFromEnv();
    const r = new Prng(seed);
    const shift = new CrcShift(512);
    const data = new Uint8Array(600);
    for (let n = 0; n < 2_000; n++) {
      for (let i = 0; i < data.length; i++) data[i] = r.nextU32() & 0xff;
      const len = 8 * (r.nextU32() % 65);
      const a = r.nextU32();
      const b = r.nextU32();
      const d = data.subarray(0, len);
      expect(shift.shift(len, (a ^ b) >>> 0), `seed ${seed}, case ${n}`).toBe((crc32(d, a) ^ crc32(d, b)) >>> 0);
      // Covered bytes, their CRC (little-endian), then `pad` zeros: the running CRC is the residue.
      const covered = r.nextU32() % 500;
      const pad = r.nextU32() % 8;
      const c = crc32(data.subarray(0, covered), a);
      new DataView(data.buffer).setUint32(covered, c, true);
      data.fill(0, covered + 4, covered + 4 + pad);
      expect(crc32(data.subarray(0, covered + 4 + pad), a), `seed ${seed}, case ${n}`).toBe(crc32Residue(pad));
    }
    expect(crc32Residue(0)).toBe(0x2144df1c); // CRC-32's published residue
    expect(() => shift.shift(12, 1)).toThrow(RangeError);
    expect(() => shift.shift(520, 1)).toThrow(RangeError);
  });
});
