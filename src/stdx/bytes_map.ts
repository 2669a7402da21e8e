/**
 * A hash map from (tag, byte string) to a 32-bit value, in typed arrays: no object per key,
 * no allocation per lookup. Used for account ids and client order ids, whose bytes are
 * read in place from command records.
 *
 * Laid out for few cache misses per lookup, because the order-id map holds a whole trading
 * day of ids and lookups miss the cache:
 *
 *   slots    Int32Array, 2 per slot: [hash, entry]     open addressing, linear probing;
 *                                                      a probe compares hashes in one line
 *   entries  Int32Array, 4 per entry:                  one entry's fields in one line
 *            [keyOffset, tag, keyLength, value]
 *   arena    Uint8Array: key bytes, append-only        touched only on a hash match
 *
 * A hit costs about three cache lines (slot, entry, key bytes); a miss usually one.
 * There is no single-key removal: an owner that forgets keys rebuilds the map from the keys
 * it keeps (`retain`). Slots double at half load and entries and arena double when full:
 * all three allocate only while the map grows, never in steady state. `maxEntries` bounds it.
 *
 * The hash is FNV-1a with a fixed seed, so the map is deterministic across runs (the engine
 * needs that). Bounded key lengths and `maxEntries` bound the damage of crafted collisions.
 */

import { assert } from "./assert.ts";

const EMPTY = -1;
const E_OFFSET = 0;
const E_TAG = 1;
const E_LENGTH = 2;
const E_VALUE = 3;
const STRIDE = 4;

export class BytesMap {
  private slots: Int32Array;
  private mask: number;
  private entries: Int32Array;
  private arena: Uint8Array;
  private arenaUsed = 0;
  size = 0;
  /** The hash computed by the last `find`, so that an insert after a miss need not hash again. */
  lastHash = 0;

  constructor(initialEntries = 1024, readonly maxEntries = 1 << 24, private readonly seed = 0x811c9dc5) {
    const cap = nextPow2(Math.max(16, initialEntries));
    this.mask = cap * 2 - 1; // slots: twice the entries, so the load stays at or below one half
    this.slots = newSlots(cap * 2);
    this.entries = new Int32Array(cap * STRIDE);
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
    const slots = this.slots;
    let s = h & this.mask;
    for (;;) {
      const e = slots[2 * s + 1]!;
      if (e === EMPTY) return -1;
      if (slots[2 * s] === h && this.sameKey(e, tag, src, offset, length)) return e;
      s = (s + 1) & this.mask;
    }
  }

  /**
   * Adds a key that is not present (callers `find` first) and returns its entry index.
   * `h` is the key's hash: pass `lastHash` when a `find` of this very key just missed.
   */
  insert(tag: number, src: Uint8Array, offset: number, length: number, value: number, h = this.hash(tag, src, offset, length)): number {
    assert(length <= 255, "key longer than 255 bytes");
    assert(!this.full, "bytes map full");
    if ((this.size + 1) * STRIDE > this.entries.length) this.growEntries();
    if (this.arenaUsed + length > this.arena.length) this.growArena(this.arenaUsed + length);
    if ((this.size + 1) * 2 > this.mask + 1) this.growSlots();
    const e = this.size++;
    const base = e * STRIDE;
    const entries = this.entries;
    entries[base + E_OFFSET] = this.arenaUsed;
    entries[base + E_TAG] = tag;
    entries[base + E_LENGTH] = length;
    entries[base + E_VALUE] = value;
    const arena = this.arena;
    const at = this.arenaUsed;
    for (let i = 0; i < length; i++) arena[at + i] = src[offset + i]!; // no subarray: no allocation
    this.arenaUsed += length;
    this.place(e, h);
    return e;
  }

  value(entry: number): number {
    return this.entries[entry * STRIDE + E_VALUE]!;
  }

  setValue(entry: number, value: number): void {
    this.entries[entry * STRIDE + E_VALUE] = value;
  }

  tag(entry: number): number {
    return this.entries[entry * STRIDE + E_TAG]!;
  }

  /** The key bytes of an entry (a view into the arena; copy before the map changes). */
  keyBytes(entry: number): Uint8Array {
    const o = this.entries[entry * STRIDE + E_OFFSET]!;
    return this.arena.subarray(o, o + this.entries[entry * STRIDE + E_LENGTH]!);
  }

  /**
   * Keeps only the entries for which `keep(value)` is true, compacting entries and arena.
   * Entry indexes change: `moved(value, newEntry)` is called for each kept entry. Not for
   * hot paths (it is the day-roll of order ids).
   */
  retain(keep: (value: number) => boolean, moved: (value: number, entry: number) => void): void {
    const entries = this.entries;
    let w = 0;
    let arenaW = 0;
    this.slots.fill(EMPTY);
    for (let e = 0; e < this.size; e++) {
      const base = e * STRIDE;
      const v = entries[base + E_VALUE]!;
      if (!keep(v)) continue;
      const o = entries[base + E_OFFSET]!;
      const len = entries[base + E_LENGTH]!;
      const tag = entries[base + E_TAG]!;
      this.arena.copyWithin(arenaW, o, o + len);
      const wb = w * STRIDE;
      entries[wb + E_OFFSET] = arenaW;
      entries[wb + E_TAG] = tag;
      entries[wb + E_LENGTH] = len;
      entries[wb + E_VALUE] = v;
      this.place(w, this.hash(tag, this.arena, arenaW, len));
      moved(v, w);
      arenaW += len;
      w++;
    }
    this.size = w;
    this.arenaUsed = arenaW;
  }

  private sameKey(e: number, tag: number, src: Uint8Array, offset: number, length: number): boolean {
    const base = e * STRIDE;
    const entries = this.entries;
    if (entries[base + E_TAG] !== tag || entries[base + E_LENGTH] !== length) return false;
    const o = entries[base + E_OFFSET]!;
    const arena = this.arena;
    for (let i = 0; i < length; i++) if (arena[o + i] !== src[offset + i]) return false;
    return true;
  }

  private place(e: number, h: number): void {
    const slots = this.slots;
    let s = h & this.mask;
    while (slots[2 * s + 1] !== EMPTY) s = (s + 1) & this.mask;
    slots[2 * s] = h;
    slots[2 * s + 1] = e;
  }

  private growEntries(): void {
    const next = new Int32Array(this.entries.length * 2);
    next.set(this.entries);
    this.entries = next;
  }

  private growArena(needed: number): void {
    let cap = this.arena.length * 2;
    while (cap < needed) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.arena.subarray(0, this.arenaUsed));
    this.arena = next;
  }

  /** Doubles the slots and re-places every entry by the hash kept in its old slot. */
  private growSlots(): void {
    const old = this.slots;
    this.slots = newSlots(old.length); // old.length / 2 slots before, twice that now
    this.mask = old.length - 1;
    for (let s = 0; s < old.length; s += 2) {
      const e = old[s + 1]!;
      if (e !== EMPTY) this.place(e, old[s]!);
    }
  }
}

function newSlots(count: number): Int32Array {
  const slots = new Int32Array(count * 2);
  for (let s = 1; s < slots.length; s += 2) slots[s] = EMPTY;
  return slots;
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
