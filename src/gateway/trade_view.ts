/**
 * The trade side of DIFF, built from engine events: for each account, the tree that a
 * client sees under `trade.<account>` (accounts, positions, orders, trades, transfers),
 * plus the notifies each command brings. Events are fed in order; `endCommand()` closes
 * one command's transaction and returns, per account it touched, one merge patch and its
 * notifies, so a client's state is consistent after each.
 *
 * Units: engine integers become DIFF numbers through the instrument (prices) and
 * MONEY_DECS (money). Orders are keyed by the client's order id, trades by
 * `<order id>|<trade number>`.
 *
 * Bounds: finished orders and trades kept per account are capped, and so are all of them
 * together over the node (oldest dropped first, from the view only: the event store keeps
 * every event).
 */

import { EventKind, type EventView, ACCOUNT_FIELD, POSITION_FIELD, NO_ACCOUNT } from "../schema/event.ts";
import { CommandKind } from "../schema/command.ts";
import { Offset, OrderStatus, OrderType, Reason, Side, Tif, currencyText, nameOf } from "../schema/codes.ts";
import { diffMoney, diffPrice, type InstrumentInfo } from "../catalog/instrument.ts";
import { applyPatch, obj, record, type Json, type JsonObject } from "./patch.ts";
import { TradingCalendar } from "../market/calendar.ts";
import { settlementStatement } from "./statement.ts";

export interface Notify {
  level: "INFO" | "WARNING" | "ERROR";
  code: number;
  content: string;
}

export interface AccountChange {
  patch: JsonObject;
  notifies: Notify[];
}

interface OrderRef {
  account: string;
  orderId: string;
  symbol: string;
  side: number;
  offset: number;
}

export interface TradeViewOptions {
  /** Finished orders kept per account (default 10,000). */
  maxFinishedOrders?: number;
  /** Trades kept per account (default 20,000). */
  maxTrades?: number;
  /**
   * Finished orders and trades kept over all accounts together (default 500,000): past it
   * the oldest go, whichever account holds them, so the view's memory is bounded per node
   * and not only per account.
   */
  maxRecords?: number;
  /** The trading day shown in `session` and `trading_day` (YYYYMMDD). */
  tradingDay: string;
  /** Holidays (YYYYMMDD): after a settlement the day moves to the next weekday that is not one. */
  holidays?: readonly string[];
}

const DIRECTION = ["", "BUY", "SELL"];
/** The sections `keep` counts, by index. */
const SECTION_ORDERS = 0;
const SECTION_TRADES = 1;
const SECTIONS = ["orders", "trades"];
/** DIFF offsets by engine Offset code. */
export const OFFSET = ["OPEN", "OPEN", "CLOSE", "CLOSETODAY"];

/** Why an order was rejected or ended, as DIFF's last_msg and notify code. */
export function reasonText(reason: number): string {
  switch (reason) {
    case Reason.insufficientFunds: return "insufficient funds";
    case Reason.insufficientPosition: return "close volume exceeds the closable position";
    case Reason.positionLimit: return "position limit reached";
    case Reason.riskLimit: return "risk ratio too high to open";
    case Reason.priceOffTick: return "price not a multiple of the tick";
    case Reason.priceOutOfBand: return "price outside the limits";
    case Reason.unknownInstrument: return "unknown instrument";
    case Reason.instrumentHalted: return "instrument halted";
    case Reason.cancelOnly: return "instrument accepts cancels only";
    case Reason.duplicateOrderId: return "duplicate order id";
    case Reason.unknownOrder: return "order not found";
    case Reason.orderNotLive: return "order not alive";
    case Reason.qtyBelowMin: return "volume below the minimum";
    case Reason.qtyAboveMax: return "volume above the maximum";
    case Reason.postOnlyWouldCross: return "post-only order would trade";
    case Reason.invalidAmount: return "invalid amount";
    default: return nameOf(Reason, reason).replace(/([A-Z])/g, " $1").toLowerCase();
  }
}

/** DIFF (OTG sim) notify codes for engine rejections of orders. */
function rejectCode(reason: number): number {
  switch (reason) {
    case Reason.insufficientFunds: case Reason.riskLimit: return 413;
    case Reason.insufficientPosition: return 416;
    case Reason.priceOffTick: return 412;
    case Reason.priceOutOfBand: return 404;
    case Reason.unknownInstrument: return 409;
    case Reason.duplicateOrderId: return 407;
    case Reason.qtyInvalid: case Reason.qtyBelowMin: case Reason.qtyAboveMax: return 411;
    default: return 1001;
  }
}

/** ns since the epoch as a JSON number: microsecond resolution, which a double prints exactly. */
export function nsNumber(ns: bigint): number {
  return Number(ns / 1000n) * 1000;
}

/** A resting order as the engine reports it at start (Engine.liveOrders, plus the account index). */
export interface LiveOrder {
  instrument: number;
  account: string;
  accountIndex: number;
  orderId: string;
  orderNo: number;
  side: number;
  type: number;
  tif: number;
  offset: number;
  price: number;
  left: number;
  filled: number;
}

interface AccountTree {
  tree: JsonObject;
  finished: IdQueue;
  trades: IdQueue;
}

/**
 * Ids in the order they came, oldest dropped first. Dropping moves a head index, and the
 * array is compacted only once the dropped part is as long as the rest: O(1) amortised per
 * id, where `splice(0, n)` moved every kept id each time (a profile of the gateway worker
 * at the caps put 9% of its time there).
 */
class IdQueue {
  private ids: string[] = [];
  private head = 0;

  get length(): number {
    return this.ids.length - this.head;
  }

  push(id: string): void {
    this.ids.push(id);
  }

  /** Removes and returns the oldest ids past the newest `keep`. */
  dropOldest(keep: number): string[] {
    const n = this.length - keep;
    if (n <= 0) return [];
    const gone = this.ids.slice(this.head, this.head + n);
    this.head += n;
    if (this.head >= 1024 && this.head >= this.ids.length - this.head) {
      this.ids = this.ids.slice(this.head);
      this.head = 0;
    }
    return gone;
  }

  clear(): void {
    this.ids = [];
    this.head = 0;
  }
}

export class TradeView {
  /** Account id by engine account index. */
  private readonly names: string[] = [];
  private readonly accounts = new Map<string, AccountTree>();
  private readonly orders = new Map<number, OrderRef>();
  /** Alive orders by account and client id ("<account> <order id>"; ids have no spaces). */
  private readonly byClientId = new Map<string, OrderRef>();
  private readonly maxFinished: number;
  private readonly maxTrades: number;
  private readonly maxRecords: number;
  /** Finished orders and trades in the trees (transfers are not counted). */
  private kept = 0;
  /**
   * Every finished order and trade in the order they came, over all accounts: account name,
   * section and id at the same index, from `keptHead` on. Entries whose record an account's
   * own cap or a new day already removed stay until the queue is compacted.
   */
  private keptNames: string[] = [];
  private keptSections: number[] = [];
  private keptIds: string[] = [];
  private keptHead = 0;
  private seqno = 0;
  tradingDay: string;
  /** The command being read ends the trading day. */
  private dayEnding = false;
  /** The trading day that command ends. */
  private endingDay = "";
  /**
   * Called with each account's settlement statement as a trading day ends (the day,
   * YYYYMMDD, and the text `settlementStatement` makes of the account's tree as it stood
   * before the settlement's changes).
   */
  onStatement: ((account: string, tradingDay: number, text: string) => void) | undefined;
  /** The days that trade: a settlement moves `tradingDay` to the next of them. */
  readonly calendar: TradingCalendar;
  // The command being read: per account, its patch and notifies.
  private readonly open = new Map<string, AccountChange>();

  constructor(
    private readonly instrument: (index: number) => InstrumentInfo | undefined,
    o: TradeViewOptions,
  ) {
    this.maxFinished = o.maxFinishedOrders ?? 10_000;
    this.maxTrades = o.maxTrades ?? 20_000;
    this.maxRecords = o.maxRecords ?? 500_000;
    this.tradingDay = o.tradingDay;
    this.calendar = new TradingCalendar(o.holidays ?? []);
  }

  /** Finished orders and trades in all the trees together (what `maxRecords` bounds). */
  get records(): number {
    return this.kept;
  }

  /** Learns an account's index (from the engine's state at start). */
  nameAccount(index: number, name: string): void {
    this.names[index] = name;
  }

  /** A resting order of the engine's state at start (no notify): ALIVE in its account's tree. */
  seedOrder(o: LiveOrder): void {
    this.names[o.accountIndex] = o.account;
    const info = this.instrument(o.instrument);
    this.track(o.orderNo, { account: o.account, orderId: o.orderId, symbol: info?.symbol ?? `#${o.instrument}`, side: o.side, offset: o.offset });
    const t = record();
    t["user_id"] = o.account;
    t["order_id"] = o.orderId;
    t["exchange_id"] = info?.exchangeId ?? "";
    t["instrument_id"] = info?.insId ?? "";
    t["direction"] = DIRECTION[o.side] ?? "";
    t["offset"] = OFFSET[o.offset] ?? "OPEN";
    t["volume_orign"] = o.left + o.filled;
    t["volume_left"] = o.left;
    t["price_type"] = o.type === OrderType.market ? "ANY" : "LIMIT";
    t["limit_price"] = info === undefined ? 0 : diffPrice(info, o.price);
    t["volume_condition"] = "ANY";
    t["time_condition"] = o.tif === Tif.gfd ? "GFD" : "GTC";
    t["insert_date_time"] = 0;
    t["exchange_order_id"] = String(o.orderNo);
    t["status"] = "ALIVE";
    t["last_msg"] = "order accepted";
    t["seqno"] = ++this.seqno;
    (this.tree(o.account).tree["orders"] as JsonObject)[o.orderId] = t;
  }

  /** The full `trade.<account>` tree for a new session (a copy is made by the caller's serialiser). */
  snapshot(account: string): JsonObject {
    const t = this.tree(account).tree;
    const out = obj();
    for (const k of Object.keys(t)) out[k] = t[k]!;
    out["user_id"] = account;
    out["trading_day"] = this.tradingDay;
    const session = obj();
    session["user_id"] = account;
    session["trading_day"] = this.tradingDay;
    out["session"] = session;
    out["trade_more_data"] = false;
    return out;
  }

  /** Whether the view knows an order id of an account (alive or finished, or rejected at the edge). */
  hasOrder(account: string, orderId: string): boolean {
    const orders = this.accounts.get(account)?.tree["orders"] as JsonObject | undefined;
    return orders !== undefined && orderId in orders;
  }

  /** The symbol of an alive order, if the view knows it. */
  symbolOf(account: string, orderId: string): string | undefined {
    return this.byClientId.get(`${account} ${orderId}`)?.symbol;
  }

  /** Whether an order of an account is ALIVE. */
  isAlive(account: string, orderId: string): boolean {
    const orders = this.accounts.get(account)?.tree["orders"] as JsonObject | undefined;
    const o = orders?.[orderId] as JsonObject | undefined;
    return o?.["status"] === "ALIVE";
  }

  /** One event of the command being read. */
  onEvent(e: EventView): void {
    switch (e.kind) {
      case EventKind.accepted: return this.accepted(e);
      case EventKind.rejected: return this.rejected(e);
      case EventKind.updated: return this.updated(e);
      case EventKind.trade: return this.trade(e);
      case EventKind.account: return this.account(e);
      case EventKind.position: return this.position(e);
      case EventKind.transfer: return this.transfer(e);
      case EventKind.dayEnded: {
        // Every account's tree rolls at the end of this command (endCommand).
        this.dayEnding = true;
        this.endingDay = this.tradingDay;
        this.tradingDay = this.calendar.next(this.tradingDay);
        for (const name of this.accounts.keys()) this.change(name);
        return;
      }
      case EventKind.riskBreach: {
        const name = this.names[e.moneyAccount];
        if (name !== undefined) this.change(name).notifies.push({ level: "WARNING", code: 1002, content: `risk ratio reached the liquidation threshold: working orders cancelled` });
        return;
      }
      default:
    }
  }

  /** Ends the command: the patches (`{trade: {<account>: ...}}`) and notifies per account, applied to the view. */
  endCommand(): Map<string, AccountChange> {
    const out = new Map(this.open);
    this.open.clear();
    for (const [name, c] of out) {
      const acct = this.tree(name);
      const inner = c.patch;
      if (this.dayEnding && this.onStatement !== undefined) this.onStatement(name, Number(this.endingDay), settlementStatement(name, Number(this.endingDay), acct.tree));
      applyPatch(acct.tree, inner);
      this.trim(acct, inner);
      if (this.dayEnding) this.rollDay(acct, inner, c.notifies);
    }
    this.trimNode(out);
    for (const [name, c] of out) {
      const inner = c.patch;
      const wrapped = obj();
      const trade = obj();
      trade[name] = inner;
      wrapped["trade"] = trade;
      c.patch = wrapped;
    }
    this.dayEnding = false;
    return out;
  }

  /**
   * A new trading day for one account: its finished orders, trades and transfers leave the
   * tree (alive orders stay, as they do in the engine), by null patches after the command's
   * own changes, and the tree shows the new trading day.
   */
  private rollDay(acct: AccountTree, patch: JsonObject, notifies: Notify[]): void {
    const orders = acct.tree["orders"] as JsonObject;
    for (const id of Object.keys(orders)) {
      if ((orders[id] as JsonObject)["status"] === "ALIVE") continue;
      delete orders[id];
      this.kept--;
      this.section(patch, "orders")[id] = null as Json;
    }
    for (const section of ["trades", "transfers"]) {
      const s = acct.tree[section] as JsonObject;
      for (const id of Object.keys(s)) {
        delete s[id];
        if (section === "trades") this.kept--;
        this.section(patch, section)[id] = null as Json;
      }
    }
    acct.finished.clear();
    acct.trades.clear();
    patch["trading_day"] = this.tradingDay;
    const session = obj();
    session["trading_day"] = this.tradingDay;
    patch["session"] = session;
    notifies.push({ level: "INFO", code: 423, content: `trading day ${this.tradingDay} begins` });
  }

  /**
   * An order rejected at the edge, before the engine (unknown instrument, bad field): it
   * exists from now on as FINISHED, as DIFF clients expect. Returns its change.
   */
  rejectAtEdge(account: string, orderId: string, fields: JsonObject, message: string, code: number, nowNs: bigint): AccountChange {
    const o = record();
    for (const k of Object.keys(fields)) o[k] = fields[k]!;
    o["user_id"] = account;
    o["order_id"] = orderId;
    o["status"] = "FINISHED";
    o["exchange_order_id"] = "";
    o["volume_left"] = fields["volume_orign"] ?? 0;
    o["insert_date_time"] = nsNumber(nowNs);
    o["last_msg"] = message;
    o["seqno"] = ++this.seqno;
    this.section(this.change(account).patch, "orders")[orderId] = o;
    this.change(account).notifies.push({ level: "WARNING", code, content: `order ${orderId} rejected: ${message}` });
    this.acctFinished(account, orderId);
    return this.endCommand().get(account)!;
  }

  private tree(name: string): AccountTree {
    let a = this.accounts.get(name);
    if (a === undefined) {
      const tree = obj();
      for (const s of ["accounts", "positions", "orders", "trades", "banks", "transfers"]) tree[s] = obj();
      a = { tree, finished: new IdQueue(), trades: new IdQueue() };
      this.accounts.set(name, a);
    }
    return a;
  }

  private change(name: string): AccountChange {
    let c = this.open.get(name);
    if (c === undefined) {
      c = { patch: obj(), notifies: [] };
      this.open.set(name, c);
    }
    return c;
  }

  private section(patch: JsonObject, name: string): JsonObject {
    let s = patch[name] as JsonObject | undefined;
    if (s === undefined) patch[name] = s = obj();
    return s;
  }

  private orderPatch(name: string, orderId: string): JsonObject {
    const orders = this.section(this.change(name).patch, "orders");
    let o = orders[orderId] as JsonObject | undefined;
    if (o === undefined) orders[orderId] = o = record();
    return o;
  }

  private accepted(e: EventView): void {
    const name = e.accountId();
    const orderId = e.orderId();
    this.names[e.account] = name;
    const info = this.instrument(e.instrument);
    const symbol = info?.symbol ?? `#${e.instrument}`;
    this.track(e.orderNo, { account: name, orderId, symbol, side: e.side, offset: e.orderOffset });
    const o = this.orderPatch(name, orderId);
    o["user_id"] = name;
    o["order_id"] = orderId;
    o["exchange_id"] = info?.exchangeId ?? "";
    o["instrument_id"] = info?.insId ?? symbol;
    o["direction"] = DIRECTION[e.side] ?? "";
    o["offset"] = OFFSET[e.orderOffset] ?? "OPEN";
    o["volume_orign"] = e.qty;
    o["volume_left"] = e.qty;
    const market = e.orderType === OrderType.market;
    o["price_type"] = market ? "ANY" : "LIMIT";
    o["limit_price"] = market || info === undefined ? 0 : diffPrice(info, e.price);
    o["volume_condition"] = e.tif === Tif.fok ? "ALL" : "ANY";
    o["time_condition"] = e.tif === Tif.ioc || e.tif === Tif.fok ? "IOC" : e.tif === Tif.gfd ? "GFD" : "GTC";
    o["insert_date_time"] = nsNumber(e.timestampNs);
    o["exchange_order_id"] = String(e.orderNo);
    o["status"] = "ALIVE";
    o["last_msg"] = "order accepted";
    o["seqno"] = ++this.seqno;
    this.change(name).notifies.push({ level: "INFO", code: 417, content: `order ${orderId} accepted` });
  }

  private rejected(e: EventView): void {
    const name = e.accountLen > 0 ? e.accountId() : e.account !== NO_ACCOUNT ? this.names[e.account] : undefined;
    if (name === undefined) return;
    const why = reasonText(e.reason);
    const code = rejectCode(e.reason);
    switch (e.commandKind) {
      case CommandKind.newOrder: {
        if (e.reason === Reason.duplicateOrderId) {
          this.change(name).notifies.push({ level: "WARNING", code: 407, content: `order ${e.orderId()} rejected: duplicate order id` });
          return;
        }
        const orderId = e.orderId();
        const info = this.instrument(e.instrument);
        const o = this.orderPatch(name, orderId);
        o["user_id"] = name;
        o["order_id"] = orderId;
        o["exchange_id"] = info?.exchangeId ?? "";
        o["instrument_id"] = info?.insId ?? "";
        o["direction"] = DIRECTION[e.side] ?? "";
        const type = e.rejectedType;
        if (type !== 0) {
          const tif = e.rejectedTif;
          o["offset"] = OFFSET[e.rejectedOffset] ?? "OPEN";
          o["price_type"] = type === OrderType.market ? "ANY" : "LIMIT";
          o["volume_condition"] = tif === Tif.fok ? "ALL" : "ANY";
          o["time_condition"] = tif === Tif.ioc || tif === Tif.fok ? "IOC" : tif === Tif.gfd ? "GFD" : "GTC";
        }
        o["volume_orign"] = e.qty;
        o["volume_left"] = e.qty;
        o["limit_price"] = info === undefined ? 0 : diffPrice(info, e.price);
        o["insert_date_time"] = nsNumber(e.timestampNs);
        o["exchange_order_id"] = "";
        o["status"] = "FINISHED";
        o["last_msg"] = why;
        o["seqno"] = ++this.seqno;
        this.acctFinished(name, orderId);
        this.change(name).notifies.push({ level: "WARNING", code, content: `order ${orderId} rejected: ${why}` });
        return;
      }
      case CommandKind.cancel:
      case CommandKind.amend:
        this.change(name).notifies.push({ level: "WARNING", code: 420, content: `cancel of order ${e.orderIdLen > 0 ? e.orderId() : ""} rejected: ${why}` });
        return;
      case CommandKind.withdraw:
      case CommandKind.deposit: {
        const t = record();
        t["datetime"] = nsNumber(e.timestampNs);
        t["currency"] = "CNY";
        t["amount"] = 0;
        t["error_id"] = 1;
        t["error_msg"] = why;
        this.section(this.change(name).patch, "transfers")[String(e.seq)] = t;
        this.change(name).notifies.push({ level: "WARNING", code: 422, content: `transfer rejected: ${why}` });
        return;
      }
      default:
        this.change(name).notifies.push({ level: "WARNING", code: 1001, content: `command rejected: ${why}` });
    }
  }

  private updated(e: EventView): void {
    const ref = this.orders.get(e.orderNo);
    if (ref === undefined) return;
    const o = this.orderPatch(ref.account, ref.orderId);
    const status = e.status;
    if (status === OrderStatus.amended) {
      const info = this.instrument(e.instrument);
      if (info !== undefined) o["limit_price"] = diffPrice(info, e.price);
      o["volume_orign"] = e.leftQty + e.filledQty;
      o["volume_left"] = e.leftQty;
      o["last_msg"] = "order amended";
    } else if (status === OrderStatus.partiallyFilled) {
      o["volume_left"] = e.leftQty;
      o["last_msg"] = "partially filled";
    } else {
      o["status"] = "FINISHED";
      o["volume_left"] = status === OrderStatus.filled ? 0 : e.leftQty;
      o["last_msg"] = status === OrderStatus.filled ? "filled" : status === OrderStatus.expired ? "expired at the end of the day" : e.reason === Reason.userCancel ? "cancelled" : `cancelled: ${reasonText(e.reason)}`;
      this.orders.delete(e.orderNo);
      this.byClientId.delete(`${ref.account} ${ref.orderId}`);
      this.acctFinished(ref.account, ref.orderId);
      if (status === OrderStatus.cancelled && e.reason === Reason.userCancel) {
        this.change(ref.account).notifies.push({ level: "INFO", code: 419, content: `order ${ref.orderId} cancelled` });
      }
    }
    o["seqno"] = ++this.seqno;
  }

  private trade(e: EventView): void {
    const info = this.instrument(e.instrument);
    const price = info === undefined ? e.price : diffPrice(info, e.price);
    for (const maker of [true, false]) {
      const ref = this.orders.get(maker ? e.makerOrderNo : e.takerOrderNo);
      if (ref === undefined) continue;
      const key = `${ref.orderId}|${e.tradeNo}`;
      const t = record();
      t["user_id"] = ref.account;
      t["trade_id"] = key;
      t["order_id"] = ref.orderId;
      t["exchange_trade_id"] = String(e.tradeNo);
      t["exchange_id"] = info?.exchangeId ?? "";
      t["instrument_id"] = info?.insId ?? ref.symbol;
      t["direction"] = DIRECTION[ref.side] ?? "";
      t["offset"] = OFFSET[ref.offset] ?? "OPEN";
      t["volume"] = e.qty;
      t["price"] = price;
      t["trade_date_time"] = nsNumber(e.timestampNs);
      t["commission"] = diffMoney(maker ? e.makerCommission : e.takerCommission);
      t["seqno"] = ++this.seqno;
      this.section(this.change(ref.account).patch, "trades")[key] = t;
      this.tree(ref.account).trades.push(key);
      this.keep(ref.account, SECTION_TRADES, key);
      this.change(ref.account).notifies.push({ level: "INFO", code: 406, content: `trade ${ref.symbol} ${DIRECTION[ref.side]} ${e.qty} @ ${price}` });
    }
  }

  private account(e: EventView): void {
    const name = this.names[e.moneyAccount];
    if (name === undefined) return;
    const cur = currencyText(e.currency);
    const f = (k: keyof typeof ACCOUNT_FIELD): number => diffMoney(e.figure(ACCOUNT_FIELD[k]));
    const a = record();
    a["user_id"] = name;
    a["currency"] = cur;
    a["pre_balance"] = f("preBalance");
    a["deposit"] = f("deposit");
    a["withdraw"] = f("withdraw");
    a["static_balance"] = f("staticBalance");
    a["close_profit"] = f("closeProfit");
    a["commission"] = f("commission");
    a["premium"] = 0;
    a["position_profit"] = f("positionProfit");
    a["float_profit"] = f("floatProfit");
    a["balance"] = f("balance");
    a["margin"] = f("margin");
    a["frozen_margin"] = f("frozenMargin");
    a["frozen_commission"] = f("frozenCommission");
    a["frozen_premium"] = 0;
    a["available"] = f("available");
    a["risk_ratio"] = e.figure(ACCOUNT_FIELD.riskRatioBp) / 10_000;
    this.section(this.change(name).patch, "accounts")[cur] = a;
  }

  private position(e: EventView): void {
    const name = this.names[e.moneyAccount];
    const info = this.instrument(e.instrument);
    if (name === undefined || info === undefined) return;
    const n = (k: keyof typeof POSITION_FIELD): number => e.figure(POSITION_FIELD[k]);
    const m = (k: keyof typeof POSITION_FIELD): number => diffMoney(n(k));
    const p = record();
    p["user_id"] = name;
    p["exchange_id"] = info.exchangeId;
    p["instrument_id"] = info.insId;
    const lt = n("longToday"), lh = n("longHis"), st = n("shortToday"), sh = n("shortHis");
    p["pos_long_today"] = lt;
    p["pos_long_his"] = lh;
    p["pos_short_today"] = st;
    p["pos_short_his"] = sh;
    p["volume_long_today"] = lt;
    p["volume_long_his"] = lh;
    p["volume_long"] = lt + lh;
    p["volume_short_today"] = st;
    p["volume_short_his"] = sh;
    p["volume_short"] = st + sh;
    p["volume_long_yd"] = lh;
    p["volume_short_yd"] = sh;
    const lft = n("longFrozenToday"), lfh = n("longFrozenHis"), sft = n("shortFrozenToday"), sfh = n("shortFrozenHis");
    p["volume_long_frozen_today"] = lft;
    p["volume_long_frozen_his"] = lfh;
    p["volume_long_frozen"] = lft + lfh;
    p["volume_short_frozen_today"] = sft;
    p["volume_short_frozen_his"] = sfh;
    p["volume_short_frozen"] = sft + sfh;
    const per = (cost: number, lots: number): number => (lots === 0 ? 0 : Number((cost / (lots * info.volumeMultiple)).toFixed(info.priceDecs + 4)));
    p["open_cost_long"] = m("openCostLong");
    p["open_cost_short"] = m("openCostShort");
    p["open_price_long"] = per(m("openCostLong"), lt + lh);
    p["open_price_short"] = per(m("openCostShort"), st + sh);
    p["position_cost_long"] = m("positionCostLong");
    p["position_cost_short"] = m("positionCostShort");
    p["position_price_long"] = per(m("positionCostLong"), lt + lh);
    p["position_price_short"] = per(m("positionCostShort"), st + sh);
    p["last_price"] = diffPrice(info, n("markPrice"));
    p["float_profit_long"] = m("floatProfitLong");
    p["float_profit_short"] = m("floatProfitShort");
    p["float_profit"] = diffMoney(n("floatProfitLong") + n("floatProfitShort"));
    p["position_profit_long"] = m("positionProfitLong");
    p["position_profit_short"] = m("positionProfitShort");
    p["position_profit"] = diffMoney(n("positionProfitLong") + n("positionProfitShort"));
    p["margin_long"] = m("marginLong");
    p["margin_short"] = m("marginShort");
    p["margin"] = diffMoney(n("marginLong") + n("marginShort"));
    this.section(this.change(name).patch, "positions")[info.symbol] = p;
  }

  private transfer(e: EventView): void {
    const name = e.transferAccountId();
    this.names[e.moneyAccount] = name;
    const t = record();
    const deposit = e.direction === 1;
    t["datetime"] = nsNumber(e.timestampNs);
    t["currency"] = currencyText(e.currency);
    t["amount"] = diffMoney(deposit ? e.amount : -e.amount);
    t["error_id"] = 0;
    t["error_msg"] = "";
    this.section(this.change(name).patch, "transfers")[String(e.seq)] = t;
    this.change(name).notifies.push({ level: "INFO", code: 421, content: `${deposit ? "deposit" : "withdrawal"} of ${diffMoney(e.amount)} ${currencyText(e.currency)} done` });
  }

  private track(orderNo: number, ref: OrderRef): void {
    this.orders.set(orderNo, ref);
    this.byClientId.set(`${ref.account} ${ref.orderId}`, ref);
  }

  private acctFinished(name: string, orderId: string): void {
    this.tree(name).finished.push(orderId);
    this.keep(name, SECTION_ORDERS, orderId);
  }

  /** Counts a finished order or a trade that is entering an account's tree, and queues it for `trimNode`. */
  private keep(name: string, section: number, id: string): void {
    this.kept++;
    this.keptNames.push(name);
    this.keptSections.push(section);
    this.keptIds.push(id);
  }

  /** Whether the tree of `name` still holds the finished order or trade `id`. */
  private holds(name: string, section: number, id: string): boolean {
    const r = (this.accounts.get(name)?.tree[SECTIONS[section]!] as JsonObject | undefined)?.[id] as JsonObject | undefined;
    return r !== undefined && (section !== SECTION_ORDERS || r["status"] !== "ALIVE");
  }

  /**
   * Drops the oldest finished orders and trades of any account while the trees hold more
   * than `maxRecords` together, adding each deletion to its account's patch in `out` (an
   * account this command did not touch gets a change of its own).
   */
  private trimNode(out: Map<string, AccountChange>): void {
    while (this.kept > this.maxRecords && this.keptHead < this.keptIds.length) {
      const k = this.keptHead++;
      const name = this.keptNames[k]!;
      const section = this.keptSections[k]!;
      const id = this.keptIds[k]!;
      if (!this.holds(name, section, id)) continue; // gone already (its account's cap, a new day)
      delete (this.tree(name).tree[SECTIONS[section]!] as JsonObject)[id];
      this.kept--;
      let c = out.get(name);
      if (c === undefined) out.set(name, (c = { patch: obj(), notifies: [] }));
      this.section(c.patch, SECTIONS[section]!)[id] = null as Json;
    }
    // Compact once the entries behind the head, or those no tree holds, outnumber the kept ones.
    if (this.keptIds.length - this.keptHead > 2 * this.kept + 4096 || (this.keptHead >= 4096 && this.keptHead >= this.keptIds.length - this.keptHead)) {
      const names: string[] = [];
      const sections: number[] = [];
      const ids: string[] = [];
      for (let k = this.keptHead; k < this.keptIds.length; k++) {
        if (!this.holds(this.keptNames[k]!, this.keptSections[k]!, this.keptIds[k]!)) continue;
        names.push(this.keptNames[k]!);
        sections.push(this.keptSections[k]!);
        ids.push(this.keptIds[k]!);
      }
      this.keptNames = names;
      this.keptSections = sections;
      this.keptIds = ids;
      this.keptHead = 0;
    }
  }

  /** Drops the oldest finished orders and trades past the caps (from the view and, by patch, from clients). */
  private trim(acct: AccountTree, patch: JsonObject): void {
    const drop = (list: IdQueue, max: number, section: string): void => {
      if (list.length <= max) return;
      const tree = acct.tree[section] as JsonObject;
      const gone = list.dropOldest(max);
      const s = this.section(patch, section);
      for (const id of gone) {
        const r = tree[id] as JsonObject | undefined;
        if (r === undefined || (section === "orders" && r["status"] === "ALIVE")) continue; // gone already (the node's cap), or alive
        delete tree[id];
        this.kept--;
        s[id] = null as Json;
      }
    };
    drop(acct.finished, this.maxFinished, "orders");
    drop(acct.trades, this.maxTrades, "trades");
  }
}

export { Side, Offset };
