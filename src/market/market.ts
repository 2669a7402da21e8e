/**
 * MarketData: the market-data model. It turns the engine's events into, per instrument,
 * an L2 book (book.ts), the trading day's statistics and the DIFF quote (quotes.ts),
 * k-line bars for several durations and ticks (bars.ts), and a numbered L2 update feed
 * (l2_feed.ts). The WebSocket gateway reads it; it writes nothing anywhere.
 *
 * Input, through `onEvent` only, in engine order (the order of seq, and within a command
 * the order the engine emitted): `instrument`, `l2`, `trade` and `tradingState` events;
 * every other kind is ignored. A node reading the trades and l2 topics from two rings must
 * merge them by seq first. Time comes only from the events' timestamps: the model reads no
 * clock, starts no timer and does no I/O, so a test drives it on one thread and a worker
 * can run it unchanged. `seedInstrument` and `seedBook` start it from an engine's current
 * state instead of from the first event.
 *
 * Output, pulled by the reader: `quote`, `bars`, `ticks`, `l2Snapshot`, `l2Updates`, each
 * with a version number (`quoteVersion`, `seriesInfo().version`, `tickInfo().version`, the
 * l2 seq) that changes whenever what it reads changes, so a reader with many clients
 * compares one number per instrument per batch and builds a diff only when it moved.
 * `quote` returns an object that is never modified afterwards; a changed quote is a new
 * object, so a reader may keep the old one as its clients' mirror.
 *
 * Trading days: the model keeps one current trading day for all instruments. Under
 * `tradingDays: "calendar"` (the default) a day is a China-time (UTC+8) calendar date and
 * the model rolls to the next day at the first event past midnight. Under "explicit" the
 * node says when a day starts (`newTradingDay`, at settlement), as futures exchanges with
 * night sessions need; the first day is the China date of the first event unless
 * `initialTradingDay` says otherwise. Either way `newTradingDay` may also be called
 * directly.
 *
 * Allocation: applying an `l2` or `trade` event allocates nothing once the instrument's
 * arrays have grown to their working size. Reading (quote, bars, ticks, snapshots) builds
 * plain objects.
 *
 * One thread: the one that calls onEvent. Not safe to share.
 */

import { assert } from "../stdx/assert.ts";
import { EventKind, type EventView } from "../schema/event.ts";
import { CommandView, type InstrumentParams } from "../schema/command.ts";
import { Buf } from "../schema/layout.ts";
import { Side, TradingState } from "../schema/codes.ts";
import type { InstrumentInfo } from "../catalog/instrument.ts";
import { Book, type Level } from "./book.ts";
import { BarSeries, TickSeries, diffBar, diffTick, tickTimeNs, validDurationNs, type BarSeriesState, type DiffBar, type DiffTick, type TickSeriesState } from "./bars.ts";
import { DailyStats, buildQuote, type DiffQuote, type InstrumentSpec } from "./quotes.ts";
import { L2Log, type L2Snapshot, type L2Source, type L2Update } from "./l2_feed.ts";
import { InstrumentUnits } from "./units.ts";
import { SplitTime, chinaDate, tradingDayStartSeconds, validTradingDay } from "./time.ts";
import {
  BARS_PER_SERIES_DEFAULT,
  BARS_PER_SERIES_MAX,
  BAR_DURATIONS_DEFAULT_NS,
  L2_UPDATES_KEPT_DEFAULT,
  L2_UPDATES_KEPT_MAX,
  QUOTE_LEVELS_DEFAULT,
  QUOTE_LEVELS_MAX,
  SECONDS_PER_DAY,
  SERIES_PER_INSTRUMENT_DEFAULT,
  SERIES_PER_INSTRUMENT_MAX,
  TICKS_PER_INSTRUMENT_DEFAULT,
  TICKS_PER_INSTRUMENT_MAX,
  TICK_LEVELS,
} from "./limits.ts";

export interface MarketOptions {
  /** Bar durations (ns) every instrument tracks from its definition (default BAR_DURATIONS_DEFAULT_NS). */
  durationsNs?: readonly number[];
  /** Bars kept per series (default 10,000). */
  barsPerSeries?: number;
  /** Bar series per instrument, tracked plus opened on demand (default 32). */
  seriesPerInstrument?: number;
  /** Ticks kept per instrument (default 10,000). */
  ticksPerInstrument?: number;
  /** L2 updates kept per instrument for catching up (default 4,096). */
  l2UpdatesKept?: number;
  /** Book levels per side in the quote, 1..10 (default 5). */
  quoteLevels?: number;
  /** See the file comment (default "calendar"). */
  tradingDays?: "calendar" | "explicit";
  /** The first trading day, YYYYMMDD (default: the China date of the first event). */
  initialTradingDay?: string;
}

/** A series' ids and version, DIFF's names. */
export type SeriesInfo = {
  last_id: number;
  /** Oldest bar kept (last_id + 1 when there is none). */
  first_id: number;
  trading_day_start_id: number;
  trading_day_end_id: number;
  version: number;
};

export type TickInfo = { last_id: number; first_id: number; version: number };

/** Bars fromId..fromId + bars.length - 1. */
export type BarRange = { fromId: number; bars: DiffBar[] };
export type TickRange = { fromId: number; ticks: DiffTick[] };

/** An instrument to seed: InstrumentParams, with the state as the engine stores it (a TradingState code). */
export type SeedParams = Omit<InstrumentParams, "state"> & { state?: number };

/** The day's statistics, engine units: see DailyStats. */
export type StatsView = Pick<DailyStats, "open" | "high" | "low" | "last" | "volume" | "amountRaw" | "preClose" | "preSettlement">;

/** Counts of what the model has read, for health reporting. */
export interface MarketCounters {
  events: number;
  /** Events of kinds the model does not use. */
  ignored: number;
  /** l2 or trade events for an instrument never defined. */
  unknownInstrument: number;
  /** Trades already counted (a trade number not above the instrument's last). */
  duplicateTrades: number;
}

/**
 * What a checkpoint keeps of one instrument: everything its trades made (the day's
 * statistics, ticks, every bar series, the last trade number) and the quote's time and
 * version. Not the book or its L2 log: a start seeds them from the engine.
 */
export interface InstrumentCheckpoint {
  symbol: string;
  /** open, high, low, last, volume, amountRaw, preClose, preSettlement (NaN where unknown). */
  stats: Float64Array;
  ticks: TickSeriesState;
  series: BarSeriesState[];
  seconds: number;
  nanos: number;
  tickSeq: number;
  lastTradeNo: number;
  quoteVersion: number;
}

/** The model's state as of a checkpoint (see `MarketData.checkpoint`). */
export interface MarketCheckpoint {
  day: string;
  /** By instrument index; null where none is defined. */
  instruments: Array<InstrumentCheckpoint | null>;
}

/** Everything the model keeps about one instrument. */
class InstrumentMarket {
  readonly book = new Book();
  readonly stats = new DailyStats();
  ticks: TickSeries;
  readonly series = new Map<number, BarSeries>();
  /** The same series, for the trade loop. */
  seriesList: BarSeries[] = [];
  readonly l2: L2Log;
  units: InstrumentUnits;
  quoteVersion = 0;
  private built: DiffQuote | undefined;
  private builtVersion = -1;
  /** Time of the last change to the quote (seconds < 0: none yet). */
  seconds = -1;
  nanos = 0;
  /** Seq of the command whose trades made the newest tick (-1: none). */
  tickSeq = -1;
  lastTradeNo = 0;

  constructor(readonly index: number, public spec: InstrumentSpec, info: InstrumentInfo | undefined, o: Required<Omit<MarketOptions, "initialTradingDay">>) {
    this.units = new InstrumentUnits(info, spec.multiplier);
    this.ticks = new TickSeries(o.ticksPerInstrument);
    this.l2 = new L2Log(index, o.l2UpdatesKept);
    for (const d of o.durationsNs) this.addSeries(new BarSeries(d, o.barsPerSeries));
  }

  addSeries(s: BarSeries): void {
    assert(!this.series.has(s.durationNs), "series already tracked");
    this.series.set(s.durationNs, s);
    this.seriesList.push(s);
  }

  touch(seconds: number, nanos: number): void {
    this.seconds = seconds;
    this.nanos = nanos;
    this.quoteVersion++;
  }

  quote(levels: number): DiffQuote {
    if (this.built === undefined || this.builtVersion !== this.quoteVersion) {
      this.built = buildQuote(this, levels);
      this.builtVersion = this.quoteVersion;
    }
    return this.built;
  }
}

function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isSafeInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], not ${v}`);
  return v;
}

export class MarketData implements L2Source {
  private readonly options: Required<Omit<MarketOptions, "initialTradingDay">>;
  private readonly byIndex: Array<InstrumentMarket | undefined> = [];
  private readonly bySymbol = new Map<string, InstrumentMarket>();
  private readonly time = new SplitTime();
  /** Reads an `instrument` event, which has the layout of its defineInstrument command. */
  private readonly cmd = new CommandView(Buf.alloc(8));
  /** The current trading day, YYYYMMDD; "" until the first event (or initialTradingDay). */
  private day = "";
  private dayStartSeconds = 0;
  readonly counters: MarketCounters = { events: 0, ignored: 0, unknownInstrument: 0, duplicateTrades: 0 };

  /**
   * `lookup` gives the catalog entry of a symbol (DIFF units, names, trading hours), or
   * undefined for an instrument the catalog does not list (see units.ts for what the
   * model then assumes). Throws RangeError on a bad option.
   */
  constructor(private readonly lookup: (symbol: string) => InstrumentInfo | undefined, options: MarketOptions = {}) {
    const durations = [...new Set(options.durationsNs ?? BAR_DURATIONS_DEFAULT_NS)];
    for (const d of durations) if (!validDurationNs(d)) throw new RangeError(`bar duration must be a positive whole number of seconds in ns, up to 28 days: ${d}`);
    this.options = {
      durationsNs: durations,
      barsPerSeries: checkInt("barsPerSeries", options.barsPerSeries ?? BARS_PER_SERIES_DEFAULT, 1, BARS_PER_SERIES_MAX),
      seriesPerInstrument: checkInt("seriesPerInstrument", options.seriesPerInstrument ?? SERIES_PER_INSTRUMENT_DEFAULT, durations.length, SERIES_PER_INSTRUMENT_MAX),
      ticksPerInstrument: checkInt("ticksPerInstrument", options.ticksPerInstrument ?? TICKS_PER_INSTRUMENT_DEFAULT, 1, TICKS_PER_INSTRUMENT_MAX),
      l2UpdatesKept: checkInt("l2UpdatesKept", options.l2UpdatesKept ?? L2_UPDATES_KEPT_DEFAULT, 1, L2_UPDATES_KEPT_MAX),
      quoteLevels: checkInt("quoteLevels", options.quoteLevels ?? QUOTE_LEVELS_DEFAULT, 1, QUOTE_LEVELS_MAX),
      tradingDays: options.tradingDays ?? "calendar",
    };
    if (this.options.tradingDays !== "calendar" && this.options.tradingDays !== "explicit") throw new RangeError(`tradingDays must be "calendar" or "explicit"`);
    if (options.initialTradingDay !== undefined) {
      if (!validTradingDay(options.initialTradingDay)) throw new RangeError(`initialTradingDay must be YYYYMMDD, not ${options.initialTradingDay}`);
      this.setDay(options.initialTradingDay);
    }
  }

  // -------------------------------------------------------------------------------------
  // Input

  /** Applies one engine event (the single entry point for live data). */
  onEvent(ev: EventView): void {
    this.counters.events++;
    const kind = ev.kind;
    if (kind !== EventKind.l2 && kind !== EventKind.trade && kind !== EventKind.tradingState && kind !== EventKind.instrument) {
      this.counters.ignored++;
      return;
    }
    const t = this.time.setRecord(ev.dv, ev.offset);
    this.advanceDay(t.seconds);
    switch (kind) {
      case EventKind.l2: return this.onL2(ev, t);
      case EventKind.trade: return this.onTrade(ev, t);
      case EventKind.tradingState: return this.onTradingState(ev);
      case EventKind.instrument: return this.onInstrument(ev, t);
    }
  }

  private onL2(ev: EventView, t: SplitTime): void {
    const m = this.byIndex[ev.instrument];
    if (m === undefined) {
      this.counters.unknownInstrument++;
      return;
    }
    const side = ev.side;
    assert(side === Side.buy || side === Side.sell, "l2 event with a bad side");
    const price = ev.price;
    const qty = ev.qty;
    const count = ev.orderCount;
    const rank = m.book.apply(side, price, qty, count);
    if (rank < 0) return;
    m.l2.push(side, price, qty, count);
    if (rank < this.options.quoteLevels) m.touch(t.seconds, t.nanos);
    if (rank < TICK_LEVELS && m.tickSeq === ev.seq) m.ticks.setBook(m.book);
  }

  private onTrade(ev: EventView, t: SplitTime): void {
    const m = this.byIndex[ev.instrument];
    if (m === undefined) {
      this.counters.unknownInstrument++;
      return;
    }
    const tradeNo = ev.tradeNo;
    if (tradeNo <= m.lastTradeNo) {
      this.counters.duplicateTrades++;
      return;
    }
    m.lastTradeNo = tradeNo;
    const price = ev.price;
    const qty = ev.qty;
    const stats = m.stats;
    stats.trade(price, qty);
    const list = m.seriesList;
    for (let k = 0; k < list.length; k++) list[k]!.trade(t.seconds, this.dayStartSeconds, price, qty);
    const seq = ev.seq;
    const ticks = m.ticks;
    if (m.tickSeq !== seq) {
      ticks.open();
      m.tickSeq = seq;
      ticks.setBook(m.book);
    }
    ticks.setTrade(t.seconds, t.nanos, price, stats.high, stats.low, stats.volume, stats.amountRaw);
    m.touch(t.seconds, t.nanos);
  }

  private onTradingState(ev: EventView): void {
    const m = this.byIndex[ev.instrument];
    if (m === undefined) {
      this.counters.unknownInstrument++;
      return;
    }
    m.spec.state = ev.state;
  }

  private onInstrument(ev: EventView, t: SplitTime): void {
    const c = this.cmd;
    c.dv = ev.dv;
    c.u8 = ev.u8;
    c.offset = ev.offset;
    const spec: InstrumentSpec = {
      symbol: c.symbol(), tickSize: c.tickSize, lotSize: c.lotSize, minQty: c.minQty, maxQty: c.maxQty,
      priceLow: c.priceLow, priceHigh: c.priceHigh, state: c.state, currency: c.currency, multiplier: c.multiplier,
      marginPerLot: c.marginPerLot, marginRateBp: c.marginRateBp, commissionPerLot: c.commissionPerLot,
      commissionRateBp: c.commissionRateBp, positionLimit: c.positionLimit,
    };
    this.define(ev.instrument, spec).touch(t.seconds, t.nanos);
  }

  /** Defines or redefines the instrument at `index`; the book and history stay. */
  private define(index: number, spec: InstrumentSpec): InstrumentMarket {
    assert(Number.isSafeInteger(index) && index >= 0 && index < 0xfffffffe, "bad instrument index");
    const info = this.lookup(spec.symbol);
    let m = this.byIndex[index];
    if (m === undefined) {
      assert(!this.bySymbol.has(spec.symbol), `symbol ${spec.symbol} already has another index`);
      m = new InstrumentMarket(index, spec, info, this.options);
      this.byIndex[index] = m;
      this.bySymbol.set(spec.symbol, m);
    } else {
      assert(m.spec.symbol === spec.symbol, `instrument ${index} is ${m.spec.symbol}, not ${spec.symbol}`);
      m.spec = spec;
      m.units = new InstrumentUnits(info, spec.multiplier);
    }
    return m;
  }

  /**
   * Starts the model from an engine's state: the instrument at `index` as the engine
   * defines it (`Engine.instruments.spec(i)` with `accounts.moneyParamsOf(i)`, or
   * `engineParams(info)` of the catalog); the same as its `instrument` event.
   * `timestampNs`: as of when, for the quote's datetime (without it the quote's datetime
   * stays "" until the instrument's first event).
   */
  seedInstrument(index: number, params: SeedParams, timestampNs?: bigint): void {
    const spec: InstrumentSpec = {
      symbol: params.symbol, tickSize: params.tickSize, lotSize: params.lotSize, minQty: params.minQty, maxQty: params.maxQty,
      priceLow: params.priceLow, priceHigh: params.priceHigh, state: params.state ?? TradingState.open, currency: params.currency ?? 0,
      multiplier: params.multiplier ?? 0, marginPerLot: params.marginPerLot ?? 0, marginRateBp: params.marginRateBp ?? 0,
      commissionPerLot: params.commissionPerLot ?? 0, commissionRateBp: params.commissionRateBp ?? 0, positionLimit: params.positionLimit ?? 0,
    };
    const m = this.define(index, spec);
    if (timestampNs !== undefined) {
      const t = this.time.setBigint(timestampNs);
      this.advanceDay(t.seconds);
      m.touch(t.seconds, t.nanos);
    } else {
      m.quoteVersion++;
    }
  }

  /**
   * Replaces one side of an instrument's book with `levels` ([price, qty, orderCount],
   * engine units, any order, as `Engine.depth` gives them). L2 consumers behind this
   * point must take a snapshot.
   */
  seedBook(instrument: number, side: Side, levels: readonly (readonly [number, number, number])[]): void {
    const m = this.byIndex[instrument];
    assert(m !== undefined, `instrument ${instrument} is not defined: seed it first`);
    m.book.side(side).reset(levels);
    m.l2.reset();
    m.quoteVersion++;
  }

  /**
   * Starts trading day `tradingDay` (YYYYMMDD, later than the current one) for every
   * instrument: the day's statistics start again (pre_close and pre_settlement become the
   * last price), and every bar series starts counting the day's bars.
   */
  newTradingDay(tradingDay: string): void {
    assert(validTradingDay(tradingDay), `trading day must be YYYYMMDD, not ${tradingDay}`);
    assert(this.day === "" || tradingDay > this.day, `trading day ${tradingDay} is not after ${this.day}`);
    const first = this.day === "";
    this.setDay(tradingDay);
    if (first) return;
    for (const m of this.bySymbol.values()) {
      m.stats.newDay();
      for (const s of m.seriesList) s.newTradingDay();
      m.quoteVersion++;
    }
  }

  private setDay(day: string): void {
    this.day = day;
    this.dayStartSeconds = tradingDayStartSeconds(day);
  }

  /** Sets the first trading day, or rolls to the next under "calendar". */
  private advanceDay(seconds: number): void {
    if (this.day === "") {
      this.setDay(chinaDate(seconds));
    } else if (this.options.tradingDays === "calendar" && seconds >= this.dayStartSeconds + SECONDS_PER_DAY) {
      this.newTradingDay(chinaDate(seconds));
    }
  }

  // -------------------------------------------------------------------------------------
  // Reading

  /** The current trading day (YYYYMMDD), "" before the first event. */
  get tradingDay(): string {
    return this.day;
  }

  /** Symbols of every defined instrument, in index order. */
  symbols(): string[] {
    const out: string[] = [];
    for (const m of this.byIndex) if (m !== undefined) out.push(m.spec.symbol);
    return out;
  }

  /** Whether the instrument at `index` is defined (by its event or a seed). */
  hasInstrument(index: number): boolean {
    return this.byIndex[index] !== undefined;
  }

  /** The instrument index of a symbol, -1 if not defined. */
  instrumentIndex(symbol: string): number {
    return this.bySymbol.get(symbol)?.index ?? -1;
  }

  /** The engine's definition of an instrument (a copy), with its current trading state. */
  spec(symbol: string): InstrumentSpec | undefined {
    const m = this.bySymbol.get(symbol);
    return m === undefined ? undefined : { ...m.spec };
  }

  /** The trading state (TradingState code), undefined for an unknown symbol. */
  tradingState(symbol: string): TradingState | undefined {
    return this.bySymbol.get(symbol)?.spec.state as TradingState | undefined;
  }

  /** The instrument's book (read only: do not change it). */
  book(symbol: string): Book | undefined {
    return this.bySymbol.get(symbol)?.book;
  }

  /** The best `maxLevels` levels of one side, best first, engine units. */
  depth(symbol: string, side: Side, maxLevels = Infinity): Level[] | undefined {
    return this.bySymbol.get(symbol)?.book.side(side).levels(maxLevels);
  }

  /** The day's statistics in engine units (a copy; NaN where not known yet). */
  stats(symbol: string): StatsView | undefined {
    const s = this.bySymbol.get(symbol)?.stats;
    if (s === undefined) return undefined;
    return {
      open: s.open, high: s.high, low: s.low, last: s.last, volume: s.volume, amountRaw: s.amountRaw,
      preClose: s.preClose, preSettlement: s.preSettlement,
    };
  }

  /** Changes whenever anything in the instrument's quote does; -1 for an unknown symbol. */
  quoteVersion(symbol: string): number {
    return this.bySymbol.get(symbol)?.quoteVersion ?? -1;
  }

  /** The whole DIFF quote. Never modified after it is returned: a change makes a new object. */
  quote(symbol: string): Readonly<DiffQuote> | undefined {
    return this.bySymbol.get(symbol)?.quote(this.options.quoteLevels);
  }

  /** Bar durations (ns) an instrument has series for. */
  durations(symbol: string): number[] {
    const m = this.bySymbol.get(symbol);
    return m === undefined ? [] : [...m.series.keys()];
  }

  /**
   * Makes sure the instrument has a series for `durationNs`. A new one is rebuilt from the
   * coarsest series it has whose periods nest in the new ones (so the new series starts
   * with as much history as can be exact), else it starts empty. Returns false for an
   * unknown symbol, a duration that is not a whole number of seconds up to 28 days, or an
   * instrument that already has `seriesPerInstrument` series.
   */
  openSeries(symbol: string, durationNs: number): boolean {
    const m = this.bySymbol.get(symbol);
    if (m === undefined || !validDurationNs(durationNs)) return false;
    if (m.series.has(durationNs)) return true;
    if (m.series.size >= this.options.seriesPerInstrument) return false;
    const dSeconds = durationNs / 1e9;
    const dayAligned = dSeconds % SECONDS_PER_DAY === 0;
    let source: BarSeries | undefined;
    for (const s of m.seriesList) {
      if (dSeconds % s.durationSeconds !== 0 || (dayAligned && !s.tradingDayAligned)) continue;
      if (source === undefined || s.durationSeconds > source.durationSeconds) source = s;
    }
    m.addSeries(source === undefined ? new BarSeries(durationNs, this.options.barsPerSeries) : source.rebuild(durationNs, this.options.barsPerSeries));
    return true;
  }

  /** A series' ids and version; undefined if the series is not open. */
  seriesInfo(symbol: string, durationNs: number): SeriesInfo | undefined {
    const s = this.bySymbol.get(symbol)?.series.get(durationNs);
    if (s === undefined) return undefined;
    return {
      last_id: s.lastId, first_id: s.firstId, trading_day_start_id: s.tradingDayStartId,
      trading_day_end_id: s.tradingDayEndId, version: s.version,
    };
  }

  /** Id of the newest bar (-1: none yet); undefined if the series is not open. */
  lastId(symbol: string, durationNs: number): number | undefined {
    return this.bySymbol.get(symbol)?.series.get(durationNs)?.lastId;
  }

  /**
   * The kept bars with ids in fromId..toId (inclusive), in DIFF units; the range is
   * clipped to what is kept. Undefined if the series is not open.
   */
  bars(symbol: string, durationNs: number, fromId: number, toId: number): BarRange | undefined {
    const m = this.bySymbol.get(symbol);
    const s = m?.series.get(durationNs);
    if (m === undefined || s === undefined) return undefined;
    const from = Math.max(fromId, s.firstId);
    const to = Math.min(toId, s.lastId);
    const bars: DiffBar[] = [];
    for (let id = from; id <= to; id++) bars.push(diffBar(s, id, m.units));
    return { fromId: from, bars };
  }

  /** The tick series' ids and version; undefined for an unknown symbol. */
  tickInfo(symbol: string): TickInfo | undefined {
    const t = this.bySymbol.get(symbol)?.ticks;
    return t === undefined ? undefined : { last_id: t.lastId, first_id: t.firstId, version: t.version };
  }

  /** The kept ticks with ids in fromId..toId (inclusive, clipped), in DIFF units. */
  ticks(symbol: string, fromId: number, toId: number): TickRange | undefined {
    const m = this.bySymbol.get(symbol);
    if (m === undefined) return undefined;
    const t = m.ticks;
    const from = Math.max(fromId, t.firstId);
    const to = Math.min(toId, t.lastId);
    const ticks: DiffTick[] = [];
    for (let id = from; id <= to; id++) ticks.push(diffTick(t, id, m.units));
    return { fromId: from, ticks };
  }

  /** A kept tick's exact time (ns since the epoch); undefined if not kept. */
  tickTimeNs(symbol: string, id: number): bigint | undefined {
    const t = this.bySymbol.get(symbol)?.ticks;
    return t === undefined || !t.has(id) ? undefined : tickTimeNs(t, id);
  }

  /** The whole book with the number of the last L2 update it includes; undefined for an unknown instrument. */
  l2Snapshot(instrument: number): L2Snapshot | undefined {
    const m = this.byIndex[instrument];
    if (m === undefined) return undefined;
    return { instrument, seq: m.l2.seq, bids: m.book.bids.levels(), asks: m.book.asks.levels() };
  }

  /** L2 updates after `afterSeq` (at most `max`); undefined when no longer kept: take a snapshot. */
  l2Updates(instrument: number, afterSeq: number, max?: number): L2Update[] | undefined {
    return this.byIndex[instrument]?.l2.updates(afterSeq, max);
  }

  /** An engine price of the instrument in DIFF units (as quotes show it); the price itself for an unknown instrument. */
  diffPrice(instrument: number, price: number): number {
    const m = this.byIndex[instrument];
    return m === undefined ? price : m.units.price(price);
  }

  /**
   * The model's state for a checkpoint: the trading day and, per instrument, what its
   * trades made (InstrumentCheckpoint). Copies: the model goes on unchanged.
   */
  checkpoint(): MarketCheckpoint {
    return { day: this.day, instruments: this.byIndex.map((_m, i) => this.instrumentCheckpoint(i) ?? null) };
  }

  /** Instrument indexes a checkpoint covers: 0 up to this (some may be undefined). */
  get instrumentSlots(): number {
    return this.byIndex.length;
  }

  /** One instrument's part of `checkpoint()` (a copy), or undefined if none is defined at `index`. */
  instrumentCheckpoint(index: number): InstrumentCheckpoint | undefined {
    const m = this.byIndex[index];
    if (m === undefined) return undefined;
    const st = m.stats;
    return {
      symbol: m.spec.symbol,
      stats: Float64Array.of(st.open, st.high, st.low, st.last, st.volume, st.amountRaw, st.preClose, st.preSettlement),
      ticks: m.ticks.checkpoint(),
      series: m.seriesList.map((x) => x.checkpoint()),
      seconds: m.seconds,
      nanos: m.nanos,
      tickSeq: m.tickSeq,
      lastTradeNo: m.lastTradeNo,
      quoteVersion: m.quoteVersion,
    };
  }

  /**
   * A key of everything `instrumentCheckpoint(index)` would hold, without copying it: equal
   * keys, equal checkpoints. The small fields are in it as they are; the ticks and each bar
   * series by their ids and `version`, which changes whenever anything in them does
   * (bars.ts). A checkpoint writer rewrites an instrument only when its key has changed.
   */
  checkpointKey(index: number): string | undefined {
    const m = this.byIndex[index];
    if (m === undefined) return undefined;
    const st = m.stats;
    const t = m.ticks;
    let k = `${m.spec.symbol}|${st.open},${st.high},${st.low},${st.last},${st.volume},${st.amountRaw},${st.preClose},${st.preSettlement}|${m.seconds},${m.nanos},${m.tickSeq},${m.lastTradeNo},${m.quoteVersion}|${t.version},${t.firstId},${t.lastId}`;
    for (const x of m.seriesList) k += `|${x.durationNs},${x.version},${x.firstId},${x.lastId},${x.tradingDayStartId},${x.tradingDayEndId}`;
    return k;
  }

  /**
   * Takes what a checkpoint kept, for every instrument defined here (seed them first) at the
   * same index with the same symbol; series the checkpoint lacks start empty, and bars or
   * ticks beyond this model's caps are dropped, oldest first. Returns the symbols restored.
   * Books are left as they are. Call before any other event.
   */
  restore(cp: MarketCheckpoint): string[] {
    if (cp.day !== "") this.setDay(cp.day);
    const restored: string[] = [];
    cp.instruments.forEach((c, index) => {
      const m = this.byIndex[index];
      if (c === null || m === undefined || m.spec.symbol !== c.symbol) return;
      const st = m.stats;
      const v = c.stats;
      assert(v.length === 8, "an instrument checkpoint's statistics are 8 numbers");
      st.open = v[0]!;
      st.high = v[1]!;
      st.low = v[2]!;
      st.last = v[3]!;
      st.volume = v[4]!;
      st.amountRaw = v[5]!;
      st.preClose = v[6]!;
      st.preSettlement = v[7]!;
      m.ticks = TickSeries.restore(c.ticks, this.options.ticksPerInstrument);
      const kept = new Map(m.series);
      m.series.clear();
      m.seriesList = [];
      for (const sc of c.series) {
        if (m.series.size >= this.options.seriesPerInstrument || !validDurationNs(sc.durationNs)) continue;
        m.addSeries(BarSeries.restore(sc, this.options.barsPerSeries));
      }
      for (const [d, x] of kept) if (!m.series.has(d)) m.addSeries(x);
      m.seconds = c.seconds;
      m.nanos = c.nanos;
      m.tickSeq = c.tickSeq;
      m.lastTradeNo = c.lastTradeNo;
      m.quoteVersion = Math.max(m.quoteVersion, c.quoteVersion) + 1;
      restored.push(c.symbol);
    });
    return restored;
  }

  /** Number of the newest L2 update of an instrument (0: none); -1 if unknown. */
  l2Seq(instrument: number): number {
    return this.byIndex[instrument]?.l2.seq ?? -1;
  }
}
