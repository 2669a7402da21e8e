/**
 * The hot-path copies and the view cache: every length and alignment copies exactly, nothing
 * outside the range is touched, and the cache hands out a view of the array asked for, even
 * when more arrays alternate than it keeps.
 */

import { describe, expect, it } from "vitest";
import { ViewCache, copyOut, copyView } from "../../src/stdx/copy.ts";

describe("copyView", () => {
  it("copies every length at every alignment, and only that range", () => {
    const src = new Uint8Array(new SharedArrayBuffer(96)).map((_, i) => (i * 37 + 11) & 0xff);
    const sdv = new DataView(src.buffer);
    for (let off = 0; off < 8; off++) {
      for (let at = 0; at < 8; at++) {
        for (let len = 0; len <= 40; len++) {
          const dst = new Uint8Array(64).fill(0xee);
          copyView(new DataView(dst.buffer), at, sdv, off, len);
          const want = new Uint8Array(64).fill(0xee);
          want.set(src.subarray(off, off + len), at);
          expect(Buffer.from(dst).equals(Buffer.from(want)), `off ${off} at ${at} len ${len}`).toBe(true);
        }
      }
    }
  });

  it("keeps NaN payloads: bytes that read as a signalling NaN come out the same", () => {
    const src = Uint8Array.of(0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f); // a signalling NaN, little-endian
    const dst = new Uint8Array(8);
    copyView(new DataView(dst.buffer), 0, new DataView(src.buffer), 0, 8);
    expect([...dst]).toEqual([...src]);
  });
});

describe("ViewCache", () => {
  it("gives a view of the array asked for, across more arrays than it keeps", () => {
    const cache = new ViewCache();
    const arrays = Array.from({ length: 6 }, (_, i) => new Uint8Array(new ArrayBuffer(32), i, 16).fill(i + 1));
    for (let round = 0; round < 50; round++) {
      const i = (round * 7) % arrays.length;
      const b = arrays[i]!;
      const v = cache.of(b);
      expect(v.buffer).toBe(b.buffer);
      expect(v.byteOffset).toBe(b.byteOffset);
      expect(v.byteLength).toBe(b.byteLength);
      expect(v.getUint8(0)).toBe(i + 1);
    }
  });
});

describe("copyOut", () => {
  it("copies the range into bytes of its own: changing either side leaves the other alone", () => {
    const src = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const a = copyOut(src, 10, 130);
    const b = copyOut(src, 0, 0);
    const c = copyOut(src, 200, 300);
    expect([...a]).toEqual([...src.subarray(10, 130)]);
    expect(b.length).toBe(0);
    expect([...c]).toEqual([...src.subarray(200, 300)]);
    a.fill(0);
    expect([...src.subarray(10, 130)]).toEqual(Array.from({ length: 120 }, (_, i) => (i + 10) & 0xff));
    expect([...c]).toEqual([...src.subarray(200, 300)]); // a neighbour in the pool is untouched
    src.fill(7);
    expect(c[0]).toBe(200);
  });
});
