/**
 * A hash map from (tag, byte string) to a 32-bit value, in typed arrays: no object per key,
 * no allocation per lookup. Used for account ids and client order ids, whose bytes are
 * read in place from command records.
 *
 * Open addressing with linear probing over a power-of-two table of entry indexes. Entries
 * live in parallel arrays; key bytes live in an append-only arena. There is no single-key
 * removal: an owner that forgets keys rebuilds the map from the keys it keeps (`retain`).
 * The table doubles at half load and the arena doubles when full: both allocate only while
 * the map grows, never in steady state. `maxEntries` bounds it.
 *
 * The hash is FNV-1a with a fixed seed, so the map is deterministic across runs (the engine
 * needs that). Bounded key lengths and `maxEntries` bound the damage of crafted collisions.
 */

import { assert } from "./assert.ts";

const EMPTY = -1;

export class BytesMap {
  private table: Int32Array;
  private mask: number;
  private keyOffset: Int32Array;
  private keyLen: Uint8Array;
  private keyTag: Int32Array;
  private keyHash: Int32Array;
  private values: Int32Array;
  private arena: Uint8Array;
  private arenaUsed = 0;
  size = 0;
  /** The hash computed by the last `find`, so that an insert after a miss need not hash again. */
  lastHash = 0;

  constructor(initialEntries = 1024, readonly maxEntries = 1 << 24, private readonly seed = 0x811c9dc5) {
    const cap = nextPow2(Math.max(16, initialEntries));
    this.table = new Int32Array(cap * 2).fill(EMPTY);
    this.mask = cap * 2 - 1;
    this.keyOffset = new Int32Array(cap);
    this.keyLen = new Uint8Array(cap);
    this.keyTag = new Int32Array(cap);
    this.keyHash = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.arena = new Uint8Array(cap * 16);
  }

  get full(): boolean {
    return this.size >= this.maxEntries;
  }

  hash(tag: number, src: Uint8Array, offset: number, length: number): number {
    let h = this.seed ^ Math.imul(tag, 0x9e3779b1);
    for (let i = 0; i < length; i++) h = Math.imul(h ^ src[offset + i]!, 0x01000193);
    h ^= h >>> 15;
    h = Math.imul(h, 0x2c1b3c6d);
    return h ^ (h >>> 12);
  }

  /** The entry index of the key, or -1. */
  find(tag: number, src: Uint8Array, offset: number, length: number): number {
    const h = this.hash(tag, src, offset, length);
    this.lastHash = h;
    let slot = h & this.mask;
    for (;;) {
      const e = this.table[slot]!;
      if (e === EMPTY) return -1;
      if (this.keyHash[e] === h && this.keyTag[e] === tag && this.keyLen[e] === length && this.sameBytes(e, src, offset, length)) return e;
      slot = (slot + 1) & this.mask;
    }
  }

  /**
   * Adds a key that is not present (callers `find` first) and returns its entry index.
   * `h` is the key's hash: pass `lastHash` when a `find` of this very key just missed.
   */
  insert(tag: number, src: Uint8Array, offset: number, length: number, value: number, h = this.hash(tag, src, offset, length)): number {
    assert(length <= 255, "key longer than 255 bytes");
    assert(!this.full, "bytes map full");
    if (this.size === this.keyOffset.length) this.growEntries();
    if (this.arenaUsed + length > this.arena.length) this.growArena(this.arenaUsed + length);
    if ((this.size + 1) * 2 > this.table.length) this.growTable();
    const e = this.size++;
    this.keyOffset[e] = this.arenaUsed;
    this.keyLen[e] = length;
    this.keyTag[e] = tag;
    this.keyHash[e] = h;
    this.values[e] = value;
    const arena = this.arena;
    const at = this.arenaUsed;
    for (let i = 0; i < length; i++) arena[at + i] = src[offset + i]!; // no subarray: no allocation
    this.arenaUsed += length;
    this.place(e, h);
    return e;
  }

  value(entry: number): number {
    return this.values[entry]!;
  }

  setValue(entry: number, value: number): void {
    this.values[entry] = value;
  }

  tag(entry: number): number {
    return this.keyTag[entry]!;
  }

  /** The key bytes of an entry (a view into the arena; copy before the map changes). */
  keyBytes(entry: number): Uint8Array {
    const o = this.keyOffset[entry]!;
    return this.arena.subarray(o, o + this.keyLen[entry]!);
  }

  /**
   * Keeps only the entries for which `keep(value)` is true, compacting entries and arena.
   * Entry indexes change: `moved(value, newEntry)` is called for each kept entry. Not for
   * hot paths (it is the day-roll of order ids).
   */
  retain(keep: (value: number) => boolean, moved: (value: number, entry: number) => void): void {
    let w = 0;
    let arenaW = 0;
    this.table.fill(EMPTY);
    for (let e = 0; e < this.size; e++) {
      const v = this.values[e]!;
      if (!keep(v)) continue;
      const o = this.keyOffset[e]!;
      const len = this.keyLen[e]!;
      this.arena.copyWithin(arenaW, o, o + len);
      this.keyOffset[w] = arenaW;
      this.keyLen[w] = len;
      this.keyTag[w] = this.keyTag[e]!;
      this.keyHash[w] = this.keyHash[e]!;
      this.values[w] = v;
      this.place(w, this.keyHash[w]!);
      moved(v, w);
      arenaW += len;
      w++;
    }
    this.size = w;
    this.arenaUsed = arenaW;
  }

  private sameBytes(e: number, src: Uint8Array, offset: number, length: number): boolean {
    const o = this.keyOffset[e]!;
    const arena = this.arena;
    for (let i = 0; i < length; i++) if (arena[o + i] !== src[offset + i]) return false;
    return true;
  }

  private place(e: number, h: number): void {
    let slot = h & this.mask;
    while (this.table[slot] !== EMPTY) slot = (slot + 1) & this.mask;
    this.table[slot] = e;
  }

  private growEntries(): void {
    const cap = this.keyOffset.length * 2;
    this.keyOffset = grownInt32(this.keyOffset, cap);
    this.keyTag = grownInt32(this.keyTag, cap);
    this.keyHash = grownInt32(this.keyHash, cap);
    this.values = grownInt32(this.values, cap);
    const len = new Uint8Array(cap);
    len.set(this.keyLen);
    this.keyLen = len;
  }

  private growArena(needed: number): void {
    let cap = this.arena.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.arena.subarray(0, this.arenaUsed));
    this.arena = next;
  }

  private growTable(): void {
    this.table = new Int32Array(this.table.length * 2).fill(EMPTY);
    this.mask = this.table.length - 1;
    for (let e = 0; e < this.size; e++) this.place(e, this.keyHash[e]!);
  }
}

function grownInt32(a: Int32Array, cap: number): Int32Array {
  const next = new Int32Array(cap);
  next.set(a);
  return next;
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
