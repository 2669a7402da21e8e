/**
 * K-line bars and ticks: bounded series with contiguous ids.
 *
 * A `BarSeries` holds the bars of one (instrument, duration). Rules (DIFF.md §3.2):
 * - A bar exists only for a period that had at least one trade. Bar ids are contiguous
 *   integers from 0: bar k+1 is the next period with a trade, however far away. An id,
 *   once given, always names the same bar.
 * - A period starts at a multiple of the duration since the epoch (UTC). For durations
 *   that are whole days, periods follow the trading day instead: a bar starts at 00:00
 *   China time (UTC+8) of a trading day, at a multiple of the duration since the epoch's
 *   first such midnight (so the daily bar of trading day D starts at D 00:00 UTC+8, even
 *   for the night-session trades of the evening before).
 * - Only the newest bar (`lastId`) changes; every older bar is final. A trade whose period
 *   starts before the newest bar's (the clock stepped back) is counted in the newest bar:
 *   history is never rewritten.
 * - At most `capacity` bars are kept; opening one more drops the oldest. Ids keep counting
 *   (`firstId` is the oldest kept).
 * - `tradingDayStartId` / `tradingDayEndId`: the first and last bar that has a trade of the
 *   current trading day; -1 until the day's first trade.
 * - `version` changes whenever anything in the series does.
 * - open_oi and close_oi are always 0: the model does not track open interest.
 *
 * A `TickSeries` holds one instrument's ticks: one tick per command that traded (all the
 * trades of one command share its seq and timestamp), showing the state after that
 * command's events: last price, the day's high, low, volume and turnover, and five book
 * levels. It is written as the command's events arrive (the first trade opens it, later
 * trades and book changes of the same command update it), so it is complete once the
 * command's last event is applied. Ids are contiguous from 0; bounded like bars.
 *
 * Storage is typed arrays used as rings that double up to the capacity, so recording a
 * trade or a book change allocates nothing after warm-up. Values are engine integers;
 * `diffBar` and `diffTick` convert to DIFF units when read.
 *
 * Market-model thread only.
 */

import { assert } from "../stdx/assert.ts";
import type { Book } from "./book.ts";
import { BAR_DURATION_MAX_NS, CHINA_UTC_OFFSET_SECONDS, NS_PER_SECOND, SECONDS_PER_DAY, TICK_LEVELS } from "./limits.ts";
import { nsBigint, nsNumber, secondsToNs } from "./time.ts";
import type { InstrumentUnits } from "./units.ts";
import type { DiffPrice } from "./quotes.ts";

const INITIAL_SLOTS = 64;

/** True for a positive whole number of seconds, in ns, up to BAR_DURATION_MAX_NS. */
export function validDurationNs(durationNs: number): boolean {
  return Number.isSafeInteger(durationNs) && durationNs > 0 && durationNs % NS_PER_SECOND === 0 && durationNs <= BAR_DURATION_MAX_NS;
}

/** A bounded ring of ids: which slot holds an id, and growth up to the capacity. */
/** A ring's ids, for a checkpoint: the entries are kept oldest first beside it. */
export interface RingState {
  firstId: number;
  lastId: number;
  count: number;
}

class IdRing {
  /** Slots allocated now (doubles up to `capacity`). */
  slots: number;
  head = 0;
  count = 0;
  firstId = 0;
  lastId = -1;

  constructor(readonly capacity: number) {
    assert(Number.isSafeInteger(capacity) && capacity >= 1, "capacity must be a positive integer");
    this.slots = Math.min(capacity, INITIAL_SLOTS);
  }

  has(id: number): boolean {
    return this.count > 0 && id >= this.firstId && id <= this.lastId;
  }

  state(): RingState {
    return { firstId: this.firstId, lastId: this.lastId, count: this.count };
  }

  /**
   * A ring holding the newest `kept` of the ids in `s` (all of them if they fit in
   * `capacity`), laid out oldest first from slot 0.
   */
  static restored(capacity: number, s: RingState): { ring: IdRing; skip: number } {
    assert(Number.isSafeInteger(s.count) && s.count >= 0 && s.lastId - s.firstId + 1 === s.count, "a ring state's ids and count disagree");
    const r = new IdRing(capacity);
    const skip = Math.max(0, s.count - capacity);
    r.count = s.count - skip;
    r.firstId = s.firstId + skip;
    r.lastId = s.lastId;
    r.head = 0;
    r.slots = Math.min(capacity, Math.max(r.slots, r.count));
    return { ring: r, skip };
  }

  slotOf(id: number): number {
    return (this.head + (id - this.firstId)) % this.slots;
  }

  /**
   * Makes room for one more id: returns true when the caller must grow its arrays to
   * `slots` (already doubled) first, unwrapping from `head`, and set head to 0.
   */
  needsGrow(): boolean {
    if (this.count < this.slots) return false;
    if (this.slots < this.capacity) {
      this.slots = Math.min(this.capacity, this.slots * 2);
      return true;
    }
    // Full at capacity: drop the oldest.
    this.head = (this.head + 1) % this.slots;
    this.count--;
    this.firstId++;
    return false;
  }

  /** Claims the next id; returns its slot. */
  push(): number {
    const slot = (this.head + this.count) % this.slots;
    this.count++;
    this.lastId++;
    return slot;
  }
}

/** Copies a ring-ordered array into a new one of `slots` elements, oldest first. */
function unwrap(a: Float64Array, head: number, count: number, slots: number, stride = 1): Float64Array {
  const out = new Float64Array(slots * stride);
  const oldSlots = a.length / stride;
  for (let k = 0; k < count; k++) {
    const from = ((head + k) % oldSlots) * stride;
    out.set(a.subarray(from, from + stride), k * stride);
  }
  return out;
}

/** Doubles per bar in a checkpoint: start, open, high, low, close, volume. */
const BAR_FIELDS = 6;

export interface BarSeriesState {
  durationNs: number;
  ring: RingState;
  /** BAR_FIELDS doubles per kept bar, oldest first. */
  bars: Float64Array;
  version: number;
  tradingDayStartId: number;
  tradingDayEndId: number;
  /** null: none (-Infinity). */
  incompleteThrough: number | null;
}

export interface TickSeriesState {
  ring: RingState;
  /** TICK_STRIDE doubles per kept tick, oldest first. */
  ticks: Float64Array;
  version: number;
}

export class BarSeries {
  readonly durationSeconds: number;
  /** Whole-day durations follow the trading day (see the file comment). */
  readonly tradingDayAligned: boolean;
  private readonly ring: IdRing;
  private start: Float64Array;
  private openP: Float64Array;
  private highP: Float64Array;
  private lowP: Float64Array;
  private closeP: Float64Array;
  private vol: Float64Array;
  version = 0;
  tradingDayStartId = -1;
  tradingDayEndId = -1;
  /**
   * Set by `rebuild` when it left out a period whose earlier trades are lost: until the
   * series has a bar, trades in periods starting at or before this are not counted, so
   * that no bar is ever short of trades.
   */
  private incompleteThrough = Number.NEGATIVE_INFINITY;

  constructor(readonly durationNs: number, capacity: number, ring?: IdRing) {
    assert(validDurationNs(durationNs), `bar duration must be a positive whole number of seconds up to ${BAR_DURATION_MAX_NS} ns, not ${durationNs}`);
    this.durationSeconds = durationNs / NS_PER_SECOND;
    this.tradingDayAligned = this.durationSeconds % SECONDS_PER_DAY === 0;
    this.ring = ring ?? new IdRing(capacity);
    const n = this.ring.slots;
    this.start = new Float64Array(n);
    this.openP = new Float64Array(n);
    this.highP = new Float64Array(n);
    this.lowP = new Float64Array(n);
    this.closeP = new Float64Array(n);
    this.vol = new Float64Array(n);
  }

  /** The series for a checkpoint: its ids, its kept bars oldest first (BAR_FIELDS doubles each), its day's ids and version. */
  checkpoint(): BarSeriesState {
    const r = this.ring;
    const bars = new Float64Array(r.count * BAR_FIELDS);
    for (let k = 0; k < r.count; k++) {
      const s = r.slotOf(r.firstId + k);
      bars.set([this.start[s]!, this.openP[s]!, this.highP[s]!, this.lowP[s]!, this.closeP[s]!, this.vol[s]!], k * BAR_FIELDS);
    }
    return {
      durationNs: this.durationNs, ring: r.state(), bars, version: this.version, tradingDayStartId: this.tradingDayStartId,
      tradingDayEndId: this.tradingDayEndId, incompleteThrough: Number.isFinite(this.incompleteThrough) ? this.incompleteThrough : null,
    };
  }

  /** A series from a checkpoint, keeping its newest `capacity` bars. */
  static restore(st: BarSeriesState, capacity: number): BarSeries {
    assert(st.bars.length === st.ring.count * BAR_FIELDS, "a bar series checkpoint's bars and count disagree");
    const { ring, skip } = IdRing.restored(capacity, st.ring);
    const out = new BarSeries(st.durationNs, capacity, ring);
    for (let k = 0; k < ring.count; k++) {
      const o = (skip + k) * BAR_FIELDS;
      out.start[k] = st.bars[o]!;
      out.openP[k] = st.bars[o + 1]!;
      out.highP[k] = st.bars[o + 2]!;
      out.lowP[k] = st.bars[o + 3]!;
      out.closeP[k] = st.bars[o + 4]!;
      out.vol[k] = st.bars[o + 5]!;
    }
    out.version = st.version;
    out.tradingDayStartId = st.tradingDayStartId;
    out.tradingDayEndId = st.tradingDayEndId;
    out.incompleteThrough = st.incompleteThrough ?? Number.NEGATIVE_INFINITY;
    return out;
  }

  get capacity(): number { return this.ring.capacity; }
  /** Id of the newest bar; -1 when there is none. */
  get lastId(): number { return this.ring.lastId; }
  /** Id of the oldest bar kept (equal to lastId + 1 when there is none). */
  get firstId(): number { return this.ring.firstId; }
  get count(): number { return this.ring.count; }
  has(id: number): boolean { return this.ring.has(id); }

  /** Start (seconds since the epoch) of the period holding an instant, or a trading day for day-aligned series. */
  periodStart(seconds: number, tradingDayStartSeconds: number): number {
    const d = this.durationSeconds;
    if (!this.tradingDayAligned) return Math.floor(seconds / d) * d;
    return Math.floor((tradingDayStartSeconds + CHINA_UTC_OFFSET_SECONDS) / d) * d - CHINA_UTC_OFFSET_SECONDS;
  }

  /** Counts a trade at `seconds` (trading day starting at `tradingDayStartSeconds`). */
  trade(seconds: number, tradingDayStartSeconds: number, price: number, qty: number): void {
    const start = this.periodStart(seconds, tradingDayStartSeconds);
    if (start <= this.incompleteThrough && this.ring.count === 0) return;
    this.absorb(start, price, price, price, price, qty);
    if (this.tradingDayStartId < 0) this.tradingDayStartId = this.ring.lastId;
    this.tradingDayEndId = this.ring.lastId;
  }

  /** The current trading day has no bars yet; its first trade sets tradingDayStartId. */
  newTradingDay(): void {
    this.tradingDayStartId = -1;
    this.tradingDayEndId = -1;
    this.version++;
  }

  /** Adds a trade or a finer bar starting in the period that starts at `start`. */
  private absorb(start: number, open: number, high: number, low: number, close: number, volume: number): void {
    const ring = this.ring;
    if (ring.count > 0) {
      const s = ring.slotOf(ring.lastId);
      if (start <= this.start[s]!) {
        if (high > this.highP[s]!) this.highP[s] = high;
        if (low < this.lowP[s]!) this.lowP[s] = low;
        this.closeP[s] = close;
        this.vol[s] = this.vol[s]! + volume;
        this.version++;
        return;
      }
    }
    if (ring.needsGrow()) this.grow();
    const s = ring.push();
    this.start[s] = start;
    this.openP[s] = open;
    this.highP[s] = high;
    this.lowP[s] = low;
    this.closeP[s] = close;
    this.vol[s] = volume;
    this.version++;
  }

  private grow(): void {
    const { head, count, slots } = this.ring;
    this.start = unwrap(this.start, head, count, slots);
    this.openP = unwrap(this.openP, head, count, slots);
    this.highP = unwrap(this.highP, head, count, slots);
    this.lowP = unwrap(this.lowP, head, count, slots);
    this.closeP = unwrap(this.closeP, head, count, slots);
    this.vol = unwrap(this.vol, head, count, slots);
    this.ring.head = 0;
  }

  /**
   * A new series for `durationNs` made from this one's kept bars; `durationNs` must be a
   * multiple of this duration, and whole days only from whole days (so that every period
   * of the new series is a union of this series' periods). If this series has dropped
   * bars, the new series' first period is left out unless it starts exactly at this
   * series' oldest kept bar: it could be missing trades. If that period is still the
   * current one, its later trades are not counted either (see `incompleteThrough`).
   */
  rebuild(durationNs: number, capacity: number): BarSeries {
    const out = new BarSeries(durationNs, capacity);
    assert(out.durationSeconds % this.durationSeconds === 0 && (!out.tradingDayAligned || this.tradingDayAligned), "a series can only be rebuilt from one whose periods nest in it");
    const ring = this.ring;
    let from = ring.firstId;
    if (from > 0 && ring.count > 0) {
      const s0 = this.start[ring.slotOf(from)]!;
      const p0 = out.periodStart(s0, s0);
      if (p0 !== s0) {
        while (from <= ring.lastId && out.periodStart(this.start[ring.slotOf(from)]!, this.start[ring.slotOf(from)]!) === p0) from++;
        out.incompleteThrough = p0;
      }
    }
    for (let id = from; id <= ring.lastId; id++) {
      const s = ring.slotOf(id);
      const start = this.start[s]!;
      out.absorb(out.periodStart(start, start), this.openP[s]!, this.highP[s]!, this.lowP[s]!, this.closeP[s]!, this.vol[s]!);
      if (id === this.tradingDayStartId) out.tradingDayStartId = out.lastId;
    }
    if (this.tradingDayStartId >= 0 && out.count > 0) {
      if (out.tradingDayStartId < 0) out.tradingDayStartId = out.firstId; // the day began before the kept history
      out.tradingDayEndId = out.lastId;
    } else {
      out.tradingDayStartId = -1;
    }
    return out;
  }

  // Fields of a kept bar (callers check has(id)); prices in engine units.
  startSeconds(id: number): number { return this.start[this.ring.slotOf(id)]!; }
  open(id: number): number { return this.openP[this.ring.slotOf(id)]!; }
  high(id: number): number { return this.highP[this.ring.slotOf(id)]!; }
  low(id: number): number { return this.lowP[this.ring.slotOf(id)]!; }
  close(id: number): number { return this.closeP[this.ring.slotOf(id)]!; }
  volume(id: number): number { return this.vol[this.ring.slotOf(id)]!; }
}

/** A DIFF k-line bar (DIFF.md §3.2). `datetime`: the bar's start, ns since the epoch (exact). */
export type DiffBar = {
  datetime: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  open_oi: number;
  close_oi: number;
};

export function diffBar(series: BarSeries, id: number, units: InstrumentUnits): DiffBar {
  assert(series.has(id), `bar ${id} is not kept`);
  return {
    datetime: secondsToNs(series.startSeconds(id)),
    open: units.price(series.open(id)),
    high: units.price(series.high(id)),
    low: units.price(series.low(id)),
    close: units.price(series.close(id)),
    volume: series.volume(id),
    open_oi: 0,
    close_oi: 0,
  };
}

// ---------------------------------------------------------------------------------------
// Ticks

const T_SECONDS = 0;
const T_NANOS = 1;
const T_LAST = 2;
const T_HIGH = 3;
const T_LOW = 4;
const T_VOLUME = 5;
const T_AMOUNT = 6;
/** Then per level k: bid price, bid volume, ask price, ask volume (volume 0: no level). */
const T_BOOK = 7;
const TICK_STRIDE = T_BOOK + 4 * TICK_LEVELS;

export class TickSeries {
  private readonly ring: IdRing;
  private data: Float64Array;
  version = 0;

  constructor(capacity: number, ring?: IdRing) {
    this.ring = ring ?? new IdRing(capacity);
    this.data = new Float64Array(this.ring.slots * TICK_STRIDE);
  }

  /** The ticks for a checkpoint: ids, the kept ticks oldest first, version. */
  checkpoint(): TickSeriesState {
    const r = this.ring;
    const ticks = new Float64Array(r.count * TICK_STRIDE);
    for (let k = 0; k < r.count; k++) {
      const o = r.slotOf(r.firstId + k) * TICK_STRIDE;
      ticks.set(this.data.subarray(o, o + TICK_STRIDE), k * TICK_STRIDE);
    }
    return { ring: r.state(), ticks, version: this.version };
  }

  /** Ticks from a checkpoint, keeping the newest `capacity`. */
  static restore(st: TickSeriesState, capacity: number): TickSeries {
    assert(st.ticks.length === st.ring.count * TICK_STRIDE, "a tick checkpoint's ticks and count disagree");
    const { ring, skip } = IdRing.restored(capacity, st.ring);
    const out = new TickSeries(capacity, ring);
    out.data.set(st.ticks.subarray(skip * TICK_STRIDE, (skip + ring.count) * TICK_STRIDE));
    out.version = st.version;
    return out;
  }

  get capacity(): number { return this.ring.capacity; }
  get lastId(): number { return this.ring.lastId; }
  get firstId(): number { return this.ring.firstId; }
  get count(): number { return this.ring.count; }
  has(id: number): boolean { return this.ring.has(id); }

  /** Opens a new tick (the first trade of a command). */
  open(): void {
    if (this.ring.needsGrow()) {
      this.data = unwrap(this.data, this.ring.head, this.ring.count, this.ring.slots, TICK_STRIDE);
      this.ring.head = 0;
    }
    this.ring.push();
  }

  /** Sets the newest tick's trade fields. */
  setTrade(seconds: number, nanos: number, last: number, high: number, low: number, volume: number, amountRaw: number): void {
    assert(this.ring.count > 0, "no tick open");
    const d = this.data;
    const o = this.ring.slotOf(this.ring.lastId) * TICK_STRIDE;
    d[o + T_SECONDS] = seconds;
    d[o + T_NANOS] = nanos;
    d[o + T_LAST] = last;
    d[o + T_HIGH] = high;
    d[o + T_LOW] = low;
    d[o + T_VOLUME] = volume;
    d[o + T_AMOUNT] = amountRaw;
    this.version++;
  }

  /** Copies the top TICK_LEVELS levels of `book` into the newest tick. */
  setBook(book: Book): void {
    assert(this.ring.count > 0, "no tick open");
    const d = this.data;
    let o = this.ring.slotOf(this.ring.lastId) * TICK_STRIDE + T_BOOK;
    const { bids, asks } = book;
    for (let r = 0; r < TICK_LEVELS; r++, o += 4) {
      const hasBid = r < bids.size;
      const hasAsk = r < asks.size;
      d[o] = hasBid ? bids.price(r) : 0;
      d[o + 1] = hasBid ? bids.qty(r) : 0;
      d[o + 2] = hasAsk ? asks.price(r) : 0;
      d[o + 3] = hasAsk ? asks.qty(r) : 0;
    }
    this.version++;
  }

  /** One field of a kept tick (see the T_ offsets). */
  field(id: number, f: number): number {
    return this.data[this.ring.slotOf(id) * TICK_STRIDE + f]!;
  }
}

/**
 * A DIFF tick (DIFF.md §3.2). `datetime`: ns since the epoch as the nearest double (within
 * 128 ns; see time.ts); `tickTimeNs` gives the exact value.
 */
export type DiffTick = {
  datetime: number;
  last_price: number;
  average: number;
  highest: number;
  lowest: number;
  volume: number;
  amount: number;
  open_interest: number;
  [level: `${"ask" | "bid"}_${"price" | "volume"}${number}`]: DiffPrice;
};

export function diffTick(ticks: TickSeries, id: number, units: InstrumentUnits): DiffTick {
  assert(ticks.has(id), `tick ${id} is not kept`);
  const volume = ticks.field(id, T_VOLUME);
  const amountRaw = ticks.field(id, T_AMOUNT);
  const t: DiffTick = {
    datetime: nsNumber(ticks.field(id, T_SECONDS), ticks.field(id, T_NANOS)),
    last_price: units.price(ticks.field(id, T_LAST)),
    average: units.average(amountRaw, volume),
    highest: units.price(ticks.field(id, T_HIGH)),
    lowest: units.price(ticks.field(id, T_LOW)),
    volume,
    amount: units.amount(amountRaw),
    open_interest: 0,
  };
  for (let r = 0; r < TICK_LEVELS; r++) {
    const o = T_BOOK + 4 * r;
    const bidV = ticks.field(id, o + 1);
    const askV = ticks.field(id, o + 3);
    t[`ask_price${r + 1}`] = askV > 0 ? units.price(ticks.field(id, o + 2)) : "-";
    t[`ask_volume${r + 1}`] = askV;
    t[`bid_price${r + 1}`] = bidV > 0 ? units.price(ticks.field(id, o)) : "-";
    t[`bid_volume${r + 1}`] = bidV;
  }
  return t;
}

/** A tick's exact time, ns since the epoch. */
export function tickTimeNs(ticks: TickSeries, id: number): bigint {
  assert(ticks.has(id), `tick ${id} is not kept`);
  return nsBigint(ticks.field(id, T_SECONDS), ticks.field(id, T_NANOS));
}
