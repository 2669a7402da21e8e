/**
 * Every numeric code that crosses a binary layout. Owned here and only here.
 *
 * On-disk and in-ring values never change meaning: a code, once given, is never reused or
 * renumbered. New codes are appended. Each table is a frozen `as const` object so that the
 * type of a field is the union of its values.
 */

export const Side = { buy: 1, sell: 2 } as const;
export type Side = (typeof Side)[keyof typeof Side];

export const OrderType = { limit: 1, market: 2 } as const;
export type OrderType = (typeof OrderType)[keyof typeof OrderType];

/** Time in force. */
export const Tif = { gtc: 1, gfd: 2, ioc: 3, fok: 4 } as const;
export type Tif = (typeof Tif)[keyof typeof Tif];

/** Self-trade prevention, applied when an incoming order meets a resting order of its own account. */
export const Stp = { none: 0, cancelNewest: 1, cancelOldest: 2, cancelBoth: 3, decrement: 4 } as const;
export type Stp = (typeof Stp)[keyof typeof Stp];

/** DIFF's open/close intent; the matching engine carries it, the account model (later) reads it. */
export const Offset = { none: 0, open: 1, close: 2, closeToday: 3 } as const;
export type Offset = (typeof Offset)[keyof typeof Offset];

export const TradingState = { open: 1, halted: 2, cancelOnly: 3 } as const;
export type TradingState = (typeof TradingState)[keyof typeof TradingState];

/** Bits of an instrument's `flags` byte. */
export const InstrumentFlag = {
  /** CLOSE closes only positions held before today; CLOSETODAY only today's (SHFE, INE). */
  closeTodayDistinct: 1,
} as const;

/** What the engine did about an account at or over a risk threshold. */
export const RiskAction = { liquidation: 1 } as const;

/**
 * Currencies are three ASCII letters packed in a u32 (first letter lowest), as they appear
 * in layouts: "CNY" = 0x594e43.
 */
export function currencyCode(text: string): number {
  if (!/^[A-Z]{3}$/.test(text)) return 0;
  return text.charCodeAt(0) | (text.charCodeAt(1) << 8) | (text.charCodeAt(2) << 16);
}

export function currencyText(code: number): string {
  return code === 0 ? "" : String.fromCharCode(code & 0xff, (code >>> 8) & 0xff, (code >>> 16) & 0xff);
}

/** Bits of the order `flags` byte. */
export const OrderFlag = { postOnly: 1 } as const;

/** Status carried by an `updated` event. */
export const OrderStatus = {
  partiallyFilled: 1,
  filled: 2,
  cancelled: 3,
  expired: 4,
  amended: 5,
} as const;
export type OrderStatus = (typeof OrderStatus)[keyof typeof OrderStatus];

/**
 * Why: the reason code of a rejection, a cancellation or an amendment. One table for all,
 * so that a reason reads the same wherever it appears.
 */
export const Reason = {
  none: 0,
  // Rejections of bad input.
  unknownInstrument: 1,
  priceOffTick: 2,
  priceOutOfBand: 3,
  qtyInvalid: 4,
  qtyOffLot: 5,
  qtyBelowMin: 6,
  qtyAboveMax: 7,
  duplicateOrderId: 8,
  unknownOrder: 9,
  instrumentHalted: 10,
  cancelOnly: 11,
  postOnlyWouldCross: 12,
  invalidTif: 13,
  invalidField: 14,
  capacity: 15,
  invalidInstrument: 16,
  priceInvalid: 17,
  orderNotLive: 18,
  insufficientFunds: 19,
  insufficientPosition: 20,
  positionLimit: 21,
  riskLimit: 22,
  invalidAmount: 23,
  // Reasons an order left the book without a full fill.
  userCancel: 32,
  iocRemainder: 33,
  fokUnfilled: 34,
  selfTrade: 35,
  massCancel: 36,
  endOfDay: 37,
  liquidation: 38,
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** The reverse tables, for text at the edges (JSONL, logs). */
export function nameOf<T extends Record<string, number>>(table: T, code: number): string {
  for (const key of Object.keys(table)) if (table[key] === code) return key;
  return `unknown(${code})`;
}
