/**
 * A naive reference matcher for the engine's property tests, written for clarity, not speed.
 * It implements the rules of the matching semantics (notes/engine_semantics.md) for the JSON
 * commands instrument, new, cancel, amend, mass_cancel, state and expire, with plain objects
 * and arrays: every lookup is a linear scan, every book view is sorted on demand.
 *
 * Contract: `apply(command)` takes one parsed JSONL command and returns the rejection reason
 * (snake_case, or null when accepted) and the trades it caused, in order. A rejected command
 * changes nothing. `book(symbol)` and `resting(symbol, side)` read the state afterwards.
 * It shares no code with src/engine: disagreeing with the engine is its whole point.
 *
 * Extension points for the account reference (reference_accounts.ts), all optional: the
 * `MatcherHooks` passed to the constructor may veto a new order after every matching
 * validation (`admit`) or an amend after its validations (`amend`), and see every fill,
 * maker first (`fill`, whose answer goes into the trade's money fields). `liveOrders`,
 * `finishWhere` and `endDay` let the wrapper end orders (settlement, liquidation).
 * Orders carry their `offset` (open/close/close_today; none when absent).
 */

export type JsonCommand = Record<string, unknown>;
export type SideName = "buy" | "sell";

/** Each side's money view of one fill (all zero on pure matching instruments). */
export interface TradeMoney {
  makerCommission: number;
  takerCommission: number;
  makerCloseProfit: number;
  takerCloseProfit: number;
}

export interface RefTrade extends TradeMoney {
  symbol: string;
  maker: string;
  makerAccount: string;
  taker: string;
  takerAccount: string;
  price: number;
  qty: number;
}

export interface RefResult {
  /** The rejection reason, or null when the command was accepted. */
  rejected: string | null;
  trades: RefTrade[];
}

export interface RefResting {
  account: string;
  id: string;
  price: number;
  left: number;
}

export interface RefBook {
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
}

export interface RefInstrument {
  symbol: string;
  tickSize: number;
  lotSize: number;
  minQty: number;
  maxQty: number;
  priceLow: number;
  priceHigh: number;
  state: string;
}

export interface RefOrder {
  account: string;
  id: string;
  symbol: string;
  side: SideName;
  type: string;
  tif: string;
  /** The limit; a market order's is its band limit (priceHigh for a buy, priceLow for a sell). */
  price: number;
  left: number;
  postOnly: boolean;
  stp: string;
  offset: string;
  /** Resting in the book now. Finished orders keep their id taken until end of day. */
  live: boolean;
  /** Time priority: when it (last) joined the back of its level. */
  time: number;
}

const SIDES = ["buy", "sell"];
const TYPES = ["limit", "market"];
const TIFS = ["gtc", "gfd", "ioc", "fok"];
const STPS = ["none", "cancel_newest", "cancel_oldest", "cancel_both", "decrement"];
const STATES = ["open", "halted", "cancel_only"];
const OFFSETS = ["none", "open", "close", "close_today"];

/** What the account reference adds to matching; see the file comment. */
export interface MatcherHooks {
  /** A new order that passed every matching validation: null accepts it, else the rejection reason. */
  admit(o: RefOrder): string | null;
  /** An amend of live order `o` to (price, qty) that passed its validations: null accepts it. */
  amend(o: RefOrder, price: number, qty: number): string | null;
  /** One fill of `qty` lots at `price`, before either order's `left` changes. */
  fill(maker: RefOrder, taker: RefOrder, price: number, qty: number): TradeMoney;
}

const NO_MONEY: TradeMoney = { makerCommission: 0, takerCommission: 0, makerCloseProfit: 0, takerCloseProfit: 0 };

const NO_HOOKS: MatcherHooks = {
  admit: () => null,
  amend: () => null,
  fill: () => NO_MONEY,
};
const SYMBOL_PATTERN = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

function byteLength(s: string): number {
  return new TextEncoder().encode(s).length;
}

function validId(x: unknown): x is string {
  return typeof x === "string" && byteLength(x) >= 1 && byteLength(x) <= 64;
}

function isSafeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x);
}

function opposite(side: SideName): SideName {
  return side === "buy" ? "sell" : "buy";
}

/** True when `a` has better price priority than `b` on `side`. */
function betterPrice(side: SideName, a: number, b: number): boolean {
  return side === "buy" ? a > b : a < b;
}

/** True when a taker on `side` with limit `limit` may trade at `price`. */
function crossesPrice(side: SideName, limit: number, price: number): boolean {
  return side === "buy" ? limit >= price : limit <= price;
}

export class ReferenceMatcher {
  private readonly instruments: RefInstrument[] = [];
  /** Every order whose id is taken (live or finished today). */
  private readonly orders: RefOrder[] = [];
  private clock = 0;

  constructor(private readonly hooks: MatcherHooks = NO_HOOKS) {}

  symbols(): string[] {
    return this.instruments.map((i) => i.symbol);
  }

  apply(c: JsonCommand): RefResult {
    const trades: RefTrade[] = [];
    const reason = this.dispatch(c, trades);
    return { rejected: reason, trades: reason === null ? trades : [] };
  }

  /** Aggregate quantity per price level, best first. */
  book(symbol: string): RefBook {
    const levels = (side: SideName): Array<[number, number]> => {
      const out: Array<[number, number]> = [];
      for (const o of this.resting(symbol, side)) {
        const last = out[out.length - 1];
        if (last !== undefined && last[0] === o.price) last[1] += o.left;
        else out.push([o.price, o.left]);
      }
      return out;
    };
    return { bids: levels("buy"), asks: levels("sell") };
  }

  /** Resting orders of one side in priority order: best price first, then oldest first. */
  resting(symbol: string, side: SideName): RefResting[] {
    return this.restingOrders(symbol, side).map((o) => ({ account: o.account, id: o.id, price: o.price, left: o.left }));
  }

  /** The instrument named `symbol`, if defined. */
  spec(symbol: string): RefInstrument | undefined {
    return this.instrument(symbol);
  }

  /** Orders resting in a book now, in no particular order. */
  liveOrders(): RefOrder[] {
    return this.orders.filter((o) => o.live);
  }

  /** Ends every live order `pred` selects (cancel, expiry: they leave the book); returns them. */
  finishWhere(pred: (o: RefOrder) => boolean): RefOrder[] {
    const ended = this.orders.filter((o) => o.live && pred(o));
    for (const o of ended) o.live = false;
    return ended;
  }

  /** End of the trading day: the ids of finished orders are free again. */
  endDay(): void {
    const live = this.orders.filter((o) => o.live);
    this.orders.length = 0;
    this.orders.push(...live);
  }

  // -------------------------------------------------------------------------------------

  private dispatch(c: JsonCommand, trades: RefTrade[]): string | null {
    switch (c["op"]) {
      case "instrument": return this.defineInstrument(c);
      case "new": return this.newOrder(c, trades);
      case "cancel": return this.cancel(c);
      case "amend": return this.amend(c, trades);
      case "mass_cancel": return this.massCancel(c);
      case "state": return this.setState(c);
      case "expire": return this.expire(c);
      default: throw new Error(`reference matcher: unknown op ${JSON.stringify(c["op"])}`);
    }
  }

  private instrument(symbol: unknown): RefInstrument | undefined {
    return this.instruments.find((i) => i.symbol === symbol);
  }

  private findOrder(account: string, id: string): RefOrder | undefined {
    return this.orders.find((o) => o.account === account && o.id === id);
  }

  private restingOrders(symbol: string, side: SideName): RefOrder[] {
    const list = this.orders.filter((o) => o.live && o.symbol === symbol && o.side === side);
    return list.sort((a, b) => (a.price !== b.price ? (betterPrice(side, a.price, b.price) ? -1 : 1) : a.time - b.time));
  }

  private bestOpposite(symbol: string, side: SideName): RefOrder | undefined {
    return this.restingOrders(symbol, opposite(side))[0];
  }

  private priceReason(inst: RefInstrument, price: unknown): string | null {
    if (!isSafeInt(price)) return "price_invalid";
    if (price % inst.tickSize !== 0) return "price_off_tick";
    if (price < inst.priceLow || price > inst.priceHigh) return "price_out_of_band";
    return null;
  }

  private qtyReason(inst: RefInstrument, qty: unknown): string | null {
    if (!isSafeInt(qty) || qty <= 0) return "qty_invalid";
    if (qty % inst.lotSize !== 0) return "qty_off_lot";
    if (qty < inst.minQty) return "qty_below_min";
    if (qty > inst.maxQty) return "qty_above_max";
    return null;
  }

  /** Would an order at `price` on `side` trade with the opposite best? */
  private wouldCross(symbol: string, side: SideName, price: number): boolean {
    const best = this.bestOpposite(symbol, side);
    return best !== undefined && crossesPrice(side, price, best.price);
  }

  // -------------------------------------------------------------------------------------
  // Commands

  private defineInstrument(c: JsonCommand): string | null {
    const symbol = c["symbol"];
    const num = (key: string, fallback?: number): unknown => c[key] ?? fallback;
    const tickSize = num("tickSize");
    const lotSize = num("lotSize", 1);
    const minQty = num("minQty", 1);
    const maxQty = num("maxQty");
    const priceLow = num("priceLow");
    const priceHigh = num("priceHigh");
    const state = c["state"] ?? "open";
    if (typeof symbol !== "string" || byteLength(symbol) < 3 || byteLength(symbol) > 32 || !SYMBOL_PATTERN.test(symbol)) return "invalid_instrument";
    if (!isSafeInt(tickSize) || !isSafeInt(lotSize) || !isSafeInt(minQty) || !isSafeInt(maxQty) || !isSafeInt(priceLow) || !isSafeInt(priceHigh)) return "invalid_instrument";
    if (typeof state !== "string" || !STATES.includes(state)) return "invalid_instrument";
    if (tickSize < 1 || lotSize < 1 || minQty < 1 || maxQty < minQty || priceLow > priceHigh) return "invalid_instrument";
    if (Math.max(Math.abs(priceLow), Math.abs(priceHigh)) * maxQty > Number.MAX_SAFE_INTEGER) return "invalid_instrument";
    const spec: RefInstrument = { symbol, tickSize, lotSize, minQty, maxQty, priceLow, priceHigh, state };
    const existing = this.instruments.findIndex((i) => i.symbol === symbol);
    if (existing >= 0) this.instruments[existing] = spec;
    else this.instruments.push(spec);
    return null;
  }

  private newOrder(c: JsonCommand, trades: RefTrade[]): string | null {
    const account = c["account"];
    const id = c["id"];
    if (!validId(account) || !validId(id)) return "invalid_field";
    const inst = this.instrument(c["symbol"]);
    if (inst === undefined) return "unknown_instrument";
    const side = c["side"];
    const type = c["type"] ?? "limit";
    const tif = c["tif"] ?? (type === "market" ? "ioc" : "gtc");
    const stp = c["stp"] ?? "none";
    const postOnly = c["postOnly"] === true;
    const offset = c["offset"] ?? "none";
    if (typeof side !== "string" || !SIDES.includes(side)) return "invalid_field";
    if (typeof type !== "string" || !TYPES.includes(type)) return "invalid_field";
    if (typeof tif !== "string" || !TIFS.includes(tif)) return "invalid_field";
    if (typeof stp !== "string" || !STPS.includes(stp)) return "invalid_field";
    if (typeof offset !== "string" || !OFFSETS.includes(offset)) return "invalid_field";
    if (inst.state === "halted") return "instrument_halted";
    if (inst.state === "cancel_only") return "cancel_only";
    if (type === "market" && (tif === "gtc" || tif === "gfd")) return "invalid_tif";
    if (postOnly && (type === "market" || tif === "ioc" || tif === "fok")) return "invalid_tif";
    if (type === "limit") {
      const r = this.priceReason(inst, c["price"]);
      if (r !== null) return r;
    }
    const qtyReason = this.qtyReason(inst, c["qty"]);
    if (qtyReason !== null) return qtyReason;
    const qty = c["qty"] as number;
    if (this.findOrder(account, id) !== undefined) return "duplicate_order_id";
    const s = side as SideName;
    const price = type === "market" ? (s === "buy" ? inst.priceHigh : inst.priceLow) : (c["price"] as number);
    if (postOnly && this.wouldCross(inst.symbol, s, price)) return "post_only_would_cross";

    const order: RefOrder = { account, id, symbol: inst.symbol, side: s, type, tif, price, left: qty, postOnly, stp, offset, live: false, time: 0 };
    const vetoed = this.hooks.admit(order);
    if (vetoed !== null) return vetoed;
    this.orders.push(order);
    if (tif === "fok" && !this.fokFillable(order)) return null; // accepted, then cancelled fok_unfilled
    const stopped = this.match(order, trades);
    this.finishTaker(order, stopped);
    return null;
  }

  /** Can the FOK taker fill completely within its limit right now (without changing anything)? */
  private fokFillable(taker: RefOrder): boolean {
    let need = taker.left;
    for (const o of this.restingOrders(taker.symbol, opposite(taker.side))) {
      if (!crossesPrice(taker.side, taker.price, o.price)) return false;
      if (taker.stp !== "none" && o.account === taker.account) {
        if (taker.stp === "cancel_oldest") continue;
        return false;
      }
      need -= o.left;
      if (need <= 0) return true;
    }
    return false;
  }

  /**
   * The taker trades with the best opposite order (best price, then oldest) while it crosses
   * and has quantity left. Returns true when self-trade prevention stopped (cancelled) it.
   */
  private match(taker: RefOrder, trades: RefTrade[]): boolean {
    while (taker.left > 0) {
      const maker = this.bestOpposite(taker.symbol, taker.side);
      if (maker === undefined || !crossesPrice(taker.side, taker.price, maker.price)) return false;
      if (taker.stp !== "none" && maker.account === taker.account) {
        if (taker.stp === "cancel_newest") return true;
        if (taker.stp === "cancel_oldest") {
          maker.live = false;
          continue;
        }
        if (taker.stp === "cancel_both") {
          maker.live = false;
          return true;
        }
        // decrement
        const d = Math.min(maker.left, taker.left);
        maker.left -= d;
        taker.left -= d;
        if (maker.left === 0) maker.live = false;
        if (taker.left === 0) return true;
        continue;
      }
      const q = Math.min(maker.left, taker.left);
      const money = this.hooks.fill(maker, taker, maker.price, q);
      trades.push({
        symbol: taker.symbol, maker: maker.id, makerAccount: maker.account, taker: taker.id, takerAccount: taker.account,
        price: maker.price, qty: q, ...money,
      });
      maker.left -= q;
      taker.left -= q;
      if (maker.left === 0) maker.live = false;
    }
    return false;
  }

  /** After matching: a stopped, filled, IOC/FOK or market taker ends; a GTC/GFD remainder rests at the back. */
  private finishTaker(taker: RefOrder, stopped: boolean): void {
    if (stopped || taker.left === 0) return;
    if (taker.tif === "ioc" || taker.tif === "fok" || taker.type === "market") return;
    taker.live = true;
    taker.time = ++this.clock;
  }

  /** The live order a cancel or amend names, or the rejection reason. */
  private target(c: JsonCommand): RefOrder | string {
    const account = c["account"];
    const id = c["id"];
    if (!validId(account) || !validId(id)) return "invalid_field";
    const o = this.findOrder(account, id);
    if (o === undefined) return "unknown_order";
    if (!o.live) return "order_not_live";
    return o;
  }

  private cancel(c: JsonCommand): string | null {
    const o = this.target(c);
    if (typeof o === "string") return o;
    if (this.instrument(o.symbol)!.state === "halted") return "instrument_halted";
    o.live = false;
    return null;
  }

  private amend(c: JsonCommand, trades: RefTrade[]): string | null {
    const o = this.target(c);
    if (typeof o === "string") return o;
    const inst = this.instrument(o.symbol)!;
    if (inst.state === "halted") return "instrument_halted";
    if (inst.state === "cancel_only") return "cancel_only";
    const priceReason = this.priceReason(inst, c["price"]);
    if (priceReason !== null) return priceReason;
    const qtyReason = this.qtyReason(inst, c["qty"]);
    if (qtyReason !== null) return qtyReason;
    const price = c["price"] as number;
    const qty = c["qty"] as number;
    if (o.postOnly && this.wouldCross(o.symbol, o.side, price)) return "post_only_would_cross";
    const vetoed = this.hooks.amend(o, price, qty);
    if (vetoed !== null) return vetoed;
    if (price === o.price && qty <= o.left) {
      o.left = qty; // in place: keeps its time priority
      return null;
    }
    o.live = false; // leaves its level, re-enters as a taker
    o.price = price;
    o.left = qty;
    const stopped = this.match(o, trades);
    this.finishTaker(o, stopped);
    return null;
  }

  private massCancel(c: JsonCommand): string | null {
    const symbol = c["symbol"];
    const account = c["account"];
    if (symbol !== undefined && this.instrument(symbol) === undefined) return "unknown_instrument";
    for (const o of this.orders) {
      if (o.live && (symbol === undefined || o.symbol === symbol) && (account === undefined || o.account === account)) o.live = false;
    }
    return null;
  }

  private setState(c: JsonCommand): string | null {
    const inst = this.instrument(c["symbol"]);
    if (inst === undefined) return "unknown_instrument";
    const state = c["state"];
    if (typeof state !== "string" || !STATES.includes(state)) return "invalid_field";
    inst.state = state;
    return null;
  }

  private expire(c: JsonCommand): string | null {
    const symbol = c["symbol"];
    if (symbol !== undefined && this.instrument(symbol) === undefined) return "unknown_instrument";
    for (const o of this.orders) {
      if (o.live && o.tif === "gfd" && (symbol === undefined || o.symbol === symbol)) o.live = false;
    }
    if (symbol === undefined) this.endDay(); // end of day: the ids of finished orders are free again
    return null;
  }
}
