/**
 * The market data a DIFF gateway shows, in DIFF's shapes: the market-data model
 * (market.ts) fed with the trades and l2 topics, and from it the full quotes, the changed
 * quote fields after each round of events, a chart's opening window and the bars (or
 * ticks) of watched series that changed since. It lives on the market-data worker
 * (worker.ts), which sends these to the gateway worker as the messages below.
 *
 * The gateway keeps a copy of every quote made only from the changes it is sent, so a new
 * subscriber's full quote and the next change it forwards never disagree.
 */

import { MarketData, type MarketOptions } from "./market.ts";
import type { InstrumentInfo } from "../catalog/instrument.ts";
import type { InstrumentParams } from "../schema/command.ts";
import { EventKind, type EventView } from "../schema/event.ts";
import type { Side } from "../schema/codes.ts";
import type { MessagePort } from "node:worker_threads";
import { changedFields, obj, type JsonObject } from "../gateway/patch.ts";

const key = (symbol: string, duration: number): string => `${symbol} ${duration}`;

export interface SeriesChange {
  symbol: string;
  duration: number;
  /** `{klines: ...}` or, for duration 0, `{ticks: ...}`. */
  top: JsonObject;
  lastId: number;
}

/**
 * The L2 feed in DIFF units: a book snapshot (every level, best first, as [price, volume,
 * orders]) with the number of the last update it includes, or numbered updates
 * [seq, "BUY" | "SELL", price, volume, orders] (volume 0: the level is gone). Per
 * instrument the numbers go up by one per update (src/market/l2_feed.ts).
 */
export interface L2BookSnapshot {
  symbol: string;
  seq: number;
  bids: Array<[number, number, number]>;
  asks: Array<[number, number, number]>;
}
export type L2Row = [seq: number, side: "BUY" | "SELL", price: number, volume: number, orders: number];
/** What changed in one watched book since the last update: its updates, or a snapshot when they are no longer kept. */
export type L2Change = { symbol: string; updates: L2Row[] } | { symbol: string; snapshot: L2BookSnapshot };

/** A chart's opening: the patch with its window (`klines.<symbol>.<duration>` or `ticks.<symbol>`, rows and `last_id`) and the window's ids. */
export interface ChartWindow {
  top: JsonObject;
  leftId: number;
  rightId: number;
}

/**
 * Market worker to gateway, over their MessagePort, in this order per port:
 * - `update`: the quote fields that changed (each quote whole in the first) and the
 *   watched series that changed since the last update, and `held`, the passes so far that
 *   found changes but no credit (a count for metrics). The gateway answers each with
 *   `ack`; at most `credit` updates are unanswered, and while none is left the changes
 *   gather into the next one (a slow gateway gets coarser updates, never a queue).
 * - `chart`: the answer to a chart request, by its `req` (null: unknown symbol or duration).
 * - `l2`: the answer to an L2 request: the book now (null: unknown symbol); the book's
 *   changes come in the updates from then on (`l2` of `update`).
 */
export type MarketMessage =
  | { update: { quotes: Array<[string, JsonObject]>; series: SeriesChange[]; l2: L2Change[]; held: number } }
  | { chart: { req: number; window: ChartWindow | null } }
  | { l2: { req: number; snapshot: L2BookSnapshot | null } };

/**
 * Gateway to market worker: `ack` (updates handled), `chart` (open a chart: its window now,
 * and changes of the series from then on), `unwatch` (no chart shows the series any more),
 * `l2` (a book's snapshot now, and its updates from then on), `l2Unwatch` (no one reads
 * the book's updates any more).
 */
export type GatewayMessage =
  | { ack: number }
  | { chart: { req: number; symbol: string; duration: number; viewWidth: number } }
  | { unwatch: { symbol: string; duration: number } }
  | { l2: { req: number; symbol: string } }
  | { l2Unwatch: { symbol: string } };

export class DiffMarket {
  readonly data: MarketData;
  private readonly symbols: string[] = [];
  private readonly touched = new Set<string>();
  private readonly sentQuotes = new Map<string, JsonObject>();
  /** Series some chart shows, with the newest id sent for each. */
  private readonly watched = new Map<string, { symbol: string; duration: number; sentLastId: number; version: number }>();
  /** Books whose L2 updates are sent, with the number of the last one sent. */
  private readonly l2Watched = new Map<string, { instrument: number; sentSeq: number }>();

  constructor(lookup: (symbol: string) => InstrumentInfo | undefined, options: MarketOptions = {}) {
    this.data = new MarketData(lookup, options);
  }

  /** The instrument at `index` as the engine defines it at start (`timestampNs`: now, for the quote's datetime). */
  seedInstrument(index: number, params: InstrumentParams, timestampNs?: bigint): void {
    this.symbols[index] = params.symbol;
    this.data.seedInstrument(index, params, timestampNs);
    this.touched.add(params.symbol);
  }

  seedBook(index: number, bids: ReadonlyArray<[number, number, number]>, asks: ReadonlyArray<[number, number, number]>): void {
    this.data.seedBook(index, 1 as Side, bids);
    this.data.seedBook(index, 2 as Side, asks);
  }

  knows(index: number): boolean {
    return this.data.hasInstrument(index);
  }

  onEvent(e: EventView): void {
    this.data.onEvent(e);
    const k = e.kind;
    if (k === EventKind.instrument || k === EventKind.l2 || k === EventKind.trade || k === EventKind.tradingState) {
      const i = e.instrument;
      let symbol = this.symbols[i];
      if (symbol === undefined && this.data.hasInstrument(i)) {
        symbol = this.data.symbols().find((s) => this.data.instrumentIndex(s) === i);
        if (symbol !== undefined) this.symbols[i] = symbol;
      }
      if (symbol !== undefined) this.touched.add(symbol);
    }
  }

  quote(symbol: string): JsonObject | undefined {
    const q = this.data.quote(symbol);
    return q === undefined ? undefined : (q as unknown as JsonObject);
  }

  /** The changed fields of every quote touched since the last call. */
  takeQuoteChanges(): Map<string, JsonObject> {
    const out = new Map<string, JsonObject>();
    for (const symbol of this.touched) {
      const q = this.quote(symbol);
      if (q === undefined) continue;
      const changed = changedFields(this.sentQuotes.get(symbol), q);
      this.sentQuotes.set(symbol, q);
      if (changed !== undefined) out.set(symbol, changed);
    }
    return out;
  }

  /** A chart's opening window of the series; the series is watched from then on (`takeSeriesChanges`) until `unwatch`. */
  chart(symbol: string, duration: number, viewWidth: number): ChartWindow | undefined {
    let lastId: number;
    let firstKept: number;
    let rows: Array<[number, JsonObject]>;
    if (duration === 0) {
      const info = this.data.tickInfo(symbol);
      if (info === undefined) return undefined;
      lastId = info.last_id;
      const from = Math.max(info.first_id, lastId - viewWidth + 1);
      const r = this.data.ticks(symbol, from, lastId)!;
      rows = r.ticks.map((t, j) => [r.fromId + j, t as unknown as JsonObject]);
      firstKept = r.fromId;
    } else {
      if (!this.data.openSeries(symbol, duration)) return undefined;
      const info = this.data.seriesInfo(symbol, duration)!;
      lastId = info.last_id;
      const from = Math.max(info.first_id, lastId - viewWidth + 1);
      const r = this.data.bars(symbol, duration, from, lastId)!;
      rows = r.bars.map((b, j) => [r.fromId + j, b as unknown as JsonObject]);
      firstKept = r.fromId;
    }
    const w = this.watched.get(key(symbol, duration));
    if (w === undefined) this.watched.set(key(symbol, duration), { symbol, duration, sentLastId: lastId, version: this.version(symbol, duration) });
    return { top: this.seriesPatch(symbol, duration, lastId, rows), leftId: lastId < 0 ? -1 : firstKept, rightId: lastId };
  }

  /** Bars (or ticks) of watched series that changed since the last call: the newest sent one again (it may have grown) and every newer one. */
  takeSeriesChanges(): SeriesChange[] {
    const out: SeriesChange[] = [];
    for (const w of this.watched.values()) {
      if (!this.touched.has(w.symbol)) continue;
      const version = this.version(w.symbol, w.duration);
      if (version === w.version) continue;
      w.version = version;
      const lastId = w.duration === 0 ? this.data.tickInfo(w.symbol)!.last_id : this.data.seriesInfo(w.symbol, w.duration)!.last_id;
      const from = Math.max(0, w.sentLastId);
      let rows: Array<[number, JsonObject]>;
      if (w.duration === 0) {
        const r = this.data.ticks(w.symbol, from, lastId)!;
        rows = r.ticks.map((t, j) => [r.fromId + j, t as unknown as JsonObject]);
      } else {
        const r = this.data.bars(w.symbol, w.duration, from, lastId)!;
        rows = r.bars.map((b, j) => [r.fromId + j, b as unknown as JsonObject]);
      }
      w.sentLastId = lastId;
      out.push({ symbol: w.symbol, duration: w.duration, top: this.seriesPatch(w.symbol, w.duration, lastId, rows), lastId });
    }
    return out;
  }

  /** The whole book of `symbol` in DIFF units; its updates are taken from then on (`takeL2Changes`) until `l2Unwatch`. */
  l2Open(symbol: string): L2BookSnapshot | undefined {
    const i = this.data.instrumentIndex(symbol);
    if (i < 0) return undefined;
    const snap = this.l2Snapshot(symbol, i)!;
    if (!this.l2Watched.has(symbol)) this.l2Watched.set(symbol, { instrument: i, sentSeq: snap.seq });
    return snap;
  }

  l2Unwatch(symbol: string): void {
    this.l2Watched.delete(symbol);
  }

  /** For each watched book that changed since the last call: its updates since, or a snapshot if they are no longer kept. */
  takeL2Changes(): L2Change[] {
    const out: L2Change[] = [];
    for (const [symbol, w] of this.l2Watched) {
      const seq = this.data.l2Seq(w.instrument);
      if (seq === w.sentSeq) continue;
      const updates = this.data.l2Updates(w.instrument, w.sentSeq);
      if (updates === undefined) {
        out.push({ symbol, snapshot: this.l2Snapshot(symbol, w.instrument)! });
      } else {
        out.push({ symbol, updates: updates.map((u): L2Row => [u.seq, u.side === 1 ? "BUY" : "SELL", this.data.diffPrice(w.instrument, u.price), u.qty, u.orderCount]) });
      }
      w.sentSeq = seq;
    }
    return out;
  }

  private l2Snapshot(symbol: string, instrument: number): L2BookSnapshot | undefined {
    const s = this.data.l2Snapshot(instrument);
    if (s === undefined) return undefined;
    const level = (l: readonly [number, number, number]): [number, number, number] => [this.data.diffPrice(instrument, l[0]), l[1], l[2]];
    return { symbol, seq: s.seq, bids: s.bids.map(level), asks: s.asks.map(level) };
  }

  /** No chart shows the series any more: its changes are no longer taken. */
  unwatch(symbol: string, duration: number): void {
    this.watched.delete(key(symbol, duration));
  }

  /** Whether anything was touched since the last `endRound`. */
  get touchedAny(): boolean {
    return this.touched.size > 0;
  }

  /** Ends a round: what was touched has been taken. */
  endRound(): void {
    this.touched.clear();
  }

  private version(symbol: string, duration: number): number {
    return duration === 0 ? this.data.tickInfo(symbol)?.version ?? -1 : this.data.seriesInfo(symbol, duration)?.version ?? -1;
  }

  private seriesPatch(symbol: string, duration: number, lastId: number, rows: Array<[number, JsonObject]>): JsonObject {
    const data = obj();
    for (const [id, row] of rows) data[String(id)] = row;
    const series = obj();
    series["last_id"] = lastId;
    series["data"] = data;
    const top = obj();
    if (duration === 0) {
      const ticks = obj();
      ticks[symbol] = series;
      top["ticks"] = ticks;
    } else {
      const info = this.data.seriesInfo(symbol, duration);
      if (info !== undefined) {
        series["trading_day_start_id"] = info.trading_day_start_id;
        series["trading_day_end_id"] = info.trading_day_end_id;
      }
      const bySym = obj();
      const byDur = obj();
      byDur[String(duration)] = series;
      bySym[symbol] = byDur;
      top["klines"] = bySym;
    }
    return top;
  }
}

/**
 * The market worker's end of the port: answers chart requests and `unwatch`, and sends an
 * update when something changed and the gateway has credit left (`update`, after each pass
 * over the rings). The first update carries every quote whole.
 */
export class MarketPublisher {
  private credit: number;
  private first = true;
  /** Updates sent. */
  sent = 0;
  /** Passes that found changes but no credit (their changes went into a later update). */
  held = 0;

  constructor(readonly market: DiffMarket, private readonly port: MessagePort, credit = 4) {
    this.credit = credit;
    port.on("message", (m: GatewayMessage) => this.receive(m));
  }

  /** Sends what changed since the last update, if anything did and the gateway has credit left; true if it sent. */
  update(): boolean {
    const market = this.market;
    if (!this.first && !market.touchedAny) return false;
    if (this.credit <= 0) {
      this.held++;
      return false;
    }
    const quotes = [...market.takeQuoteChanges()];
    const series = market.takeSeriesChanges();
    const l2 = market.takeL2Changes();
    market.endRound();
    if (!this.first && quotes.length === 0 && series.length === 0 && l2.length === 0) return false;
    this.first = false;
    this.credit--;
    this.sent++;
    this.send({ update: { quotes, series, l2, held: this.held } });
    return true;
  }

  close(): void {
    this.port.close();
  }

  private receive(m: GatewayMessage): void {
    if ("ack" in m) this.credit += m.ack;
    else if ("chart" in m) {
      const c = m.chart;
      this.send({ chart: { req: c.req, window: this.market.chart(c.symbol, c.duration, c.viewWidth) ?? null } });
    } else if ("unwatch" in m) this.market.unwatch(m.unwatch.symbol, m.unwatch.duration);
    else if ("l2" in m) this.send({ l2: { req: m.l2.req, snapshot: this.market.l2Open(m.l2.symbol) ?? null } });
    else if ("l2Unwatch" in m) this.market.l2Unwatch(m.l2Unwatch.symbol);
  }

  private send(m: MarketMessage): void {
    this.port.postMessage(m);
  }
}
