/**
 * Record copies move every bit: 8-byte word copies through Float64Array views must not
 * canonicalise NaN payloads (records hold arbitrary int64s and id bytes).
 */

import { describe, expect, it } from "vitest";
import { copyPreservesBits, copyRecord } from "../../src/bus/copy.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

describe("copyRecord", () => {
  it("preserves every NaN payload, hot (after the JIT has optimised it)", () => {
    expect(copyPreservesBits(200_000)).toBe(true);
  });

  it("copies random records exactly, at any 8-aligned offsets", () => {
    const seed = seedFromEnv();
    console.log(`copy: seed ${seed}`);
    const r = new Prng(seed);
    const src = Buf.alloc(1 << 16);
    const dst = Buf.alloc(1 << 16);
    for (let i = 0; i < src.byteLength; i += 4) src.dv.setUint32(i, r.nextU32(), true);
    for (let n = 0; n < 20_000; n++) {
      const bytes = 8 * (1 + (r.nextU32() % 64));
      const from = 8 * (r.nextU32() % ((src.byteLength - bytes) / 8));
      const to = 8 * (r.nextU32() % ((dst.byteLength - bytes) / 8));
      copyRecord(src.f64, src.i32, from, dst.f64, dst.i32, to, bytes);
      if (Buffer.compare(src.u8.subarray(from, from + bytes), dst.u8.subarray(to, to + bytes)) !== 0) throw new Error(`copy ${n} differs (seed ${seed})`);
    }
  });
});
