/**
 * A hash map from a pair of non-negative 32-bit integers to a 32-bit value, in one typed
 * array: no object per key, no allocation per lookup. Used for (account, instrument) ->
 * position and (account, currency) -> money account. No removal (positions and money
 * accounts live as long as the venue). Slots double at half load; `maxEntries` bounds it.
 *
 *   slots  Int32Array, 4 per slot: [a, b, value, used]   open addressing, linear probing
 *
 * Deterministic: the hash has a fixed seed.
 */

import { assert } from "./assert.ts";

export class IntPairMap {
  private slots: Int32Array;
  private mask: number;
  size = 0;

  constructor(initialEntries = 1024, readonly maxEntries = 1 << 24) {
    let cap = 16;
    while (cap < initialEntries * 2) cap *= 2;
    this.slots = new Int32Array(cap * 4);
    this.mask = cap - 1;
  }

  /** The value for (a, b), or -1. */
  get(a: number, b: number): number {
    const slots = this.slots;
    let s = hashPair(a, b) & this.mask;
    for (;;) {
      const base = s << 2;
      if (slots[base + 3] === 0) return -1;
      if (slots[base] === a && slots[base + 1] === b) return slots[base + 2]!;
      s = (s + 1) & this.mask;
    }
  }

  /** Sets (a, b) to `value`, adding the key if absent. */
  set(a: number, b: number, value: number): void {
    assert(a >= 0 && b >= 0, "int pair map keys are non-negative");
    let s = hashPair(a, b) & this.mask;
    const slots = this.slots;
    for (;;) {
      const base = s << 2;
      if (slots[base + 3] === 0) break;
      if (slots[base] === a && slots[base + 1] === b) {
        slots[base + 2] = value;
        return;
      }
      s = (s + 1) & this.mask;
    }
    assert(this.size < this.maxEntries, "int pair map full");
    if ((this.size + 1) * 2 > this.mask + 1) {
      this.grow();
      this.set(a, b, value);
      return;
    }
    const base = s << 2;
    slots[base] = a;
    slots[base + 1] = b;
    slots[base + 2] = value;
    slots[base + 3] = 1;
    this.size++;
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Int32Array(old.length * 2);
    this.mask = (this.slots.length >> 2) - 1;
    this.size = 0;
    for (let base = 0; base < old.length; base += 4) {
      if (old[base + 3] !== 0) this.set(old[base]!, old[base + 1]!, old[base + 2]!);
    }
  }
}

function hashPair(a: number, b: number): number {
  let h = Math.imul(a ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(b ^ 0x7f4a7c15, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  return h ^ (h >>> 12);
}
