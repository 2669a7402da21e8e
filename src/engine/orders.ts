/**
 * The order pool: every resting order of every book, as parallel typed arrays indexed by
 * slot (struct of arrays). No object per order; a freed slot goes on a free list threaded
 * through `next`. Main thread only (the engine owns it).
 *
 * Invariants: a slot is either free (on the free list) or holds one live resting order,
 * which is linked into exactly one price level (`level`, `prev`, `next`) and into its
 * account's list (`acctPrev`, `acctNext`). `left` > 0 for every live order.
 *
 * Bytes per order: 3 × f64 + 7 × i32 + 6 × u8 = 58.
 */

import { assert } from "../stdx/assert.ts";

export const NIL = -1;

export class OrderPool {
  capacity: number;
  live = 0;
  private freeHead = NIL;
  private highWater = 0;

  orderNo: Float64Array;
  left: Float64Array;
  filled: Float64Array;
  account: Int32Array;
  level: Int32Array;
  prev: Int32Array;
  next: Int32Array;
  acctPrev: Int32Array;
  acctNext: Int32Array;
  idEntry: Int32Array;
  side: Uint8Array;
  orderType: Uint8Array;
  tif: Uint8Array;
  flags: Uint8Array;
  stp: Uint8Array;
  offset: Uint8Array;

  constructor(initial: number, readonly max: number) {
    assert(initial >= 1 && initial <= max, "order pool: 1 <= initial <= max");
    this.capacity = initial;
    this.orderNo = new Float64Array(initial);
    this.left = new Float64Array(initial);
    this.filled = new Float64Array(initial);
    this.account = new Int32Array(initial);
    this.level = new Int32Array(initial);
    this.prev = new Int32Array(initial);
    this.next = new Int32Array(initial);
    this.acctPrev = new Int32Array(initial);
    this.acctNext = new Int32Array(initial);
    this.idEntry = new Int32Array(initial);
    this.side = new Uint8Array(initial);
    this.orderType = new Uint8Array(initial);
    this.tif = new Uint8Array(initial);
    this.flags = new Uint8Array(initial);
    this.stp = new Uint8Array(initial);
    this.offset = new Uint8Array(initial);
  }

  get full(): boolean {
    return this.live >= this.max;
  }

  alloc(): number {
    assert(!this.full, "order pool full");
    let slot: number;
    if (this.freeHead !== NIL) {
      slot = this.freeHead;
      this.freeHead = this.next[slot]!;
    } else {
      if (this.highWater === this.capacity) this.grow();
      slot = this.highWater++;
    }
    this.live++;
    return slot;
  }

  free(slot: number): void {
    this.left[slot] = 0;
    this.level[slot] = NIL;
    this.next[slot] = this.freeHead;
    this.freeHead = slot;
    this.live--;
  }

  private grow(): void {
    const cap = Math.min(this.capacity * 2, this.max);
    assert(cap > this.capacity, "order pool cannot grow");
    this.orderNo = growF64(this.orderNo, cap);
    this.left = growF64(this.left, cap);
    this.filled = growF64(this.filled, cap);
    this.account = growI32(this.account, cap);
    this.level = growI32(this.level, cap);
    this.prev = growI32(this.prev, cap);
    this.next = growI32(this.next, cap);
    this.acctPrev = growI32(this.acctPrev, cap);
    this.acctNext = growI32(this.acctNext, cap);
    this.idEntry = growI32(this.idEntry, cap);
    this.side = growU8(this.side, cap);
    this.orderType = growU8(this.orderType, cap);
    this.tif = growU8(this.tif, cap);
    this.flags = growU8(this.flags, cap);
    this.stp = growU8(this.stp, cap);
    this.offset = growU8(this.offset, cap);
    this.capacity = cap;
  }
}

export function growF64(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

export function growI32(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}

export function growU8(a: Uint8Array, cap: number): Uint8Array<ArrayBuffer> {
  const b = new Uint8Array(cap);
  b.set(a);
  return b;
}
