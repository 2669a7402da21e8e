/**
 * A naive reference of the account model (notes/accounts_semantics.md and the opening
 * comment of src/engine/accounts.ts) for the engine's property tests, written for clarity,
 * not speed. It shares no code with src/engine.
 *
 * `ReferenceVenue` wraps the reference matcher (reference_matcher.ts) with `ReferenceAccounts`
 * as its hooks and adds the commands deposit, withdraw, mark and settle. Contract of
 * `apply(command)`: the rejection reason (or null), the trades with each side's commission
 * and close profit, and the risk breaches of the command; `accountStates()` and
 * `positionStates()` give the state afterwards in the units and field names of the engine's
 * `account` and `position` events.
 *
 * What is stored and what is derived (recomputed from scratch on every read):
 * - per (account, currency): preBalance, deposit, withdraw, closeProfit, commission;
 * - per (account, instrument) and side: today's and earlier lots, open cost, position cost,
 *   margin;
 * - per live order: the frozen margin per lot (margin + premium) and the mark it was
 *   computed at, fixed when the order is accepted or amended;
 * - per money instrument: its mark price and last trade price.
 * Everything else is derived: position profit and float profit from the mark; an account's
 * margin as the sum of its positions' margins; frozen margin, frozen commission, frozen
 * close volumes and open-order volumes as sums over the live orders in the book. So a
 * release is simply an order leaving the book or its `left` shrinking, and "what was
 * frozen is released exactly" holds by construction here; the engine keeps counters.
 *
 * Liquidation is evaluated over every money account at the end of every command. That is
 * the same as the notes' "every account touched", because an account's risk ratio only
 * changes through a fill, a mark or a settlement, each of which touches it. A liquidation
 * cancels all the account's working orders (every instrument), then records the breach.
 *
 * Settlement keeps every balance: tomorrow's preBalance is the balance at the settlement
 * marks, position profit included (`KnownEngineBugs` can mirror an engine that drops it).
 */

import {
  ReferenceMatcher,
  type JsonCommand,
  type MatcherHooks,
  type RefOrder,
  type RefTrade,
  type SideName,
  type TradeMoney,
} from "./reference_matcher.ts";

export const OPEN_LIMIT_BP = 9_000;
export const LIQUIDATION_BP = 10_000;
/** The risk ratio reported when balance <= 0 with margin (src/schema/event.ts). */
export const RISK_RATIO_MAX = 0x7fffffff;

export interface MoneyInstrument {
  symbol: string;
  currency: string;
  multiplier: number;
  marginPerLot: number;
  marginRateBp: number;
  commissionPerLot: number;
  commissionRateBp: number;
  positionLimit: number;
  closeTodayDistinct: boolean;
  priceHigh: number;
  /** The price positions are valued at; 0 until the first trade. */
  mark: number;
  /** The last trade price; 0 until the first trade. */
  last: number;
}

interface MoneyAccount {
  account: string;
  currency: string;
  preBalance: number;
  deposit: number;
  withdraw: number;
  closeProfit: number;
  commission: number;
  /** Liquidated and not yet back under the liquidation threshold. */
  inBreach: boolean;
}

/** One side (long or short) of a position. */
interface Lots {
  today: number;
  his: number;
  openCost: number;
  positionCost: number;
  margin: number;
}

interface Position {
  account: string;
  symbol: string;
  long: Lots;
  short: Lots;
}

/** What an order froze per lot besides commission, and the mark price that was computed at. */
interface Freeze {
  fmpl: number;
  mark: number;
}

export interface AccountState {
  preBalance: number;
  deposit: number;
  withdraw: number;
  staticBalance: number;
  closeProfit: number;
  commission: number;
  positionProfit: number;
  floatProfit: number;
  balance: number;
  margin: number;
  frozenMargin: number;
  frozenCommission: number;
  available: number;
  riskRatioBp: number;
}

export interface PositionState {
  longToday: number;
  longHis: number;
  shortToday: number;
  shortHis: number;
  longFrozenToday: number;
  longFrozenHis: number;
  shortFrozenToday: number;
  shortFrozenHis: number;
  openCostLong: number;
  openCostShort: number;
  positionCostLong: number;
  positionCostShort: number;
  marginLong: number;
  marginShort: number;
  positionProfitLong: number;
  positionProfitShort: number;
  floatProfitLong: number;
  floatProfitShort: number;
  markPrice: number;
}

export interface RefBreach {
  account: string;
  currency: string;
  riskRatioBp: number;
  balance: number;
  margin: number;
}

export interface VenueResult {
  rejected: string | null;
  trades: RefTrade[];
  breaches: RefBreach[];
}

/**
 * Deliberate deviations from the notes that mirror engine bugs still open, so that the
 * property tests can check everything else meanwhile. All false when the engine is right.
 */
export interface KnownEngineBugs {
  /** Accounts.settle takes the balance after rebasing position cost: the day's position profit is lost from preBalance. */
  settleDropsPositionProfit: boolean;
}

export const NO_KNOWN_BUGS: KnownEngineBugs = { settleDropsPositionProfit: false };

export function accountKey(account: string, currency: string): string {
  return `${account}/${currency}`;
}

export function positionKey(account: string, symbol: string): string {
  return `${account}/${symbol}`;
}

function isSafeInt(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x);
}

function isOpen(offset: string): boolean {
  return offset === "open" || offset === "none";
}

/** ceil(n / d) for integers n >= 0, d > 0, exactly. */
function ceilDiv(n: number, d: number): number {
  return Math.floor((n + d - 1) / d);
}

/** n * qty / vol rounded half up, exactly (n >= 0): the part of a side's total that `qty` of its `vol` lots carry. */
function share(total: number, qty: number, vol: number): number {
  if (qty === vol) return total;
  return Math.floor((2 * total * qty + vol) / (2 * vol));
}

function noLots(): Lots {
  return { today: 0, his: 0, openCost: 0, positionCost: 0, margin: 0 };
}

// ---------------------------------------------------------------------------------------

export class ReferenceAccounts implements MatcherHooks {
  readonly instruments = new Map<string, MoneyInstrument>();
  /** Money accounts by accountKey, in order of creation. */
  private readonly money = new Map<string, MoneyAccount>();
  /** Positions by positionKey, in order of creation. */
  private readonly positions = new Map<string, Position>();
  private readonly freezes = new Map<RefOrder, Freeze>();
  /** Money accounts with a fill this command of an order frozen at another mark than the fill's. */
  readonly staleFills = new Set<string>();
  private liveOrders: () => RefOrder[] = () => [];

  constructor(readonly bugs: KnownEngineBugs = NO_KNOWN_BUGS) {}

  /** Connects the matcher whose live orders hold the frozen amounts. */
  attach(liveOrders: () => RefOrder[]): void {
    this.liveOrders = liveOrders;
  }

  // -------------------------------------------------------------------------------------
  // Pricing rules

  marginPerLot(inst: MoneyInstrument, price: number): number {
    return inst.marginPerLot + ceilDiv(price * inst.multiplier * inst.marginRateBp, 10_000);
  }

  commissionPerLot(inst: MoneyInstrument, price: number): number {
    return inst.commissionPerLot + ceilDiv(price * inst.multiplier * inst.commissionRateBp, 10_000);
  }

  /** The price whose commission an order freezes: the worst it may fill at. */
  commissionFreezePrice(inst: MoneyInstrument, side: SideName, price: number): number {
    return side === "buy" ? price : inst.priceHigh;
  }

  /** Margin (opening orders only) plus the premium: the worst immediate loss against the mark if it fills at its limit. */
  frozenMarginPerLot(inst: MoneyInstrument, side: SideName, offset: string, price: number): number {
    const m = inst.mark;
    let premium = 0;
    if (m !== 0) premium = Math.max(0, side === "buy" ? price - m : m - price) * inst.multiplier;
    return (isOpen(offset) ? this.marginPerLot(inst, price) : 0) + premium;
  }

  // -------------------------------------------------------------------------------------
  // Definitions and lookups

  define(c: JsonCommand, priceHigh: number): void {
    const symbol = c["symbol"] as string;
    const n = (key: string): number => {
      const v = c[key] ?? 0;
      if (!isSafeInt(v) || v < 0) throw new Error(`reference accounts: ${key} must be a non-negative integer`);
      return v;
    };
    const before = this.instruments.get(symbol);
    this.instruments.set(symbol, {
      symbol,
      currency: typeof c["currency"] === "string" ? c["currency"] : "CNY",
      multiplier: n("multiplier"),
      marginPerLot: n("marginPerLot"),
      marginRateBp: n("marginRateBp"),
      commissionPerLot: n("commissionPerLot"),
      commissionRateBp: n("commissionRateBp"),
      positionLimit: n("positionLimit"),
      closeTodayDistinct: c["closeTodayDistinct"] === true,
      priceHigh,
      mark: before?.mark ?? 0,
      last: before?.last ?? 0,
    });
  }

  private moneyOf(account: string, currency: string): MoneyAccount | undefined {
    return this.money.get(accountKey(account, currency));
  }

  private moneyCreate(account: string, currency: string): MoneyAccount {
    const key = accountKey(account, currency);
    let m = this.money.get(key);
    if (m === undefined) {
      m = { account, currency, preBalance: 0, deposit: 0, withdraw: 0, closeProfit: 0, commission: 0, inBreach: false };
      this.money.set(key, m);
    }
    return m;
  }

  private positionOf(account: string, symbol: string): Position | undefined {
    return this.positions.get(positionKey(account, symbol));
  }

  private positionCreate(account: string, symbol: string): Position {
    const key = positionKey(account, symbol);
    let p = this.positions.get(key);
    if (p === undefined) {
      p = { account, symbol, long: noLots(), short: noLots() };
      this.positions.set(key, p);
    }
    return p;
  }

  /** Live orders of `account` in money instruments of `currency` (except `exclude`). */
  private ordersOf(account: string, currency: string, exclude: RefOrder | null): RefOrder[] {
    return this.liveOrders().filter((o) => o !== exclude && o.account === account && this.instruments.get(o.symbol)?.currency === currency);
  }

  private freezeOf(o: RefOrder): Freeze {
    const f = this.freezes.get(o);
    if (f === undefined) throw new Error(`reference accounts: order ${o.account}/${o.id} has no frozen amounts`);
    return f;
  }

  // -------------------------------------------------------------------------------------
  // Derived figures

  /** Position profit (against position cost) and float profit (against open cost) of one side at the mark. */
  private profits(inst: MoneyInstrument, lots: Lots, long: boolean): { position: number; float: number } {
    const value = inst.mark * inst.multiplier * (lots.today + lots.his);
    const sign = long ? 1 : -1;
    return { position: sign * (value - lots.positionCost), float: sign * (value - lots.openCost) };
  }

  /** Volume of side `held` that live close orders lock, split as the engine reports it. */
  private frozenClose(p: Position, inst: MoneyInstrument, held: "long" | "short", exclude: RefOrder | null): { today: number; his: number } {
    const closer: SideName = held === "long" ? "sell" : "buy";
    let today = 0;
    let his = 0;
    let all = 0;
    for (const o of this.liveOrders()) {
      if (o === exclude || o.account !== p.account || o.symbol !== p.symbol || o.side !== closer || isOpen(o.offset)) continue;
      all += o.left;
      if (o.offset === "close_today") today += o.left;
      else his += o.left;
    }
    if (inst.closeTodayDistinct) return { today, his };
    // One lock for both offsets; reported as earlier lots first.
    const lockedHis = Math.min(p[held].his, all);
    return { today: all - lockedHis, his: lockedHis };
  }

  /** Lots of open orders still working on `side` (long for buy). */
  private openPending(account: string, symbol: string, side: SideName, exclude: RefOrder | null): number {
    let n = 0;
    for (const o of this.liveOrders()) {
      if (o !== exclude && o.account === account && o.symbol === symbol && o.side === side && isOpen(o.offset)) n += o.left;
    }
    return n;
  }

  private accountFigures(m: MoneyAccount, exclude: RefOrder | null): AccountState {
    let positionProfit = 0;
    let floatProfit = 0;
    let margin = 0;
    for (const p of this.positions.values()) {
      const inst = this.instruments.get(p.symbol)!;
      if (p.account !== m.account || inst.currency !== m.currency) continue;
      for (const long of [true, false]) {
        const lots = long ? p.long : p.short;
        const pr = this.profits(inst, lots, long);
        positionProfit += pr.position;
        floatProfit += pr.float;
        margin += lots.margin;
      }
    }
    let frozenMargin = 0;
    let frozenCommission = 0;
    for (const o of this.ordersOf(m.account, m.currency, exclude)) {
      const inst = this.instruments.get(o.symbol)!;
      frozenMargin += o.left * this.freezeOf(o).fmpl;
      frozenCommission += o.left * this.commissionPerLot(inst, this.commissionFreezePrice(inst, o.side, o.price));
    }
    const staticBalance = m.preBalance + m.deposit - m.withdraw;
    const balance = staticBalance + m.closeProfit + positionProfit - m.commission;
    let riskRatioBp: number;
    if (balance <= 0) riskRatioBp = margin > 0 ? RISK_RATIO_MAX : 0;
    else riskRatioBp = Math.min(RISK_RATIO_MAX, Math.floor((margin * 10_000) / balance));
    return {
      preBalance: m.preBalance, deposit: m.deposit, withdraw: m.withdraw, staticBalance,
      closeProfit: m.closeProfit, commission: m.commission, positionProfit, floatProfit, balance, margin,
      frozenMargin, frozenCommission, available: balance - margin - frozenMargin - frozenCommission, riskRatioBp,
    };
  }

  accountStates(): Map<string, AccountState> {
    const out = new Map<string, AccountState>();
    for (const [key, m] of this.money) out.set(key, this.accountFigures(m, null));
    return out;
  }

  positionStates(): Map<string, PositionState> {
    const out = new Map<string, PositionState>();
    for (const [key, p] of this.positions) {
      const inst = this.instruments.get(p.symbol)!;
      const fl = this.frozenClose(p, inst, "long", null);
      const fs = this.frozenClose(p, inst, "short", null);
      const pl = this.profits(inst, p.long, true);
      const ps = this.profits(inst, p.short, false);
      out.set(key, {
        longToday: p.long.today, longHis: p.long.his, shortToday: p.short.today, shortHis: p.short.his,
        longFrozenToday: fl.today, longFrozenHis: fl.his, shortFrozenToday: fs.today, shortFrozenHis: fs.his,
        openCostLong: p.long.openCost, openCostShort: p.short.openCost,
        positionCostLong: p.long.positionCost, positionCostShort: p.short.positionCost,
        marginLong: p.long.margin, marginShort: p.short.margin,
        positionProfitLong: pl.position, positionProfitShort: ps.position,
        floatProfitLong: pl.float, floatProfitShort: ps.float,
        markPrice: inst.mark,
      });
    }
    return out;
  }

  /** Does the account hold any lots in an instrument of `currency`? */
  holdsPosition(account: string, currency: string): boolean {
    for (const p of this.positions.values()) {
      if (p.account !== account || this.instruments.get(p.symbol)!.currency !== currency) continue;
      if (p.long.today + p.long.his + p.short.today + p.short.his > 0) return true;
    }
    return false;
  }

  // -------------------------------------------------------------------------------------
  // Pre-trade check (new orders and amends)

  /**
   * The account check of an order for `qty` lots at `price` freezing `fmpl` per lot, with
   * `exclude` (an order being amended) counted as released. Null when it may be placed.
   */
  private check(account: string, inst: MoneyInstrument, side: SideName, offset: string, price: number, qty: number, fmpl: number, exclude: RefOrder | null): string | null {
    const m = this.moneyOf(account, inst.currency);
    const figures = m === undefined ? undefined : this.accountFigures(m, exclude);
    const p = this.positionOf(account, inst.symbol);
    if (isOpen(offset)) {
      if (figures !== undefined && figures.riskRatioBp >= OPEN_LIMIT_BP) return "risk_limit";
      if (inst.positionLimit > 0) {
        const lots = p === undefined ? noLots() : side === "buy" ? p.long : p.short;
        if (lots.today + lots.his + this.openPending(account, inst.symbol, side, exclude) + qty > inst.positionLimit) return "position_limit";
      }
    } else {
      // A buy closes the short side, a sell the long side.
      let closable = 0;
      if (p !== undefined) {
        const held = side === "buy" ? "short" : "long";
        const locked = this.frozenClose(p, inst, held, exclude);
        const lots = p[held];
        if (!inst.closeTodayDistinct) closable = lots.today + lots.his - locked.today - locked.his;
        else if (offset === "close_today") closable = lots.today - locked.today;
        else closable = lots.his - locked.his;
      }
      if (closable < qty) return "insufficient_position";
    }
    const required = qty * (fmpl + this.commissionPerLot(inst, this.commissionFreezePrice(inst, side, price)));
    if (required > 0 && (figures === undefined || required > figures.available)) return "insufficient_funds";
    return null;
  }

  // -------------------------------------------------------------------------------------
  // Matcher hooks

  admit(o: RefOrder): string | null {
    const inst = this.instruments.get(o.symbol);
    if (inst === undefined) return null; // pure matching
    const fmpl = this.frozenMarginPerLot(inst, o.side, o.offset, o.price);
    const reason = this.check(o.account, inst, o.side, o.offset, o.price, o.left, fmpl, null);
    if (reason !== null) return reason;
    this.freezes.set(o, { fmpl, mark: inst.mark });
    this.moneyCreate(o.account, inst.currency);
    this.positionCreate(o.account, o.symbol);
    return null;
  }

  amend(o: RefOrder, price: number, qty: number): string | null {
    const inst = this.instruments.get(o.symbol);
    if (inst === undefined) return null;
    const fmpl = this.frozenMarginPerLot(inst, o.side, o.offset, price);
    const reason = this.check(o.account, inst, o.side, o.offset, price, qty, fmpl, o);
    if (reason !== null) return reason;
    this.freezes.set(o, { fmpl, mark: inst.mark });
    return null;
  }

  fill(maker: RefOrder, taker: RefOrder, price: number, qty: number): TradeMoney {
    const inst = this.instruments.get(maker.symbol);
    if (inst === undefined) return { makerCommission: 0, takerCommission: 0, makerCloseProfit: 0, takerCloseProfit: 0 };
    if (inst.mark === 0) inst.mark = price; // the first trade sets the mark
    inst.last = price;
    const m = this.fillSide(inst, maker, price, qty);
    const t = this.fillSide(inst, taker, price, qty);
    return { makerCommission: m.commission, takerCommission: t.commission, makerCloseProfit: m.closeProfit, takerCloseProfit: t.closeProfit };
  }

  /** One side of a fill: commission at the fill price; open lots (margin at the order's price) or close lots. */
  private fillSide(inst: MoneyInstrument, o: RefOrder, price: number, qty: number): { commission: number; closeProfit: number } {
    const m = this.moneyCreate(o.account, inst.currency);
    const p = this.positionCreate(o.account, o.symbol);
    if (this.freezeOf(o).mark !== inst.mark) this.staleFills.add(accountKey(o.account, inst.currency));
    const commission = qty * this.commissionPerLot(inst, price);
    m.commission += commission;
    const value = price * qty * inst.multiplier;
    if (isOpen(o.offset)) {
      const lots = o.side === "buy" ? p.long : p.short;
      lots.today += qty;
      lots.openCost += value;
      lots.positionCost += value;
      lots.margin += qty * this.marginPerLot(inst, o.price);
      return { commission, closeProfit: 0 };
    }
    const long = o.side === "sell"; // a sell closes long lots
    const lots = long ? p.long : p.short;
    const vol = lots.today + lots.his;
    if (vol < qty) throw new Error(`reference accounts: ${o.account}/${o.id} closes ${qty} of ${vol} lots`);
    let fromToday: number;
    if (inst.closeTodayDistinct) fromToday = o.offset === "close_today" ? qty : 0;
    else fromToday = Math.max(0, qty - lots.his); // earlier lots first
    const positionCost = share(lots.positionCost, qty, vol);
    lots.openCost -= share(lots.openCost, qty, vol);
    lots.positionCost -= positionCost;
    lots.margin -= share(lots.margin, qty, vol);
    lots.today -= fromToday;
    lots.his -= qty - fromToday;
    if (lots.today < 0 || lots.his < 0) throw new Error(`reference accounts: ${o.account}/${o.id} closes lots it may not`);
    const closeProfit = long ? value - positionCost : positionCost - value;
    m.closeProfit += closeProfit;
    return { commission, closeProfit };
  }

  // -------------------------------------------------------------------------------------
  // Commands of their own

  deposit(account: string, currency: string, amount: unknown): string | null {
    if (!isSafeInt(amount) || amount <= 0) return "invalid_amount";
    this.moneyCreate(account, currency).deposit += amount;
    return null;
  }

  withdraw(account: string, currency: string, amount: unknown): string | null {
    if (!isSafeInt(amount) || amount <= 0) return "invalid_amount";
    const m = this.moneyOf(account, currency);
    if (m === undefined || amount > this.accountFigures(m, null).available) return "insufficient_funds";
    m.withdraw += amount;
    return null;
  }

  /** Marks one money instrument at its last trade price: margins re-priced, positions valued there. */
  mark(symbol: string): void {
    const inst = this.instruments.get(symbol);
    if (inst === undefined || inst.last === 0) return;
    inst.mark = inst.last;
    for (const p of this.positions.values()) {
      if (p.symbol !== symbol) continue;
      for (const lots of [p.long, p.short]) lots.margin = (lots.today + lots.his) * this.marginPerLot(inst, inst.mark);
    }
  }

  /** The account part of settlement (after marks and expiries): today -> his, cost rebased to the mark, the day's figures reset. */
  settle(): void {
    // The balance as of the settlement marks (position profit included) becomes tomorrow's
    // pre-balance; rebasing position cost then zeroes position profit without changing it.
    const balances = new Map<MoneyAccount, number>();
    for (const m of this.money.values()) balances.set(m, this.accountFigures(m, null).balance);
    for (const p of this.positions.values()) {
      const inst = this.instruments.get(p.symbol)!;
      for (const lots of [p.long, p.short]) {
        lots.his += lots.today;
        lots.today = 0;
        lots.positionCost = inst.mark * inst.multiplier * lots.his;
      }
    }
    for (const m of this.money.values()) {
      m.preBalance = this.bugs.settleDropsPositionProfit ? this.accountFigures(m, null).balance : balances.get(m)!;
      m.deposit = 0;
      m.withdraw = 0;
      m.closeProfit = 0;
      m.commission = 0;
      if (this.accountFigures(m, null).balance !== m.preBalance) throw new Error("reference accounts: settlement changed a balance");
    }
  }

  /**
   * End of a command: every money account at or over the liquidation threshold that was not
   * in breach gets `liquidate` (which ends its working orders), then a breach record.
   */
  breaches(liquidate: (account: string, currency: string) => void): RefBreach[] {
    const out: RefBreach[] = [];
    for (const m of this.money.values()) {
      const over = this.accountFigures(m, null).riskRatioBp >= LIQUIDATION_BP;
      if (over && !m.inBreach) {
        m.inBreach = true;
        liquidate(m.account, m.currency);
        const f = this.accountFigures(m, null);
        out.push({ account: m.account, currency: m.currency, riskRatioBp: f.riskRatioBp, balance: f.balance, margin: f.margin });
      } else if (!over) {
        m.inBreach = false;
      }
    }
    return out;
  }

  isCloseTodayDistinct(symbol: string): boolean {
    return this.instruments.get(symbol)?.closeTodayDistinct === true;
  }
}

// ---------------------------------------------------------------------------------------

/** Which working orders a liquidation cancels: all of the account's, or only those in the breached currency. */
export type LiquidationScope = "account" | "currency";

export class ReferenceVenue {
  readonly accounts: ReferenceAccounts;
  readonly matcher: ReferenceMatcher;

  constructor(bugs: KnownEngineBugs = NO_KNOWN_BUGS, readonly liquidationScope: LiquidationScope = "account") {
    this.accounts = new ReferenceAccounts(bugs);
    this.matcher = new ReferenceMatcher(this.accounts);
    this.accounts.attach(() => this.matcher.liveOrders());
  }

  apply(c: JsonCommand): VenueResult {
    this.accounts.staleFills.clear();
    let rejected: string | null = null;
    let trades: RefTrade[] = [];
    switch (c["op"]) {
      case "deposit":
        rejected = this.accounts.deposit(c["account"] as string, (c["currency"] as string | undefined) ?? "CNY", c["amount"]);
        break;
      case "withdraw":
        rejected = this.accounts.withdraw(c["account"] as string, (c["currency"] as string | undefined) ?? "CNY", c["amount"]);
        break;
      case "mark":
        rejected = this.mark(c["symbol"]);
        break;
      case "settle":
        this.settle();
        break;
      default: {
        const r = this.matcher.apply(c);
        rejected = r.rejected;
        trades = r.trades;
        const multiplier = c["multiplier"];
        if (c["op"] === "instrument" && rejected === null && typeof multiplier === "number" && multiplier > 0) {
          this.accounts.define(c, this.matcher.spec(c["symbol"] as string)!.priceHigh);
        }
      }
    }
    const breaches = this.accounts.breaches((account, currency) => {
      this.matcher.finishWhere((o) => o.account === account &&
        (this.liquidationScope === "account" || this.accounts.instruments.get(o.symbol)?.currency === currency));
    });
    return { rejected, trades, breaches };
  }

  private mark(symbol: unknown): string | null {
    if (symbol === undefined) {
      for (const s of this.matcher.symbols()) this.accounts.mark(s);
      return null;
    }
    if (typeof symbol !== "string" || this.matcher.spec(symbol) === undefined) return "unknown_instrument";
    this.accounts.mark(symbol);
    return null;
  }

  /** Mark everything; expire GFD orders and close_today orders of closeTodayDistinct instruments; settle accounts; end the day. */
  private settle(): void {
    for (const s of this.matcher.symbols()) this.accounts.mark(s);
    this.matcher.finishWhere((o) => o.tif === "gfd" || (o.offset === "close_today" && this.accounts.isCloseTodayDistinct(o.symbol)));
    this.accounts.settle();
    this.matcher.endDay();
  }
}
