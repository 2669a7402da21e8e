/**
 * The gateway's side of the market-data worker (src/market/worker.ts): a copy of every
 * quote, made only from the updates the worker sends, and chart requests answered by it.
 *
 * Each update is applied to the copy and handed on (`onUpdate`: the gateway forwards the
 * changes to subscribers), then acknowledged, which lets the worker send the next. A new
 * subscriber's full quote comes from the copy, so it and the next change forwarded never
 * disagree.
 *
 * Objects that arrive over a MessagePort are structured clones with Object.prototype; the
 * copy and everything handed on are rebuilt with null prototypes, as every patch is.
 */

import type { MessagePort } from "node:worker_threads";
import type { ChartWindow, GatewayMessage, L2BookSnapshot, L2Change, MarketMessage, SeriesChange } from "../market/diff_market.ts";
import { clone, obj, type Json, type JsonObject } from "./patch.ts";
import type { MarketFeed } from "./gateway.ts";

export interface MarketUpdate {
  quotes: Map<string, JsonObject>;
  series: SeriesChange[];
  l2: L2Change[];
}

export class MarketMirror implements MarketFeed {
  private readonly quotes = new Map<string, JsonObject>();
  private readonly charts = new Map<number, (window: ChartWindow | undefined) => void>();
  private readonly books = new Map<number, (snapshot: L2BookSnapshot | undefined) => void>();
  private nextReq = 1;
  private markReady!: () => void;
  /** Resolves when the first update (every quote whole) has been applied. */
  readonly ready = new Promise<void>((r) => (this.markReady = r));
  /** Updates received from the market worker. */
  updates = 0;
  /** Passes of the market worker that found changes while this gateway had not answered (they went into a later update). */
  held = 0;

  /** Called with each update, after the copy has taken it (the gateway forwards the changes). */
  onUpdate: (u: MarketUpdate) => void = () => {};

  constructor(private readonly port: MessagePort) {
    port.on("message", (m: MarketMessage) => this.receive(m));
  }

  /** A copy of the quote (the caller may put it into patches, which are composed in place). */
  quote(symbol: string): JsonObject | undefined {
    const q = this.quotes.get(symbol);
    return q === undefined ? undefined : (clone(q) as JsonObject);
  }

  chart(symbol: string, duration: number, viewWidth: number, done: (window: ChartWindow | undefined) => void): void {
    const req = this.nextReq++;
    this.charts.set(req, done);
    this.post({ chart: { req, symbol, duration, viewWidth } });
  }

  unwatch(symbol: string, duration: number): void {
    this.post({ unwatch: { symbol, duration } });
  }

  l2(symbol: string, done: (snapshot: L2BookSnapshot | undefined) => void): void {
    const req = this.nextReq++;
    this.books.set(req, done);
    this.post({ l2: { req, symbol } });
  }

  l2Unwatch(symbol: string): void {
    this.post({ l2Unwatch: { symbol } });
  }

  close(): void {
    this.port.close();
  }

  private post(m: GatewayMessage): void {
    this.port.postMessage(m);
  }

  private receive(m: MarketMessage): void {
    if ("update" in m) {
      const quotes = new Map<string, JsonObject>();
      for (const [symbol, fields] of m.update.quotes) {
        const changed = clone(fields as Json) as JsonObject;
        let q = this.quotes.get(symbol);
        if (q === undefined) this.quotes.set(symbol, (q = obj()));
        // Quotes are flat: each changed field replaces (a null stays a null, as in the worker's quote).
        for (const k of Object.keys(changed)) q[k] = changed[k]!;
        quotes.set(symbol, changed);
      }
      const series = m.update.series.map((c) => ({ symbol: c.symbol, duration: c.duration, lastId: c.lastId, top: clone(c.top as Json) as JsonObject }));
      this.updates++;
      this.held = m.update.held;
      try {
        // L2 changes are sent bare (arrays and numbers), never composed: no copy needed.
        this.onUpdate({ quotes, series, l2: m.update.l2 });
      } finally {
        this.post({ ack: 1 });
        this.markReady();
      }
    } else if ("chart" in m) {
      const done = this.charts.get(m.chart.req);
      this.charts.delete(m.chart.req);
      const w = m.chart.window;
      done?.(w === null ? undefined : { top: clone(w.top as Json) as JsonObject, leftId: w.leftId, rightId: w.rightId });
    } else if ("l2" in m) {
      const done = this.books.get(m.l2.req);
      this.books.delete(m.l2.req);
      done?.(m.l2.snapshot ?? undefined);
    }
  }
}
