/**
 * The tables' bloom filter: about 10 bits and 7 probes per key (about 1% false positives;
 * blocked, so a key's probes share one cache line),
 * built once when a table is written and queried on every point read. The layout and the
 * hash are the table format's (src/schema/sstable.ts); this is the arithmetic.
 */

import { FILTER_BITS_PER_KEY, FILTER_BLOCKED, FILTER_BLOCK_BITS, FILTER_PROBES, filterHash } from "../schema/sstable.ts";

/**
 * The block of a blocked filter of `blocks` blocks that holds the probes of hash `h`: the
 * high bits of h times the golden ratio, scaled to the block count (a product below 2^53,
 * exact). Not a remainder of the low bits: the probes inside the block use those.
 */
function blockOf(h: number, blocks: number): number {
  return Math.floor(((Math.imul(h, 0x9e3779b1) >>> 0) * blocks) / 4294967296);
}

/** Collects key hashes while a table is written; `build` lays out the filter payload. */
export class FilterBuilder {
  private hashes: Uint32Array;
  private n = 0;

  /** `expectedKeys`: room for this many hashes before the first growth. */
  constructor(expectedKeys = 1024) {
    this.hashes = new Uint32Array(Math.max(16, expectedKeys));
  }

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

  /**
   * The filter block payload, blocked: probes | FILTER_BLOCKED (u32), bits (u32, a multiple
   * of 512), the bit array. Each key sets its probes' bits in one 512-bit block (`blockOf`):
   * bits h, h + d, h + 2d, ... modulo 512 of it.
   */
  build(): Uint8Array {
    const blocks = Math.max(1, Math.ceil((this.n * FILTER_BITS_PER_KEY) / FILTER_BLOCK_BITS));
    const bits = blocks * FILTER_BLOCK_BITS;
    const out = new Uint8Array(8 + (bits >>> 3));
    const dv = new DataView(out.buffer);
    dv.setUint32(0, FILTER_PROBES | FILTER_BLOCKED, true);
    dv.setUint32(4, bits, true);
    for (let i = 0; i < this.n; i++) {
      let h = this.hashes[i]!;
      const d = ((h >>> 17) | (h << 15)) >>> 0;
      const base = 8 + blockOf(h, blocks) * (FILTER_BLOCK_BITS >>> 3);
      for (let p = 0; p < FILTER_PROBES; p++) {
        const bit = h & (FILTER_BLOCK_BITS - 1);
        out[base + (bit >>> 3)]! |= 1 << (bit & 7);
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
  /** Blocks of a blocked filter; 0 for one whose probes spread over all its bits. */
  private readonly blocks: number;
  private readonly flags: number;

  constructor(private readonly payload: Uint8Array) {
    const dv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    const word = dv.getUint32(0, true);
    this.probes = word & 0xff;
    this.flags = word & ~0xff;
    this.bits = dv.getUint32(4, true);
    this.blocks = this.flags === FILTER_BLOCKED ? Math.floor(this.bits / FILTER_BLOCK_BITS) : 0;
  }

  /** Whether the filter is well formed for its length (checked when a table is opened). */
  get valid(): boolean {
    if (this.probes < 1 || this.probes > 30 || this.bits === 0 || this.payload.length !== 8 + ((this.bits + 7) >>> 3)) return false;
    if (this.flags === 0) return true;
    return this.flags === FILTER_BLOCKED && this.bits % FILTER_BLOCK_BITS === 0;
  }

  /** False proves the key absent; true means it may be present. */
  mayContain(key: Uint8Array, off: number, len: number): boolean {
    return this.mayContainHash(filterHash(key, off, len));
  }

  /** As `mayContain`, given the key's `filterHash` (computed once for every table a read visits). */
  mayContainHash(hash: number): boolean {
    let h = hash;
    const d = ((h >>> 17) | (h << 15)) >>> 0;
    const b = this.payload;
    if (this.blocks > 0) {
      const base = 8 + blockOf(h, this.blocks) * (FILTER_BLOCK_BITS >>> 3);
      for (let p = 0; p < this.probes; p++) {
        const bit = h & (FILTER_BLOCK_BITS - 1);
        if ((b[base + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
        h = (h + d) >>> 0;
      }
      return true;
    }
    const bits = this.bits >>> 0;
    for (let p = 0; p < this.probes; p++) {
      const bit = (h >>> 0) % bits;
      if ((b[8 + (bit >>> 3)]! & (1 << (bit & 7))) === 0) return false;
      h = (h + d) >>> 0;
    }
    return true;
  }
}
