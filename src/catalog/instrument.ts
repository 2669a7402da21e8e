/**
 * An instrument as operators and clients see it (DIFF's units: prices and money as decimal
 * numbers), and its translation into the engine's integers. The catalog stores these; the
 * node defines them in the engine; market data and the gateway use them to turn engine
 * integers back into DIFF numbers.
 *
 * Units:
 * - engine price = DIFF price x 10^priceDecs (an integer); the tick likewise.
 * - engine money = DIFF money x 10^MONEY_DECS (minor units, fen for CNY).
 * - engine multiplier = money minor units per engine price unit per lot
 *   = volumeMultiple x 10^MONEY_DECS / 10^priceDecs, which must be a whole number.
 */

import { currencyCode, TradingState } from "../schema/codes.ts";
import type { InstrumentParams } from "../schema/command.ts";

/** Decimals of money in the engine (minor units). */
export const MONEY_DECS = 2;
const MONEY_SCALE = 10 ** MONEY_DECS;

export interface TradingTime {
  day: Array<[string, string]>;
  night: Array<[string, string]>;
}

export interface InstrumentInfo {
  /** `EXCHANGE.CODE`, also the engine's symbol. */
  symbol: string;
  exchangeId: string;
  insId: string;
  productId: string;
  name: string;
  /** DIFF ins_class: FUTURE, OPTION, STOCK, ... */
  insClass: string;
  priceTick: number;
  priceDecs: number;
  volumeMultiple: number;
  currency: string;
  /** Per lot, in money (DIFF units). */
  marginPerLot: number;
  /** Basis points of the notional. */
  marginRateBp: number;
  commissionPerLot: number;
  commissionRateBp: number;
  /** Lots per account, 0: none. */
  positionLimit: number;
  lowerLimit: number;
  upperLimit: number;
  minOrderVolume: number;
  maxOrderVolume: number;
  /** CLOSE closes yesterday's lots only, CLOSETODAY today's (SHFE, INE). */
  closeTodayDistinct: boolean;
  tradingTime: TradingTime;
}

export class InstrumentError extends Error {
  override readonly name = "InstrumentError";
}

function wholeScaled(what: string, value: number, scale: number): number {
  const v = value * scale;
  const r = Math.round(v);
  if (!Number.isFinite(v) || Math.abs(v - r) > 1e-9 * Math.max(1, Math.abs(v)) || !Number.isSafeInteger(r)) {
    throw new InstrumentError(`${what} ${value} is not a whole number of units at this precision (x${scale})`);
  }
  return r;
}

export function priceScale(i: InstrumentInfo): number {
  return 10 ** i.priceDecs;
}

/** DIFF price -> engine integer; NaN if it is not on the instrument's decimal grid. */
export function enginePrice(i: InstrumentInfo, price: number): number {
  const v = price * priceScale(i);
  const r = Math.round(v);
  return Math.abs(v - r) > 1e-9 * Math.max(1, Math.abs(v)) ? Number.NaN : r;
}

/** Engine integer price -> DIFF price. */
export function diffPrice(i: InstrumentInfo, price: number): number {
  return i.priceDecs === 0 ? price : Number((price / priceScale(i)).toFixed(i.priceDecs));
}

/** Engine minor units -> DIFF money. */
export function diffMoney(minor: number): number {
  return minor / MONEY_SCALE;
}

/** DIFF money -> engine minor units (NaN when finer than a minor unit). */
export function engineMoney(amount: number): number {
  const v = amount * MONEY_SCALE;
  const r = Math.round(v);
  return Math.abs(v - r) > 1e-9 * Math.max(1, Math.abs(v)) ? Number.NaN : r;
}

/** The engine's defineInstrument parameters for an instrument; throws InstrumentError if it does not translate. */
export function engineParams(i: InstrumentInfo): InstrumentParams {
  const scale = priceScale(i);
  const tick = wholeScaled("price_tick", i.priceTick, scale);
  if (tick <= 0) throw new InstrumentError(`price_tick must be > 0, not ${i.priceTick}`);
  const multiplier = wholeScaled("volume_multiple x 10^2 / 10^price_decs", i.volumeMultiple * MONEY_SCALE / scale, 1);
  if (multiplier <= 0) throw new InstrumentError(`volume_multiple must be > 0, not ${i.volumeMultiple}`);
  const low = wholeScaled("lower_limit", i.lowerLimit, scale);
  const high = wholeScaled("upper_limit", i.upperLimit, scale);
  for (const [k, v] of [["margin_rate_bp", i.marginRateBp], ["commission_rate_bp", i.commissionRateBp], ["position_limit", i.positionLimit], ["min_order_volume", i.minOrderVolume], ["max_order_volume", i.maxOrderVolume]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) throw new InstrumentError(`${k} must be a whole number >= 0, not ${v}`);
  }
  if (i.minOrderVolume < 1 || i.maxOrderVolume < i.minOrderVolume) throw new InstrumentError(`order volume limits must satisfy 1 <= min <= max, not ${i.minOrderVolume}..${i.maxOrderVolume}`);
  if (!(low > 0 && high >= low)) throw new InstrumentError(`price limits must satisfy 0 < lower_limit <= upper_limit, not ${i.lowerLimit}..${i.upperLimit}`);
  return {
    symbol: i.symbol,
    tickSize: tick,
    lotSize: 1,
    minQty: i.minOrderVolume,
    maxQty: i.maxOrderVolume,
    priceLow: Math.ceil(low / tick) * tick,
    priceHigh: Math.floor(high / tick) * tick,
    state: TradingState.open,
    currency: currencyCode(i.currency),
    closeTodayDistinct: i.closeTodayDistinct,
    multiplier,
    marginPerLot: wholeScaled("margin", i.marginPerLot, MONEY_SCALE),
    marginRateBp: i.marginRateBp,
    commissionPerLot: wholeScaled("commission", i.commissionPerLot, MONEY_SCALE),
    commissionRateBp: i.commissionRateBp,
    positionLimit: i.positionLimit,
  };
}

const CHINA_DAY: TradingTime = { day: [["09:00:00", "10:15:00"], ["10:30:00", "11:30:00"], ["13:30:00", "15:00:00"]], night: [["21:00:00", "25:00:00"]] };
const CFFEX_DAY: TradingTime = { day: [["09:30:00", "11:30:00"], ["13:00:00", "15:00:00"]], night: [] };

/** Demo instruments, with exchange codes that DIFF clients (tqsdk, the shinny-futures apps) accept. */
export const DEMO_INSTRUMENTS: readonly InstrumentInfo[] = [
  {
    symbol: "SHFE.cu2601", exchangeId: "SHFE", insId: "cu2601", productId: "cu", name: "copper 2601", insClass: "FUTURE",
    priceTick: 10, priceDecs: 0, volumeMultiple: 5, currency: "CNY", marginPerLot: 0, marginRateBp: 1_000,
    commissionPerLot: 10, commissionRateBp: 0, positionLimit: 0, lowerLimit: 70_000, upperLimit: 90_000,
    minOrderVolume: 1, maxOrderVolume: 500, closeTodayDistinct: true, tradingTime: CHINA_DAY,
  },
  {
    symbol: "DCE.m2605", exchangeId: "DCE", insId: "m2605", productId: "m", name: "soybean meal 2605", insClass: "FUTURE",
    priceTick: 1, priceDecs: 0, volumeMultiple: 10, currency: "CNY", marginPerLot: 0, marginRateBp: 800,
    commissionPerLot: 1.5, commissionRateBp: 0, positionLimit: 0, lowerLimit: 2_500, upperLimit: 3_500,
    minOrderVolume: 1, maxOrderVolume: 1000, closeTodayDistinct: false, tradingTime: CHINA_DAY,
  },
  {
    symbol: "CFFEX.IF2603", exchangeId: "CFFEX", insId: "IF2603", productId: "IF", name: "CSI 300 index 2603", insClass: "FUTURE",
    priceTick: 0.2, priceDecs: 1, volumeMultiple: 300, currency: "CNY", marginPerLot: 0, marginRateBp: 1_200,
    commissionPerLot: 0, commissionRateBp: 1, positionLimit: 0, lowerLimit: 3_500, upperLimit: 4_500,
    minOrderVolume: 1, maxOrderVolume: 20, closeTodayDistinct: false, tradingTime: CFFEX_DAY,
  },
  {
    symbol: "CZCE.SR605", exchangeId: "CZCE", insId: "SR605", productId: "SR", name: "white sugar 605", insClass: "FUTURE",
    priceTick: 1, priceDecs: 0, volumeMultiple: 10, currency: "CNY", marginPerLot: 0, marginRateBp: 700,
    commissionPerLot: 3, commissionRateBp: 0, positionLimit: 0, lowerLimit: 5_000, upperLimit: 6_500,
    minOrderVolume: 1, maxOrderVolume: 1000, closeTodayDistinct: false, tradingTime: CHINA_DAY,
  },
];
