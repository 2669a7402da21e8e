/**
 * The matching engine: a deterministic state machine from command records to event
 * records. Main thread only; it reads no clock, no random source and no file. Time and
 * sequence come stamped on each command and are copied to its events, so replaying the
 * same commands gives the same events, byte for byte.
 *
 * Owns: the instrument table and books, the order and level pools, and the id tables that
 * map account ids and client order ids (bytes in the commands) to dense integers.
 *
 * Contract of `apply(buf, offset)`: reads one command record, appends its events to `out`,
 * and either changes state as the command asks or emits one `rejected` event and changes
 * nothing. Bad input is never an exception; a failed assertion is a bug.
 *
 * Matching is price-time priority. An incoming order (the taker) walks the opposite side
 * from the best level, and each level from its oldest order; it trades at the resting
 * order's price. Events per fill, in order: trade, maker updated, taker updated; after each
 * level it touched, one l2 event with that level's new aggregate.
 */

import { assert } from "../stdx/assert.ts";
import { BytesMap } from "../stdx/bytes_map.ts";
import { HASH_SEED } from "../stdx/hash.ts";
import { Buf, NO_INSTRUMENT } from "../schema/layout.ts";
import {
  CommandKind,
  commandVersionKnown,
  CommandView,
  MAX_ACCOUNT_ID_BYTES,
  MAX_ORDER_ID_BYTES,
  MAX_SYMBOL_BYTES,
} from "../schema/command.ts";
import { EventBuffer, NO_ACCOUNT } from "../schema/event.ts";
import { InstrumentFlag, Offset, OrderFlag, OrderStatus, OrderType, Reason, Side, Stp, Tif, TradingState } from "../schema/codes.ts";
import { ACCOUNTS_MAX, INSTRUMENTS_MAX, ORDERS_INITIAL, ORDERS_MAX, ORDER_IDS_MAX } from "../constants.ts";
import { NIL, OrderPool, growI32 } from "./orders.ts";
import { BookSide, LevelPool } from "./levels.ts";
import { Instruments, SYMBOL_PATTERN, isTradingState } from "./instruments.ts";
import { Accounts, DEFAULT_RISK, NOTIONAL_PER_LOT_MAX, isOpen, type RiskConfig } from "./accounts.ts";

export interface EngineConfig {
  ordersMax: number;
  ordersInitial: number;
  instrumentsMax: number;
  accountsMax: number;
  orderIdsMax: number;
  /**
   * Client order ids the id table is sized for at start (default: `ordersInitial`). Size it
   * for a trading day's ids and the table never grows during the day: growth is incremental
   * (no multi-millisecond rehash), but it still allocates and touches fresh memory.
   */
  orderIdsInitial?: number;
  /** Risk thresholds of the account model. Part of the input: a replay must use the same. */
  risk: RiskConfig;
  /**
   * The seed of the id tables' hash (default HASH_SEED). Not part of the input: events and
   * every lookup's result are the same under any seed; only where keys sit in the tables
   * differs. A node open to clients gives its engine a secret one (a `VenueNode` with a
   * gateway draws it at random), so that nobody can craft client order ids that pile up in
   * one stretch of the table and make every lookup there walk it. A restored snapshot brings the seed its tables
   * were made with.
   */
  idSeed?: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  ordersMax: ORDERS_MAX,
  ordersInitial: ORDERS_INITIAL,
  instrumentsMax: INSTRUMENTS_MAX,
  accountsMax: ACCOUNTS_MAX,
  orderIdsMax: ORDER_IDS_MAX,
  risk: DEFAULT_RISK,
};

/** Value of an order-id entry whose order is no longer live (the id stays taken until day end). */
const FINISHED = -1;
const ACCOUNT_TAG = 0x7fffffff;
/** Which resting orders a sweep ends: all, those of one time in force, those of one offset. */
const SWEEP_ALL = 0;
const SWEEP_TIF = 1;
const SWEEP_OFFSET = 2;

export class Engine {
  readonly out = new EventBuffer();
  readonly instruments: Instruments;
  readonly orders: OrderPool;
  readonly levels: LevelPool;
  /** Margin accounts and positions; touched only by orders on money instruments and by transfers. */
  readonly accounts: Accounts;
  private readonly accountIds: BytesMap;
  /** Account ids by account index (queries and tools; filled once per new account). */
  private readonly accountNames: string[] = [];
  private readonly orderIds: BytesMap;
  private acctHead = new Int32Array(1024).fill(NIL);
  accountCount = 0;
  nextOrderNo = 1;
  nextTradeNo = 1;
  /** The first seq of the current trading day (1, or the seq after the last day's end). */
  dayFromSeq = 1;

  private readonly cmd = new CommandView(Buf.alloc(8));

  // The taker being matched. Fields, not locals of a closure: no allocation per command.
  private tkInstrument = 0;
  private tkSide = 0;
  private tkPrice = 0;
  private tkLeft = 0;
  private tkFilled = 0;
  private tkAccount = 0;
  private tkOrderNo = 0;
  private tkStp = 0;
  private tkStopped = false;
  private tkMoney = false;
  private tkOffset = 0;
  private tkFmpl = 0;
  /** The taker's position in the account model (money instruments), else NIL. */
  private tkPosition = NIL;
  /** Cancels a breached account's working orders; made once, so no closure per command. */
  private readonly liquidate: (account: number, moneyAccount: number) => void;

  /** The seed the id tables hash with: the config's, or that of the state last restored into them. */
  get idSeed(): number {
    return this.orderIds.seed;
  }

  constructor(readonly config: EngineConfig = DEFAULT_ENGINE_CONFIG) {
    this.instruments = new Instruments(config.instrumentsMax);
    this.orders = new OrderPool(Math.min(config.ordersInitial, config.ordersMax), config.ordersMax);
    this.levels = new LevelPool(1024);
    const seed = config.idSeed ?? HASH_SEED;
    this.accountIds = new BytesMap(1024, config.accountsMax, seed);
    this.orderIds = new BytesMap(Math.min(config.orderIdsInitial ?? config.ordersInitial, config.orderIdsMax), config.orderIdsMax, seed);
    this.accounts = new Accounts(config.risk);
    this.liquidate = (account, moneyAccount) => {
      for (let o = this.acctHead[account]!; o !== NIL; ) {
        const next = this.orders.acctNext(o);
        this.cancelResting(o, OrderStatus.cancelled, Reason.liquidation);
        o = next;
      }
      this.accounts.emitBreach(this.out, moneyAccount);
    };
  }

  /** Applies the command record at `offset` of `buf`; its events are appended to `out`. */
  apply(buf: Buf, offset: number): void {
    const cmd = this.cmd.wrap(buf, offset);
    this.out.begin(buf.dv, offset);
    if (!commandVersionKnown(cmd.kind, cmd.version) || cmd.size < 24 || offset + cmd.size > buf.byteLength) {
      this.rejectBare(Reason.invalidField, cmd.kind, NO_INSTRUMENT);
      return;
    }
    switch (cmd.kind) {
      case CommandKind.newOrder: this.newOrder(cmd); break;
      case CommandKind.cancel: this.cancel(cmd); break;
      case CommandKind.amend: this.amend(cmd); break;
      case CommandKind.massCancel: this.massCancel(cmd); break;
      case CommandKind.setTradingState: this.setTradingState(cmd); break;
      case CommandKind.expireGfd: this.expireGfd(cmd); break;
      case CommandKind.defineInstrument: this.defineInstrument(cmd); break;
      case CommandKind.deposit: this.deposit(cmd); break;
      case CommandKind.withdraw: this.withdraw(cmd); break;
      case CommandKind.mark: this.mark(cmd); break;
      case CommandKind.settle: this.settle(); break;
      default: this.rejectBare(Reason.invalidField, cmd.kind, NO_INSTRUMENT);
    }
    // End of the command: liquidate accounts it pushed over the threshold, then one
    // position and one account event for each it touched.
    this.accounts.breaches(this.liquidate);
    this.accounts.flush(this.out);
  }

  // -------------------------------------------------------------------------------------
  // New orders

  private newOrder(cmd: CommandView): void {
    if (!this.idsValid(cmd)) return this.rejectBare(Reason.invalidField, CommandKind.newOrder, NO_INSTRUMENT);
    const instr = cmd.instrument;
    const account = this.findAccount(cmd);
    if (instr >= this.instruments.count) return this.reject(Reason.unknownInstrument, cmd, NO_INSTRUMENT, account, 0);
    const reason = this.validateNewOrder(cmd, instr);
    if (reason !== Reason.none) return this.reject(reason, cmd, instr, account, 0);

    const side = cmd.side;
    const type = cmd.orderType;
    const tif = cmd.tif;
    const price = type === OrderType.market
      ? (side === Side.buy ? this.instruments.priceHigh[instr]! : this.instruments.priceLow[instr]!)
      : cmd.price;
    const qty = cmd.qty;
    // Start the account's loads now, so that their cache misses overlap the order-id lookup's.
    if (account >= 0 && this.accounts.isMoney(instr)) this.accounts.warm(account, instr, cmd.orderOffset);

    if (account < 0 && this.accountIds.full) return this.reject(Reason.capacity, cmd, instr, account, 0);
    if (account >= 0 && this.orderIds.find(account, cmd.dv, cmd.orderIdOffset, cmd.orderIdLen) >= 0) {
      return this.reject(Reason.duplicateOrderId, cmd, instr, account, 0);
    }
    const rests = tif === Tif.gtc || tif === Tif.gfd;
    if (this.orderIds.full || (rests && this.orders.full)) return this.reject(Reason.capacity, cmd, instr, account, 0);
    if ((cmd.flags & OrderFlag.postOnly) !== 0 && this.crosses(instr, side, price)) {
      return this.reject(Reason.postOnlyWouldCross, cmd, instr, account, 0);
    }
    const money = this.accounts.isMoney(instr);
    const orderOffset = cmd.orderOffset;
    let fmpl = 0;
    if (money) {
      // A known account's order is checked and frozen in one step; nothing below rejects it.
      fmpl = this.accounts.frozenMarginPerLot(instr, side, orderOffset, price);
      const r = account >= 0
        ? this.accounts.checkAndFreeze(account, instr, side, orderOffset, price, qty, fmpl)
        : this.accounts.check(account, instr, side, orderOffset, price, qty, fmpl);
      if (r !== Reason.none) return this.reject(r, cmd, instr, account, 0);
    }

    // Accepted: from here on the command changes state.
    const idHash = this.orderIds.lastHash; // from the duplicate check just above, when the account is known
    const acct = account >= 0 ? account : this.addAccount(cmd);
    const idEntry = account >= 0
      ? this.orderIds.insert(acct, cmd.dv, cmd.orderIdOffset, cmd.orderIdLen, FINISHED, idHash)
      : this.orderIds.insert(acct, cmd.dv, cmd.orderIdOffset, cmd.orderIdLen, FINISHED);
    const orderNo = this.nextOrderNo++;
    this.out.accepted(
      instr, side, type, tif, cmd.flags, cmd.stp, cmd.orderOffset, price, qty, orderNo, acct,
      cmd.u8, cmd.accountOffset, cmd.accountLen, cmd.orderIdOffset, cmd.orderIdLen,
    );
    if (money && account < 0) this.accounts.freeze(acct, instr, side, orderOffset, price, qty, fmpl);
    this.beginTaker(instr, side, price, qty, 0, acct, orderNo, cmd.stp, money, orderOffset, fmpl);
    if (tif === Tif.fok && !this.fokFillable()) {
      this.out.updated(instr, OrderStatus.cancelled, Reason.fokUnfilled, side, acct, orderNo, price, qty, 0);
      this.releaseTaker(qty);
      return;
    }
    this.match();
    this.finishTaker(type, tif, cmd.flags, cmd.orderOffset, idEntry);
  }

  private validateNewOrder(cmd: CommandView, instr: number): number {
    const side = cmd.side;
    const type = cmd.orderType;
    const tif = cmd.tif;
    if ((side !== Side.buy && side !== Side.sell) || (type !== OrderType.limit && type !== OrderType.market)) return Reason.invalidField;
    if (tif < Tif.gtc || tif > Tif.fok || cmd.stp > Stp.decrement || cmd.orderOffset > 3 || (cmd.flags & ~OrderFlag.postOnly) !== 0) return Reason.invalidField;
    const state = this.instruments.state[instr]!;
    if (state === TradingState.halted) return Reason.instrumentHalted;
    if (state === TradingState.cancelOnly) return Reason.cancelOnly;
    const postOnly = (cmd.flags & OrderFlag.postOnly) !== 0;
    if (type === OrderType.market && (tif === Tif.gtc || tif === Tif.gfd)) return Reason.invalidTif;
    if (postOnly && (type === OrderType.market || tif === Tif.ioc || tif === Tif.fok)) return Reason.invalidTif;
    if (type === OrderType.limit) {
      if (!cmd.priceSafe) return Reason.priceInvalid;
      const r = this.validatePrice(instr, cmd.price);
      if (r !== Reason.none) return r;
    }
    if (!cmd.qtySafe) return Reason.qtyInvalid;
    return this.validateQty(instr, cmd.qty);
  }

  private validatePrice(instr: number, price: number): number {
    if (price % this.instruments.tickSize[instr]! !== 0) return Reason.priceOffTick;
    if (price < this.instruments.priceLow[instr]! || price > this.instruments.priceHigh[instr]!) return Reason.priceOutOfBand;
    return Reason.none;
  }

  private validateQty(instr: number, qty: number): number {
    if (qty <= 0) return Reason.qtyInvalid;
    if (qty % this.instruments.lotSize[instr]! !== 0) return Reason.qtyOffLot;
    if (qty < this.instruments.minQty[instr]!) return Reason.qtyBelowMin;
    if (qty > this.instruments.maxQty[instr]!) return Reason.qtyAboveMax;
    return Reason.none;
  }

  /** True when an order at `price` on `side` would trade against the opposite best. */
  private crosses(instr: number, side: number, price: number): boolean {
    const opp = side === Side.buy ? this.instruments.asks[instr]! : this.instruments.bids[instr]!;
    const best = opp.best();
    if (best === NIL) return false;
    const bp = this.levels.price[best]!;
    return side === Side.buy ? price >= bp : price <= bp;
  }

  // -------------------------------------------------------------------------------------
  // Matching

  private beginTaker(
    instr: number, side: number, price: number, left: number, filled: number, account: number, orderNo: number, stp: number,
    money: boolean, orderOffset: number, fmpl: number,
  ): void {
    this.tkMoney = money;
    this.tkOffset = orderOffset;
    this.tkFmpl = fmpl;
    this.tkInstrument = instr;
    this.tkSide = side;
    this.tkPrice = price;
    this.tkLeft = left;
    this.tkFilled = filled;
    this.tkAccount = account;
    this.tkOrderNo = orderNo;
    this.tkStp = stp;
    this.tkStopped = false;
    this.tkPosition = NIL; // found at its first fill (money instruments)
  }

  /** Walks the opposite side while the taker crosses and has quantity left. */
  private match(): void {
    const instr = this.tkInstrument;
    const opp = this.tkSide === Side.buy ? this.instruments.asks[instr]! : this.instruments.bids[instr]!;
    const levels = this.levels;
    const orders = this.orders;
    while (this.tkLeft > 0 && opp.size > 0) {
      const l = opp.levels[opp.size - 1]!;
      const lp = levels.price[l]!;
      if (this.tkSide === Side.buy ? lp > this.tkPrice : lp < this.tkPrice) break;
      const qtyBefore = levels.qty[l]!;
      let o = levels.head[l]!;
      while (o !== NIL && this.tkLeft > 0) {
        const next = orders.next(o);
        if (this.tkStp !== Stp.none && orders.account(o) === this.tkAccount) {
          if (this.selfTrade(o, l)) break;
        } else {
          this.fill(o, l, lp);
        }
        o = next;
      }
      // A cancel-newest stop at the level's first order changes nothing there: no l2.
      if (levels.qty[l] !== qtyBefore) this.finishLevel(l, opp);
      if (this.tkStopped) break;
    }
  }

  private fill(o: number, l: number, price: number): void {
    const orders = this.orders;
    const makerLeft = orders.left(o);
    const f = makerLeft < this.tkLeft ? makerLeft : this.tkLeft;
    orders.setLeft(o, makerLeft - f);
    orders.setFilled(o, orders.filled(o) + f);
    this.levels.qty[l] = this.levels.qty[l]! - f;
    this.tkLeft -= f;
    this.tkFilled += f;
    const instr = this.tkInstrument;
    const ml = orders.left(o);
    if (this.tkMoney) {
      const acc = this.accounts;
      acc.fill(acc.positionFor(orders.account(o), instr), orders.side(o), orders.offset(o), price, orders.frozenMarginPerLot(o), price, f);
      const makerCommission = acc.lastCommission;
      const makerCloseProfit = acc.lastCloseProfit;
      if (this.tkPosition === NIL) this.tkPosition = acc.positionFor(this.tkAccount, instr);
      acc.fill(this.tkPosition, this.tkSide, this.tkOffset, this.tkPrice, this.tkFmpl, price, f);
      this.out.trade(
        instr, this.tkSide, this.nextTradeNo++, price, f, orders.orderNo(o), this.tkOrderNo, orders.account(o), this.tkAccount, ml, this.tkLeft,
        makerCommission, acc.lastCommission, makerCloseProfit, acc.lastCloseProfit,
      );
    } else {
      this.out.trade(instr, this.tkSide, this.nextTradeNo++, price, f, orders.orderNo(o), this.tkOrderNo, orders.account(o), this.tkAccount, ml, this.tkLeft);
    }
    this.out.updated(instr, ml === 0 ? OrderStatus.filled : OrderStatus.partiallyFilled, Reason.none, orders.side(o), orders.account(o), orders.orderNo(o), price, ml, orders.filled(o));
    this.out.updated(instr, this.tkLeft === 0 ? OrderStatus.filled : OrderStatus.partiallyFilled, Reason.none, this.tkSide, this.tkAccount, this.tkOrderNo, this.tkPrice, this.tkLeft, this.tkFilled);
    if (ml === 0) this.unlinkResting(o);
  }

  /** Applies the taker's self-trade prevention against resting order `o`; true when the taker stops. */
  private selfTrade(o: number, l: number): boolean {
    const orders = this.orders;
    switch (this.tkStp) {
      case Stp.cancelNewest:
        this.tkStopped = true;
        return true;
      case Stp.cancelOldest:
        this.dropResting(o, OrderStatus.cancelled, Reason.selfTrade);
        return false;
      case Stp.cancelBoth:
        this.dropResting(o, OrderStatus.cancelled, Reason.selfTrade);
        this.tkStopped = true;
        return true;
      case Stp.decrement: {
        const restingLeft = orders.left(o);
        const d = restingLeft < this.tkLeft ? restingLeft : this.tkLeft;
        if (d === restingLeft) {
          this.dropResting(o, OrderStatus.cancelled, Reason.selfTrade);
        } else {
          orders.setLeft(o, restingLeft - d);
          this.levels.qty[l] = this.levels.qty[l]! - d;
          this.releaseResting(o, d);
          this.out.updated(this.tkInstrument, OrderStatus.amended, Reason.selfTrade, orders.side(o), orders.account(o), orders.orderNo(o), this.levels.price[l]!, restingLeft - d, orders.filled(o));
        }
        this.tkLeft -= d;
        this.releaseTaker(d);
        if (this.tkLeft === 0) {
          this.tkStopped = true;
          return true;
        }
        this.out.updated(this.tkInstrument, OrderStatus.amended, Reason.selfTrade, this.tkSide, this.tkAccount, this.tkOrderNo, this.tkPrice, this.tkLeft, this.tkFilled);
        return false;
      }
      default:
        assert(false, "self-trade mode out of range");
        return true;
    }
  }

  /**
   * Fill-or-kill check, before any state changes: can the taker fill completely within its
   * limit? Own-account orders are skipped under cancel-oldest (they will be cancelled) and
   * end the walk under every other mode (the taker would stop there).
   */
  private fokFillable(): boolean {
    const instr = this.tkInstrument;
    const opp = this.tkSide === Side.buy ? this.instruments.asks[instr]! : this.instruments.bids[instr]!;
    const levels = this.levels;
    const orders = this.orders;
    let need = this.tkLeft;
    for (let i = opp.size - 1; i >= 0; i--) {
      const l = opp.levels[i]!;
      const lp = levels.price[l]!;
      if (this.tkSide === Side.buy ? lp > this.tkPrice : lp < this.tkPrice) return false;
      for (let o = levels.head[l]!; o !== NIL; o = orders.next(o)) {
        if (this.tkStp !== Stp.none && orders.account(o) === this.tkAccount) {
          if (this.tkStp === Stp.cancelOldest) continue;
          return false;
        }
        need -= orders.left(o);
        if (need <= 0) return true;
      }
    }
    return false;
  }

  /** After matching: cancel what may not rest, or rest the remainder. */
  private finishTaker(type: number, tif: number, flags: number, orderOffset: number, idEntry: number): void {
    const instr = this.tkInstrument;
    if (this.tkStopped) {
      this.out.updated(instr, OrderStatus.cancelled, Reason.selfTrade, this.tkSide, this.tkAccount, this.tkOrderNo, this.tkPrice, this.tkLeft, this.tkFilled);
      this.releaseTaker(this.tkLeft);
      return;
    }
    if (this.tkLeft === 0) return;
    if (tif === Tif.ioc || tif === Tif.fok || type === OrderType.market) {
      this.out.updated(instr, OrderStatus.cancelled, Reason.iocRemainder, this.tkSide, this.tkAccount, this.tkOrderNo, this.tkPrice, this.tkLeft, this.tkFilled);
      this.releaseTaker(this.tkLeft);
      return;
    }
    this.rest(type, tif, flags, orderOffset, idEntry);
  }

  /** Puts the taker's remainder on its side of the book, at the tail of its price level. */
  private rest(type: number, tif: number, flags: number, orderOffset: number, idEntry: number): void {
    const orders = this.orders;
    const levels = this.levels;
    const instr = this.tkInstrument;
    const side = this.tkSide;
    const price = this.tkPrice;
    const o = orders.alloc();
    orders.setOrderNo(o, this.tkOrderNo);
    orders.setLeft(o, this.tkLeft);
    orders.setFilled(o, this.tkFilled);
    orders.setAccount(o, this.tkAccount);
    orders.setIdEntry(o, idEntry);
    orders.setMeta(o, side, type, tif, flags, this.tkStp, orderOffset);
    orders.setFrozenMarginPerLot(o, this.tkFmpl);

    const bs = side === Side.buy ? this.instruments.bids[instr]! : this.instruments.asks[instr]!;
    const idx = bs.search(price);
    let l: number;
    if (idx >= 0) {
      l = bs.levels[idx]!;
    } else {
      l = levels.alloc(instr, side, price);
      bs.insertAt(-idx - 1, price, l);
    }
    const tail = levels.tail[l]!;
    orders.setLevel(o, l);
    orders.setPrev(o, tail);
    orders.setNext(o, NIL);
    if (tail === NIL) levels.head[l] = o;
    else orders.setNext(tail, o);
    levels.tail[l] = o;
    levels.qty[l] = levels.qty[l]! + this.tkLeft;
    levels.count[l] = levels.count[l]! + 1;

    const acct = this.tkAccount;
    const head = this.acctHead[acct]!;
    orders.setAcctPrev(o, NIL);
    orders.setAcctNext(o, head);
    if (head !== NIL) orders.setAcctPrev(head, o);
    this.acctHead[acct] = o;

    this.orderIds.setValue(idEntry, o);
    this.out.l2(instr, side, price, levels.qty[l]!, levels.count[l]!);
  }

  // -------------------------------------------------------------------------------------
  // Removing resting orders

  /** Unlinks a live order from its level and account and frees its slot. No events. */
  private unlinkResting(o: number): void {
    const orders = this.orders;
    const levels = this.levels;
    const l = orders.level(o);
    levels.qty[l] = levels.qty[l]! - orders.left(o);
    levels.count[l] = levels.count[l]! - 1;
    const prev = orders.prev(o);
    const next = orders.next(o);
    if (prev === NIL) levels.head[l] = next;
    else orders.setNext(prev, next);
    if (next === NIL) levels.tail[l] = prev;
    else orders.setPrev(next, prev);

    const ap = orders.acctPrev(o);
    const an = orders.acctNext(o);
    if (ap === NIL) this.acctHead[orders.account(o)] = an;
    else orders.setAcctNext(ap, an);
    if (an !== NIL) orders.setAcctPrev(an, ap);

    this.orderIds.setValue(orders.idEntry(o), FINISHED);
    orders.free(o);
  }

  /** Ends a resting order with `status` (cancelled or expired): its updated event, then unlink. No l2. */
  private dropResting(o: number, status: number, reason: number): void {
    const orders = this.orders;
    const l = orders.level(o);
    this.out.updated(this.levels.instrument[l]!, status, reason, orders.side(o), orders.account(o), orders.orderNo(o), this.levels.price[l]!, orders.left(o), orders.filled(o));
    this.releaseResting(o, orders.left(o));
    this.unlinkResting(o);
  }

  /** Releases what resting order `o` froze for `qty` of its lots (money instruments only). */
  private releaseResting(o: number, qty: number): void {
    const l = this.orders.level(o);
    const instr = this.levels.instrument[l]!;
    if (!this.accounts.isMoney(instr)) return;
    const orders = this.orders;
    const acc = this.accounts;
    acc.release(orders.account(o), instr, orders.side(o), orders.offset(o), this.levels.price[l]!, qty, orders.frozenMarginPerLot(o));
  }

  /** Releases what the taker froze for `qty` of its lots. */
  private releaseTaker(qty: number): void {
    if (this.tkMoney) this.accounts.release(this.tkAccount, this.tkInstrument, this.tkSide, this.tkOffset, this.tkPrice, qty, this.tkFmpl);
  }

  /** Emits the level's new aggregate; removes the level from its side when it is empty. */
  private finishLevel(l: number, side: BookSide): void {
    const levels = this.levels;
    const price = levels.price[l]!;
    this.out.l2(levels.instrument[l]!, levels.side[l]!, price, levels.qty[l]!, levels.count[l]!);
    if (levels.count[l] === 0) {
      const idx = side.search(price);
      assert(idx >= 0 && side.levels[idx] === l, "level missing from its book side");
      side.removeAt(idx);
      levels.free(l);
    }
  }

  private sideOf(l: number): BookSide {
    const instr = this.levels.instrument[l]!;
    return this.levels.side[l] === Side.buy ? this.instruments.bids[instr]! : this.instruments.asks[instr]!;
  }

  private cancelResting(o: number, status: number, reason: number): void {
    const l = this.orders.level(o);
    this.dropResting(o, status, reason);
    this.finishLevel(l, this.sideOf(l));
  }

  // -------------------------------------------------------------------------------------
  // Cancel, amend, mass cancel

  /** The live order named by the command's account and order id, or a negative reason. */
  private findOrder(cmd: CommandView, account: number): number {
    if (account < 0) return -Reason.unknownOrder;
    const e = this.orderIds.find(account, cmd.dv, cmd.orderIdOffset, cmd.orderIdLen);
    if (e < 0) return -Reason.unknownOrder;
    const o = this.orderIds.value(e);
    return o === FINISHED ? -Reason.orderNotLive : o;
  }

  private cancel(cmd: CommandView): void {
    if (!this.idsValid(cmd)) return this.rejectBare(Reason.invalidField, CommandKind.cancel, NO_INSTRUMENT);
    const account = this.findAccount(cmd);
    // As in newOrder: the account's money record loads while the order id is looked up.
    if (account >= 0) this.accounts.warmAccount(account);
    const o = this.findOrder(cmd, account);
    if (o < 0) return this.reject(-o, cmd, NO_INSTRUMENT, account, 0);
    const instr = this.levels.instrument[this.orders.level(o)]!;
    if (this.instruments.state[instr] === TradingState.halted) return this.reject(Reason.instrumentHalted, cmd, instr, account, this.orders.orderNo(o));
    this.cancelResting(o, OrderStatus.cancelled, Reason.userCancel);
  }

  /**
   * Amend sets a new price and a new open quantity (`qty` is what remains to trade, not the
   * original size). Quantity down at the same price keeps the order's place in the queue;
   * any other change takes it out, and it re-enters as a taker at its new price, then rests
   * at the back of its level.
   */
  private amend(cmd: CommandView): void {
    if (!this.idsValid(cmd)) return this.rejectBare(Reason.invalidField, CommandKind.amend, NO_INSTRUMENT);
    const account = this.findAccount(cmd);
    if (account >= 0) this.accounts.warmAccount(account); // as in cancel
    const o = this.findOrder(cmd, account);
    if (o < 0) return this.reject(-o, cmd, NO_INSTRUMENT, account, 0);
    const orders = this.orders;
    const levels = this.levels;
    const l = orders.level(o);
    const instr = levels.instrument[l]!;
    const orderNo = orders.orderNo(o);
    const state = this.instruments.state[instr]!;
    if (state === TradingState.halted) return this.reject(Reason.instrumentHalted, cmd, instr, account, orderNo);
    if (state === TradingState.cancelOnly) return this.reject(Reason.cancelOnly, cmd, instr, account, orderNo);
    if (!cmd.priceSafe) return this.reject(Reason.priceInvalid, cmd, instr, account, orderNo);
    const price = cmd.price;
    let r = this.validatePrice(instr, price);
    if (r === Reason.none && !cmd.qtySafe) r = Reason.qtyInvalid;
    if (r !== Reason.none) return this.reject(r, cmd, instr, account, orderNo);
    const qty = cmd.qty;
    r = this.validateQty(instr, qty);
    if (r !== Reason.none) return this.reject(r, cmd, instr, account, orderNo);
    const side = orders.side(o);
    const oldPrice = levels.price[l]!;
    const left = orders.left(o);
    if ((orders.flags(o) & OrderFlag.postOnly) !== 0 && price !== oldPrice && this.crosses(instr, side, price)) {
      return this.reject(Reason.postOnlyWouldCross, cmd, instr, account, orderNo);
    }
    // Money: the old lots' frozen amounts are released, the new ones checked and frozen; a
    // failed check puts back exactly what was released.
    const money = this.accounts.isMoney(instr);
    const orderOffset = orders.offset(o);
    const oldFmpl = orders.frozenMarginPerLot(o);
    let fmpl = 0;
    if (money) {
      const acc = this.accounts;
      acc.release(account, instr, side, orderOffset, oldPrice, left, oldFmpl);
      fmpl = acc.frozenMarginPerLot(instr, side, orderOffset, price);
      r = acc.check(account, instr, side, orderOffset, price, qty, fmpl);
      if (r !== Reason.none) {
        acc.freeze(account, instr, side, orderOffset, oldPrice, left, oldFmpl);
        return this.reject(r, cmd, instr, account, orderNo);
      }
      acc.freeze(account, instr, side, orderOffset, price, qty, fmpl);
      orders.setFrozenMarginPerLot(o, fmpl);
    }

    if (price === oldPrice && qty <= left) {
      orders.setLeft(o, qty);
      levels.qty[l] = levels.qty[l]! - (left - qty);
      this.out.updated(instr, OrderStatus.amended, Reason.none, side, account, orderNo, price, qty, orders.filled(o));
      this.out.l2(instr, side, price, levels.qty[l]!, levels.count[l]!);
      return;
    }
    const filled = orders.filled(o);
    const type = orders.orderType(o);
    const tif = orders.tif(o);
    const flags = orders.flags(o);
    const stp = orders.stp(o);
    const idEntry = orders.idEntry(o);
    this.out.updated(instr, OrderStatus.amended, Reason.none, side, account, orderNo, price, qty, filled);
    this.unlinkResting(o);
    this.finishLevel(l, this.sideOf(l));
    this.beginTaker(instr, side, price, qty, filled, account, orderNo, stp, money, orderOffset, fmpl);
    this.match();
    this.finishTaker(type, tif, flags, orderOffset, idEntry);
  }

  private massCancel(cmd: CommandView): void {
    const instr = cmd.instrument;
    const accountLen = cmd.accountLen;
    if (accountLen > MAX_ACCOUNT_ID_BYTES || cmd.accountOffset + accountLen > cmd.offset + cmd.size) {
      return this.rejectBare(Reason.invalidField, CommandKind.massCancel, NO_INSTRUMENT);
    }
    if (instr !== NO_INSTRUMENT && instr >= this.instruments.count) return this.rejectBare(Reason.unknownInstrument, CommandKind.massCancel, NO_INSTRUMENT);
    if (accountLen > 0) {
      const account = this.findAccount(cmd);
      if (account < 0) return; // an account never seen has no orders
      let o = this.acctHead[account]!;
      while (o !== NIL) {
        const next = this.orders.acctNext(o);
        if (instr === NO_INSTRUMENT || this.levels.instrument[this.orders.level(o)] === instr) {
          this.cancelResting(o, OrderStatus.cancelled, Reason.massCancel);
        }
        o = next;
      }
      return;
    }
    const first = instr === NO_INSTRUMENT ? 0 : instr;
    const last = instr === NO_INSTRUMENT ? this.instruments.count - 1 : instr;
    for (let i = first; i <= last; i++) {
      this.sweep(this.instruments.bids[i]!, SWEEP_ALL, 0, OrderStatus.cancelled, Reason.massCancel);
      this.sweep(this.instruments.asks[i]!, SWEEP_ALL, 0, OrderStatus.cancelled, Reason.massCancel);
    }
  }

  /** Ends the resting orders on `side` that `by` selects: all, or those whose time in force or offset is `value`. */
  private sweep(side: BookSide, by: number, value: number, status: number, reason: number): void {
    // From the worst level to the best: removing index i shifts only the entries above it.
    for (let i = 0; i < side.size; ) {
      const l = side.levels[i]!;
      let dropped = false;
      let o = this.levels.head[l]!;
      while (o !== NIL) {
        const next = this.orders.next(o);
        if (by === SWEEP_ALL || (by === SWEEP_TIF ? this.orders.tif(o) : this.orders.offset(o)) === value) {
          this.dropResting(o, status, reason);
          dropped = true;
        }
        o = next;
      }
      const before = side.size;
      if (dropped) this.finishLevel(l, side);
      if (side.size === before) i++;
    }
  }

  // -------------------------------------------------------------------------------------
  // Instrument administration

  private setTradingState(cmd: CommandView): void {
    const instr = cmd.instrument;
    if (instr >= this.instruments.count) return this.rejectBare(Reason.unknownInstrument, CommandKind.setTradingState, NO_INSTRUMENT);
    if (!isTradingState(cmd.state)) return this.rejectBare(Reason.invalidField, CommandKind.setTradingState, instr);
    this.instruments.state[instr] = cmd.state;
    this.out.tradingState(instr, cmd.state);
  }

  /**
   * Expires good-for-day orders of one instrument, or of all (NO_INSTRUMENT). Expiring all
   * instruments ends the trading day: the ids of finished orders are forgotten then
   * (`startDayIds`), so the id table holds live orders plus one day's finished ones.
   */
  private expireGfd(cmd: CommandView): void {
    const instr = cmd.instrument;
    if (instr !== NO_INSTRUMENT && instr >= this.instruments.count) return this.rejectBare(Reason.unknownInstrument, CommandKind.expireGfd, NO_INSTRUMENT);
    const first = instr === NO_INSTRUMENT ? 0 : instr;
    const last = instr === NO_INSTRUMENT ? this.instruments.count - 1 : instr;
    for (let i = first; i <= last; i++) {
      this.sweep(this.instruments.bids[i]!, SWEEP_TIF, Tif.gfd, OrderStatus.expired, Reason.endOfDay);
      this.sweep(this.instruments.asks[i]!, SWEEP_TIF, Tif.gfd, OrderStatus.expired, Reason.endOfDay);
    }
    if (instr === NO_INSTRUMENT) this.startDayIds();
  }

  /**
   * Ends the trading day: forgets the ids of finished orders (live orders keep theirs),
   * notes the seq the next day starts at and emits `dayEnded`.
   */
  private startDayIds(): void {
    this.dayFromSeq = this.out.seq + 1;
    this.out.dayEnded();
    const orders = this.orders;
    this.orderIds.retain((v) => v !== FINISHED, (v, e) => { orders.setIdEntry(v, e); });
  }

  private defineInstrument(cmd: CommandView): void {
    const symLen = cmd.symbolLen;
    const ok = symLen >= 3 && symLen <= MAX_SYMBOL_BYTES && cmd.symbolOffset + symLen <= cmd.offset + cmd.size && cmd.instrumentParamsSafe;
    if (!ok) return this.rejectBare(Reason.invalidInstrument, CommandKind.defineInstrument, NO_INSTRUMENT);
    const symbol = cmd.symbol();
    const spec = {
      symbol,
      tickSize: cmd.tickSize,
      lotSize: cmd.lotSize,
      minQty: cmd.minQty,
      maxQty: cmd.maxQty,
      priceLow: cmd.priceLow,
      priceHigh: cmd.priceHigh,
      state: cmd.state,
    };
    const money = {
      currency: cmd.currency,
      flags: cmd.instrumentFlags,
      multiplier: cmd.multiplier,
      marginPerLot: cmd.marginPerLot,
      marginRateBp: cmd.marginRateBp,
      commissionPerLot: cmd.commissionPerLot,
      commissionRateBp: cmd.commissionRateBp,
      positionLimit: cmd.positionLimit,
    };
    const existing = this.instruments.indexOf(symbol);
    const where = existing >= 0 ? existing : NO_INSTRUMENT;
    if (!validInstrument(spec) || !cmd.moneyParamsSafe || !validMoney(spec, money)) return this.rejectBare(Reason.invalidInstrument, CommandKind.defineInstrument, where);
    // Positions are valued in the instrument's multiplier and currency: those never change.
    if (existing >= 0 && (this.accounts.isMoney(existing) || money.multiplier > 0)) {
      const was = this.accounts.moneyParamsOf(existing);
      if (was.multiplier !== money.multiplier || was.currency !== money.currency || was.flags !== money.flags) {
        return this.rejectBare(Reason.invalidInstrument, CommandKind.defineInstrument, where);
      }
    }
    if (existing < 0 && this.instruments.count >= this.instruments.max) return this.rejectBare(Reason.capacity, CommandKind.defineInstrument, NO_INSTRUMENT);
    const i = this.instruments.define(spec);
    if (this.accounts.defineInstrument(i, money, spec.priceHigh)) {
      // A position limit set or changed: the pending lots it counts start again from the book.
      this.addBookPending(this.instruments.bids[i]!, i);
      this.addBookPending(this.instruments.asks[i]!, i);
    }
    this.out.instrument(i, cmd.u8, cmd.offset, cmd.size);
  }

  /** Adds the working opening orders on `side` of instrument i to their positions' pending lots. */
  private addBookPending(side: BookSide, i: number): void {
    const orders = this.orders;
    for (let k = 0; k < side.size; k++) {
      for (let o = this.levels.head[side.levels[k]!]!; o !== NIL; o = orders.next(o)) {
        if (isOpen(orders.offset(o))) this.accounts.addPending(orders.account(o), i, orders.side(o), orders.left(o));
      }
    }
  }

  // -------------------------------------------------------------------------------------
  // Money: transfers, mark to market, daily settlement

  /** The transfer's account id is present and inside the record; its amount a positive safe integer. */
  private transferReason(cmd: CommandView): number {
    const a = cmd.accountLen;
    if (a < 1 || a > MAX_ACCOUNT_ID_BYTES || cmd.accountOffset + a > cmd.offset + cmd.size || cmd.currency === 0) return Reason.invalidField;
    if (!cmd.amountSafe || cmd.amount <= 0) return Reason.invalidAmount;
    return Reason.none;
  }

  private deposit(cmd: CommandView): void {
    const r = this.transferReason(cmd);
    if (r === Reason.invalidField) return this.rejectBare(r, CommandKind.deposit, NO_INSTRUMENT);
    let account = this.findAccount(cmd);
    if (r !== Reason.none) return this.reject(r, cmd, NO_INSTRUMENT, account, 0);
    if (account < 0) {
      if (this.accountIds.full) return this.reject(Reason.capacity, cmd, NO_INSTRUMENT, account, 0);
      account = this.addAccount(cmd);
    }
    this.accounts.deposit(account, cmd.currency, cmd.amount);
    this.out.transfer(1, cmd.currency, account, cmd.amount, cmd.u8, cmd.accountOffset, cmd.accountLen);
  }

  private withdraw(cmd: CommandView): void {
    let r = this.transferReason(cmd);
    if (r === Reason.invalidField) return this.rejectBare(r, CommandKind.withdraw, NO_INSTRUMENT);
    const account = this.findAccount(cmd);
    if (r === Reason.none) r = this.accounts.withdraw(account, cmd.currency, cmd.amount);
    if (r !== Reason.none) return this.reject(r, cmd, NO_INSTRUMENT, account, 0);
    this.out.transfer(2, cmd.currency, account, cmd.amount, cmd.u8, cmd.accountOffset, cmd.accountLen);
  }

  /** Marks one instrument, or all (NO_INSTRUMENT), to its last trade price. */
  private mark(cmd: CommandView): void {
    const instr = cmd.instrument;
    if (instr !== NO_INSTRUMENT && instr >= this.instruments.count) return this.rejectBare(Reason.unknownInstrument, CommandKind.mark, NO_INSTRUMENT);
    const first = instr === NO_INSTRUMENT ? 0 : instr;
    const last = instr === NO_INSTRUMENT ? this.instruments.count - 1 : instr;
    for (let i = first; i <= last; i++) if (this.accounts.isMoney(i)) this.accounts.mark(i);
  }

  /**
   * Daily settlement: every instrument marked at its last price (the settlement price),
   * good-for-day orders expired, close-today orders on close-today-distinct instruments
   * expired (their lots become earlier lots), positions and balances rolled, and the
   * trading day ended.
   */
  private settle(): void {
    const count = this.instruments.count;
    for (let i = 0; i < count; i++) if (this.accounts.isMoney(i)) this.accounts.mark(i);
    for (let i = 0; i < count; i++) {
      this.sweep(this.instruments.bids[i]!, SWEEP_TIF, Tif.gfd, OrderStatus.expired, Reason.endOfDay);
      this.sweep(this.instruments.asks[i]!, SWEEP_TIF, Tif.gfd, OrderStatus.expired, Reason.endOfDay);
      if (this.accounts.isMoney(i) && (this.accounts.moneyParamsOf(i).flags & InstrumentFlag.closeTodayDistinct) !== 0) {
        this.sweep(this.instruments.bids[i]!, SWEEP_OFFSET, Offset.closeToday, OrderStatus.expired, Reason.endOfDay);
        this.sweep(this.instruments.asks[i]!, SWEEP_OFFSET, Offset.closeToday, OrderStatus.expired, Reason.endOfDay);
      }
    }
    this.accounts.settle(count);
    this.startDayIds();
  }


  // -------------------------------------------------------------------------------------
  // Ids and rejections

  /** Account and order id lengths are in range and the bytes lie inside the record. */
  private idsValid(cmd: CommandView): boolean {
    const a = cmd.accountLen;
    const o = cmd.orderIdLen;
    return a >= 1 && a <= MAX_ACCOUNT_ID_BYTES && o >= 1 && o <= MAX_ORDER_ID_BYTES && cmd.accountOffset + a + o <= cmd.offset + cmd.size;
  }

  private findAccount(cmd: CommandView): number {
    const e = this.accountIds.find(ACCOUNT_TAG, cmd.dv, cmd.accountOffset, cmd.accountLen);
    return e < 0 ? -1 : this.accountIds.value(e);
  }

  private addAccount(cmd: CommandView): number {
    const a = this.accountCount++;
    this.accountIds.insert(ACCOUNT_TAG, cmd.dv, cmd.accountOffset, cmd.accountLen, a);
    if (a === this.acctHead.length) {
      const next = growI32(this.acctHead, a * 2);
      next.fill(NIL, a);
      this.acctHead = next;
    }
    this.acctHead[a] = NIL;
    // Once per account, never per command: the name is for tools and queries.
    this.accountNames.push(cmd.accountId());
    return a;
  }

  /** Rejects an order command whose ids are valid: the event echoes them. */
  private reject(reason: number, cmd: CommandView, instr: number, account: number, orderNo: number): void {
    const kind = cmd.kind;
    const hasPriceQty = kind === CommandKind.newOrder || kind === CommandKind.amend;
    this.out.rejected(
      instr, reason, kind, kind === CommandKind.newOrder ? cmd.side : 0, orderNo, account < 0 ? NO_ACCOUNT : account,
      hasPriceQty && cmd.priceSafe ? cmd.price : 0, hasPriceQty && cmd.qtySafe ? cmd.qty : 0,
      cmd.u8, cmd.accountOffset, cmd.accountLen, cmd.orderIdOffset, cmd.orderIdLen,
      kind === CommandKind.newOrder ? cmd.orderType : 0, kind === CommandKind.newOrder ? cmd.tif : 0, kind === CommandKind.newOrder ? cmd.orderOffset : 0,
    );
  }

  /** Rejects a command without echoing ids (they are absent or not to be trusted). */
  private rejectBare(reason: number, kind: number, instr: number): void {
    this.out.rejected(instr, reason, kind, 0, 0, NO_ACCOUNT, 0, 0, this.cmd.u8, 0, 0, 0, 0);
  }

  // -------------------------------------------------------------------------------------
  // Queries (edge code, tests, tools: they allocate)

  /** The account index of an account id, or -1 if the engine has not seen it. */
  accountIndex(name: string): number {
    return this.accountNames.indexOf(name);
  }

  /** The account id of an account index. */
  accountName(account: number): string {
    const name = this.accountNames[account];
    assert(name !== undefined, "no such account");
    return name;
  }

  /**
   * Every resting order, for an edge that starts from the engine's state (the gateway):
   * its account and client ids, side, type, tif, offset, price, what is left and filled.
   */
  liveOrders(): Array<{ instrument: number; account: string; accountIndex: number; orderId: string; orderNo: number; side: number; type: number; tif: number; offset: number; price: number; left: number; filled: number }> {
    const out = [];
    const orders = this.orders;
    const dec = new TextDecoder();
    for (let a = 0; a < this.accountCount; a++) {
      for (let o = this.acctHead[a]!; o !== NIL; o = orders.acctNext(o)) {
        const l = orders.level(o);
        out.push({
          instrument: this.levels.instrument[l]!, account: this.accountNames[a]!, accountIndex: a, orderId: dec.decode(this.orderIds.keyBytes(orders.idEntry(o))),
          orderNo: orders.orderNo(o), side: orders.side(o), type: orders.orderType(o), tif: orders.tif(o), offset: orders.offset(o),
          price: this.levels.price[l]!, left: orders.left(o), filled: orders.filled(o),
        });
      }
    }
    return out.sort((x, y) => x.orderNo - y.orderNo);
  }

  /** Account ids by account index (a copy). */
  accountNameList(): string[] {
    return this.accountNames.slice();
  }

  instrumentIndex(symbol: string): number {
    return this.instruments.indexOf(symbol);
  }

  /** Aggregated levels of one side, best first: [price, qty, orderCount]. */
  depth(instr: number, side: Side, maxLevels = Infinity): Array<[number, number, number]> {
    const bs = side === Side.buy ? this.instruments.bids[instr]! : this.instruments.asks[instr]!;
    const out: Array<[number, number, number]> = [];
    for (let i = bs.size - 1; i >= 0 && out.length < maxLevels; i--) {
      const l = bs.levels[i]!;
      out.push([this.levels.price[l]!, this.levels.qty[l]!, this.levels.count[l]!]);
    }
    return out;
  }

  /** Resting orders of one side in priority order: [orderNo, account, price, left]. */
  queue(instr: number, side: Side): Array<[number, number, number, number]> {
    const bs = side === Side.buy ? this.instruments.bids[instr]! : this.instruments.asks[instr]!;
    const out: Array<[number, number, number, number]> = [];
    for (let i = bs.size - 1; i >= 0; i--) {
      const l = bs.levels[i]!;
      for (let o = this.levels.head[l]!; o !== NIL; o = this.orders.next(o)) {
        out.push([this.orders.orderNo(o), this.orders.account(o), this.levels.price[l]!, this.orders.left(o)]);
      }
    }
    return out;
  }

  /**
   * Checks every structural invariant; throws AssertionError on the first broken one.
   * For tests and `venue verify`: it walks the whole state.
   */
  checkInvariants(): void {
    let liveOrders = 0;
    let liveLevels = 0;
    for (let i = 0; i < this.instruments.count; i++) {
      for (const bs of [this.instruments.bids[i]!, this.instruments.asks[i]!]) {
        for (let k = 0; k < bs.size; k++) {
          const l = bs.levels[k]!;
          liveLevels++;
          if (k > 0) assert(bs.keys[k - 1]! < bs.keys[k]!, "book side out of order");
          assert(bs.keys[k] === bs.sign * this.levels.price[l]!, "level key does not match its price");
          let qty = 0;
          let count = 0;
          let prev = NIL;
          for (let o = this.levels.head[l]!; o !== NIL; o = this.orders.next(o)) {
            assert(this.orders.level(o) === l && this.orders.prev(o) === prev, "order links broken");
            assert(this.orders.left(o) > 0, "resting order with nothing left");
            qty += this.orders.left(o);
            count++;
            prev = o;
          }
          assert(this.levels.tail[l] === prev, "level tail broken");
          assert(count > 0 && count === this.levels.count[l] && qty === this.levels.qty[l], "level aggregate wrong");
          liveOrders += count;
        }
      }
      const bid = this.instruments.bids[i]!.best();
      const ask = this.instruments.asks[i]!.best();
      if (bid !== NIL && ask !== NIL) assert(this.levels.price[bid]! < this.levels.price[ask]!, "book crossed");
    }
    assert(liveOrders === this.orders.live, "live order count wrong");
    assert(liveLevels === this.levels.live, "live level count wrong");
    let inAccounts = 0;
    for (let a = 0; a < this.accountCount; a++) {
      for (let o = this.acctHead[a]!; o !== NIL; o = this.orders.acctNext(o)) {
        assert(this.orders.account(o) === a, "order in the wrong account list");
        inAccounts++;
      }
    }
    assert(inAccounts === liveOrders, "account lists do not hold every live order");
  }
}

/** Money parameters are sane and every money figure of the instrument stays exact in a double. */
function validMoney(s: { priceLow: number; priceHigh: number; maxQty: number }, m: { currency: number; multiplier: number; marginPerLot: number; marginRateBp: number; commissionPerLot: number; commissionRateBp: number; positionLimit: number }): boolean {
  if (m.multiplier === 0) return m.marginPerLot === 0 && m.commissionPerLot === 0 && m.marginRateBp === 0 && m.commissionRateBp === 0 && m.positionLimit === 0;
  if (m.multiplier < 0 || m.currency === 0 || s.priceLow <= 0) return false;
  if (m.marginPerLot < 0 || m.commissionPerLot < 0 || m.positionLimit < 0 || m.marginRateBp > 100_000 || m.commissionRateBp > 10_000) return false;
  return s.priceHigh * m.multiplier <= NOTIONAL_PER_LOT_MAX && m.marginPerLot <= NOTIONAL_PER_LOT_MAX && m.commissionPerLot <= NOTIONAL_PER_LOT_MAX;
}

function validInstrument(s: { symbol: string; tickSize: number; lotSize: number; minQty: number; maxQty: number; priceLow: number; priceHigh: number; state: number }): boolean {
  if (!SYMBOL_PATTERN.test(s.symbol) || !isTradingState(s.state)) return false;
  if (s.tickSize < 1 || s.lotSize < 1 || s.minQty < 1 || s.maxQty < s.minQty || s.priceLow > s.priceHigh) return false;
  // Notional (price × quantity) must stay exact in a double.
  const maxAbsPrice = Math.max(Math.abs(s.priceLow), Math.abs(s.priceHigh));
  return maxAbsPrice * s.maxQty <= Number.MAX_SAFE_INTEGER;
}
