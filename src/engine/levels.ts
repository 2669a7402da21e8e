/**
 * Price levels and book sides. Main thread only.
 *
 * A level is a FIFO of resting orders at one price on one side of one book, with the
 * aggregate quantity and order count kept incrementally (the L2 view). Levels live in a
 * pool of parallel typed arrays with a free list, like orders.
 *
 * A book side keeps its levels sorted by priority in two parallel arrays, best price LAST:
 *
 *   index    0 ......................... size-1
 *   bids     lowest price   ...   highest price   <- best bid
 *   asks     highest price  ...   lowest price    <- best ask
 *
 * so that the level most often emptied (the best) is removed by a pop, and orders arriving
 * near the touch shift only a few entries. Lookup is a binary search on `keys`, where
 * key = price for bids and -price for asks, ascending in both cases.
 */

import { assert } from "../stdx/assert.ts";
import { NIL, growF64, growI32, growU8 } from "./orders.ts";

export class LevelPool {
  capacity: number;
  private freeHead = NIL;
  private highWater = 0;
  live = 0;

  price: Float64Array;
  qty: Float64Array;
  count: Int32Array;
  head: Int32Array;
  tail: Int32Array;
  instrument: Int32Array;
  side: Uint8Array;

  constructor(initial: number) {
    this.capacity = initial;
    this.price = new Float64Array(initial);
    this.qty = new Float64Array(initial);
    this.count = new Int32Array(initial);
    this.head = new Int32Array(initial);
    this.tail = new Int32Array(initial);
    this.instrument = new Int32Array(initial);
    this.side = new Uint8Array(initial);
  }

  alloc(instrument: number, side: number, price: number): number {
    let l: number;
    if (this.freeHead !== NIL) {
      l = this.freeHead;
      this.freeHead = this.head[l]!;
    } else {
      if (this.highWater === this.capacity) this.grow();
      l = this.highWater++;
    }
    this.price[l] = price;
    this.qty[l] = 0;
    this.count[l] = 0;
    this.head[l] = NIL;
    this.tail[l] = NIL;
    this.instrument[l] = instrument;
    this.side[l] = side;
    this.live++;
    return l;
  }

  free(l: number): void {
    assert(this.count[l] === 0 && this.qty[l] === 0, "freeing a non-empty level");
    this.head[l] = this.freeHead;
    this.freeHead = l;
    this.live--;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    this.price = growF64(this.price, cap);
    this.qty = growF64(this.qty, cap);
    this.count = growI32(this.count, cap);
    this.head = growI32(this.head, cap);
    this.tail = growI32(this.tail, cap);
    this.instrument = growI32(this.instrument, cap);
    this.side = growU8(this.side, cap);
    this.capacity = cap;
  }
}

export class BookSide {
  keys: Float64Array;
  levels: Int32Array;
  size = 0;

  /** `sign` is +1 for bids and -1 for asks: key = sign * price. */
  constructor(readonly sign: 1 | -1, initial: number) {
    this.keys = new Float64Array(initial);
    this.levels = new Int32Array(initial);
  }

  /** The best level, or NIL when the side is empty. */
  best(): number {
    return this.size === 0 ? NIL : this.levels[this.size - 1]!;
  }

  /** Index of the level at `price`, or -(insertion point) - 1 when there is none. */
  search(price: number): number {
    const key = this.sign * price;
    const keys = this.keys;
    // Most activity is at or near the touch: check the best few before bisecting.
    let hi = this.size - 1;
    if (hi >= 0 && keys[hi] === key) return hi;
    let lo = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const k = keys[mid]!;
      if (k < key) lo = mid + 1;
      else if (k > key) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  insertAt(index: number, price: number, level: number): void {
    if (this.size === this.keys.length) {
      this.keys = growF64(this.keys, this.size * 2);
      this.levels = growI32(this.levels, this.size * 2);
    }
    this.keys.copyWithin(index + 1, index, this.size);
    this.levels.copyWithin(index + 1, index, this.size);
    this.keys[index] = this.sign * price;
    this.levels[index] = level;
    this.size++;
  }

  removeAt(index: number): void {
    this.keys.copyWithin(index, index + 1, this.size);
    this.levels.copyWithin(index, index + 1, this.size);
    this.size--;
  }

  /** True when `price` is at least as good as the level price `levelPrice` from this side's view. */
  atLeastAsGood(price: number, levelPrice: number): boolean {
    return this.sign * price >= this.sign * levelPrice;
  }
}
