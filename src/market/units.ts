/**
 * One instrument's conversions from engine integers to DIFF numbers (catalog/instrument.ts
 * states the units):
 *
 *   DIFF price  = engine price / 10^price_decs                      (diffPrice)
 *   DIFF money  = engine minor units / 10^MONEY_DECS                (diffMoney)
 *   turnover    = sum(price x qty) x volume_multiple, in money
 *
 * The market model sums turnover as `amountRaw` = sum(engine price x qty), an exact
 * integer, and converts only when it builds a DIFF object.
 *
 * With an InstrumentInfo from the catalog, price_decs and volume_multiple are its. Without
 * one (an instrument the catalog does not list), engine integers are taken as DIFF prices
 * (price_decs 0) and volume_multiple is what the engine's multiplier implies at that
 * precision (multiplier / 10^MONEY_DECS), or 1 for a pure-matching instrument, whose
 * turnover is then sum(price x qty) in price units.
 *
 * Every result is a finite number; the callers never pass NaN.
 */

import { MONEY_DECS, diffMoney, diffPrice, type InstrumentInfo } from "../catalog/instrument.ts";

const MONEY_SCALE = 10 ** MONEY_DECS;
/** Decimals an average price keeps beyond the instrument's price decimals. */
const AVERAGE_EXTRA_DECS = 4;

export class InstrumentUnits {
  readonly priceDecs: number;
  readonly priceScale: number;
  readonly volumeMultiple: number;
  /**
   * Money minor units per engine price unit per lot (the engine's multiplier), or 0 when
   * turnover cannot be counted in whole minor units.
   */
  readonly moneyMultiplier: number;

  constructor(readonly info: InstrumentInfo | undefined, engineMultiplier: number) {
    if (info !== undefined) {
      this.priceDecs = info.priceDecs;
      this.priceScale = 10 ** info.priceDecs;
      this.volumeMultiple = info.volumeMultiple;
      const m = engineMultiplier > 0 ? engineMultiplier : (info.volumeMultiple * MONEY_SCALE) / this.priceScale;
      this.moneyMultiplier = Number.isSafeInteger(m) && m > 0 ? m : 0;
    } else {
      this.priceDecs = 0;
      this.priceScale = 1;
      this.volumeMultiple = engineMultiplier > 0 ? engineMultiplier / MONEY_SCALE : 1;
      this.moneyMultiplier = engineMultiplier > 0 ? engineMultiplier : 0;
    }
  }

  /** Engine price -> DIFF price. */
  price(p: number): number {
    return this.info !== undefined ? diffPrice(this.info, p) : p;
  }

  /** sum(engine price x qty) -> DIFF turnover (money, or price units for pure matching without a catalog entry). */
  amount(amountRaw: number): number {
    if (this.moneyMultiplier > 0) {
      const minor = amountRaw * this.moneyMultiplier;
      if (Number.isSafeInteger(minor)) return diffMoney(minor);
    }
    if (this.info === undefined && this.moneyMultiplier === 0) return amountRaw;
    return roundTo((amountRaw / this.priceScale) * this.volumeMultiple, MONEY_DECS);
  }

  /** Volume-weighted average price in DIFF units: amount / (volume x volume_multiple). */
  average(amountRaw: number, volume: number): number {
    return volume > 0 ? roundTo(amountRaw / volume / this.priceScale, this.priceDecs + AVERAGE_EXTRA_DECS) : 0;
  }

  /** Engine minor units -> DIFF money. */
  money(minor: number): number {
    return diffMoney(minor);
  }
}

export function roundTo(x: number, decimals: number): number {
  const s = 10 ** decimals;
  const r = Math.round(x * s) / s;
  return Number.isFinite(r) ? r : x;
}
