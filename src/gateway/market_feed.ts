/**
 * The market side of the gateway: the market-data model (src/market) fed with the trades
 * and l2 topics, and what DIFF sessions need from it: full quotes for a subscription, the
 * changed quote fields after each round of events, a chart's opening window and the bars
 * (or ticks) that changed since.
 *
 * Quote changes are taken after every round of events, before any client message is
 * handled, so a new subscriber's full quote and the next change patch never disagree.
 */

import { MarketData } from "../market/market.ts";
import type { InstrumentInfo } from "../catalog/instrument.ts";
import type { InstrumentParams } from "../schema/command.ts";
import { EventKind, type EventView } from "../schema/event.ts";
import type { Side } from "../schema/codes.ts";
import { changedFields, obj, type JsonObject } from "./patch.ts";
import type { MarketFeed } from "./gateway.ts";

const key = (symbol: string, duration: number): string => `${symbol} ${duration}`;

export interface SeriesChange {
  symbol: string;
  duration: number;
  /** `{klines: ...}` or, for duration 0, `{ticks: ...}`. */
  top: JsonObject;
  lastId: number;
}

export class GatewayMarket implements MarketFeed {
  readonly data: MarketData;
  private readonly symbols: string[] = [];
  private readonly touched = new Set<string>();
  private readonly sentQuotes = new Map<string, JsonObject>();
  /** Series some chart shows, with the newest id sent for each. */
  private readonly watched = new Map<string, { symbol: string; duration: number; sentLastId: number; version: number }>();

  constructor(lookup: (symbol: string) => InstrumentInfo | undefined) {
    this.data = new MarketData(lookup);
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

  chart(symbol: string, duration: number, viewWidth: number): { top: JsonObject; leftId: number; rightId: number } | undefined {
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
