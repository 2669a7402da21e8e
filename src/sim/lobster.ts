/**
 * LOBSTER order flow as Venue commands: reads a LOBSTER message file and its order book
 * file (lobsterdata.com; e.g. AAPL_2012-06-21_34200000_57600000_{message,orderbook}_10.csv)
 * and turns them into JSONL command objects (docs/formats/commands-jsonl.md) whose replay
 * should reproduce, after each message, the top N levels recorded in the order book file.
 * Owns the mapping below; the conformance check itself is test/engine/lobster.test.ts.
 *
 * Mapping (symbol X.<TICKER>, tickSize 100: prices are dollars × 10000, cents are ticks):
 *   instrument   tickSize 100, lotSize 1, minQty 1, maxQty 1e6, band [100, 99999900].
 *   seed         row 1 of the book file with message 1's effect taken out, one gtc order per
 *                level, id `pre-<b|s>-<price>`, account STAND_IN_ACCOUNT ("pre").
 *   type 1       new limit gtc; id = the LOBSTER order id, account `lob-<id>` (one account
 *                per order; no stp, so accounts never interact).
 *   type 2       amend to the same price with remaining qty reduced by the size (keeps priority).
 *   type 3       cancel.
 *   type 4       new limit IOC, opposite side, that price and size, id `x<row>`, account
 *                MARKET_ACCOUNT ("market"): under price-time priority it must fill against
 *                exactly the named order (the test checks the trade events).
 *   type 5       nothing (hidden liquidity; the visible book does not change).
 *   type 7       state halted (price -1) / open (price 1); the quoting state (0) has no
 *                Venue counterpart and is reported as an anomaly. None in the AAPL sample.
 *
 * Orders that predate the sample. A type 2/3/4 may name an order the sample never added.
 * Such an order is one of the unknown orders a stand-in (seed or hidden-depth order, below)
 * represents: a stand-in stands for every pre-sample order resting at its side and price,
 * in time order. A type 4 on such an order is still an IOC for its size at its price: the
 * stand-in is older than every sample order at that price, so it is at the head of the
 * queue and is the order that must be hit. A type 2/3 on one reduces the stand-ins at that
 * level, oldest first (amend down in place, or cancel at zero).
 *
 * Hidden depth. An N-level LOBSTER message file holds only messages that touch the top N
 * levels (in the AAPL sample every message's price is inside the window before or after
 * it). Levels beyond the window change silently, and come into view when a level above
 * them goes. So before message i, the levels strictly worse than row i-1's Nth level (the
 * part of the book no row has shown since it last changed) are set to what row i shows
 * there, net of message i's own effect: a missing quantity is added as a stand-in at the
 * back of its level (id `hid-<row>-<b|s>-<price>`, it arrived while unseen, so after every
 * order the sample already showed there); a surplus is removed from the level's newest
 * orders first (amend down or cancel), and a sample order removed this way has vanished
 * (a later message naming it is an anomaly). These adjustments never touch a price that
 * row i-1 shows, so they cannot hide a difference at a level the book file has recorded.
 *
 * The converter tracks the book per order in its own shadow (LOBSTER's account of events,
 * not a matching engine) only to know quantities for amends and for the hidden-depth
 * adjustments; what it cannot map faithfully it lists in `anomalies`.
 */

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

/** One JSONL command object (see src/schema/jsonl.ts `encodeCommand`). */
export interface VenueCommand {
  readonly op: string;
  readonly [field: string]: string | number | boolean;
}

export const LobsterType = {
  submit: 1,
  partialCancel: 2,
  delete: 3,
  executeVisible: 4,
  executeHidden: 5,
  halt: 7,
} as const;

/** +1 bid (buy), -1 ask (sell), as in the file. */
export type Direction = 1 | -1;

export interface LobsterMessage {
  /** 1-based row of the message file; the book after it is row `row` of the book file. */
  readonly row: number;
  /** Time after midnight in nanoseconds (exact: parsed from the decimal text). */
  readonly tsNs: number;
  readonly type: number;
  readonly orderId: number;
  readonly size: number;
  readonly price: number;
  readonly direction: Direction;
}

/** [price, size]; an empty level is [±EMPTY_PRICE, 0]. */
export type BookLevel = readonly [number, number];

export interface BookRow {
  /** Exactly N levels each, best first, empty levels included as in the file. */
  readonly asks: readonly BookLevel[];
  readonly bids: readonly BookLevel[];
}

/** Price of an empty ask level; an empty bid level is its negation. */
export const EMPTY_PRICE = 9999999999;
export const STAND_IN_ACCOUNT = "pre";
export const MARKET_ACCOUNT = "market";
export const TICK_SIZE = 100;

export function accountOf(orderId: number): string {
  return `lob-${orderId}`;
}

// ---------------------------------------------------------------------------------------
// Files

export interface LobsterFiles {
  readonly ticker: string;
  readonly levels: number;
  readonly messageFile: string;
  readonly orderbookFile: string;
}

const FILE_NAME = /^([A-Za-z0-9]+)_.*_(message|orderbook)_(\d+)\.csv$/;

/** Finds the one message file and its order book file in `dir`. */
export function lobsterFiles(dir: string): LobsterFiles {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    throw new Error(`LOBSTER data directory ${dir} cannot be read: ${(err as Error).message}`);
  }
  const messages = names.filter((n) => FILE_NAME.exec(n)?.[2] === "message");
  if (messages.length !== 1) throw new Error(`expected exactly one LOBSTER *_message_N.csv in ${dir}, found ${messages.length}`);
  const messageName = messages[0]!;
  const m = FILE_NAME.exec(messageName)!;
  const orderbookName = messageName.replace(/_message_(\d+)\.csv$/, "_orderbook_$1.csv");
  if (!names.includes(orderbookName)) throw new Error(`LOBSTER order book file ${orderbookName} missing in ${dir}`);
  return {
    ticker: m[1]!,
    levels: Number(m[3]),
    messageFile: join(dir, messageName),
    orderbookFile: join(dir, orderbookName),
  };
}

function csvRows(text: string): string[][] {
  return text.split(/\r?\n/).filter((l) => l.trim() !== "").map((l) => l.split(","));
}

function intField(s: string | undefined, what: string): number {
  const t = (s ?? "").trim();
  if (!/^-?\d+$/.test(t)) throw new Error(`${what}: not an integer: ${JSON.stringify(s)}`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) throw new Error(`${what}: out of range: ${t}`);
  return n;
}

/** "34200.004241176" (seconds after midnight) -> 34200004241176 ns, without floating point. */
export function parseTimeNs(s: string, what: string): number {
  const m = /^(\d+)(?:\.(\d{1,9})\d*)?$/.exec(s.trim());
  if (m === null) throw new Error(`${what}: bad time ${JSON.stringify(s)}`);
  const ns = Number(m[1]) * 1e9 + Number((m[2] ?? "").padEnd(9, "0"));
  if (!Number.isSafeInteger(ns)) throw new Error(`${what}: time out of range ${s}`);
  return ns;
}

export function parseMessages(text: string): LobsterMessage[] {
  return csvRows(text).map((f, i) => {
    const where = `message row ${i + 1}`;
    if (f.length !== 6) throw new Error(`${where}: expected 6 columns, found ${f.length}`);
    const direction = intField(f[5], where);
    if (direction !== 1 && direction !== -1) throw new Error(`${where}: direction must be 1 or -1, got ${direction}`);
    return {
      row: i + 1,
      tsNs: parseTimeNs(f[0]!, where),
      type: intField(f[1], where),
      orderId: intField(f[2], where),
      size: intField(f[3], where),
      price: intField(f[4], where),
      direction,
    };
  });
}

/** Rows of `levels` levels each: ask price, ask size, bid price, bid size, ask price 2, ... */
export function parseOrderbook(text: string, levels: number): BookRow[] {
  return csvRows(text).map((f, i) => {
    const where = `order book row ${i + 1}`;
    if (f.length !== 4 * levels) throw new Error(`${where}: expected ${4 * levels} columns, found ${f.length}`);
    const v = f.map((x) => intField(x, where));
    const asks: BookLevel[] = [];
    const bids: BookLevel[] = [];
    for (let k = 0; k < levels; k++) {
      asks.push([v[4 * k]!, v[4 * k + 1]!]);
      bids.push([v[4 * k + 2]!, v[4 * k + 3]!]);
    }
    return { asks, bids };
  });
}

export interface LobsterData extends LobsterFiles {
  readonly messages: LobsterMessage[];
  readonly book: BookRow[];
}

export function readLobster(dir: string): LobsterData {
  const files = lobsterFiles(dir);
  const messages = parseMessages(readFileSync(files.messageFile, "utf8"));
  const book = parseOrderbook(readFileSync(files.orderbookFile, "utf8"), files.levels);
  if (messages.length !== book.length) {
    throw new Error(`${files.messageFile} has ${messages.length} rows but ${files.orderbookFile} has ${book.length}`);
  }
  if (messages.length === 0) throw new Error(`${files.messageFile} is empty`);
  return { ...files, messages, book };
}

// ---------------------------------------------------------------------------------------
// The shadow book: LOBSTER's view, per order

interface ShadowOrder {
  readonly id: string;
  readonly account: string;
  left: number;
  /** A seed or hidden-depth order standing for unknown pre-sample orders. */
  readonly standIn: boolean;
}

/** Visible (non-empty) levels of one side of a row, best first. */
function visible(levels: readonly BookLevel[]): BookLevel[] {
  return levels.filter(([, size]) => size > 0);
}

function sideName(d: Direction): "buy" | "sell" {
  return d === 1 ? "buy" : "sell";
}

function sideTag(d: Direction): "b" | "s" {
  return d === 1 ? "b" : "s";
}

/** True when `a` is a worse price than `b` on side `d`. */
function worse(d: Direction, a: number, b: number): boolean {
  return d === 1 ? a < b : a > b;
}

class ShadowSide {
  readonly levels = new Map<number, ShadowOrder[]>();
  constructor(readonly direction: Direction) {}

  qty(price: number): number {
    let q = 0;
    for (const o of this.levels.get(price) ?? []) q += o.left;
    return q;
  }

  append(price: number, o: ShadowOrder): void {
    const q = this.levels.get(price);
    if (q === undefined) this.levels.set(price, [o]);
    else q.push(o);
  }

  /** Drops orders with nothing left, and the level when it is empty. */
  tidy(price: number): void {
    const q = this.levels.get(price);
    if (q === undefined) return;
    const rest = q.filter((o) => o.left > 0);
    if (rest.length === 0) this.levels.delete(price);
    else this.levels.set(price, rest);
  }

  /** Prices, best first. */
  prices(): number[] {
    return [...this.levels.keys()].sort((a, b) => (this.direction === 1 ? b - a : a - b));
  }
}

// ---------------------------------------------------------------------------------------
// Conversion

export interface HiddenChange {
  readonly side: "buy" | "sell";
  readonly price: number;
  /** Shadow quantity before, and the quantity set (row i's, net of message i's effect). */
  readonly from: number;
  readonly to: number;
  /** Row i-1's Nth level price on that side: the change lies strictly beyond it. */
  readonly boundary: number;
}

export interface Execution {
  /** Side of the resting order (the maker). */
  readonly side: "buy" | "sell";
  readonly price: number;
  readonly size: number;
  /** The LOBSTER order id the message names. */
  readonly named: string;
  /** The named order predates the sample: a stand-in at that level must be the maker. */
  readonly preSample: boolean;
  /** Id of the IOC that drives it (account MARKET_ACCOUNT). */
  readonly takerId: string;
}

export interface ConvertedMessage {
  readonly message: LobsterMessage;
  /** Hidden-depth adjustments made before the message, in command order. */
  readonly hidden: HiddenChange[];
  /** The hidden-depth commands, then the message's own. */
  readonly commands: VenueCommand[];
  readonly execution: Execution | null;
}

export interface LobsterStats {
  readonly messagesByType: Record<string, number>;
  readonly seedOrders: number;
  /** Distinct order ids named by a message but never added in the sample. */
  readonly preSampleOrders: number;
  readonly preSampleExecutions: number;
  readonly preSampleCancels: number;
  readonly hiddenChanges: number;
  readonly hiddenOrdersAdded: number;
  /** Sample orders that left the book unseen (removed by a hidden-depth adjustment). */
  readonly vanishedOrders: number;
}

export interface LobsterConversion {
  readonly symbol: string;
  readonly levels: number;
  /** Instrument definition and seed book. */
  readonly setup: VenueCommand[];
  readonly messages: ConvertedMessage[];
  readonly book: readonly BookRow[];
  readonly stats: LobsterStats;
  /** Events the mapping cannot represent faithfully; empty for a clean conversion. */
  readonly anomalies: string[];
}

/** Converts parsed LOBSTER data (see the file comment for the mapping). */
export function convertLobster(data: { ticker: string; levels: number; messages: readonly LobsterMessage[]; book: readonly BookRow[] }): LobsterConversion {
  return new Converter(data.ticker, data.levels, data.book).run(data.messages);
}

/** Reads and converts the LOBSTER files in `dir`. */
export function lobsterConversion(dir: string): LobsterConversion {
  return convertLobster(readLobster(dir));
}

/** All commands, in order: instrument, seed book, then each message's commands. */
export function lobsterCommands(dir: string): VenueCommand[] {
  const c = lobsterConversion(dir);
  return [...c.setup, ...c.messages.flatMap((m) => m.commands)];
}

class Converter {
  private readonly symbol: string;
  private readonly bids = new ShadowSide(1);
  private readonly asks = new ShadowSide(-1);
  /** LOBSTER id -> its live order in the shadow. */
  private readonly live = new Map<number, { price: number; direction: Direction; order: ShadowOrder }>();
  private readonly added = new Set<number>();
  private readonly vanished = new Set<number>();
  private readonly preSampleIds = new Set<number>();
  private readonly anomalies: string[] = [];
  private readonly byType: Record<string, number> = {};
  private seedOrders = 0;
  private preSampleExecutions = 0;
  private preSampleCancels = 0;
  private hiddenChanges = 0;
  private hiddenOrdersAdded = 0;
  private vanishedOrders = 0;
  private tsNs: number | null = null;
  /** Commands of the message being converted. */
  private out: VenueCommand[] = [];

  constructor(ticker: string, private readonly levels: number, private readonly book: readonly BookRow[]) {
    this.symbol = `X.${ticker}`;
  }

  private side(d: Direction): ShadowSide {
    return d === 1 ? this.bids : this.asks;
  }

  run(messages: readonly LobsterMessage[]): LobsterConversion {
    const first = messages[0];
    const row1 = this.book[0];
    if (first === undefined || row1 === undefined) throw new Error("no LOBSTER messages");
    const setup: VenueCommand[] = [{
      op: "instrument", symbol: this.symbol, tickSize: TICK_SIZE, lotSize: 1, minQty: 1, maxQty: 1_000_000,
      priceLow: TICK_SIZE, priceHigh: 99_999_900,
    }];
    this.out = setup;
    this.seed(row1, first);

    const converted: ConvertedMessage[] = [];
    for (const m of messages) {
      this.byType[m.type] = (this.byType[m.type] ?? 0) + 1;
      this.tsNs = m.tsNs;
      this.out = [];
      // Row i-1 bounds what is known before message i; for message 1 the seed is row 1's.
      const prev = this.book[m.row - 2] ?? row1;
      const now = this.book[m.row - 1]!;
      const hidden = [...this.syncHidden(1, prev, now, m), ...this.syncHidden(-1, prev, now, m)];
      const execution = this.message(m);
      converted.push({ message: m, hidden, commands: this.out, execution });
    }
    return {
      symbol: this.symbol,
      levels: this.levels,
      setup,
      messages: converted,
      book: this.book,
      stats: {
        messagesByType: { ...this.byType },
        seedOrders: this.seedOrders,
        preSampleOrders: this.preSampleIds.size,
        preSampleExecutions: this.preSampleExecutions,
        preSampleCancels: this.preSampleCancels,
        hiddenChanges: this.hiddenChanges,
        hiddenOrdersAdded: this.hiddenOrdersAdded,
        vanishedOrders: this.vanishedOrders,
      },
      anomalies: this.anomalies,
    };
  }

  /** Setup commands carry no time; a message's commands carry the message's. */
  private emit(c: VenueCommand): void {
    this.out.push(this.tsNs === null ? c : { ...c, ts: this.tsNs });
  }

  // -- seed ------------------------------------------------------------------------------

  private seed(row1: BookRow, first: LobsterMessage): void {
    const level = new Map<string, number>();
    const key = (d: Direction, p: number): string => `${d}:${p}`;
    for (const [d, levels] of [[-1, row1.asks], [1, row1.bids]] as const) {
      for (const [p, q] of visible(levels)) level.set(key(d, p), q);
    }
    // Take message 1's effect out of row 1.
    const k = key(first.direction, first.price);
    const undo = effect(first);
    level.set(k, (level.get(k) ?? 0) - undo);
    if ((level.get(k) ?? 0) < 0) this.anomalies.push(`row 1: taking message 1 out of row 1 leaves a negative level at ${first.price}`);
    for (const [d, levels] of [[1, row1.bids], [-1, row1.asks]] as const) {
      const prices = new Set(visible(levels).map(([p]) => p));
      if (d === first.direction) prices.add(first.price);
      const sorted = [...prices].sort((a, b) => (d === 1 ? b - a : a - b));
      for (const p of sorted) {
        const q = level.get(key(d, p)) ?? 0;
        if (q > 0) {
          this.addStandIn(d, p, q, `pre-${sideTag(d)}-${p}`);
          this.seedOrders++;
        }
      }
    }
  }

  private addStandIn(d: Direction, price: number, qty: number, id: string): void {
    this.side(d).append(price, { id, account: STAND_IN_ACCOUNT, left: qty, standIn: true });
    this.emit({ op: "new", id, account: STAND_IN_ACCOUNT, symbol: this.symbol, side: sideName(d), type: "limit", tif: "gtc", price, qty });
  }

  /** Reduces a resting shadow order by `by` and emits the amend (in place) or cancel. */
  private reduce(price: number, o: ShadowOrder, by: number): void {
    o.left -= by;
    if (o.left > 0) this.emit({ op: "amend", id: o.id, account: o.account, price, qty: o.left });
    else this.emit({ op: "cancel", id: o.id, account: o.account });
  }

  // -- hidden depth ----------------------------------------------------------------------

  private syncHidden(d: Direction, prev: BookRow, now: BookRow, m: LobsterMessage): HiddenChange[] {
    const before = visible(d === 1 ? prev.bids : prev.asks);
    if (before.length < this.levels) return []; // the whole side was in view: nothing hidden
    const boundary = before[before.length - 1]![0];
    const after = visible(d === 1 ? now.bids : now.asks);
    const seen = new Map(after);
    const deepest = after.length === this.levels ? after[after.length - 1]![0] : null;
    const side = this.side(d);
    const candidates = new Set<number>();
    for (const [p] of after) if (worse(d, p, boundary)) candidates.add(p);
    for (const p of side.levels.keys()) {
      if (worse(d, p, boundary) && (deepest === null || !worse(d, p, deepest))) candidates.add(p);
    }
    const changes: HiddenChange[] = [];
    for (const p of [...candidates].sort((a, b) => (d === 1 ? b - a : a - b))) {
      const own = m.direction === d && m.price === p ? effect(m) : 0;
      const want = (seen.get(p) ?? 0) - own;
      const have = side.qty(p);
      if (want === have) continue;
      if (want < 0) {
        this.anomalies.push(`row ${m.row}: hidden level ${sideName(d)} ${p} would need ${want} shares`);
        continue;
      }
      changes.push({ side: sideName(d), price: p, from: have, to: want, boundary });
      this.hiddenChanges++;
      if (want > have) {
        this.addStandIn(d, p, want - have, `hid-${m.row}-${sideTag(d)}-${p}`);
        this.hiddenOrdersAdded++;
        continue;
      }
      let surplus = have - want;
      const queue = side.levels.get(p)!;
      for (let i = queue.length - 1; i >= 0 && surplus > 0; i--) {
        const o = queue[i]!;
        const k = Math.min(o.left, surplus);
        surplus -= k;
        this.reduce(p, o, k);
        if (o.left === 0 && !o.standIn) {
          const id = Number(o.id);
          this.live.delete(id);
          this.vanished.add(id);
          this.vanishedOrders++;
        }
      }
      side.tidy(p);
    }
    return changes;
  }

  // -- messages --------------------------------------------------------------------------

  private message(m: LobsterMessage): Execution | null {
    switch (m.type) {
      case LobsterType.submit: return this.submit(m);
      case LobsterType.partialCancel:
      case LobsterType.delete: return this.cancel(m);
      case LobsterType.executeVisible: return this.execute(m);
      case LobsterType.executeHidden: return null;
      case LobsterType.halt: return this.halt(m);
      default:
        this.anomalies.push(`row ${m.row}: unknown message type ${m.type}`);
        return null;
    }
  }

  private submit(m: LobsterMessage): null {
    if (this.live.has(m.orderId)) {
      this.anomalies.push(`row ${m.row}: order ${m.orderId} added while live`);
      return null;
    }
    const id = String(m.orderId);
    const order: ShadowOrder = { id, account: accountOf(m.orderId), left: m.size, standIn: false };
    this.side(m.direction).append(m.price, order);
    this.live.set(m.orderId, { price: m.price, direction: m.direction, order });
    this.added.add(m.orderId);
    this.emit({ op: "new", id, account: order.account, symbol: this.symbol, side: sideName(m.direction), type: "limit", tif: "gtc", price: m.price, qty: m.size });
    return null;
  }

  /** The live sample order a message names, or null (noting why when it is not pre-sample). */
  private named(m: LobsterMessage): ShadowOrder | null {
    const entry = this.live.get(m.orderId);
    if (entry !== undefined) {
      if (entry.price !== m.price || entry.direction !== m.direction) {
        this.anomalies.push(`row ${m.row}: order ${m.orderId} rests at ${entry.direction} ${entry.price}, message says ${m.direction} ${m.price}`);
      }
      return entry.order;
    }
    if (this.vanished.has(m.orderId)) this.anomalies.push(`row ${m.row}: order ${m.orderId} was removed unseen by a hidden-depth adjustment`);
    else if (this.added.has(m.orderId)) this.anomalies.push(`row ${m.row}: order ${m.orderId} is no longer live`);
    else this.preSampleIds.add(m.orderId);
    return null;
  }

  /** Types 2 and 3. */
  private cancel(m: LobsterMessage): null {
    const o = this.named(m);
    const side = this.side(m.direction);
    if (o !== null) {
      const entry = this.live.get(m.orderId)!;
      const full = m.type === LobsterType.delete;
      if (full && m.size !== o.left) this.anomalies.push(`row ${m.row}: delete of ${m.orderId} for ${m.size}, but ${o.left} left`);
      if (!full && m.size > o.left) this.anomalies.push(`row ${m.row}: partial cancel of ${m.orderId} for ${m.size}, but ${o.left} left`);
      this.reduce(entry.price, o, full ? o.left : Math.min(m.size, o.left));
      if (o.left === 0) this.live.delete(m.orderId);
      side.tidy(entry.price);
      return null;
    }
    if (!this.preSampleIds.has(m.orderId)) return null; // an anomaly already noted
    this.preSampleCancels++;
    let rest = m.size;
    for (const s of side.levels.get(m.price) ?? []) {
      if (rest === 0) break;
      if (!s.standIn || s.left === 0) continue;
      const k = Math.min(s.left, rest);
      rest -= k;
      this.reduce(m.price, s, k);
    }
    if (rest > 0) this.anomalies.push(`row ${m.row}: pre-sample order ${m.orderId}: ${rest} of ${m.size} shares not covered by stand-ins at ${m.price}`);
    side.tidy(m.price);
    return null;
  }

  /** Type 4: an IOC of the opposite side for that size at that price. */
  private execute(m: LobsterMessage): Execution {
    const o = this.named(m);
    const side = this.side(m.direction);
    const takerId = `x${m.row}`;
    const execution: Execution = {
      side: sideName(m.direction), price: m.price, size: m.size, named: String(m.orderId), preSample: o === null && this.preSampleIds.has(m.orderId), takerId,
    };
    this.emit({
      op: "new", id: takerId, account: MARKET_ACCOUNT, symbol: this.symbol, side: sideName(m.direction === 1 ? -1 : 1),
      type: "limit", tif: "ioc", price: m.price, qty: m.size,
    });
    // The shadow follows LOBSTER: the named order (or its stand-ins) lose the size.
    if (o !== null) {
      if (m.size > o.left) this.anomalies.push(`row ${m.row}: execution of ${m.orderId} for ${m.size}, but ${o.left} left`);
      o.left -= Math.min(m.size, o.left);
      if (o.left === 0) this.live.delete(m.orderId);
    } else if (execution.preSample) {
      this.preSampleExecutions++;
      let rest = m.size;
      for (const s of side.levels.get(m.price) ?? []) {
        if (rest === 0) break;
        if (!s.standIn) continue;
        const k = Math.min(s.left, rest);
        s.left -= k;
        rest -= k;
      }
      if (rest > 0) this.anomalies.push(`row ${m.row}: pre-sample order ${m.orderId}: ${rest} of ${m.size} executed shares not covered by stand-ins at ${m.price}`);
    }
    side.tidy(m.price);
    return execution;
  }

  private halt(m: LobsterMessage): null {
    if (m.price === -1) this.emit({ op: "state", symbol: this.symbol, state: "halted" });
    else if (m.price === 1) this.emit({ op: "state", symbol: this.symbol, state: "open" });
    else this.anomalies.push(`row ${m.row}: trading state ${m.price} (quoting) has no Venue counterpart`);
    return null;
  }
}

/** Shares a message adds to its level (negative when it removes). */
function effect(m: LobsterMessage): number {
  switch (m.type) {
    case LobsterType.submit: return m.size;
    case LobsterType.partialCancel:
    case LobsterType.delete:
    case LobsterType.executeVisible: return -m.size;
    default: return 0;
  }
}
