/**
 * Accounts: futures-style margin accounts (one per account and currency) and positions
 * (one per account and instrument, long and short sides, today's and earlier lots), with
 * the money arithmetic of pre-trade risk, fills, mark-to-market and daily settlement.
 * Main thread only; the engine owns it and calls it at each step of a command. All money
 * is integer minor units of the currency; everything here is deterministic.
 *
 * Field meanings follow DIFF's `trade.<user>` section. Stored per money account:
 * preBalance, deposit, withdraw, closeProfit, commission, positionProfit, floatProfit,
 * margin, frozenMargin, frozenCommission. Derived, so the invariants hold by construction:
 *   staticBalance = preBalance + deposit - withdraw
 *   balance       = staticBalance + closeProfit + positionProfit - commission
 *   available     = balance - margin - frozenMargin - frozenCommission
 *   riskRatio     = margin / balance
 *
 * Money instruments have a multiplier > 0: the money value, in minor units, of one price
 * unit on one lot. An instrument without one is pure matching and never touches accounts.
 *
 * Pricing rules, chosen so that an accepted order and all of its fills can never turn
 * `available` negative at the current mark (only price moves on held positions can):
 * - Margin per lot at price P: marginPerLot + ceil(P * multiplier * marginRateBp / 10^4).
 * - Commission per lot at P: commissionPerLot + ceil(P * multiplier * commissionRateBp / 10^4),
 *   charged at the fill price, frozen at the worst price the order may fill at (its limit
 *   for a buy, the band's upper limit for a sell).
 * - An order freezes, per lot, the margin at its own price (opening orders only) plus its
 *   "premium": the worst immediate loss against the mark price M if it fills at its limit
 *   P (buy: max(0, P - M) * multiplier; sell: max(0, M - P) * multiplier). The sum is the
 *   order's frozenMarginPerLot, kept with the order so that every release is exact.
 * - A fill moves the order's margin per lot from frozen to used, charges commission,
 *   realises close profit (against position cost) and revalues the position at M.
 * - A position's margin is re-priced at M on every mark and at settlement.
 * - Positions are valued at the instrument's mark price: the last trade price as of the
 *   latest `mark` (or of the first trade). All positions of an instrument share it, so
 *   profits sum to zero across accounts and money is conserved.
 *
 * Closing: on an instrument flagged closeTodayDistinct (SHFE, INE) CLOSE closes only lots
 * held before today and CLOSETODAY only today's; elsewhere both close any lot, earlier
 * lots first, and one frozen counter per side holds the volume working close orders lock.
 */

import { assert } from "../stdx/assert.ts";
import { IntPairMap } from "../stdx/int_pair_map.ts";
import { InstrumentFlag, Offset, Reason, Side } from "../schema/codes.ts";
import { RISK_RATIO_MAX, type EventBuffer } from "../schema/event.ts";
import { growF64, growI32, growU8, NIL } from "./orders.ts";

export interface MoneyParams {
  currency: number;
  flags: number;
  multiplier: number;
  marginPerLot: number;
  marginRateBp: number;
  commissionPerLot: number;
  commissionRateBp: number;
  positionLimit: number;
}

export interface RiskConfig {
  /** At or above this risk ratio (basis points of margin / balance) opening orders are rejected. */
  openLimitBp: number;
  /** At or above this, the account's working orders are cancelled and a riskBreach event emitted. */
  liquidationBp: number;
}

export const DEFAULT_RISK: RiskConfig = { openLimitBp: 9_000, liquidationBp: 10_000 };

/** The largest money value per lot at any price (P * multiplier), so that P * multiplier * 10^4 stays exact. */
export const NOTIONAL_PER_LOT_MAX = Math.floor(Number.MAX_SAFE_INTEGER / 10_000);
const POSITION_LOTS_MAX = 1 << 30;
/** How many of an account's positions a lookup walks before it asks the hash table. */
const ACCOUNT_POSITIONS_WALKED = 8;

// Money account record, f64 units: the figures, the risk ratio as last rated, and the keys
// an event carries (two i32 in one f64 slot, read through `moneyWords`). What a command
// reads of a money account is in its record: two cache lines, not one per array.
const A_PRE = 0, A_DEPOSIT = 1, A_WITHDRAW = 2, A_CLOSE = 3, A_COMMISSION = 4, A_POSPROFIT = 5;
const A_FLOAT = 6, A_MARGIN = 7, A_FROZEN_MARGIN = 8, A_FROZEN_COMMISSION = 9, A_RISK = 10;
const A_KEYS = 11; // i32 words 2 * (base + A_KEYS): account index, then currency code
const A_STRIDE = 12;
/** The i32 index of money account `a`'s keys: its account index, then (next word) its currency code. */
const keyWord = (a: number): number => (a * A_STRIDE + A_KEYS) * 2;
// Position record, f64 units. Side-indexed fields are at base + side offset (long 0, short 1).
const P_TODAY = 0, P_HIS = 2, P_FROZEN_TODAY = 4, P_FROZEN_HIS = 6, P_OPEN_COST = 8, P_POS_COST = 10;
const P_MARGIN = 12, P_POSPROFIT = 14, P_FLOAT = 16;
const P_STRIDE = 18;
// Records are packed (no padding to a power of two): the accounts of a busy venue are
// touched at random, so the fewer bytes they span, the more of them stay in cache.

export class Accounts {
  // Per instrument (indexed like the engine's instruments).
  private currencyOf = new Int32Array(16).fill(-1);
  private flags = new Uint8Array(16);
  private multiplier = new Float64Array(16);
  private marginPerLot = new Float64Array(16);
  private marginRateBp = new Float64Array(16);
  private commissionPerLot = new Float64Array(16);
  private commissionRateBp = new Float64Array(16);
  private positionLimit = new Float64Array(16);
  private priceHigh = new Float64Array(16);
  /** The price positions are valued at; 0 until the first trade. */
  markPrice = new Float64Array(16);
  /** The last trade price; 0 until the first trade. */
  lastPrice = new Float64Array(16);
  private positionHead = new Int32Array(16).fill(NIL);

  // Currencies: small table of codes.
  private readonly currencies: number[] = [];

  // Money accounts.
  private money = new Float64Array(64 * A_STRIDE);
  /** The money records as i32 words (their A_KEYS slot). */
  private moneyWords = new Int32Array(this.money.buffer);
  private inBreach = new Uint8Array(64);
  /**
   * A flag set while a change to a money account's margin or balance in the current command
   * awaits rating by `breaches`, which keeps the ratio in the record (A_RISK). Freezing and
   * releasing (new orders, cancels: most commands) move neither, so most commands rate no
   * account, and the pre-trade check reads the ratio instead of computing it.
   */
  private unrated = new Uint8Array(64);
  moneyCount = 0;
  /**
   * Money account by account index, one array per currency index (NIL: none): an opening
   * order finds its money account in one read of a small array, without its position.
   */
  private moneyByCurrency: Int32Array[] = [];

  // Positions.
  private pos = new Float64Array(64 * P_STRIDE);
  private posAccount = new Int32Array(64);
  private posInstrument = new Int32Array(64);
  private posMoney = new Int32Array(64);
  private posNext = new Int32Array(64);
  /**
   * Each account's positions as a list, newest first (accountPositionHead by account index,
   * then posNextOfAccount): a lookup walks the first ACCOUNT_POSITIONS_WALKED of them
   * through these small, dense arrays, which stay in cache, and only an account holding
   * more goes to the hash table, a random read of a large one.
   */
  private accountPositionHead = new Int32Array(64).fill(NIL);
  private posNextOfAccount = new Int32Array(64);
  /**
   * Lots working opening orders would add, by position and side (2 per position), kept
   * only on instruments with a position limit (the limit check reads them). Elsewhere an
   * opening order, its cancel and its expiry touch its money account alone: no position
   * is looked up or made until it fills. The engine rebuilds an instrument's pending lots
   * from its book when its limit is set or changed (`resetPending`, `addPending`).
   */
  private pending = new Float64Array(64 * 2);
  positionCount = 0;
  private readonly positionIndex = new IntPairMap(64);
  /** What `warm` read; never used. */
  private warmed = 0;
  /** The last (account, instrument) looked up and its position: a new order's check and freeze ask twice. */
  private memoAccount = -1;
  private memoInstrument = -1;
  private memoPosition = -1;

  // Touched during the current command, for one event each at its end.
  private dirtyMoney = new Int32Array(64);
  private dirtyMoneyFlag = new Uint8Array(64);
  private dirtyMoneyCount = 0;
  private dirtyPos = new Int32Array(64);
  private dirtyPosFlag = new Uint8Array(64);
  private dirtyPosCount = 0;

  private settleBalances = new Float64Array(64);

  /** Commission and close profit of the last `fill`, for the trade event. */
  lastCommission = 0;
  lastCloseProfit = 0;

  constructor(readonly risk: RiskConfig = DEFAULT_RISK) {
    assert(risk.openLimitBp > 0 && risk.liquidationBp >= risk.openLimitBp, "risk thresholds: 0 < openLimit <= liquidation");
  }

  // ---------------------------------------------------------------------------------------
  // Instruments

  /**
   * Defines (or redefines) instrument i's money parameters. A changed position limit drops
   * the pending lots of its positions (kept only where a limit applies); returns true when
   * a limit applies now and the engine must add back those of its working opening orders
   * (`addPending`).
   */
  defineInstrument(i: number, p: MoneyParams, priceHigh: number): boolean {
    if (i >= this.flags.length) this.growInstruments(i + 1);
    const limitChanged = p.positionLimit !== this.positionLimit[i];
    if (limitChanged) this.resetPending(i);
    this.currencyOf[i] = p.multiplier > 0 ? this.currencyIndex(p.currency) : -1;
    this.flags[i] = p.flags;
    this.multiplier[i] = p.multiplier;
    this.marginPerLot[i] = p.marginPerLot;
    this.marginRateBp[i] = p.marginRateBp;
    this.commissionPerLot[i] = p.commissionPerLot;
    this.commissionRateBp[i] = p.commissionRateBp;
    this.positionLimit[i] = p.positionLimit;
    this.priceHigh[i] = priceHigh;
    return limitChanged && p.positionLimit > 0 && p.multiplier > 0;
  }

  moneyParamsOf(i: number): MoneyParams {
    return {
      currency: this.currencyOf[i]! < 0 ? 0 : this.currencies[this.currencyOf[i]!]!,
      flags: this.flags[i]!,
      multiplier: this.multiplier[i]!,
      marginPerLot: this.marginPerLot[i]!,
      marginRateBp: this.marginRateBp[i]!,
      commissionPerLot: this.commissionPerLot[i]!,
      commissionRateBp: this.commissionRateBp[i]!,
      positionLimit: this.positionLimit[i]!,
    };
  }

  isMoney(i: number): boolean {
    return this.multiplier[i]! > 0;
  }

  marginPerLotAt(i: number, price: number): number {
    return this.marginPerLot[i]! + Math.ceil((price * this.multiplier[i]! * this.marginRateBp[i]!) / 10_000);
  }

  commissionPerLotAt(i: number, price: number): number {
    return this.commissionPerLot[i]! + Math.ceil((price * this.multiplier[i]! * this.commissionRateBp[i]!) / 10_000);
  }

  /** The price whose commission an order freezes: the worst it may fill at. */
  private commissionFreezePrice(i: number, side: number, price: number): number {
    return side === Side.buy ? price : this.priceHigh[i]!;
  }

  /** What an order freezes per lot besides commission: margin (opening orders) plus its premium. */
  frozenMarginPerLot(i: number, side: number, offset: number, price: number): number {
    const m = this.markPrice[i]!;
    const premium = m === 0 ? 0 : Math.max(0, side === Side.buy ? price - m : m - price) * this.multiplier[i]!;
    return (isOpen(offset) ? this.marginPerLotAt(i, price) : 0) + premium;
  }

  // ---------------------------------------------------------------------------------------
  // Pre-trade checks and freezing
  //
  // Releases and fills name the position by index: the engine keeps the taker's while it
  // matches, and finds a resting order's with `positionFor` (its account's short list).

  /**
   * Can `account` place this order? Returns Reason.none or why not. Changes nothing.
   * `account` is -1 for an account never seen (it has no money and no positions).
   */
  check(account: number, i: number, side: number, offset: number, price: number, qty: number, fmpl: number): number {
    const p = account < 0 || this.moneyOnly(i, offset) ? NIL : this.findPosition(account, i);
    const a = p >= 0 ? this.posMoney[p]! : account < 0 ? NIL : this.moneyAt(account, this.currencyOf[i]!);
    return this.checkAt(p, a, i, side, offset, qty, fmpl, this.commissionFreezePerLot(i, side, price));
  }

  /** True when an order of this offset on instrument i freezes money only: an opening order where no position limit applies. */
  private moneyOnly(i: number, offset: number): boolean {
    return isOpen(offset) && this.positionLimit[i] === 0;
  }

  /**
   * `check`, then, if it passes, `freeze`, for an account the engine already knows: one
   * lookup, and each figure computed once. Returns Reason.none (frozen) or why not
   * (nothing changed).
   */
  checkAndFreeze(account: number, i: number, side: number, offset: number, price: number, qty: number, fmpl: number): number {
    assert(account >= 0, "checkAndFreeze: an account the engine knows");
    const commissionPerLot = this.commissionFreezePerLot(i, side, price);
    if (this.moneyOnly(i, offset)) {
      const a = this.moneyAt(account, this.currencyOf[i]!);
      const r = this.checkAt(NIL, a, i, side, offset, qty, fmpl, commissionPerLot);
      if (r === Reason.none) this.freezeMoney(a >= 0 ? a : this.moneyOf(account, this.currencyOf[i]!), qty, fmpl, commissionPerLot, 1);
      return r;
    }
    const p = this.findPosition(account, i);
    const a = p >= 0 ? this.posMoney[p]! : this.moneyAt(account, this.currencyOf[i]!);
    const r = this.checkAt(p, a, i, side, offset, qty, fmpl, commissionPerLot);
    if (r === Reason.none) this.applyFrozen(p >= 0 ? p : this.positionOf(account, i), i, side, offset, qty, fmpl, commissionPerLot, 1);
    return r;
  }

  /** The checks of `check` for position `p` (or -1) and money account `a` (or -1). */
  private checkAt(p: number, a: number, i: number, side: number, offset: number, qty: number, fmpl: number, commissionPerLot: number): number {
    if (isOpen(offset)) {
      if (a >= 0 && this.ratedRiskRatioBp(a) >= this.risk.openLimitBp) return Reason.riskLimit;
      const limit = this.positionLimit[i]!;
      if (limit > 0) {
        const s = side === Side.buy ? 0 : 1;
        const held = p < 0 ? 0 : this.volume(p, s) + this.pending[p * 2 + s]!;
        if (held + qty > limit) return Reason.positionLimit;
      }
    } else if (this.closable(p, i, side, offset) < qty) {
      return Reason.insufficientPosition;
    }
    const required = qty * (fmpl + commissionPerLot);
    if (required > 0 && (a < 0 || !this.affords(a, required))) return Reason.insufficientFunds;
    return Reason.none;
  }

  /** Freezes what `check` accepted. Creates the money account and position as needed. */
  freeze(account: number, i: number, side: number, offset: number, price: number, qty: number, fmpl: number): void {
    const commissionPerLot = this.commissionFreezePerLot(i, side, price);
    if (this.moneyOnly(i, offset)) this.freezeMoney(this.moneyOf(account, this.currencyOf[i]!), qty, fmpl, commissionPerLot, 1);
    else this.applyFrozen(this.positionOf(account, i), i, side, offset, qty, fmpl, commissionPerLot, 1);
  }

  /** Releases what `account`'s order on instrument i froze for `qty` lots that will never fill (cancel, expiry, remainder). */
  release(account: number, i: number, side: number, offset: number, price: number, qty: number, fmpl: number): void {
    if (qty <= 0) return;
    const commissionPerLot = this.commissionFreezePerLot(i, side, price);
    if (this.moneyOnly(i, offset)) this.freezeMoney(this.moneyAt(account, this.currencyOf[i]!), qty, fmpl, commissionPerLot, -1);
    else this.applyFrozen(this.positionFor(account, i), i, side, offset, qty, fmpl, commissionPerLot, -1);
  }

  /**
   * Looks up (account, instrument) and reads its money account and pending volumes, so that
   * the engine can start those memory loads early (a software prefetch). Changes no account
   * figure: it sets the lookup memo, and keeps what it read only so that the reads are not
   * dropped as dead code.
   */
  warm(account: number, i: number, offset: number): void {
    if (this.moneyOnly(i, offset)) {
      const a = this.moneyAt(account, this.currencyOf[i]!);
      if (a >= 0) this.warmed = this.money[a * A_STRIDE + A_FROZEN_MARGIN]!;
      return;
    }
    const p = this.findPosition(account, i);
    if (p >= 0) this.warmed = this.money[this.posMoney[p]! * A_STRIDE + A_FROZEN_MARGIN]! + this.pending[p * 2]!;
  }

  /** As `warm`, before the instrument is known: the account's money account in the first currency. */
  warmAccount(account: number): void {
    const a = this.moneyAt(account, 0);
    if (a >= 0) this.warmed = this.money[a * A_STRIDE + A_FROZEN_MARGIN]!;
  }

  /** The position of (account, instrument), made (with its money account) on first use. */
  positionFor(account: number, i: number): number {
    // The lookup is small enough to inline at the engine's call sites; making one is not.
    const p = this.findPosition(account, i);
    return p >= 0 ? p : this.positionOf(account, i);
  }

  /** The commission an order on instrument i at `price` freezes per lot: at the worst price it may fill at. */
  private commissionFreezePerLot(i: number, side: number, price: number): number {
    return this.commissionPerLotAt(i, this.commissionFreezePrice(i, side, price));
  }

  private applyFrozen(p: number, i: number, side: number, offset: number, qty: number, fmpl: number, commissionPerLot: number, sign: 1 | -1): void {
    const a = this.posMoney[p]!;
    const ab = a * A_STRIDE;
    this.money[ab + A_FROZEN_MARGIN] = this.money[ab + A_FROZEN_MARGIN]! + sign * qty * fmpl;
    this.money[ab + A_FROZEN_COMMISSION] = this.money[ab + A_FROZEN_COMMISSION]! + sign * qty * commissionPerLot;
    if (isOpen(offset)) {
      // Here only where a position limit applies (see `pending`).
      const k = p * 2 + (side === Side.buy ? 0 : 1);
      this.pending[k] = this.pending[k]! + sign * qty;
      // An opening order changes only the position's pending volume, which no event
      // reports: the account has an event, the position none.
      this.touchFrozen(a, -1);
    } else {
      const pb = p * P_STRIDE;
      // A buy closes the short side, a sell the long side.
      const held = side === Side.buy ? 1 : 0;
      const field = this.closeFrozenField(i, offset) + held;
      this.pos[pb + field] = this.pos[pb + field]! + sign * qty;
      assert(this.pos[pb + field]! >= 0, "frozen close volume below zero");
      this.touchFrozen(a, p);
    }
  }

  /** Freezes (sign 1) or releases (-1) an opening order's money on money account `a`: no position involved. */
  private freezeMoney(a: number, qty: number, fmpl: number, commissionPerLot: number, sign: 1 | -1): void {
    const ab = a * A_STRIDE;
    this.money[ab + A_FROZEN_MARGIN] = this.money[ab + A_FROZEN_MARGIN]! + sign * qty * fmpl;
    this.money[ab + A_FROZEN_COMMISSION] = this.money[ab + A_FROZEN_COMMISSION]! + sign * qty * commissionPerLot;
    this.touchFrozen(a, -1);
  }

  /** Forgets the pending lots of instrument i's positions. */
  private resetPending(i: number): void {
    for (let p = this.positionHead[i]!; p !== NIL; p = this.posNext[p]!) {
      this.pending[p * 2] = 0;
      this.pending[p * 2 + 1] = 0;
    }
  }

  /** Adds a working opening order's `qty` lots to its position's pending lots (making the position if need be). */
  addPending(account: number, i: number, side: number, qty: number): void {
    const k = this.positionOf(account, i) * 2 + (side === Side.buy ? 0 : 1);
    this.pending[k] = this.pending[k]! + qty;
  }

  /** Lots of the side an order would close that are not yet locked by other close orders. */
  private closable(p: number, i: number, side: number, offset: number): number {
    if (p < 0) return 0;
    const pb = p * P_STRIDE;
    const held = side === Side.buy ? 1 : 0;
    if ((this.flags[i]! & InstrumentFlag.closeTodayDistinct) !== 0) {
      return offset === Offset.closeToday
        ? this.pos[pb + P_TODAY + held]! - this.pos[pb + P_FROZEN_TODAY + held]!
        : this.pos[pb + P_HIS + held]! - this.pos[pb + P_FROZEN_HIS + held]!;
    }
    return this.volume(p, held) - this.pos[pb + P_FROZEN_HIS + held]!;
  }

  /** The frozen-volume field a close order books into (elsewhere than SHFE/INE: one counter, P_FROZEN_HIS). */
  private closeFrozenField(i: number, offset: number): number {
    const distinct = (this.flags[i]! & InstrumentFlag.closeTodayDistinct) !== 0;
    return distinct && offset === Offset.closeToday ? P_FROZEN_TODAY : P_FROZEN_HIS;
  }

  // ---------------------------------------------------------------------------------------
  // Fills

  /**
   * One side of a trade: `qty` lots of an order on position `p` (side, offset, limit
   * `orderPrice`, frozen `fmpl` per lot) filled at `price`. Sets lastCommission and
   * lastCloseProfit.
   */
  fill(p: number, side: number, offset: number, orderPrice: number, fmpl: number, price: number, qty: number): void {
    const i = this.posInstrument[p]!;
    const a = this.posMoney[p]!;
    const ab = a * A_STRIDE;
    const pb = p * P_STRIDE;
    const mult = this.multiplier[i]!;
    if (this.markPrice[i] === 0) {
      this.markPrice[i] = price;
      // The instrument's first price is the mark of every position on it, flat ones too:
      // each gets an event, so a consumer's view matches the state a restart starts from.
      for (let q = this.positionHead[i]!; q !== NIL; q = this.posNext[q]!) this.touchFrozen(-1, q);
    }
    this.lastPrice[i] = price;

    const commission = qty * this.commissionPerLotAt(i, price);
    this.money[ab + A_COMMISSION] = this.money[ab + A_COMMISSION]! + commission;
    this.money[ab + A_FROZEN_COMMISSION] = this.money[ab + A_FROZEN_COMMISSION]! - qty * this.commissionFreezePerLot(i, side, orderPrice);
    this.money[ab + A_FROZEN_MARGIN] = this.money[ab + A_FROZEN_MARGIN]! - qty * fmpl;
    let closeProfit = 0;
    if (isOpen(offset)) {
      const s = side === Side.buy ? 0 : 1;
      const cost = price * qty * mult;
      this.pos[pb + P_TODAY + s] = this.pos[pb + P_TODAY + s]! + qty;
      if (this.positionLimit[i]! > 0) this.pending[p * 2 + s] = this.pending[p * 2 + s]! - qty;
      this.pos[pb + P_OPEN_COST + s] = this.pos[pb + P_OPEN_COST + s]! + cost;
      this.pos[pb + P_POS_COST + s] = this.pos[pb + P_POS_COST + s]! + cost;
      this.addMargin(a, pb + P_MARGIN + s, qty * this.marginPerLotAt(i, orderPrice));
      assert(this.volume(p, s) <= POSITION_LOTS_MAX, "position over its hard limit");
    } else {
      closeProfit = this.close(a, p, i, side === Side.buy ? 1 : 0, offset, price, qty);
    }
    this.money[ab + A_CLOSE] = this.money[ab + A_CLOSE]! + closeProfit;
    this.revalue(a, p, i);
    this.lastCommission = commission;
    this.lastCloseProfit = closeProfit;
    this.touch(a, p);
  }

  /** Closes `qty` lots of side `held` at `price`; returns the close profit against position cost. */
  private close(a: number, p: number, i: number, held: number, offset: number, price: number, qty: number): number {
    const pb = p * P_STRIDE;
    const vol = this.volume(p, held);
    assert(vol >= qty, "closing more than the position holds");
    const distinct = (this.flags[i]! & InstrumentFlag.closeTodayDistinct) !== 0;
    let fromToday: number;
    if (distinct) fromToday = offset === Offset.closeToday ? qty : 0;
    else fromToday = Math.max(0, qty - this.pos[pb + P_HIS + held]!); // earlier lots first
    this.pos[pb + P_TODAY + held] = this.pos[pb + P_TODAY + held]! - fromToday;
    this.pos[pb + P_HIS + held] = this.pos[pb + P_HIS + held]! - (qty - fromToday);
    const field = this.closeFrozenField(i, offset) + held;
    this.pos[pb + field] = this.pos[pb + field]! - qty;
    assert(this.pos[pb + P_TODAY + held]! >= 0 && this.pos[pb + P_HIS + held]! >= 0 && this.pos[pb + field]! >= 0, "position below zero");

    const openCost = this.share(pb + P_OPEN_COST + held, qty, vol);
    const posCost = this.share(pb + P_POS_COST + held, qty, vol);
    this.addMargin(a, pb + P_MARGIN + held, -this.share(pb + P_MARGIN + held, qty, vol));
    this.pos[pb + P_OPEN_COST + held] = this.pos[pb + P_OPEN_COST + held]! - openCost;
    this.pos[pb + P_POS_COST + held] = this.pos[pb + P_POS_COST + held]! - posCost;
    const proceeds = price * qty * this.multiplier[i]!;
    return held === 0 ? proceeds - posCost : posCost - proceeds;
  }

  /**
   * The part of a side's total at `field` that belongs to `qty` of its `vol` lots: exactly
   * total * qty / vol rounded half up, in integers (total = q * vol + r, so only r * qty,
   * which is small, is multiplied); all of it at the last lot.
   */
  private share(field: number, qty: number, vol: number): number {
    const total = this.pos[field]!;
    if (qty === vol) return total;
    const q = Math.floor(total / vol);
    const r = total - q * vol;
    return q * qty + Math.floor((2 * r * qty + vol) / (2 * vol));
  }

  private addMargin(a: number, field: number, delta: number): void {
    this.pos[field] = this.pos[field]! + delta;
    this.money[a * A_STRIDE + A_MARGIN] = this.money[a * A_STRIDE + A_MARGIN]! + delta;
  }

  /** Re-values both sides of a position at the instrument's mark price; moves the deltas into its account. */
  private revalue(a: number, p: number, i: number): void {
    const pb = p * P_STRIDE;
    const ab = a * A_STRIDE;
    const mv = this.markPrice[i]! * this.multiplier[i]!;
    for (let s = 0; s < 2; s++) {
      const value = mv * this.volume(p, s);
      // Short: cost - value, not -(value - cost), which is -0 at no profit (events carry the sign).
      const pp = s === 0 ? value - this.pos[pb + P_POS_COST]! : this.pos[pb + P_POS_COST + 1]! - value;
      const fp = s === 0 ? value - this.pos[pb + P_OPEN_COST]! : this.pos[pb + P_OPEN_COST + 1]! - value;
      this.money[ab + A_POSPROFIT] = this.money[ab + A_POSPROFIT]! + pp - this.pos[pb + P_POSPROFIT + s]!;
      this.money[ab + A_FLOAT] = this.money[ab + A_FLOAT]! + fp - this.pos[pb + P_FLOAT + s]!;
      this.pos[pb + P_POSPROFIT + s] = pp;
      this.pos[pb + P_FLOAT + s] = fp;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Mark, settle, transfers

  /**
   * Marks instrument i at its last trade price: re-values every position and re-prices its
   * margin. Linear in the instrument's positions, with one pass over each position record;
   * a position it leaves unchanged (flat, or the price did not move and its margin was
   * already at this price) is not touched, so it and its account get no event for it.
   */
  mark(i: number): void {
    const last = this.lastPrice[i]!;
    if (last === 0) return; // never traded: nothing to value
    const moved = last !== this.markPrice[i];
    this.markPrice[i] = last;
    const marginPerLot = this.marginPerLotAt(i, last);
    const mv = last * this.multiplier[i]!;
    const x = this.pos;
    const m = this.money;
    for (let p = this.positionHead[i]!; p !== NIL; p = this.posNext[p]!) {
      const pb = p * P_STRIDE;
      const longLots = x[pb + P_TODAY]! + x[pb + P_HIS]!;
      const shortLots = x[pb + P_TODAY + 1]! + x[pb + P_HIS + 1]!;
      // A flat position (no lots, so no margin and no profit) is worth nothing at any price:
      // it changes nothing and has no event.
      if (longLots === 0 && shortLots === 0) continue;
      // What revalue() and the margin re-pricing would set, each side.
      const marginLong = longLots * marginPerLot;
      const marginShort = shortLots * marginPerLot;
      const valueLong = mv * longLots;
      const valueShort = mv * shortLots;
      const posProfitLong = valueLong - x[pb + P_POS_COST]!;
      const posProfitShort = x[pb + P_POS_COST + 1]! - valueShort; // not -(value - cost): no -0 (see revalue)
      const floatLong = valueLong - x[pb + P_OPEN_COST]!;
      const floatShort = x[pb + P_OPEN_COST + 1]! - valueShort;
      const dMargin = marginLong - x[pb + P_MARGIN]! + (marginShort - x[pb + P_MARGIN + 1]!);
      const dPosProfit = posProfitLong - x[pb + P_POSPROFIT]! + (posProfitShort - x[pb + P_POSPROFIT + 1]!);
      const dFloat = floatLong - x[pb + P_FLOAT]! + (floatShort - x[pb + P_FLOAT + 1]!);
      const same = marginLong === x[pb + P_MARGIN] && marginShort === x[pb + P_MARGIN + 1] &&
        posProfitLong === x[pb + P_POSPROFIT] && posProfitShort === x[pb + P_POSPROFIT + 1] &&
        floatLong === x[pb + P_FLOAT] && floatShort === x[pb + P_FLOAT + 1];
      if (same && !moved) continue; // a moved mark price is itself a reported change
      const ab = this.posMoney[p]! * A_STRIDE;
      m[ab + A_MARGIN] = m[ab + A_MARGIN]! + dMargin;
      m[ab + A_POSPROFIT] = m[ab + A_POSPROFIT]! + dPosProfit;
      m[ab + A_FLOAT] = m[ab + A_FLOAT]! + dFloat;
      x[pb + P_MARGIN] = marginLong;
      x[pb + P_MARGIN + 1] = marginShort;
      x[pb + P_POSPROFIT] = posProfitLong;
      x[pb + P_POSPROFIT + 1] = posProfitShort;
      x[pb + P_FLOAT] = floatLong;
      x[pb + P_FLOAT + 1] = floatShort;
      this.touch(this.posMoney[p]!, p);
    }
  }

  /**
   * Daily settlement, after every instrument was marked and GFD orders expired: today's
   * lots become earlier lots, position cost is rebased to the settlement (mark) price, and
   * each account's balance becomes tomorrow's pre-balance with the daily figures reset.
   */
  settle(instrumentCount: number): void {
    // Balances roll first, with today's position profit in them: the balance becomes
    // tomorrow's pre-balance. Re-basing the positions below then moves that profit out of
    // position profit (to zero), so every balance ends where it was.
    if (this.settleBalances.length < this.moneyCount) this.settleBalances = new Float64Array(this.moneyCount * 2);
    for (let a = 0; a < this.moneyCount; a++) {
      const ab = a * A_STRIDE;
      const balance = this.balance(a);
      this.settleBalances[a] = balance;
      this.money[ab + A_PRE] = balance - this.money[ab + A_POSPROFIT]!;
      this.money[ab + A_DEPOSIT] = 0;
      this.money[ab + A_WITHDRAW] = 0;
      this.money[ab + A_CLOSE] = 0;
      this.money[ab + A_COMMISSION] = 0;
      assert(this.balance(a) === balance, "settlement changed a balance");
      this.touch(a, -1);
    }
    for (let i = 0; i < instrumentCount; i++) {
      const mv = this.markPrice[i]! * this.multiplier[i]!;
      for (let p = this.positionHead[i]!; p !== NIL; p = this.posNext[p]!) {
        const pb = p * P_STRIDE;
        const a = this.posMoney[p]!;
        for (let s = 0; s < 2; s++) {
          this.pos[pb + P_HIS + s] = this.pos[pb + P_HIS + s]! + this.pos[pb + P_TODAY + s]!;
          this.pos[pb + P_TODAY + s] = 0;
          this.pos[pb + P_FROZEN_HIS + s] = this.pos[pb + P_FROZEN_HIS + s]! + this.pos[pb + P_FROZEN_TODAY + s]!;
          this.pos[pb + P_FROZEN_TODAY + s] = 0;
          this.pos[pb + P_POS_COST + s] = mv * this.volume(p, s);
        }
        this.revalue(a, p, i);
        this.touch(a, p);
      }
    }
    // Position profit is zero now, and it is what the pre-balance left out: add it back.
    for (let a = 0; a < this.moneyCount; a++) {
      const ab = a * A_STRIDE;
      assert(this.money[ab + A_POSPROFIT] === 0, "position profit not zero after re-basing");
      this.money[ab + A_PRE] = this.settleBalances[a]!;
      assert(this.balance(a) === this.settleBalances[a], "settlement changed a balance");
    }
  }

  /** Deposits `amount` (> 0, checked by the caller) into the account's money account in `currency`. */
  deposit(account: number, currency: number, amount: number): void {
    const a = this.moneyOf(account, this.currencyIndex(currency));
    this.money[a * A_STRIDE + A_DEPOSIT] = this.money[a * A_STRIDE + A_DEPOSIT]! + amount;
    this.touch(a, -1);
  }

  /** Withdraws `amount` if it is at most what is available; returns Reason.none or why not. */
  withdraw(account: number, currency: number, amount: number): number {
    const cur = this.currencies.indexOf(currency);
    const a = account < 0 || cur < 0 ? NIL : this.moneyAt(account, cur);
    if (a < 0 || !this.affords(a, amount)) return Reason.insufficientFunds;
    this.money[a * A_STRIDE + A_WITHDRAW] = this.money[a * A_STRIDE + A_WITHDRAW]! + amount;
    this.touch(a, -1);
    return Reason.none;
  }

  // ---------------------------------------------------------------------------------------
  // Derived figures
  //
  // For tools and cold paths; the hot paths (the pre-trade check, rating) compute what they
  // need in place or return a boolean: a balance returned from a call V8 does not inline is
  // boxed into a new heap number, an allocation per command.

  staticBalance(a: number): number {
    const ab = a * A_STRIDE;
    return this.money[ab + A_PRE]! + this.money[ab + A_DEPOSIT]! - this.money[ab + A_WITHDRAW]!;
  }

  balance(a: number): number {
    const ab = a * A_STRIDE;
    return this.staticBalance(a) + this.money[ab + A_CLOSE]! + this.money[ab + A_POSPROFIT]! - this.money[ab + A_COMMISSION]!;
  }

  available(a: number): number {
    const ab = a * A_STRIDE;
    return this.balance(a) - this.money[ab + A_MARGIN]! - this.money[ab + A_FROZEN_MARGIN]! - this.money[ab + A_FROZEN_COMMISSION]!;
  }

  /** True when money account `a` has at least `amount` available. */
  private affords(a: number, amount: number): boolean {
    const m = this.money;
    const ab = a * A_STRIDE;
    const balance = m[ab + A_PRE]! + m[ab + A_DEPOSIT]! - m[ab + A_WITHDRAW]! + m[ab + A_CLOSE]! + m[ab + A_POSPROFIT]! - m[ab + A_COMMISSION]!;
    return amount <= balance - m[ab + A_MARGIN]! - m[ab + A_FROZEN_MARGIN]! - m[ab + A_FROZEN_COMMISSION]!;
  }

  riskRatioBp(a: number): number {
    const m = this.money;
    const ab = a * A_STRIDE;
    const margin = m[ab + A_MARGIN]!;
    const balance = m[ab + A_PRE]! + m[ab + A_DEPOSIT]! - m[ab + A_WITHDRAW]! + m[ab + A_CLOSE]! + m[ab + A_POSPROFIT]! - m[ab + A_COMMISSION]!;
    if (balance <= 0) return margin > 0 ? RISK_RATIO_MAX : 0;
    return Math.min(RISK_RATIO_MAX, Math.floor((margin * 10_000) / balance));
  }

  /** Money field of account `a` by name, for tests and tools. */
  field(a: number, name: "preBalance" | "deposit" | "withdraw" | "closeProfit" | "commission" | "positionProfit" | "floatProfit" | "margin" | "frozenMargin" | "frozenCommission"): number {
    const index = { preBalance: A_PRE, deposit: A_DEPOSIT, withdraw: A_WITHDRAW, closeProfit: A_CLOSE, commission: A_COMMISSION, positionProfit: A_POSPROFIT, floatProfit: A_FLOAT, margin: A_MARGIN, frozenMargin: A_FROZEN_MARGIN, frozenCommission: A_FROZEN_COMMISSION }[name];
    return this.money[a * A_STRIDE + index]!;
  }

  /** The money account of (account, currency code), or -1. */
  moneyAccountOf(account: number, currency: number): number {
    const cur = this.currencies.indexOf(currency);
    return cur < 0 ? NIL : this.moneyAt(account, cur);
  }

  /** The money account of (account index, currency index), or NIL. */
  private moneyAt(account: number, cur: number): number {
    const byAccount = this.moneyByCurrency[cur];
    return byAccount !== undefined && account < byAccount.length ? byAccount[account]! : NIL;
  }

  accountOfMoney(a: number): number {
    return this.moneyWords[keyWord(a)]!;
  }

  currencyOfMoney(a: number): number {
    return this.moneyWords[keyWord(a) + 1]!;
  }

  private volume(p: number, s: number): number {
    const pb = p * P_STRIDE;
    return this.pos[pb + P_TODAY + s]! + this.pos[pb + P_HIS + s]!;
  }

  // ---------------------------------------------------------------------------------------
  // End of a command: breaches and events

  /**
   * Accounts touched by this command that are at or over the liquidation threshold and were
   * not before: each is returned once (by calling `each(account, moneyAccount)`) until its
   * ratio drops below the threshold again. Rates (and keeps the ratio of) each touched
   * account whose margin or balance changed; a liquidation only cancels orders, which moves
   * neither, so the ratios stand for `flush`.
   */
  breaches(each: (account: number, moneyAccount: number) => void): void {
    // An account whose margin and balance this command left alone keeps its ratio, so its
    // breach state stands. `each` may touch further money accounts (the account's other
    // currencies): the loop reads the count afresh and rates them too.
    for (let k = 0; k < this.dirtyMoneyCount; k++) {
      const a = this.dirtyMoney[k]!;
      if (this.unrated[a] === 0) continue;
      this.unrated[a] = 0;
      const ratio = this.riskRatioBp(a);
      this.money[a * A_STRIDE + A_RISK] = ratio;
      const over = ratio >= this.risk.liquidationBp;
      if (over && this.inBreach[a] === 0) {
        this.inBreach[a] = 1;
        each(this.accountOfMoney(a), a);
      } else if (!over) {
        this.inBreach[a] = 0;
      }
    }
  }

  /** The risk ratio of money account `a` as rated after its last change (current between commands). */
  private ratedRiskRatioBp(a: number): number {
    assert(this.unrated[a] === 0, "risk ratio read before its change was rated");
    return this.money[a * A_STRIDE + A_RISK]!;
  }

  emitBreach(out: EventBuffer, a: number): void {
    const ab = a * A_STRIDE;
    out.riskBreach(this.currencyOfMoney(a), this.accountOfMoney(a), 1, this.money[ab + A_RISK]!, this.balance(a), this.money[ab + A_MARGIN]!);
  }

  /**
   * One position event per position and one account event per account touched since the
   * last flush. Call `breaches` first: the account events carry the ratios it rates.
   */
  flush(out: EventBuffer): void {
    for (let k = 0; k < this.dirtyPosCount; k++) {
      const p = this.dirtyPos[k]!;
      this.dirtyPosFlag[p] = 0;
      this.emitPosition(out, p);
    }
    this.dirtyPosCount = 0;
    for (let k = 0; k < this.dirtyMoneyCount; k++) {
      const a = this.dirtyMoney[k]!;
      this.dirtyMoneyFlag[a] = 0;
      this.emitAccount(out, a);
    }
    this.dirtyMoneyCount = 0;
  }

  /**
   * One position event per position and one account event per money account, as of now:
   * the state of every account as events, for an edge that starts from the engine's state
   * (the gateway). Allocates nothing itself; `out` grows as it must.
   */
  emitAll(out: EventBuffer): void {
    for (let p = 0; p < this.positionCount; p++) this.emitPosition(out, p);
    for (let a = 0; a < this.moneyCount; a++) this.emitAccount(out, a);
  }

  /** The account event of money account `a`: its fields written into the event, in ACCOUNT_FIELD order. */
  private emitAccount(out: EventBuffer, a: number): void {
    const ab = a * A_STRIDE;
    const m = this.money;
    const pre = m[ab + A_PRE]!;
    const deposit = m[ab + A_DEPOSIT]!;
    const withdraw = m[ab + A_WITHDRAW]!;
    const close = m[ab + A_CLOSE]!;
    const commission = m[ab + A_COMMISSION]!;
    const posProfit = m[ab + A_POSPROFIT]!;
    const margin = m[ab + A_MARGIN]!;
    const frozenMargin = m[ab + A_FROZEN_MARGIN]!;
    const frozenCommission = m[ab + A_FROZEN_COMMISSION]!;
    const staticBalance = pre + deposit - withdraw;
    const balance = staticBalance + close + posProfit - commission;
    const q = out.account(this.currencyOfMoney(a), this.accountOfMoney(a));
    const f = out.figures;
    f[q] = pre;
    f[q + 1] = deposit;
    f[q + 2] = withdraw;
    f[q + 3] = staticBalance;
    f[q + 4] = close;
    f[q + 5] = commission;
    f[q + 6] = posProfit;
    f[q + 7] = m[ab + A_FLOAT]!;
    f[q + 8] = balance;
    f[q + 9] = margin;
    f[q + 10] = frozenMargin;
    f[q + 11] = frozenCommission;
    f[q + 12] = balance - margin - frozenMargin - frozenCommission; // available
    f[q + 13] = this.ratedRiskRatioBp(a);
  }

  /** The position event of position `p`: its fields written into the event, in POSITION_FIELD order. */
  private emitPosition(out: EventBuffer, p: number): void {
    const i = this.posInstrument[p]!;
    const pb = p * P_STRIDE;
    const x = this.pos;
    const distinct = (this.flags[i]! & InstrumentFlag.closeTodayDistinct) !== 0;
    // Elsewhere than SHFE/INE one counter holds a side's frozen volume; report it as earlier lots first.
    const longHis = x[pb + P_HIS]!;
    const shortHis = x[pb + P_HIS + 1]!;
    const longFrozen = x[pb + P_FROZEN_HIS]! + x[pb + P_FROZEN_TODAY]!;
    const shortFrozen = x[pb + P_FROZEN_HIS + 1]! + x[pb + P_FROZEN_TODAY + 1]!;
    const longFrozenHis = distinct ? x[pb + P_FROZEN_HIS]! : Math.min(longHis, longFrozen);
    const shortFrozenHis = distinct ? x[pb + P_FROZEN_HIS + 1]! : Math.min(shortHis, shortFrozen);
    const q = out.position(i, this.posAccount[p]!);
    const f = out.figures;
    f[q] = x[pb + P_TODAY]!;
    f[q + 1] = longHis;
    f[q + 2] = x[pb + P_TODAY + 1]!;
    f[q + 3] = shortHis;
    f[q + 4] = longFrozen - longFrozenHis;
    f[q + 5] = longFrozenHis;
    f[q + 6] = shortFrozen - shortFrozenHis;
    f[q + 7] = shortFrozenHis;
    f[q + 8] = x[pb + P_OPEN_COST]!;
    f[q + 9] = x[pb + P_OPEN_COST + 1]!;
    f[q + 10] = x[pb + P_POS_COST]!;
    f[q + 11] = x[pb + P_POS_COST + 1]!;
    f[q + 12] = x[pb + P_MARGIN]!;
    f[q + 13] = x[pb + P_MARGIN + 1]!;
    f[q + 14] = x[pb + P_POSPROFIT]!;
    f[q + 15] = x[pb + P_POSPROFIT + 1]!;
    f[q + 16] = x[pb + P_FLOAT]!;
    f[q + 17] = x[pb + P_FLOAT + 1]!;
    f[q + 18] = this.markPrice[i]!;
  }

  /** Money account `a` (if >= 0) and position `p` (if >= 0) changed; `a`'s margin or balance may have. */
  private touch(a: number, p: number): void {
    if (a >= 0) this.unrated[a] = 1;
    this.touchFrozen(a, p);
  }

  /** As `touch`, for a change to frozen amounts and volumes only: the risk ratio stands. */
  private touchFrozen(a: number, p: number): void {
    if (a >= 0 && this.dirtyMoneyFlag[a] === 0) {
      this.dirtyMoneyFlag[a] = 1;
      if (this.dirtyMoneyCount === this.dirtyMoney.length) this.dirtyMoney = growI32(this.dirtyMoney, this.dirtyMoney.length * 2);
      this.dirtyMoney[this.dirtyMoneyCount++] = a;
    }
    if (p >= 0 && this.dirtyPosFlag[p] === 0) {
      this.dirtyPosFlag[p] = 1;
      if (this.dirtyPosCount === this.dirtyPos.length) this.dirtyPos = growI32(this.dirtyPos, this.dirtyPos.length * 2);
      this.dirtyPos[this.dirtyPosCount++] = p;
    }
  }

  // ---------------------------------------------------------------------------------------
  // Storage

  private currencyIndex(code: number): number {
    let c = this.currencies.indexOf(code);
    if (c < 0) {
      c = this.currencies.length;
      this.currencies.push(code);
    }
    return c;
  }

  private moneyOf(account: number, cur: number): number {
    let a = this.moneyAt(account, cur);
    if (a >= 0) return a;
    a = this.moneyCount++;
    if (a * A_STRIDE === this.money.length) {
      const cap = a * 2;
      this.money = growF64(this.money, cap * A_STRIDE);
      this.moneyWords = new Int32Array(this.money.buffer);
      this.inBreach = growU8(this.inBreach, cap);
      this.unrated = growU8(this.unrated, cap);
      this.dirtyMoneyFlag = growU8(this.dirtyMoneyFlag, cap);
    }
    this.moneyWords[keyWord(a)] = account;
    this.moneyWords[keyWord(a) + 1] = this.currencies[cur]!;
    while (this.moneyByCurrency.length <= cur) this.moneyByCurrency.push(new Int32Array(64).fill(NIL));
    let byAccount = this.moneyByCurrency[cur]!;
    if (account >= byAccount.length) {
      let cap = byAccount.length * 2;
      while (cap <= account) cap *= 2;
      const grown = new Int32Array(cap).fill(NIL);
      grown.set(byAccount);
      this.moneyByCurrency[cur] = byAccount = grown;
    }
    byAccount[account] = a;
    return a;
  }

  /** The position of (account, instrument), made (with its money account) on first use. */
  private positionOf(account: number, i: number): number {
    let p = this.findPosition(account, i);
    if (p >= 0) return p;
    const a = this.moneyOf(account, this.currencyOf[i]!);
    p = this.positionCount++;
    if (p === this.posAccount.length) {
      const cap = p * 2;
      this.pos = growF64(this.pos, cap * P_STRIDE);
      this.pending = growF64(this.pending, cap * 2);
      this.posAccount = growI32(this.posAccount, cap);
      this.posInstrument = growI32(this.posInstrument, cap);
      this.posMoney = growI32(this.posMoney, cap);
      this.posNext = growI32(this.posNext, cap);
      this.posNextOfAccount = growI32(this.posNextOfAccount, cap);
      this.dirtyPosFlag = growU8(this.dirtyPosFlag, cap);
    }
    if (account >= this.accountPositionHead.length) {
      const old = this.accountPositionHead;
      let cap = old.length * 2;
      while (cap <= account) cap *= 2;
      this.accountPositionHead = new Int32Array(cap).fill(NIL);
      this.accountPositionHead.set(old);
    }
    this.posAccount[p] = account;
    this.posInstrument[p] = i;
    this.posMoney[p] = a;
    this.posNext[p] = this.positionHead[i]!;
    this.positionHead[i] = p;
    this.posNextOfAccount[p] = this.accountPositionHead[account]!;
    this.accountPositionHead[account] = p;
    this.positionIndex.set(account, i, p);
    // A new position has an event: every position the engine holds is one a consumer has
    // seen, as it is in the state a restart starts from.
    this.touchFrozen(-1, p);
    this.memoAccount = account;
    this.memoInstrument = i;
    this.memoPosition = p;
    return p;
  }

  /** The position of (account, instrument), or -1. */
  private findPosition(account: number, i: number): number {
    if (account === this.memoAccount && i === this.memoInstrument) return this.memoPosition;
    let p = account < this.accountPositionHead.length ? this.accountPositionHead[account]! : NIL;
    for (let walked = 0; p !== NIL && this.posInstrument[p] !== i; ) {
      p = this.posNextOfAccount[p]!;
      if (++walked === ACCOUNT_POSITIONS_WALKED && p !== NIL) {
        p = this.positionIndex.get(account, i);
        break;
      }
    }
    this.memoAccount = account;
    this.memoInstrument = i;
    this.memoPosition = p;
    return p;
  }

  private growInstruments(n: number): void {
    let cap = this.flags.length;
    while (cap < n) cap *= 2;
    const oldCurrency = this.currencyOf;
    this.currencyOf = new Int32Array(cap).fill(-1);
    this.currencyOf.set(oldCurrency);
    const oldHead = this.positionHead;
    this.positionHead = new Int32Array(cap).fill(NIL);
    this.positionHead.set(oldHead);
    this.flags = growU8(this.flags, cap);
    this.multiplier = growF64(this.multiplier, cap);
    this.marginPerLot = growF64(this.marginPerLot, cap);
    this.marginRateBp = growF64(this.marginRateBp, cap);
    this.commissionPerLot = growF64(this.commissionPerLot, cap);
    this.commissionRateBp = growF64(this.commissionRateBp, cap);
    this.positionLimit = growF64(this.positionLimit, cap);
    this.priceHigh = growF64(this.priceHigh, cap);
    this.markPrice = growF64(this.markPrice, cap);
    this.lastPrice = growF64(this.lastPrice, cap);
  }
}

export function isOpen(offset: number): boolean {
  return offset === Offset.open || offset === Offset.none;
}
