/**
 * A small venue for market-data tests: a real Engine, commands stamped with consecutive
 * sequence numbers and a controllable clock, and every event the engine emits fed to a
 * MarketData in engine order (records walked as the node does: kind at byte 0, size u16
 * at byte 2). Trades are also kept, with their timestamps, for reference computations.
 */

import { Engine } from "../../src/engine/engine.ts";
import { DEMO_INSTRUMENTS, engineParams, type InstrumentInfo } from "../../src/catalog/instrument.ts";
import {
  CommandKind,
  MAX_COMMAND_SIZE,
  writeDefineInstrument,
  writeNewOrder,
  writeSetTradingState,
  writeTransfer,
  type InstrumentParams,
} from "../../src/schema/command.ts";
import { OrderType, Side, Tif, currencyCode, type TradingState } from "../../src/schema/codes.ts";
import { EventKind, EventView } from "../../src/schema/event.ts";
import { Buf, stamp } from "../../src/schema/layout.ts";
import { MarketData, type MarketOptions } from "../../src/market/market.ts";
import { assert } from "../../src/stdx/assert.ts";

/** 2024-11-05 10:00:00 China time (DIFF.md §6), ns. */
export const T0 = 1_730_772_000_000_000_000n;
export const SECOND = 1_000_000_000n;
export const MINUTE = 60n * SECOND;

export interface TradeRecord {
  instrument: number;
  seq: number;
  tsNs: bigint;
  price: number;
  qty: number;
}

export const catalogLookup = (symbol: string): InstrumentInfo | undefined => DEMO_INSTRUMENTS.find((i) => i.symbol === symbol);

export class Venue {
  readonly engine = new Engine();
  readonly market: MarketData;
  private readonly buf = Buf.alloc(MAX_COMMAND_SIZE);
  private readonly view = new EventView(Buf.alloc(8));
  seq = 1;
  ts: bigint;
  readonly trades: TradeRecord[] = [];
  /** Every command's events as raw record copies, when `keepEvents`. */
  readonly events: Uint8Array[] = [];
  private orderNo = 0;

  constructor(
    options: MarketOptions = {},
    lookup: (symbol: string) => InstrumentInfo | undefined = catalogLookup,
    startNs = T0,
    private readonly keepEvents = false,
    market?: MarketData,
  ) {
    this.ts = startNs;
    this.market = market ?? new MarketData(lookup, options);
  }

  /** Writes a command with `write`, stamps it, applies it and feeds its events. */
  apply(write: (buf: Buf, offset: number) => number): void {
    write(this.buf, 0);
    stamp(this.buf.dv, 0, this.seq++, this.ts);
    this.engine.out.clear();
    this.engine.apply(this.buf, 0);
    this.feed();
  }

  /** Applies a command record already stamped (an encoded flow) and feeds its events. */
  applyRecord(buf: Buf, offset: number): void {
    this.engine.out.clear();
    this.engine.apply(buf, offset);
    this.feed();
  }

  private feed(): void {
    const out = this.engine.out;
    const dv = out.buf.dv;
    for (let at = 0; at < out.length; ) {
      const e = this.view.wrap(out.buf, at);
      const size = dv.getUint16(at + 2, true);
      if (e.kind === EventKind.trade) this.trades.push({ instrument: e.instrument, seq: e.seq, tsNs: e.timestampNs, price: e.price, qty: e.qty });
      if (this.keepEvents) this.events.push(out.buf.u8.slice(at, at + size));
      this.market.onEvent(e);
      at += size;
    }
  }

  define(params: InstrumentParams): number {
    this.apply((b, o) => writeDefineInstrument(b, o, params));
    const i = this.engine.instrumentIndex(params.symbol);
    assert(i >= 0, `instrument ${params.symbol} rejected`);
    return i;
  }

  /** Defines a catalog instrument (money parameters included) and funds accounts a1..a4. */
  defineCatalog(symbol: string): number {
    const info = catalogLookup(symbol);
    assert(info !== undefined, "not in the demo catalog");
    const i = this.define(engineParams(info));
    for (let a = 1; a <= 4; a++) this.apply((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, currencyCode("CNY"), 1e13));
    return i;
  }

  order(instrument: number, account: string, side: "buy" | "sell", price: number, qty: number, tif: "gtc" | "ioc" = "gtc"): void {
    const id = `o${++this.orderNo}`;
    this.apply((b, o) => writeNewOrder(b, o, {
      instrument, account, orderId: id, side: side === "buy" ? Side.buy : Side.sell, orderType: OrderType.limit,
      tif: tif === "gtc" ? Tif.gtc : Tif.ioc, price, qty,
    }));
  }

  setState(instrument: number, state: TradingState): void {
    this.apply((b, o) => writeSetTradingState(b, o, instrument, state));
  }

  advance(ns: bigint): void {
    this.ts += ns;
  }
}

/** A plain pure-matching instrument (no catalog entry unless the lookup has one). */
export function plainParams(symbol: string, tickSize = 1): InstrumentParams {
  return { symbol, tickSize, lotSize: 1, minQty: 1, maxQty: 1_000_000, priceLow: tickSize, priceHigh: 1_000_000 * tickSize };
}

export interface RefBar {
  startSeconds: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

/**
 * Bars computed the obvious way: group the trades by period (UTC multiples of the duration;
 * whole-day durations by `dayOf(trade)`, the start of its trading day in seconds), in
 * time order; one bar per period with a trade.
 */
export function referenceBars(trades: readonly TradeRecord[], durationSeconds: number, dayOf?: (t: TradeRecord) => number): RefBar[] {
  const bars: RefBar[] = [];
  for (const t of trades) {
    const sec = Number(t.tsNs / SECOND);
    const start = durationSeconds % 86_400 === 0
      ? Math.floor((dayOf!(t) + 28_800) / durationSeconds) * durationSeconds - 28_800
      : Math.floor(sec / durationSeconds) * durationSeconds;
    const last = bars[bars.length - 1];
    if (last !== undefined && last.startSeconds === start) {
      last.high = Math.max(last.high, t.price);
      last.low = Math.min(last.low, t.price);
      last.close = t.price;
      last.volume += t.qty;
    } else {
      assert(last === undefined || start > last.startSeconds, "trades out of time order");
      bars.push({ startSeconds: start, open: t.price, high: t.price, low: t.price, close: t.price, volume: t.qty });
    }
  }
  return bars;
}

/** Every number in a JSON-like value, with its path. */
export function numbersIn(v: unknown, path = "$"): Array<[string, number]> {
  if (typeof v === "number") return [[path, v]];
  if (typeof v !== "object" || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) => numbersIn(x, `${path}.${k}`));
}
