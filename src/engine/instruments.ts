/**
 * The instrument table: trading parameters, trading state and the two book sides of each
 * instrument, indexed by a dense instrument index assigned in order of definition. Main
 * thread only. Parameters are integers in the instrument's own units; see the
 * defineInstrument command for their meaning.
 */

import { assert } from "../stdx/assert.ts";
import { TradingState } from "../schema/codes.ts";
import type { TradingParams } from "../schema/command.ts";
import { BOOK_SIDE_INITIAL_LEVELS } from "../constants.ts";
import { BookSide } from "./levels.ts";
import { growF64, growU8 } from "./orders.ts";

export interface InstrumentSpec extends TradingParams {
  state: number;
}

export class Instruments {
  count = 0;
  tickSize = new Float64Array(16);
  lotSize = new Float64Array(16);
  minQty = new Float64Array(16);
  maxQty = new Float64Array(16);
  priceLow = new Float64Array(16);
  priceHigh = new Float64Array(16);
  state = new Uint8Array(16);
  readonly symbols: string[] = [];
  readonly bids: BookSide[] = [];
  readonly asks: BookSide[] = [];
  private readonly bySymbol = new Map<string, number>();

  constructor(readonly max: number) {}

  indexOf(symbol: string): number {
    return this.bySymbol.get(symbol) ?? -1;
  }

  /** Defines a new instrument or updates an existing one; returns its index. */
  define(spec: InstrumentSpec): number {
    let i = this.bySymbol.get(spec.symbol);
    if (i === undefined) {
      assert(this.count < this.max, "instrument table full");
      i = this.count++;
      if (i === this.state.length) this.grow();
      this.symbols.push(spec.symbol);
      this.bids.push(new BookSide(1, BOOK_SIDE_INITIAL_LEVELS));
      this.asks.push(new BookSide(-1, BOOK_SIDE_INITIAL_LEVELS));
      this.bySymbol.set(spec.symbol, i);
    }
    this.tickSize[i] = spec.tickSize;
    this.lotSize[i] = spec.lotSize;
    this.minQty[i] = spec.minQty;
    this.maxQty[i] = spec.maxQty;
    this.priceLow[i] = spec.priceLow;
    this.priceHigh[i] = spec.priceHigh;
    this.state[i] = spec.state;
    return i;
  }

  spec(i: number): InstrumentSpec {
    assert(i >= 0 && i < this.count, "no such instrument");
    return {
      symbol: this.symbols[i]!,
      tickSize: this.tickSize[i]!,
      lotSize: this.lotSize[i]!,
      minQty: this.minQty[i]!,
      maxQty: this.maxQty[i]!,
      priceLow: this.priceLow[i]!,
      priceHigh: this.priceHigh[i]!,
      state: this.state[i]!,
    };
  }

  private grow(): void {
    const cap = this.state.length * 2;
    this.tickSize = growF64(this.tickSize, cap);
    this.lotSize = growF64(this.lotSize, cap);
    this.minQty = growF64(this.minQty, cap);
    this.maxQty = growF64(this.maxQty, cap);
    this.priceLow = growF64(this.priceLow, cap);
    this.priceHigh = growF64(this.priceHigh, cap);
    this.state = growU8(this.state, cap);
  }
}

/** A symbol is EXCHANGE.CODE: two non-empty parts of [A-Za-z0-9_-] joined by one dot. */
export const SYMBOL_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function isTradingState(x: number): boolean {
  return x === TradingState.open || x === TradingState.halted || x === TradingState.cancelOnly;
}
