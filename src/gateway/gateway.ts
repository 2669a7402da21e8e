/**
 * The DIFF gateway's logic, without sockets or threads: sessions, logins, the commands
 * clients send (checked field by field, then written to the engine's inbound ring), and
 * the fan-out of engine changes to the sessions that may see them. The worker
 * (`worker.ts`) feeds it engine events and socket traffic; tests drive it directly.
 *
 * Rules kept here (DIFF.md, TESTING.md §G):
 * - identity comes from the login alone; an order's `user_id` must be the logged-in
 *   account, and an account is reached only by a user the catalog says may use it;
 * - bad input gets a WARNING notify and changes nothing; the connection stays open;
 * - every order a client sends appears under its `order_id`, even when refused here;
 * - one engine command's changes reach a client in one rtn_data.
 */

import { currencyCode, Offset, OrderType, Side, Tif } from "../schema/codes.ts";
import { CommandKind, MAX_ORDER_ID_BYTES, MAX_ACCOUNT_ID_BYTES } from "../schema/command.ts";
import { enginePrice, engineMoney, type InstrumentInfo } from "../catalog/instrument.ts";
import { isTradingDay } from "../catalog/catalog.ts";
import { EventKind, type EventView } from "../schema/event.ts";
import { clone, isObject, obj, unsafeShape, type Json, type JsonObject } from "./patch.ts";
import { TradeView, type AccountChange, type LiveOrder } from "./trade_view.ts";
import { DEFAULT_SESSION_LIMITS, Session, TokenBucket, type Chart, type Peer, type Role, type SessionLimits } from "./session.ts";
import type { ChartWindow, L2BookSnapshot, L2Change } from "../market/diff_market.ts";

export interface LoginResult {
  user: string;
  account: string;
  roles: readonly Role[];
}

/** Where settlement statements are kept (the catalog, in the gateway worker). */
export interface StatementStore {
  put(account: string, tradingDay: number, text: string): Promise<void>;
  get(account: string, tradingDay: number): string | undefined;
}

export interface GatewayAuth {
  /**
   * Checks a login (user name or `user.unit` account, and the user's password); resolves
   * undefined when refused. Takes about the same time for unknown users.
   */
  login(userName: string, password: string, remote: string): Promise<LoginResult | { refused: string }>;
  /**
   * Changes `user`'s password after checking the old one as a login does (the same
   * back-off after failures); resolves with the refusal text when refused.
   */
  changePassword(user: string, oldPassword: string, newPassword: string, remote: string): Promise<{ ok: true } | { refused: string }>;
}

/** Where the gateway's commands go: the engine's inbound ring for this gateway. */
export interface CommandSink {
  newOrder(f: { instrument: number; account: string; orderId: string; side: number; orderType: number; tif: number; offset: number; price: number; qty: number }): void;
  cancel(f: { instrument: number; account: string; orderId: string }): void;
  transfer(kind: typeof CommandKind.deposit | typeof CommandKind.withdraw, account: string, currency: number, amount: number): void;
  /** Publishes what was written. */
  flush(): void;
  /**
   * The way into the engine is backed up (its queue nearly full: a slow disk holds the
   * loop): new orders are refused rather than waited for.
   */
  busy(): boolean;
  /** Backed up further still: even cancels, which have the room `busy` leaves, are refused. */
  full(): boolean;
}

/** The market side a session reads (see src/market). */
export interface MarketFeed {
  /** The full DIFF quote of a symbol (static and dynamic fields), a copy, or undefined if unknown. */
  quote(symbol: string): JsonObject | undefined;
  /**
   * Opens a chart: `done` gets the patch that opens it (`klines.<symbol>.<duration>`, or
   * `ticks.<symbol>` for duration 0, with the window's rows and `last_id`) and the window's
   * ids, or undefined if the symbol is unknown or the duration not supported. The series'
   * changes come through `seriesChanged` from then on, until `unwatch`.
   */
  chart(symbol: string, duration: number, viewWidth: number, done: (window: ChartWindow | undefined) => void): void;
  /** No chart shows the series any more. */
  unwatch(symbol: string, duration: number): void;
  /** The whole L2 book of a symbol now (undefined if unknown); its updates come through `l2Changed` from then on, until `l2Unwatch`. */
  l2(symbol: string, done: (snapshot: L2BookSnapshot | undefined) => void): void;
  l2Unwatch(symbol: string): void;
}

export interface GatewayOptions {
  brokerId: string;
  tradingDay: string;
  /** Holidays (YYYYMMDD): a settlement moves the trading day to the next weekday that is not one. */
  holidays: readonly string[];
  /** Clients may deposit and withdraw for their own accounts (demo); otherwise admins only. */
  selfTransfers: boolean;
  /** Messages per second per connection (burst: twice that). */
  messagesPerSecond: number;
  /** Orders and cancels per second per account (burst: twice that). */
  ordersPerSecond: number;
  limits: SessionLimits;
  /** Finished orders and trades each account's DIFF tree keeps (oldest dropped first): they bound the worker's memory per account. */
  maxFinishedOrders: number;
  maxTrades: number;
  /** Finished orders and trades all the trees keep together (oldest dropped first, any account): the bound per node. */
  maxTreeRecords: number;
}

export const DEFAULT_GATEWAY_OPTIONS: GatewayOptions = {
  brokerId: "VENUE",
  tradingDay: "19700101",
  holidays: [],
  selfTransfers: false,
  messagesPerSecond: 200,
  ordersPerSecond: 100,
  limits: DEFAULT_SESSION_LIMITS,
  maxFinishedOrders: 10_000,
  maxTrades: 20_000,
  maxTreeRecords: 500_000,
};

const ID_PATTERN = /^[^=#|;/\s]+$/;
/** A UTF-16 surrogate without its pair: it cannot be encoded, so it would reach the engine as U+FFFD. */
const LONE_SURROGATE = /\p{Cs}/u;
const MAX_INS_LIST = 8192;
/** Instruments one ins_query answers at most. */
const MAX_QUERY_SYMBOLS = 1000;
const MAX_CHARTS = 16;
const MAX_VIEW_WIDTH = 10_000;
const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

export interface GatewayStats {
  connections: number;
  opened: number;
  rejectedInput: number;
  rateLimited: number;
  loginsOk: number;
  loginsRefused: number;
  ordersSent: number;
  /** Orders refused because the way into the engine was backed up. */
  busy: number;
  rtnData: number;
  /** Connections refused before a session existed, by reason (see RefusedReason). */
  refused: Record<RefusedReason, number>;
}

/**
 * Why a connection was refused before it had a session: an unknown path (404), an origin
 * not allowed (403), one address's rate of new connections (429), the node's or one
 * address's connection cap (503), a handshake that
 * did not finish its headers in time (408) or was not valid HTTP (400, 431).
 */
export type RefusedReason = "path" | "origin" | "rate" | "capacity" | "per_ip" | "timeout" | "bad_request";

export class Gateway {
  readonly trade: TradeView;
  readonly sessions = new Set<Session>();
  private readonly byAccount = new Map<string, Set<Session>>();
  private readonly bySymbol = new Map<string, Set<Session>>();
  /** Sessions with a chart on a series ("<symbol> <duration>"). */
  private readonly bySeries = new Map<string, Set<Session>>();
  /** Sessions by L2 book they subscribe to. */
  private readonly byL2 = new Map<string, Set<Session>>();
  /** Orders of an account sent to the engine and not yet accepted or rejected (a duplicate id is refused at once). */
  private readonly inFlight = new Map<string, Set<string>>();
  private readonly touched = new Set<Session>();
  private readonly accountBuckets = new Map<string, TokenBucket>();
  /** Engine instrument index -> instrument, and symbol -> index. */
  private readonly byIndex: Array<InstrumentInfo | undefined> = [];
  private readonly indexOf = new Map<string, number>();
  private nextSession = 0;
  private generatedIds = 0;
  readonly o: GatewayOptions;
  /** Where security-relevant decisions are written (logins, refused authorisations). */
  audit: (line: string) => void = () => {};
  /** Where settlement statements go as each trading day ends, and `qry_settlement_info` reads them; none: the query answers that there is none. */
  statements: StatementStore | undefined;
  /** Statements made and not yet committed to `statements`, by account and day (a day's worth at most). */
  private readonly unstoredStatements = new Map<string, string>();
  readonly stats: GatewayStats = { connections: 0, opened: 0, rejectedInput: 0, rateLimited: 0, loginsOk: 0, loginsRefused: 0, ordersSent: 0, busy: 0, rtnData: 0, refused: { path: 0, origin: 0, rate: 0, capacity: 0, per_ip: 0, timeout: 0, bad_request: 0 } };

  constructor(
    private readonly auth: GatewayAuth,
    private readonly sink: CommandSink,
    private readonly market: MarketFeed,
    /** Instruments by symbol (the catalog). */
    private readonly catalog: (symbol: string) => InstrumentInfo | undefined,
    private readonly clock: { nowMs(): number; nowNs(): bigint },
    options: Partial<GatewayOptions> = {},
  ) {
    this.o = { ...DEFAULT_GATEWAY_OPTIONS, ...options };
    this.trade = new TradeView((i) => this.byIndex[i], { tradingDay: this.o.tradingDay, holidays: this.o.holidays, maxFinishedOrders: this.o.maxFinishedOrders, maxTrades: this.o.maxTrades, maxRecords: this.o.maxTreeRecords });
    this.trade.onStatement = (account, day, text) => {
      const store = this.statements;
      if (store === undefined) return;
      // Served from memory until the catalog's write commits: a client that asks as soon as
      // the day has rolled must not get an empty statement.
      const key = `${account}\u0000${day}`;
      this.unstoredStatements.set(key, text);
      store
        .put(account, day, text)
        .catch((err: unknown) => this.audit(`gateway: the settlement statement of ${account} for ${day} was not kept: ${err instanceof Error ? err.message : String(err)}`))
        .finally(() => {
          if (this.unstoredStatements.get(key) === text) this.unstoredStatements.delete(key);
        });
    };
  }

  /** The engine's instrument `index` has `symbol` (from the state at start or an instrument event). */
  defineInstrument(index: number, symbol: string): void {
    this.byIndex[index] = this.catalog(symbol) ?? bareInstrument(symbol);
    this.indexOf.set(symbol, index);
  }

  /**
   * The engine's state at start: account ids, resting orders, the day's order, trade and
   * transfer events so far (`dayEvents`, in seq order; without them the trees hold only
   * what is alive), then every account and position as events.
   */
  seed(accountNames: readonly string[], stateEvents: Iterable<EventView>, orders: readonly LiveOrder[], dayEvents?: (visit: (e: EventView) => void) => void): void {
    accountNames.forEach((n, i) => this.trade.nameAccount(i, n));
    for (const o of orders) this.trade.seedOrder(o);
    // The day so far (orders, trades and transfers from the event store), one command at a
    // time; the accounts and positions come from the state events after it.
    let seq = -1;
    dayEvents?.((e) => {
      if (e.seq !== seq) {
        if (seq >= 0) this.trade.endCommand();
        seq = e.seq;
      }
      this.trade.onEvent(e);
    });
    this.trade.endCommand();
    for (const e of stateEvents) this.trade.onEvent(e);
    this.trade.endCommand();
  }

  // -----------------------------------------------------------------------------------
  // Engine side

  /** One event from the accounts topic. Call `endCommand` when its command's events are all read. */
  onAccountEvent(e: EventView): void {
    this.trade.onEvent(e);
    if ((e.kind === EventKind.accepted || (e.kind === EventKind.rejected && e.commandKind === CommandKind.newOrder)) && e.accountLen > 0 && e.orderIdLen > 0) {
      this.settled(e.accountId(), e.orderId());
    }
  }

  endCommand(): void {
    const changes = this.trade.endCommand();
    for (const [account, c] of changes) this.deliver(account, c);
  }

  /** Quotes of these symbols changed: each subscriber gets the changed fields. */
  quotesChanged(patches: ReadonlyMap<string, JsonObject>): void {
    for (const [symbol, fields] of patches) {
      const subs = this.bySymbol.get(symbol);
      if (subs === undefined) continue;
      const q = obj();
      q[symbol] = fields;
      const patch = obj();
      patch["quotes"] = q;
      for (const s of subs) {
        s.push(patch);
        this.touched.add(s);
      }
    }
  }

  /** A k-line or tick series changed: charts on it get the patch (`klines...` or `ticks...`, plus their own ids). */
  seriesChanged(symbol: string, duration: number, top: JsonObject, lastId: number): void {
    for (const s of this.bySeries.get(`${symbol} ${duration}`) ?? []) {
      for (const c of s.charts.values()) {
        if (c.symbol !== symbol || c.duration !== duration || c.opening) continue;
        const patch = obj();
        for (const k of Object.keys(top)) patch[k] = top[k]!;
        if (lastId > c.rightId) {
          c.rightId = lastId;
          c.leftId = Math.max(0, lastId - c.viewWidth + 1);
          const charts = obj();
          charts[c.id] = { left_id: c.leftId, right_id: c.rightId } as unknown as JsonObject;
          patch["charts"] = charts;
        }
        s.push(patch);
        this.touched.add(s);
      }
    }
  }

  /**
   * Watched L2 books changed: each subscriber whose snapshot is out gets the updates numbered
   * after the last it has (one `l2_update`), or the new snapshot.
   */
  l2Changed(changes: readonly L2Change[]): void {
    for (const c of changes) {
      for (const s of this.byL2.get(c.symbol) ?? []) {
        const sub = s.l2.get(c.symbol);
        if (sub === undefined || sub.seq < 0) continue;
        if ("snapshot" in c) {
          sub.seq = c.snapshot.seq;
          s.sendBare(l2SnapshotPacket(c.snapshot));
          continue;
        }
        let from = 0;
        while (from < c.updates.length && c.updates[from]![0] <= sub.seq) from++;
        if (from === c.updates.length) continue;
        sub.seq = c.updates[c.updates.length - 1]![0];
        s.sendBare({ aid: "l2_update", symbol: c.symbol, updates: from === 0 ? c.updates : c.updates.slice(from) } as unknown as JsonObject);
      }
    }
  }

  /** Sends what is pending to every session that has a peek outstanding. */
  flush(): void {
    for (const s of this.touched) {
      const before = s.sent;
      s.flush();
      this.stats.rtnData += s.sent - before;
    }
    this.touched.clear();
  }

  private deliver(account: string, c: AccountChange): void {
    const subs = this.byAccount.get(account);
    if (subs === undefined) return;
    for (const s of subs) {
      if (Object.keys(c.patch).length > 0) s.push(c.patch);
      for (const n of c.notifies) s.pushNotify(n);
      this.touched.add(s);
    }
  }

  // -----------------------------------------------------------------------------------
  // Client side

  /** A new connection: greets it as DIFF clients expect (`l2`, the L2 feed's endpoint, has no greeting). */
  open(peer: Peer, kind: "md" | "trade" | "l2", remote: string): Session {
    const s = new Session(`s${++this.nextSession}`, kind, remote, peer, this.o.limits, this.clock.nowMs(), this.o.messagesPerSecond);
    this.sessions.add(s);
    this.stats.opened++;
    this.stats.connections = this.sessions.size;
    if (kind === "md") {
      s.sendBare({ aid: "rsp_login", account_id: "", session_id: s.id } as unknown as JsonObject);
      const quotes = obj();
      for (const [symbol] of this.indexOf) {
        const q = this.market.quote(symbol);
        if (q !== undefined) quotes[symbol] = staticPart(q);
      }
      const first = obj();
      first["quotes"] = quotes;
      first["ins_list"] = "";
      first["mdhis_more_data"] = false;
      s.push(first);
    } else if (kind === "trade") {
      s.sendBare({ aid: "rtn_brokers", brokers: [this.o.brokerId] } as unknown as JsonObject);
    }
    return s;
  }

  closed(s: Session): void {
    s.closed = true;
    this.sessions.delete(s);
    this.stats.connections = this.sessions.size;
    if (s.account !== undefined) this.byAccount.get(s.account)?.delete(s);
    for (const sym of s.quotes) this.bySymbol.get(sym)?.delete(s);
    for (const c of s.charts.values()) this.leaveSeries(s, c.symbol, c.duration);
    for (const symbol of s.l2.keys()) this.leaveL2(s, symbol);
    this.touched.delete(s);
  }

  /** Closes every session of `user` (disabled or logged out by an admin); returns how many. */
  closeUser(user: string, code: number, reason: string): number {
    let n = 0;
    this.audit(`audit: closing the sessions of ${user}: ${reason}`);
    for (const s of this.sessions) {
      if (s.user !== user) continue;
      s.close(code, reason);
      this.closed(s);
      n++;
    }
    return n;
  }

  /** The engine index of an instrument, -1 if the engine has not defined it. */
  instrumentIndex(symbol: string): number {
    return this.indexOf.get(symbol) ?? -1;
  }

  /** One frame from a client. Never throws for anything a client can send. */
  message(s: Session, data: string | Buffer, isBinary: boolean): void {
    if (s.closed) return;
    const now = this.clock.nowMs();
    s.lastMessageAt = now;
    // A peek is flow control, not a request: refusing one would leave a client that peeks
    // only after each rtn_data (tqsdk) waiting for ever. Small frames are checked for it
    // before the rate limit; a peek while one is pending changes nothing, so a flood of
    // them costs a parse of a few bytes each and sends nothing.
    if (!isBinary && isPeek(data)) return s.peek();
    if (!s.messages.take(now)) {
      this.stats.rateLimited++;
      this.refuse(s, "too many messages: slow down");
      return;
    }
    if (isBinary) return this.refuse(s, "binary frames are not DIFF: send JSON text");
    let m: unknown;
    try {
      m = JSON.parse(typeof data === "string" ? data : data.toString("utf8"));
    } catch {
      return this.refuse(s, "malformed JSON");
    }
    if (typeof m !== "object" || m === null || Array.isArray(m)) return this.refuse(s, "a message must be a JSON object");
    const bad = unsafeShape(m);
    if (bad !== undefined) return this.refuse(s, `bad message: ${bad}`);
    const msg = m as Record<string, unknown>;
    const aid = msg["aid"];
    if (typeof aid !== "string") return this.refuse(s, "a message needs a string aid");
    switch (aid) {
      case "peek_message":
        s.peek();
        return;
      case "subscribe_quote":
        return this.subscribeQuote(s, msg);
      case "subscribe_l2":
        return this.subscribeL2(s, msg);
      case "set_chart":
        return this.setChart(s, msg);
      case "req_login":
        return void this.login(s, msg);
      case "change_password":
        return void this.changePassword(s, msg);
      case "qry_settlement_info":
        return this.settlementInfo(s, msg);
      case "confirm_settlement":
      case "qry_account_info":
      case "qry_account_register":
      case "qry_transfer_serial":
        return;
      case "ins_query":
        return this.insQuery(s, msg);
      case "insert_order":
        return this.insertOrder(s, msg);
      case "cancel_order":
        return this.cancelOrder(s, msg);
      case "req_transfer":
        return this.transfer(s, msg);
      default:
        return this.refuse(s, `unsupported aid: ${aid.slice(0, 64)}`);
    }
  }

  private refuse(s: Session, content: string, code = 1000): void {
    this.stats.rejectedInput++;
    s.pushNotify({ level: "WARNING", code, content });
    this.touched.add(s);
    this.flush();
  }

  /**
   * DIFF's GraphQL symbol query, answered for its one form clients send:
   * `multi_symbol_info(instrument_id: [...])`, the ids from `variables.instrument_id` or
   * from the query text. The answer, `symbols.<query_id>`, holds the query, its variables
   * and each known instrument's static fields (unknown ones are left out). An empty query
   * cancels: `symbols.<query_id>` is deleted.
   */
  private insQuery(s: Session, m: Record<string, unknown>): void {
    const id = m["query_id"];
    const query = m["query"];
    if (typeof id !== "string" || id.length === 0 || id.length > 64 || !ID_PATTERN.test(id)) return this.refuse(s, "ins_query needs query_id, 1 to 64 characters");
    if (typeof query !== "string" || query.length > 65_536) return this.refuse(s, "ins_query needs query, a string of at most 65,536 characters");
    const symbols = obj();
    const patch = obj();
    patch["symbols"] = symbols;
    if (query === "") {
      symbols[id] = null;
    } else {
      const vars = m["variables"];
      const fromVars = typeof vars === "object" && vars !== null ? (vars as Record<string, unknown>)["instrument_id"] : undefined;
      let ids: string[];
      if (Array.isArray(fromVars)) ids = fromVars.filter((x): x is string => typeof x === "string");
      else if (typeof fromVars === "string") ids = [fromVars];
      else ids = [...(/instrument_id\s*:\s*\[([^\]]*)\]/.exec(query)?.[1] ?? /instrument_id\s*:\s*("[^"]*")/.exec(query)?.[1] ?? "").matchAll(/"([^"]*)"/g)].map((x) => x[1]!);
      const list: Json[] = [];
      for (const symbol of ids.slice(0, MAX_QUERY_SYMBOLS)) {
        const q = this.indexOf.has(symbol) ? this.market.quote(symbol) : undefined;
        if (q === undefined) continue;
        const info = staticPart(q);
        info["instrument_id"] = symbol;
        info["class"] = q["ins_class"] ?? "FUTURE";
        list.push(info);
      }
      const result = obj();
      result["multi_symbol_info"] = list;
      const answer = obj();
      answer["query"] = query;
      answer["variables"] = clone((typeof vars === "object" && vars !== null && !Array.isArray(vars) ? vars : obj()) as Json);
      answer["result"] = result;
      symbols[id] = answer;
    }
    s.push(patch);
    this.touched.add(s);
    this.flush();
  }

  private subscribeQuote(s: Session, m: Record<string, unknown>): void {
    const list = m["ins_list"];
    if (typeof list !== "string" || list.length > MAX_INS_LIST) return this.refuse(s, `subscribe_quote needs ins_list, a string of at most ${MAX_INS_LIST} characters`);
    for (const sym of s.quotes) this.bySymbol.get(sym)?.delete(s);
    const fresh = new Set(list === "" ? [] : list.split(",").map((x) => x.trim()).filter((x) => x !== ""));
    const quotes = obj();
    for (const sym of fresh) {
      if (!this.indexOf.has(sym)) continue;
      // Subscribed even before its first quote is in (an instrument just defined): it comes as a change.
      let subs = this.bySymbol.get(sym);
      if (subs === undefined) this.bySymbol.set(sym, (subs = new Set()));
      subs.add(s);
      const q = this.market.quote(sym);
      if (q !== undefined && !s.quotes.has(sym)) quotes[sym] = q;
    }
    s.quotes.clear();
    for (const sym of fresh) if (this.indexOf.has(sym)) s.quotes.add(sym);
    s.insList = list;
    const patch = obj();
    patch["quotes"] = quotes;
    patch["ins_list"] = list;
    s.push(patch);
    this.touched.add(s);
    this.flush();
  }

  /**
   * The L2 feed (not DIFF): `{aid: "subscribe_l2", ins_list}` replaces the connection's
   * books. Each listed book gets an `l2_snapshot`, then `l2_update`s; listing a book again
   * sends a new snapshot (how a client that saw a gap resynchronises).
   */
  private subscribeL2(s: Session, m: Record<string, unknown>): void {
    const list = m["ins_list"];
    if (typeof list !== "string" || list.length > MAX_INS_LIST) return this.refuse(s, `subscribe_l2 needs ins_list, a string of at most ${MAX_INS_LIST} characters`);
    const fresh = new Set(list === "" ? [] : list.split(",").map((x) => x.trim()).filter((x) => this.indexOf.has(x)));
    if (fresh.size > MAX_L2_BOOKS) return this.refuse(s, `at most ${MAX_L2_BOOKS} L2 books per connection`);
    for (const symbol of [...s.l2.keys()]) if (!fresh.has(symbol)) this.leaveL2(s, symbol);
    for (const symbol of fresh) {
      const sub = { seq: -1 };
      s.l2.set(symbol, sub);
      let subs = this.byL2.get(symbol);
      if (subs === undefined) this.byL2.set(symbol, (subs = new Set()));
      subs.add(s);
      this.market.l2(symbol, (snap) => {
        if (s.closed || s.l2.get(symbol) !== sub || snap === undefined) return; // unsubscribed, asked again or gone meanwhile
        sub.seq = snap.seq;
        s.sendBare(l2SnapshotPacket(snap));
      });
    }
  }

  /** The session reads the book no more; when no session does, the market stops sending its updates. */
  private leaveL2(s: Session, symbol: string): void {
    s.l2.delete(symbol);
    const subs = this.byL2.get(symbol);
    if (subs === undefined || !subs.delete(s) || subs.size > 0) return;
    this.byL2.delete(symbol);
    this.market.l2Unwatch(symbol);
  }

  private setChart(s: Session, m: Record<string, unknown>): void {
    const id = m["chart_id"];
    const list = m["ins_list"];
    const duration = m["duration"];
    const width = m["view_width"] ?? 0;
    if (typeof id !== "string" || id.length === 0 || id.length > 64 || !ID_PATTERN.test(id)) return this.refuse(s, "set_chart needs chart_id, 1 to 64 characters");
    if (typeof list !== "string" || list.length > MAX_INS_LIST) return this.refuse(s, "set_chart needs ins_list, a string");
    const patch = obj();
    const charts = obj();
    patch["charts"] = charts;
    if (list === "" || width === 0) {
      if (this.dropChart(s, id)) charts[id] = null;
      patch["mdhis_more_data"] = false;
      s.push(patch);
      this.touched.add(s);
      return this.flush();
    }
    if (typeof duration !== "number" || !Number.isSafeInteger(duration) || duration < 0 || (duration !== 0 && duration % 1_000_000_000 !== 0)) {
      return this.refuse(s, "set_chart needs duration: 0 (ticks) or whole seconds in ns");
    }
    if (typeof width !== "number" || !Number.isSafeInteger(width) || width < 1 || width > MAX_VIEW_WIDTH) return this.refuse(s, `set_chart needs view_width from 1 to ${MAX_VIEW_WIDTH}`);
    if (!s.charts.has(id) && s.charts.size >= MAX_CHARTS) return this.refuse(s, `at most ${MAX_CHARTS} charts per connection`);
    const symbol = list.split(",")[0]!.trim();
    const state = obj();
    for (const k of Object.keys(m)) {
      const v = m[k];
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") state[k] = v;
    }
    const chart: Chart = { id, symbol, duration, viewWidth: width, state, leftId: -1, rightId: -1, opening: true };
    this.dropChart(s, id);
    s.charts.set(id, chart);
    const key = `${symbol} ${duration}`;
    let watching = this.bySeries.get(key);
    if (watching === undefined) this.bySeries.set(key, (watching = new Set()));
    watching.add(s);
    if (!this.indexOf.has(symbol)) return this.chartOpened(s, chart, undefined);
    // The window comes from the market-data worker; until then the chart takes no changes.
    this.market.chart(symbol, duration, width, (window) => {
      if (s.closed || s.charts.get(id) !== chart) return; // replaced, removed or disconnected meanwhile
      this.chartOpened(s, chart, window);
    });
  }

  /** Sends a chart's opening (its window, or an empty chart), after which it takes the series' changes. */
  private chartOpened(s: Session, chart: Chart, window: ChartWindow | undefined): void {
    chart.opening = false;
    chart.leftId = window?.leftId ?? -1;
    chart.rightId = window?.rightId ?? -1;
    const c = obj();
    c["state"] = chart.state;
    c["left_id"] = chart.leftId;
    c["right_id"] = chart.rightId;
    c["more_data"] = false;
    c["ready"] = true;
    const charts = obj();
    charts[chart.id] = c;
    const patch = obj();
    patch["charts"] = charts;
    if (window !== undefined) for (const k of Object.keys(window.top)) patch[k] = window.top[k]!;
    patch["mdhis_more_data"] = false;
    s.push(patch);
    this.touched.add(s);
    this.flush();
  }

  /** Removes a session's chart and, if no other chart of it shows that series, its place in the series index. */
  private dropChart(s: Session, id: string): boolean {
    const c = s.charts.get(id);
    if (c === undefined) return false;
    s.charts.delete(id);
    for (const o of s.charts.values()) if (o.symbol === c.symbol && o.duration === c.duration) return true;
    this.leaveSeries(s, c.symbol, c.duration);
    return true;
  }

  /** The session shows the series no more; when no session does, the market stops sending its changes. */
  private leaveSeries(s: Session, symbol: string, duration: number): void {
    const key = `${symbol} ${duration}`;
    const watching = this.bySeries.get(key);
    if (watching === undefined || !watching.delete(s) || watching.size > 0) return;
    this.bySeries.delete(key);
    this.market.unwatch(symbol, duration);
  }

  private async login(s: Session, m: Record<string, unknown>): Promise<void> {
    if (s.account !== undefined || s.loginInFlight) return this.refuse(s, "already logged in on this connection", 400);
    const user = m["user_name"];
    const password = m["password"];
    if (typeof user !== "string" || user.length === 0 || user.length > 64 || !ID_PATTERN.test(user)) return this.refuse(s, "req_login needs user_name, 1 to 64 characters without =#|;/", 403);
    if (typeof password !== "string" || password.length === 0 || password.length > 64) return this.refuse(s, "req_login needs password, 1 to 64 characters", 403);
    s.loginInFlight = true;
    let result: LoginResult | { refused: string };
    try {
      result = await this.auth.login(user, password, s.remote);
    } catch (err) {
      // The hashing queue is full (a login flood): say so; anything else stays generic.
      result = { refused: (err as { code?: unknown } | null)?.code === "busy" ? "too many logins at once: try again shortly" : "login failed" };
    } finally {
      s.loginInFlight = false;
    }
    if (s.closed) return;
    if ("refused" in result) {
      this.stats.loginsRefused++;
      this.audit(`audit: DIFF login refused for ${JSON.stringify(user)} from ${s.remote} (session ${s.id})`);
      s.pushNotify({ level: "ERROR", code: 403, content: result.refused });
      this.touched.add(s);
      return this.flush();
    }
    if (utf8Length(result.account) > MAX_ACCOUNT_ID_BYTES) {
      s.pushNotify({ level: "ERROR", code: 403, content: "account id too long" });
      this.touched.add(s);
      return this.flush();
    }
    this.stats.loginsOk++;
    this.audit(`audit: DIFF login of ${result.user} as ${result.account} from ${s.remote} (session ${s.id})`);
    s.user = result.user;
    s.account = result.account;
    s.roles = result.roles;
    let subs = this.byAccount.get(result.account);
    if (subs === undefined) this.byAccount.set(result.account, (subs = new Set()));
    subs.add(s);
    s.pushNotify({ level: "INFO", code: 401, content: "login ok" });
    const trade = obj();
    trade[result.account] = this.trade.snapshot(result.account);
    const patch = obj();
    patch["trade"] = trade;
    s.push(patch);
    this.touched.add(s);
    this.flush();
  }

  /** DIFF change_password: the logged-in user's, with the old password checked; the answer is a notify (326 when changed). */
  private async changePassword(s: Session, m: Record<string, unknown>): Promise<void> {
    const user = s.user;
    if (user === undefined) {
      this.audit(`audit: refused change_password before login from ${s.remote} (session ${s.id})`);
      return this.refuse(s, "log in first", 403);
    }
    const oldPassword = m["old_password"];
    const newPassword = m["new_password"];
    if (typeof oldPassword !== "string" || oldPassword.length === 0 || oldPassword.length > 64) return this.refuse(s, "change_password needs old_password, 1 to 64 characters");
    if (typeof newPassword !== "string" || newPassword.length < MIN_PASSWORD || newPassword.length > 64) return this.refuse(s, `change_password needs new_password, ${MIN_PASSWORD} to 64 characters`);
    if (s.loginInFlight) return this.refuse(s, "a login or password change is already in progress on this connection", 400);
    s.loginInFlight = true;
    let r: { ok: true } | { refused: string };
    try {
      r = await this.auth.changePassword(user, oldPassword, newPassword, s.remote);
    } catch (err) {
      r = { refused: (err as { code?: unknown } | null)?.code === "busy" ? "too many logins at once: try again shortly" : "password not changed" };
    } finally {
      s.loginInFlight = false;
    }
    this.audit(`audit: DIFF password change of ${user} from ${s.remote} (session ${s.id}): ${"ok" in r ? "changed" : "refused"}`);
    if (s.closed) return;
    if ("refused" in r) {
      this.stats.rejectedInput++;
      s.pushNotify({ level: "ERROR", code: 326, content: r.refused });
    } else {
      s.pushNotify({ level: "INFO", code: 326, content: "password changed" });
    }
    this.touched.add(s);
    this.flush();
  }

  /** The session's account if the message's user_id names it, else refuses and returns undefined. */
  private ownAccount(s: Session, m: Record<string, unknown>, code: number): string | undefined {
    if (s.account === undefined) {
      this.audit(`audit: refused ${String(m["aid"])} before login from ${s.remote} (session ${s.id})`);
      this.refuse(s, "log in first", code);
      return undefined;
    }
    if (m["user_id"] !== s.account) {
      this.audit(`audit: refused ${String(m["aid"])} by ${s.account} for user_id ${JSON.stringify(m["user_id"])?.slice(0, 80)} (session ${s.id})`);
      this.refuse(s, "user_id is not the account this connection logged in as", code);
      return undefined;
    }
    if (!s.roles.includes("trader") && !s.roles.includes("admin")) {
      this.audit(`audit: refused ${String(m["aid"])} by read-only ${s.account} (session ${s.id})`);
      this.refuse(s, "this login may not trade (read-only)", code);
      return undefined;
    }
    return s.account;
  }

  private orderBucket(account: string): TokenBucket {
    let b = this.accountBuckets.get(account);
    if (b === undefined) {
      if (this.accountBuckets.size > 100_000) this.accountBuckets.clear();
      b = new TokenBucket(this.o.ordersPerSecond, this.o.ordersPerSecond * 2, this.clock.nowMs());
      this.accountBuckets.set(account, b);
    }
    return b;
  }

  private insertOrder(s: Session, m: Record<string, unknown>): void {
    const account = this.ownAccount(s, m, 408);
    if (account === undefined) return;
    let orderId = m["order_id"];
    if (orderId === undefined || orderId === "") orderId = `V${s.id}.${++this.generatedIds}`;
    if (typeof orderId !== "string" || utf8Length(orderId) > MAX_ORDER_ID_BYTES || !ID_PATTERN.test(orderId) || orderId.startsWith("_") || LONE_SURROGATE.test(orderId)) {
      return this.refuse(s, `order_id must be 1 to ${MAX_ORDER_ID_BYTES} bytes without =#|;/ or spaces, not starting with _`, 1004);
    }
    if (this.trade.hasOrder(account, orderId) || this.inFlight.get(account)?.has(orderId) === true) {
      return this.refuse(s, `order ${orderId}: duplicate order_id`, 407);
    }
    // Fields as sent, echoed in the order a refusal creates.
    const echo = obj();
    for (const k of ["exchange_id", "instrument_id", "direction", "offset", "price_type", "volume_condition", "time_condition"]) {
      const v = m[k];
      if (typeof v === "string") echo[k] = v.slice(0, 64);
    }
    const vol = m["volume"];
    echo["volume_orign"] = typeof vol === "number" && Number.isSafeInteger(vol) && vol > 0 ? vol : 0;
    const lp = m["limit_price"];
    if (typeof lp === "number" && Number.isFinite(lp)) echo["limit_price"] = lp;
    const refuse = (why: string, code: number): void => {
      const c = this.trade.rejectAtEdge(account, orderId as string, echo, why, code, this.clock.nowNs());
      this.deliver(account, c);
      this.stats.rejectedInput++;
      this.flush();
    };
    // Refused like any other order here: it appears FINISHED (DIFF clients show it from the send).
    if (!this.orderBucket(account).take(this.clock.nowMs())) {
      this.stats.rateLimited++;
      return refuse("too many orders, slow down", 1005);
    }
    const ex = m["exchange_id"];
    const ins = m["instrument_id"];
    if (typeof ex !== "string" || typeof ins !== "string") return refuse("exchange_id and instrument_id are required", 409);
    const symbol = `${ex}.${ins}`;
    const index = this.indexOf.get(symbol);
    const info = index === undefined ? undefined : this.byIndex[index];
    if (index === undefined || info === undefined) return refuse(`unknown instrument ${symbol.slice(0, 80)}`, 409);
    const dir = m["direction"];
    const side = dir === "BUY" ? Side.buy : dir === "SELL" ? Side.sell : 0;
    if (side === 0) return refuse("direction must be BUY or SELL", 1006);
    const off = m["offset"] ?? "OPEN";
    const offset = off === "OPEN" ? Offset.open : off === "CLOSE" ? Offset.close : off === "CLOSETODAY" ? Offset.closeToday : -1;
    if (offset < 0) return refuse("offset must be OPEN, CLOSE or CLOSETODAY", 1006);
    if (typeof vol !== "number" || !Number.isSafeInteger(vol) || vol <= 0 || vol > 0x7fffffff) return refuse("volume must be a whole number above 0", 411);
    const pt = m["price_type"] ?? "LIMIT";
    const tc = m["time_condition"] ?? (pt === "ANY" ? "IOC" : "GFD");
    const vc = m["volume_condition"] ?? "ANY";
    if (vc !== "ANY" && vc !== "ALL") return refuse("volume_condition must be ANY or ALL", 1006);
    let orderType: number = OrderType.limit;
    let price = 0;
    if (pt === "LIMIT") {
      if (typeof lp !== "number" || !Number.isFinite(lp) || lp <= 0) return refuse("limit_price is required for a LIMIT order", 412);
      price = enginePrice(info, lp);
      const tick = enginePrice(info, info.priceTick);
      if (!Number.isSafeInteger(price) || price % tick !== 0) return refuse(`limit_price ${lp} is not a multiple of the tick ${info.priceTick}`, 412);
    } else if (pt === "ANY") {
      orderType = OrderType.market;
    } else {
      return refuse(`price_type ${String(pt).slice(0, 16)} is not supported (LIMIT or ANY)`, 1006);
    }
    let tif: number;
    if (tc === "IOC") tif = vc === "ALL" ? Tif.fok : Tif.ioc;
    else if (vc === "ALL") return refuse("volume_condition ALL needs time_condition IOC", 1006);
    else if (tc === "GFD") tif = orderType === OrderType.market ? Tif.ioc : Tif.gfd;
    else if (tc === "GTC") tif = orderType === OrderType.market ? Tif.ioc : Tif.gtc;
    else return refuse(`time_condition ${String(tc).slice(0, 16)} is not supported (IOC, GFD or GTC)`, 1006);
    if (this.sink.busy()) {
      this.stats.busy++;
      return refuse("the venue is busy: try again shortly", 1007);
    }
    let sent = this.inFlight.get(account);
    if (sent === undefined) this.inFlight.set(account, (sent = new Set()));
    sent.add(orderId);
    this.sink.newOrder({ instrument: index, account, orderId, side, orderType, tif, offset, price, qty: vol });
    this.sink.flush();
    this.stats.ordersSent++;
  }

  /** Called for accepted/rejected events: the order is no longer in flight. */
  settled(account: string, orderId: string): void {
    const sent = this.inFlight.get(account);
    if (sent === undefined) return;
    sent.delete(orderId);
    if (sent.size === 0) this.inFlight.delete(account);
  }

  private cancelOrder(s: Session, m: Record<string, unknown>): void {
    const account = this.ownAccount(s, m, 418);
    if (account === undefined) return;
    const orderId = m["order_id"];
    if (typeof orderId !== "string" || orderId.length === 0 || utf8Length(orderId) > MAX_ORDER_ID_BYTES) return this.refuse(s, "cancel_order needs order_id", 420);
    if (!this.trade.isAlive(account, orderId)) return this.refuse(s, `order ${orderId.slice(0, 64)} is not an alive order of this account`, 420);
    if (!this.orderBucket(account).take(this.clock.nowMs())) {
      this.stats.rateLimited++;
      return this.refuse(s, "too many orders and cancels, slow down", 1005);
    }
    if (this.sink.full()) {
      this.stats.busy++;
      return this.refuse(s, "the venue is busy: try the cancel again shortly", 1007);
    }
    const instrument = this.indexOf.get(this.trade.symbolOf(account, orderId) ?? "");
    this.sink.cancel({ instrument: instrument ?? 0xfffffffe, account, orderId });
    this.sink.flush();
  }

  /**
   * `qry_settlement_info`: the bare packet DIFF describes, with the statement of the
   * session's account for `trading_day` (empty, and a notify, when none is kept).
   */
  private settlementInfo(s: Session, m: Record<string, unknown>): void {
    if (s.account === undefined || s.user === undefined) return this.refuse(s, "log in first", 422);
    const day = m["trading_day"];
    if (!isTradingDay(day)) return this.refuse(s, "qry_settlement_info needs trading_day, an integer YYYYMMDD");
    const text = this.unstoredStatements.get(`${s.account}\u0000${day}`) ?? this.statements?.get(s.account, day);
    s.sendBare({ aid: "qry_settlement_info", trading_day: day, user_name: s.user, settlement_info: text ?? "" });
    if (text === undefined) {
      s.pushNotify({ level: "INFO", code: 1008, content: `no settlement statement of ${s.account} for ${day}` });
      this.touched.add(s);
      this.flush();
    }
  }

  private transfer(s: Session, m: Record<string, unknown>): void {
    if (s.account === undefined) {
      this.audit(`audit: refused req_transfer before login from ${s.remote} (session ${s.id})`);
      return this.refuse(s, "log in first", 422);
    }
    if (!s.roles.includes("admin") && !(this.o.selfTransfers && s.roles.includes("trader"))) {
      this.audit(`audit: refused req_transfer by ${s.account}: not an admin (session ${s.id})`);
      return this.refuse(s, "transfers need the admin role", 422);
    }
    const amount = m["amount"];
    const currency = m["currency"] ?? "CNY";
    if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency)) return this.refuse(s, "currency must be three capital letters", 422);
    if (typeof amount !== "number" || !Number.isFinite(amount) || amount === 0) return this.refuse(s, "amount must be a number other than 0", 422);
    const minor = engineMoney(Math.abs(amount));
    if (!Number.isSafeInteger(minor) || minor <= 0 || minor > 1e15) return this.refuse(s, "amount out of range (at most 2 decimals)", 422);
    if (this.sink.full()) {
      this.stats.busy++;
      return this.refuse(s, "the venue is busy: try the transfer again shortly", 1007);
    }
    this.sink.transfer(amount > 0 ? CommandKind.deposit : CommandKind.withdraw, s.account, currencyCode(currency), minor);
    this.sink.flush();
  }
}

const PEEK_BYTES_MAX = 64;

/** Whether a frame is a well-formed peek_message (any spacing: tqsdk sends `{"aid": "peek_message"}`). */
function isPeek(data: string | Buffer): boolean {
  if (data.length > PEEK_BYTES_MAX) return false;
  try {
    const m: unknown = JSON.parse(typeof data === "string" ? data : data.toString("utf8"));
    return isObject(m) && m["aid"] === "peek_message" && unsafeShape(m) === undefined;
  } catch {
    return false;
  }
}

/** The static fields of a quote (for the first md packet). */
function staticPart(q: JsonObject): JsonObject {
  const out = obj();
  for (const k of STATIC_FIELDS) if (k in q) out[k] = q[k]!;
  return out;
}

/** L2 books one connection may subscribe to. */
const MAX_L2_BOOKS = 64;

function l2SnapshotPacket(snap: L2BookSnapshot): JsonObject {
  return { aid: "l2_snapshot", symbol: snap.symbol, seq: snap.seq, bids: snap.bids, asks: snap.asks } as unknown as JsonObject;
}

/** The shortest new password change_password takes (the admin API's minimum too). */
const MIN_PASSWORD = 8;

const STATIC_FIELDS = [
  "instrument_id", "exchange_id", "ins_id", "product_id", "instrument_name", "ins_class", "price_tick", "price_decs",
  "volume_multiple", "max_limit_order_volume", "min_limit_order_volume", "max_market_order_volume", "min_market_order_volume",
  "margin", "commission", "expired", "underlying_symbol", "trading_time", "upper_limit", "lower_limit",
];

/** An engine instrument the catalog does not describe: a symbol only, ticks of 1. */
function bareInstrument(symbol: string): InstrumentInfo {
  const dot = symbol.indexOf(".");
  return {
    symbol, exchangeId: dot > 0 ? symbol.slice(0, dot) : "", insId: dot > 0 ? symbol.slice(dot + 1) : symbol, productId: "", name: symbol,
    insClass: "FUTURE", priceTick: 1, priceDecs: 0, volumeMultiple: 1, currency: "CNY", marginPerLot: 0, marginRateBp: 0,
    commissionPerLot: 0, commissionRateBp: 0, positionLimit: 0, lowerLimit: 1, upperLimit: Number.MAX_SAFE_INTEGER, minOrderVolume: 1,
    maxOrderVolume: 1_000_000, closeTodayDistinct: false, tradingTime: { day: [], night: [] },
  };
}
