/**
 * The order pool: every resting order of every book, one 64-byte record per slot in one
 * ArrayBuffer (array of structs), read and written through small accessors. No object per
 * order; a freed slot goes on a free list threaded through `next`. Main thread only (the
 * engine owns it).
 *
 * Why records and not parallel arrays: a command touches a few orders at random slots and
 * most of the fields of each. With one array per field, each field was its own cache line;
 * with a record, an order is one or two lines. Measured in docs/BENCHMARKS.md.
 *
 *   bytes  0..7   orderNo    f64   the venue's order number
 *          8..15  left       f64   quantity still open
 *         16..23  filled     f64   quantity filled so far
 *         24..31  fmpl       f64   frozen margin per lot (money instruments; see accounts.ts)
 *         32..35  level      i32   its price level
 *         36..39  prev       i32   previous order in the level (older), or NIL
 *         40..43  next       i32   next order in the level (newer), or NIL; free-list link
 *         44..47  acctPrev   i32   previous order in its account's list, or NIL
 *         48..51  acctNext   i32   next order in its account's list, or NIL
 *         52..55  account    i32   account index
 *         56..59  idEntry    i32   entry of its client order id in the engine's id map
 *         60..63  meta       i32   side | type << 4 | tif << 8 | flags << 12 | stp << 16 | offset << 20
 *
 * Invariants: a slot is either free (on the free list) or holds one live resting order,
 * which is linked into exactly one price level and into its account's list; left > 0.
 */

import { assert } from "../stdx/assert.ts";

export const NIL = -1;
export const ORDER_RECORD_BYTES = 64;

// Indexes within a record, in f64 units (F_) and i32 units (I_).
const F_ORDER_NO = 0;
const F_LEFT = 1;
const F_FILLED = 2;
const F_FMPL = 3;
const I_LEVEL = 8;
const I_PREV = 9;
const I_NEXT = 10;
const I_ACCT_PREV = 11;
const I_ACCT_NEXT = 12;
const I_ACCOUNT = 13;
const I_ID_ENTRY = 14;
const I_META = 15;

export class OrderPool {
  capacity: number;
  live = 0;
  private freeHead = NIL;
  private highWater = 0;
  private f64: Float64Array;
  private i32: Int32Array;

  constructor(initial: number, readonly max: number) {
    assert(initial >= 1 && initial <= max && max <= 1 << 26, "order pool: 1 <= initial <= max <= 2^26");
    this.capacity = initial;
    const buffer = new ArrayBuffer(initial * ORDER_RECORD_BYTES);
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
  }

  get full(): boolean {
    return this.live >= this.max;
  }

  /** Bytes the pool holds (its capacity, live or not). */
  get bytes(): number {
    return this.capacity * ORDER_RECORD_BYTES;
  }

  alloc(): number {
    assert(!this.full, "order pool full");
    let slot: number;
    if (this.freeHead !== NIL) {
      slot = this.freeHead;
      this.freeHead = this.next(slot);
    } else {
      if (this.highWater === this.capacity) this.grow();
      slot = this.highWater++;
    }
    this.live++;
    return slot;
  }

  free(slot: number): void {
    this.setLeft(slot, 0);
    this.setLevel(slot, NIL);
    this.setNext(slot, this.freeHead);
    this.freeHead = slot;
    this.live--;
  }

  orderNo(o: number): number { return this.f64[(o << 3) + F_ORDER_NO]!; }
  left(o: number): number { return this.f64[(o << 3) + F_LEFT]!; }
  filled(o: number): number { return this.f64[(o << 3) + F_FILLED]!; }
  frozenMarginPerLot(o: number): number { return this.f64[(o << 3) + F_FMPL]!; }
  level(o: number): number { return this.i32[(o << 4) + I_LEVEL]!; }
  prev(o: number): number { return this.i32[(o << 4) + I_PREV]!; }
  next(o: number): number { return this.i32[(o << 4) + I_NEXT]!; }
  acctPrev(o: number): number { return this.i32[(o << 4) + I_ACCT_PREV]!; }
  acctNext(o: number): number { return this.i32[(o << 4) + I_ACCT_NEXT]!; }
  account(o: number): number { return this.i32[(o << 4) + I_ACCOUNT]!; }
  idEntry(o: number): number { return this.i32[(o << 4) + I_ID_ENTRY]!; }
  side(o: number): number { return this.i32[(o << 4) + I_META]! & 0xf; }
  orderType(o: number): number { return (this.i32[(o << 4) + I_META]! >>> 4) & 0xf; }
  tif(o: number): number { return (this.i32[(o << 4) + I_META]! >>> 8) & 0xf; }
  flags(o: number): number { return (this.i32[(o << 4) + I_META]! >>> 12) & 0xf; }
  stp(o: number): number { return (this.i32[(o << 4) + I_META]! >>> 16) & 0xf; }
  offset(o: number): number { return (this.i32[(o << 4) + I_META]! >>> 20) & 0xf; }

  setOrderNo(o: number, v: number): void { this.f64[(o << 3) + F_ORDER_NO] = v; }
  setLeft(o: number, v: number): void { this.f64[(o << 3) + F_LEFT] = v; }
  setFilled(o: number, v: number): void { this.f64[(o << 3) + F_FILLED] = v; }
  setFrozenMarginPerLot(o: number, v: number): void { this.f64[(o << 3) + F_FMPL] = v; }
  setLevel(o: number, v: number): void { this.i32[(o << 4) + I_LEVEL] = v; }
  setPrev(o: number, v: number): void { this.i32[(o << 4) + I_PREV] = v; }
  setNext(o: number, v: number): void { this.i32[(o << 4) + I_NEXT] = v; }
  setAcctPrev(o: number, v: number): void { this.i32[(o << 4) + I_ACCT_PREV] = v; }
  setAcctNext(o: number, v: number): void { this.i32[(o << 4) + I_ACCT_NEXT] = v; }
  setAccount(o: number, v: number): void { this.i32[(o << 4) + I_ACCOUNT] = v; }
  setIdEntry(o: number, v: number): void { this.i32[(o << 4) + I_ID_ENTRY] = v; }

  /** Sets the six small fields at once; each must be below 16. */
  setMeta(o: number, side: number, type: number, tif: number, flags: number, stp: number, offset: number): void {
    assert((side | type | tif | flags | stp | offset) < 16, "order meta field out of range");
    this.i32[(o << 4) + I_META] = side | (type << 4) | (tif << 8) | (flags << 12) | (stp << 16) | (offset << 20);
  }

  private grow(): void {
    const cap = Math.min(this.capacity * 2, this.max);
    assert(cap > this.capacity, "order pool cannot grow");
    const buffer = new ArrayBuffer(cap * ORDER_RECORD_BYTES);
    new Uint8Array(buffer).set(new Uint8Array(this.f64.buffer));
    this.f64 = new Float64Array(buffer);
    this.i32 = new Int32Array(buffer);
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
