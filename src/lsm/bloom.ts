/**
 * The tables' bloom filter: about 10 bits and 7 probes per key (about 1% false positives),
 * built once when a table is written and queried on every point read. The layout and the
 * hash are the table format's (src/schema/sstable.ts); this is the arithmetic.
 */

import { FILTER_BITS_PER_KEY, FILTER_PROBES, filterHash } from "../schema/sstable.ts";

/** Collects key hashes while a table is written; `build` lays out the filter payload. */
export class FilterBuilder {
  private hashes = new Uint32Array(1024);
  private n = 0;

  add(key: Uint8Array, off: number, len: number): void {
    if (this.n === this.hashes.length) {
      const grown = new Uint32Array(this.hashes.length * 2);
      grown.set(this.hashes);
      this.hashes = grown;
    }
    this.hashes[this.n++] = filterHash(key, off, len);
  }

  get count(): number {
    return this.n;
  }

  /** The filter block payload: probes (u32), bits (u32), the bit array. */
  build(): Uint8Array {
    // `>>> 0` on both operands: the compiler then divides as unsigned 32-bit integers
    // instead of calling the floating-point remainder (the same result, several times faster).
    const bits = Math.max(64, this.n * FILTER_BITS_PER_KEY) >>> 0;
    const out = new Uint8Array(8 + ((bits + 7) >>> 3));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, FILTER_PROBES, true);
    dv.setUint32(4, bits, true);
    for (let i = 0; i < this.n; i++) {
      let h = this.hashes[i]!;
      const d = ((h >>> 17) | (h << 15)) >>> 0;
      for (let p = 0; p < FILTER_PROBES; p++) {
        const bit = (h >>> 0) % bits;
        out[8 + (bit >>> 3)]! |= 1 << (bit & 7);
        h = (h + d) >>> 0;
      }
    }
    return out;
  }
}

/** A table's filter, over its payload bytes (which it does not copy). */
export class Filter {
  private readonly probes: number;
  private readonly bits: number;

  constructor(private readonly payload: Uint8Array) {
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    this.probes = dv.getUint32(0, true);
    this.bits = dv.getUint32(4, true);
  }

  /** Whether the filter is well formed for its length (checked when a table is opened). */
  get valid(): boolean {
    return this.probes >= 1 && this.probes <= 30 && this.bits > 0 && this.payload.length === 8 + ((this.bits + 7) >>> 3);
  }

  /** False proves the key absent; true means it may be present. */
  mayContain(key: Uint8Array, off: number, len: number): boolean {
    return this.mayContainHash(filterHash(key, off, len));
  }

  /** As `mayContain`, given the key's `filterHash` (computed once for every table a read visits). */
  mayContainHash(hash: number): boolean {
    let h = hash;
    const d = ((h >>> 17) | (h << 15)) >>> 0;
    const bits = this.bits >>> 0;
    const b = this.payload;
    for (let p = 0; p < this.probes; p++) {
      const bit = (h >>> 0) % bits;
      if ((b[8 + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
      h = (h + d) >>> 0;
    }
    return true;
  }
}
