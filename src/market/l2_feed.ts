/**
 * The L2 feed for consumers that keep their own copy of a book (not DIFF, which sends
 * quotes): a snapshot, then numbered incremental updates.
 *
 * Per instrument, every change to the book is one update
 * `{instrument, seq, side, price, qty, orderCount}` (qty 0: the level is gone), numbered
 * by `seq`, which increases by exactly one per update of that instrument. A consumer
 * holding seq s applies the update numbered s + 1 next; any other number is a gap, and
 * the consumer resynchronises from a snapshot `{seq, bids, asks}` (the book after update
 * `seq`). An update that changes nothing (the same values again, or the removal of an
 * absent level) is not numbered.
 *
 * `L2Log` keeps the last `kept` updates of one instrument, so a consumer that fell a
 * little behind catches up without a snapshot (`updates(afterSeq)`); one that fell further
 * behind is told so (undefined) and takes a snapshot. Replacing a book side wholesale
 * (seeding) is not a list of updates: it takes one number and drops the kept updates, so
 * every consumer behind it resynchronises.
 *
 * `L2Mirror` is the consumer side: it applies a snapshot and then updates in order,
 * ignores ones it already has, and on a gap stops and asks for a snapshot.
 *
 * `L2Log` belongs to the market model's thread; an `L2Mirror` to its consumer.
 */

import { assert } from "../stdx/assert.ts";
import { Side } from "../schema/codes.ts";
import { Book, type Level } from "./book.ts";

export type L2Update = {
  instrument: number;
  seq: number;
  side: Side;
  price: number;
  qty: number;
  orderCount: number;
};

export type L2Snapshot = {
  instrument: number;
  /** The number of the last update the snapshot includes (0: none yet). */
  seq: number;
  /** Best first: [price, qty, orderCount], engine units. */
  bids: Level[];
  asks: Level[];
};

/** The kept updates of one instrument: a ring of the newest `kept`. */
export class L2Log {
  /** Number of the newest update (0: none yet). */
  seq = 0;
  /** Number of the oldest kept update; the log holds firstSeq..seq. */
  firstSeq = 1;
  private sides: Uint8Array | undefined;
  private prices: Float64Array | undefined;
  private qtys: Float64Array | undefined;
  private counts: Uint32Array | undefined;

  constructor(readonly instrument: number, readonly kept: number) {
    assert(Number.isSafeInteger(kept) && kept >= 1, "kept must be a positive integer");
  }

  /** Numbers and keeps one update. Allocates only the first time (the ring). */
  push(side: number, price: number, qty: number, orderCount: number): void {
    if (this.prices === undefined) {
      this.sides = new Uint8Array(this.kept);
      this.prices = new Float64Array(this.kept);
      this.qtys = new Float64Array(this.kept);
      this.counts = new Uint32Array(this.kept);
    }
    const seq = ++this.seq;
    if (seq - this.firstSeq >= this.kept) this.firstSeq = seq - this.kept + 1;
    const slot = seq % this.kept;
    this.sides![slot] = side;
    this.prices[slot] = price;
    this.qtys![slot] = qty;
    this.counts![slot] = orderCount;
  }

  /** The book changed other than by updates (seeding): one number, no updates kept before it. */
  reset(): void {
    this.seq++;
    this.firstSeq = this.seq + 1;
  }

  /**
   * The updates after `afterSeq`, oldest first, at most `max`; undefined when they are no
   * longer kept (or `afterSeq` is ahead of the log): the consumer must take a snapshot.
   */
  updates(afterSeq: number, max = Infinity): L2Update[] | undefined {
    if (afterSeq > this.seq || afterSeq < this.firstSeq - 1) return undefined;
    const out: L2Update[] = [];
    const last = Math.min(this.seq, afterSeq + max);
    for (let seq = afterSeq + 1; seq <= last; seq++) {
      const slot = seq % this.kept;
      out.push({
        instrument: this.instrument, seq, side: this.sides![slot] as Side, price: this.prices![slot]!,
        qty: this.qtys![slot]!, orderCount: this.counts![slot]!,
      });
    }
    return out;
  }
}

/** Where a mirror gets its data: MarketData implements this. */
export interface L2Source {
  l2Snapshot(instrument: number): L2Snapshot | undefined;
  l2Updates(instrument: number, afterSeq: number, max?: number): L2Update[] | undefined;
}

export const L2Applied = {
  /** The next update: applied. */
  applied: 1,
  /** An update the mirror already has: ignored. */
  stale: 2,
  /** Updates are missing before this one: not applied; the mirror needs a snapshot. */
  gap: 3,
  /** No snapshot yet (or since a gap): not applied. */
  unsynced: 4,
} as const;
export type L2Applied = (typeof L2Applied)[keyof typeof L2Applied];

/** A consumer's copy of one instrument's book, kept by snapshot and updates. */
export class L2Mirror {
  readonly book = new Book();
  /** Number of the last update applied; -1: needs a snapshot. */
  seq = -1;
  gaps = 0;

  /** `onGap` is called once per gap found (ask for a snapshot there). */
  constructor(readonly instrument: number, private readonly onGap?: (instrument: number) => void) {}

  get synced(): boolean {
    return this.seq >= 0;
  }

  applySnapshot(s: L2Snapshot): void {
    assert(s.instrument === this.instrument, "snapshot of another instrument");
    this.book.bids.reset(s.bids);
    this.book.asks.reset(s.asks);
    this.seq = s.seq;
  }

  apply(u: L2Update): L2Applied {
    assert(u.instrument === this.instrument, "update of another instrument");
    if (this.seq < 0) return L2Applied.unsynced;
    if (u.seq <= this.seq) return L2Applied.stale;
    if (u.seq !== this.seq + 1) {
      this.seq = -1;
      this.gaps++;
      this.onGap?.(this.instrument);
      return L2Applied.gap;
    }
    this.book.apply(u.side, u.price, u.qty, u.orderCount);
    this.seq = u.seq;
    return L2Applied.applied;
  }

  /**
   * Brings the mirror up to date from `source`: the kept updates if it can, else a
   * snapshot. Returns false when the source does not know the instrument.
   */
  catchUp(source: L2Source): boolean {
    if (this.seq >= 0) {
      const updates = source.l2Updates(this.instrument, this.seq);
      if (updates !== undefined) {
        for (const u of updates) this.apply(u);
        if (this.seq >= 0) return true;
      }
    }
    const snap = source.l2Snapshot(this.instrument);
    if (snap === undefined) return false;
    this.applySnapshot(snap);
    return true;
  }
}
