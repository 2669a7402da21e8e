/**
 * Daily statistics of one instrument and the DIFF quote object built from them.
 *
 * `DailyStats` counts the trading day's trades in engine integers: open, high, low, last,
 * cumulative volume and `amountRaw` = sum(price x qty). `newDay` starts the next trading
 * day: the previous day's last price becomes pre_close and pre_settlement (the engine
 * settles every instrument at its last trade price), and the day's counts start again.
 * The last price carries over (it is the last trade, whenever it was).
 *
 * `buildQuote` makes a whole DIFF quote (DIFF.md §3.1) from an instrument's definition,
 * catalog entry, book and statistics. Unknown values are "-", never NaN or Infinity; an
 * empty book level is price "-" and volume 0. Fields the venue does not track are
 * constant: open_interest and pre_open_interest 0, close and settlement "-", expired
 * false, underlying_symbol "", max/min_market_order_volume 0.
 *
 * Market-model thread only.
 */

import type { TradingTime } from "../catalog/instrument.ts";
import type { Book, BookSide } from "./book.ts";
import type { InstrumentParams } from "../schema/command.ts";
import { diffDatetime } from "./time.ts";
import type { InstrumentUnits } from "./units.ts";

/**
 * An instrument as the engine defines it (the `instrument` event's fields), engine units:
 * the define command's parameters with every money field present (multiplier 0: pure
 * matching) and the TradingState code.
 */
export type InstrumentSpec = Required<Omit<InstrumentParams, "state" | "closeTodayDistinct">> & { state: number };

/** A price or "-" when not known. */
export type DiffPrice = number | "-";

export class DailyStats {
  /** NaN until the day's first trade (open, high, low) or the first trade ever (last). */
  open = Number.NaN;
  high = Number.NaN;
  low = Number.NaN;
  last = Number.NaN;
  volume = 0;
  /** sum(engine price x qty) over the day's trades. */
  amountRaw = 0;
  preClose = Number.NaN;
  preSettlement = Number.NaN;

  trade(price: number, qty: number): void {
    if (this.volume === 0) {
      this.open = price;
      this.high = price;
      this.low = price;
    } else {
      if (price > this.high) this.high = price;
      if (price < this.low) this.low = price;
    }
    this.last = price;
    this.volume += qty;
    this.amountRaw += price * qty;
  }

  newDay(): void {
    if (!Number.isNaN(this.last)) {
      this.preClose = this.last;
      this.preSettlement = this.last;
    }
    this.open = Number.NaN;
    this.high = Number.NaN;
    this.low = Number.NaN;
    this.volume = 0;
    this.amountRaw = 0;
  }
}

/**
 * A DIFF quote (DIFF.md §3.1). A type alias, not an interface, so that it is assignable to
 * an index-signature JSON type. Prices in DIFF units, money in the currency, volumes in lots.
 */
export type DiffQuote = {
  // Static
  instrument_id: string;
  exchange_id: string;
  ins_id: string;
  product_id: string;
  instrument_name: string;
  ins_class: string;
  price_tick: number;
  price_decs: number;
  volume_multiple: number;
  max_limit_order_volume: number;
  min_limit_order_volume: number;
  max_market_order_volume: number;
  min_market_order_volume: number;
  position_limit: number;
  margin: number;
  commission: number;
  expired: boolean;
  underlying_symbol: string;
  trading_time: { day: Array<[string, string]>; night: Array<[string, string]> };
  upper_limit: number;
  lower_limit: number;
  // Dynamic
  datetime: string;
  last_price: DiffPrice;
  highest: DiffPrice;
  lowest: DiffPrice;
  open: DiffPrice;
  close: DiffPrice;
  average: DiffPrice;
  volume: number;
  amount: number;
  open_interest: number;
  pre_open_interest: number;
  settlement: DiffPrice;
  pre_close: DiffPrice;
  pre_settlement: DiffPrice;
  /** ask_price1.., ask_volume1.., bid_price1.., bid_volume1.. up to the quote depth. */
  [level: `${"ask" | "bid"}_${"price" | "volume"}${number}`]: DiffPrice;
};

/** Everything a quote is built from. */
export interface QuoteSource {
  spec: InstrumentSpec;
  units: InstrumentUnits;
  book: Book;
  stats: DailyStats;
  /** Time of the last change to the quote; seconds < 0: none yet (datetime ""). */
  seconds: number;
  nanos: number;
}

const EMPTY_TRADING_TIME: TradingTime = { day: [], night: [] };

function copyTradingTime(t: TradingTime): DiffQuote["trading_time"] {
  return { day: t.day.map(([a, b]) => [a, b]), night: t.night.map(([a, b]) => [a, b]) };
}

/** Builds a whole quote with `levels` book levels per side, frozen. Allocates: once per quote version. */
export function buildQuote(s: QuoteSource, levels: number): DiffQuote {
  const { spec, units, stats } = s;
  const info = units.info;
  const dot = spec.symbol.indexOf(".");
  const px = (p: number): DiffPrice => (Number.isNaN(p) ? "-" : units.price(p));
  const dayTraded = stats.volume > 0;
  const q: DiffQuote = {
    instrument_id: spec.symbol,
    exchange_id: info?.exchangeId ?? (dot > 0 ? spec.symbol.slice(0, dot) : ""),
    ins_id: info?.insId ?? (dot > 0 ? spec.symbol.slice(dot + 1) : spec.symbol),
    product_id: info?.productId ?? "",
    instrument_name: info?.name ?? spec.symbol,
    ins_class: info?.insClass ?? "",
    price_tick: units.price(spec.tickSize),
    price_decs: units.priceDecs,
    volume_multiple: units.volumeMultiple,
    max_limit_order_volume: spec.maxQty,
    min_limit_order_volume: spec.minQty,
    max_market_order_volume: 0,
    min_market_order_volume: 0,
    position_limit: spec.positionLimit,
    margin: marginPerLot(s),
    commission: commissionPerLot(s),
    expired: false,
    underlying_symbol: "",
    trading_time: copyTradingTime(info?.tradingTime ?? EMPTY_TRADING_TIME),
    upper_limit: units.price(spec.priceHigh),
    lower_limit: units.price(spec.priceLow),
    datetime: s.seconds < 0 ? "" : diffDatetime(s.seconds, s.nanos),
    last_price: px(stats.last),
    highest: dayTraded ? px(stats.high) : "-",
    lowest: dayTraded ? px(stats.low) : "-",
    open: dayTraded ? px(stats.open) : "-",
    close: "-",
    average: dayTraded ? units.average(stats.amountRaw, stats.volume) : "-",
    volume: stats.volume,
    amount: units.amount(stats.amountRaw),
    open_interest: 0,
    pre_open_interest: 0,
    settlement: "-",
    pre_close: px(stats.preClose),
    pre_settlement: px(stats.preSettlement),
  };
  writeLevels(q, "ask", s.book.asks, levels, units);
  writeLevels(q, "bid", s.book.bids, levels, units);
  // Readers may keep a quote as their mirror: frozen, so a reader that patches it in
  // place fails at once instead of changing what the model hands out next.
  Object.freeze(q.trading_time.day);
  Object.freeze(q.trading_time.night);
  Object.freeze(q.trading_time);
  return Object.freeze(q);
}

function writeLevels(q: DiffQuote, name: "ask" | "bid", side: BookSide, levels: number, units: InstrumentUnits): void {
  for (let r = 0; r < levels; r++) {
    const present = r < side.size;
    q[`${name}_price${r + 1}`] = present ? units.price(side.price(r)) : "-";
    q[`${name}_volume${r + 1}`] = present ? side.qty(r) : 0;
  }
}

/**
 * The price that rate-based margin and commission are quoted at: the previous settlement,
 * else the day's open, else the last trade; NaN if the instrument has never traded. So the
 * quoted margin changes at most at the day's first trade and at the rollover.
 */
function referencePrice(stats: DailyStats): number {
  if (!Number.isNaN(stats.preSettlement)) return stats.preSettlement;
  if (stats.volume > 0) return stats.open;
  return stats.last;
}

/** Money per lot as the engine charges it: perLot + ceil(price x multiplier x rateBp / 10^4) minor units. */
function perLot(s: QuoteSource, perLotMinor: number, rateBp: number, infoPerLot: number, infoRateBp: number): number {
  const ref = referencePrice(s.stats);
  const { spec, units } = s;
  if (spec.multiplier > 0) {
    const rated = rateBp > 0 && !Number.isNaN(ref) ? Math.ceil((ref * spec.multiplier * rateBp) / 10_000) : 0;
    return units.money(perLotMinor + rated);
  }
  // A pure-matching engine instrument: what the catalog says, in DIFF money.
  const rated = infoRateBp > 0 && !Number.isNaN(ref) ? (units.price(ref) * units.volumeMultiple * infoRateBp) / 10_000 : 0;
  return Math.round((infoPerLot + rated) * 100) / 100;
}

function marginPerLot(s: QuoteSource): number {
  const info = s.units.info;
  return perLot(s, s.spec.marginPerLot, s.spec.marginRateBp, info?.marginPerLot ?? 0, info?.marginRateBp ?? 0);
}

function commissionPerLot(s: QuoteSource): number {
  const info = s.units.info;
  return perLot(s, s.spec.commissionPerLot, s.spec.commissionRateBp, info?.commissionPerLot ?? 0, info?.commissionRateBp ?? 0);
}
