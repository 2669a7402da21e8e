/**
 * The L2 book of one instrument as the market model keeps it: per side, every price level
 * with its aggregate quantity and order count, rebuilt from the engine's `l2` events (one
 * level's state after a change; qty 0 removes the level).
 *
 * Each side is a sorted array in preallocated typed arrays, best level last, as the
 * engine keeps its own: a change near the touch (most of them) moves few elements, and a
 * level is found by binary search. Prices are stored as sort keys: +price for bids,
 * -price for asks, so both sides sort ascending with the best level at the end:
 *
 *   bids  keys  [ 99  100  101 ]   best bid 101 at index size-1
 *   asks  keys  [-104 -103 -102 ]  best ask 102 at index size-1
 *
 * Levels are addressed by rank from the best (rank 0 = the touch). `apply` returns the
 * rank of the level it changed, so the caller can tell whether the top N moved. Nothing
 * is allocated per change; the arrays double when full (a warm-up cost).
 *
 * Invariants: keys strictly ascending; every kept level has qty > 0. One thread owns a
 * book (the market model's); readers on that thread only.
 */

import { assert } from "../stdx/assert.ts";
import { Side } from "../schema/codes.ts";

const INITIAL_LEVELS = 64;

/** A level as the engine reports depth: [price, qty, orderCount]. */
export type Level = [price: number, qty: number, orderCount: number];

export class BookSide {
  private keys: Float64Array;
  private qtys: Float64Array;
  private counts: Uint32Array;
  size = 0;
  /** +1 for bids, -1 for asks: key = dir x price. */
  readonly dir: number;

  constructor(readonly side: Side, initialLevels = INITIAL_LEVELS) {
    assert(side === Side.buy || side === Side.sell, "side must be buy or sell");
    this.dir = side === Side.buy ? 1 : -1;
    this.keys = new Float64Array(initialLevels);
    this.qtys = new Float64Array(initialLevels);
    this.counts = new Uint32Array(initialLevels);
  }

  /** Index of the first key >= `key` (size if none). */
  private lowerBound(key: number): number {
    let lo = 0;
    let hi = this.size;
    const keys = this.keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Sets the level at `price` to `qty` and `orderCount` (qty 0 removes it). Returns the
   * rank of the changed level from the best (for a removal: the rank it had), or -1 when
   * nothing changed (a removal of an absent level, or the same values again).
   */
  apply(price: number, qty: number, orderCount: number): number {
    const key = this.dir * price;
    const i = this.lowerBound(key);
    const size = this.size;
    const found = i < size && this.keys[i] === key;
    if (qty === 0) {
      if (!found) return -1;
      this.keys.copyWithin(i, i + 1, size);
      this.qtys.copyWithin(i, i + 1, size);
      this.counts.copyWithin(i, i + 1, size);
      this.size = size - 1;
      return size - 1 - i;
    }
    if (found) {
      if (this.qtys[i] === qty && this.counts[i] === orderCount) return -1;
      this.qtys[i] = qty;
      this.counts[i] = orderCount;
      return size - 1 - i;
    }
    if (size === this.keys.length) this.grow();
    this.keys.copyWithin(i + 1, i, size);
    this.qtys.copyWithin(i + 1, i, size);
    this.counts.copyWithin(i + 1, i, size);
    this.keys[i] = key;
    this.qtys[i] = qty;
    this.counts[i] = orderCount;
    this.size = size + 1;
    return size - i;
  }

  private grow(): void {
    const n = this.keys.length * 2;
    const keys = new Float64Array(n);
    const qtys = new Float64Array(n);
    const counts = new Uint32Array(n);
    keys.set(this.keys);
    qtys.set(this.qtys);
    counts.set(this.counts);
    this.keys = keys;
    this.qtys = qtys;
    this.counts = counts;
  }

  /** Replaces every level (any order; prices distinct, qty > 0). */
  reset(levels: readonly (readonly [number, number, number])[]): void {
    const sorted = levels.map(([p, q, c]) => [this.dir * p, q, c] as const).sort((a, b) => a[0] - b[0]);
    while (this.keys.length < sorted.length) this.grow();
    for (let i = 0; i < sorted.length; i++) {
      const [k, q, c] = sorted[i]!;
      assert(Number.isSafeInteger(k) && Number.isSafeInteger(q) && q > 0 && Number.isInteger(c) && c >= 0 && c <= 0xffffffff, `bad level ${this.dir * k} ${q} ${c}`);
      assert(i === 0 || sorted[i - 1]![0] < k, `price ${this.dir * k} appears twice`);
      this.keys[i] = k;
      this.qtys[i] = q;
      this.counts[i] = c;
    }
    this.size = sorted.length;
  }

  clear(): void {
    this.size = 0;
  }

  // Rank 0 is the best level. Callers check rank < size.
  price(rank: number): number { return this.dir * this.keys[this.size - 1 - rank]!; }
  qty(rank: number): number { return this.qtys[this.size - 1 - rank]!; }
  orderCount(rank: number): number { return this.counts[this.size - 1 - rank]!; }

  /** The best `maxLevels` levels, best first (allocates: edge code and tests). */
  levels(maxLevels = Infinity): Level[] {
    const n = Math.min(this.size, maxLevels);
    const out: Level[] = new Array<Level>(n);
    for (let r = 0; r < n; r++) out[r] = [this.price(r), this.qty(r), this.orderCount(r)];
    return out;
  }
}

/** Both sides of one instrument's book. */
export class Book {
  readonly bids = new BookSide(Side.buy);
  readonly asks = new BookSide(Side.sell);

  side(side: number): BookSide {
    assert(side === Side.buy || side === Side.sell, "side must be buy or sell");
    return side === Side.buy ? this.bids : this.asks;
  }

  /** See BookSide.apply. */
  apply(side: number, price: number, qty: number, orderCount: number): number {
    return this.side(side).apply(price, qty, orderCount);
  }

  /** Best bid price, or NaN when there is no bid. */
  get bestBid(): number { return this.bids.size > 0 ? this.bids.price(0) : Number.NaN; }
  /** Best ask price, or NaN when there is no ask. */
  get bestAsk(): number { return this.asks.size > 0 ? this.asks.price(0) : Number.NaN; }
  get bestBidQty(): number { return this.bids.size > 0 ? this.bids.qty(0) : 0; }
  get bestAskQty(): number { return this.asks.size > 0 ? this.asks.qty(0) : 0; }
}
