/**
 * A seeded, deterministic generator of a realistic mixed order flow, for benchmarks, the
 * demo node and tests. Owns: the flow's shape (mix, prices, sizes), its plain description
 * (`FlowCommand`, independent of the engine's layouts), the instrument definitions it
 * trades, and the two encodings of a flow: binary command records stamped with sequence
 * numbers (`encodeFlow`, for timed loops) and JSON lines (`toJsonl`, for `venue replay`).
 *
 * The same options give the same flow on every platform: randomness comes only from a
 * `Prng` seeded with `options.seed`, and the generator learns which orders are live (and
 * where the touch is) by running each command through a scratch `Engine` as it goes, which
 * is itself deterministic.
 *
 * Shape, per command (one instrument picked uniformly; shares as measured at 1M commands):
 *   - adds (~55%): passive GTC limits near the own-side touch, a geometric number of ticks
 *     away, sometimes joining or improving the touch, sometimes deep in the book;
 *   - cancels (~31%): a live order picked uniformly; ~0.5% of all commands cancel an order
 *     that has already finished (rejected order_not_live: realistic races);
 *   - amends (~8%): mostly quantity down in place, some price moves of 1-3 ticks, a few
 *     quantity-up (which lose priority);
 *   - crossing orders (~5%): through 1 (92%), 2 (7%) or 3-4 opposite levels: IOC limits,
 *     GTC marketable limits (the remainder rests), a few FOK and market orders.
 * The add/cancel split is steered by the instrument's live order count, so that each book
 * holds a steady ~2,000 resting orders over ~50-200 levels per side; crossing orders lean
 * against the mid's drift from its reference price, so prices stay in a band.
 * No self-trade prevention, no post-only: every order is a plain limit or market order.
 */

import { Engine } from "../engine/engine.ts";
import { Buf, stamp } from "../schema/layout.ts";
import {
  MAX_COMMAND_SIZE,
  newOrderSize,
  writeAmend,
  writeCancel,
  writeDefineInstrument,
  writeNewOrder,
  type InstrumentParams,
  type TradingParams,
  CommandKind,
  writeTransfer,
} from "../schema/command.ts";
import { EventKind, EventView } from "../schema/event.ts";
import { OrderStatus, OrderType, Side, Tif, currencyCode } from "../schema/codes.ts";
import { Prng } from "../stdx/prng.ts";
import { assert } from "../stdx/assert.ts";

export type FlowKind = "new" | "cancel" | "amend";
export type FlowSide = "buy" | "sell";
export type FlowType = "limit" | "market";
export type FlowTif = "gtc" | "ioc" | "fok";

/**
 * One command of a flow. For `new`: the order as sent (price 0 for market orders). For
 * `amend`: the new price and new remaining quantity; side, type and tif are the target's.
 * For `cancel`: price and qty are 0; symbol, side, type and tif are the target's (a peer
 * with one book per symbol needs the symbol to route it).
 */
export interface FlowCommand {
  kind: FlowKind;
  id: string;
  account: string;
  symbol: string;
  side: FlowSide;
  type: FlowType;
  tif: FlowTif;
  price: number;
  qty: number;
}

export interface FlowOptions {
  seed: number;
  commands: number;
  /** Instruments traded, each with its own book (default 1). */
  instruments?: number;
  /** Accounts sending orders, picked uniformly per order (default 1000). */
  accounts?: number;
}

/** An instrument definition as a JSONL command object. */
export interface InstrumentCommand extends TradingParams {
  op: "instrument";
}

export const TICK_SIZE = 100;
const PRICE_LOW = TICK_SIZE;
const PRICE_HIGH = 999_999 * TICK_SIZE;
const NAMED_SYMBOLS = ["X.AAPL", "X.MSFT", "X.NVDA", "X.AMZN", "X.GOOG", "X.META", "X.TSLA", "X.AMD"] as const;

/** Resting orders per book the add/cancel mix steers towards. */
const TARGET_LIVE = 2600;
const P_CROSS = 0.05;
const P_AMEND = 0.08;
const P_CANCEL_FINISHED = 0.005;
const FINISHED_RING = 256;
const SIZES = [1, 1, 2, 3, 5, 5, 10, 10, 10, 20, 25, 50, 100] as const;

export function symbolOf(instrument: number): string {
  return NAMED_SYMBOLS[instrument] ?? `X.S${instrument}`;
}

/** The reference (starting) price of an instrument, on its tick. */
export function referencePrice(instrument: number): number {
  return (10_000 + 7_321 * instrument) * TICK_SIZE;
}

/** Definitions of the first `count` instruments, as JSONL "instrument" command objects. */
export function instrumentCommands(count = 1): InstrumentCommand[] {
  const out: InstrumentCommand[] = [];
  for (let i = 0; i < count; i++) {
    out.push({
      op: "instrument", symbol: symbolOf(i), tickSize: TICK_SIZE, lotSize: 1, minQty: 1, maxQty: 1_000_000,
      priceLow: PRICE_LOW, priceHigh: PRICE_HIGH,
    });
  }
  return out;
}

function paramsOf(c: InstrumentCommand): InstrumentParams {
  return {
    symbol: c.symbol, tickSize: c.tickSize, lotSize: c.lotSize, minQty: c.minQty, maxQty: c.maxQty,
    priceLow: c.priceLow, priceHigh: c.priceHigh,
  };
}

/** Money parameters for a flow's instruments (see InstrumentParams); absent: pure matching. */
export type FlowMoney = Pick<InstrumentParams, "currency" | "multiplier" | "marginPerLot" | "marginRateBp" | "commissionPerLot" | "commissionRateBp" | "positionLimit">;

/** The demo's and benchmarks' money instrument: a 10% margin rate, commission 2 per lot plus 1 bp, in CNY. */
export const DEMO_MONEY: FlowMoney = { currency: currencyCode("CNY"), multiplier: 1, marginRateBp: 1_000, commissionPerLot: 2, commissionRateBp: 1 };

export interface SetUpOptions {
  /** Money parameters for every instrument; without them the instruments are pure matching. */
  money?: FlowMoney;
  /** Fund accounts a1..aN (the flow's account names) with `deposit` minor units each. */
  accounts?: number;
  deposit?: number;
  ts?: bigint;
}

/**
 * Defines the instruments in `engine` and funds the accounts (stamped seq 1..n, time `ts`);
 * returns the next free sequence number. Throws if the engine rejects one (an instrument it
 * already has with other parameters is redefined, which is fine).
 */
export function defineInstruments(engine: Engine, defs: readonly InstrumentCommand[], options: SetUpOptions = {}): number {
  const buf = Buf.alloc(MAX_COMMAND_SIZE);
  let seq = 1;
  const apply = (): void => {
    stamp(buf.dv, 0, seq++, options.ts ?? 0n);
    engine.out.clear();
    engine.apply(buf, 0);
  };
  for (const d of defs) {
    writeDefineInstrument(buf, 0, { ...paramsOf(d), ...options.money });
    apply();
    assert(engine.instrumentIndex(d.symbol) >= 0, `instrument ${d.symbol} rejected`);
  }
  const currency = options.money?.currency ?? currencyCode("CNY");
  for (let a = 1; a <= (options.accounts ?? 0); a++) {
    writeTransfer(buf, 0, CommandKind.deposit, `a${a}`, currency, options.deposit ?? 0);
    apply();
  }
  engine.out.clear();
  return seq;
}

// ---------------------------------------------------------------------------------------
// The generator

interface Live {
  id: string;
  account: string;
  instrument: number;
  side: FlowSide;
  price: number;
  left: number;
  /** Index in its instrument's live list, or -1 once finished. */
  slot: number;
}

interface Finished {
  id: string;
  account: string;
  instrument: number;
  side: FlowSide;
}

const SIDE_NAME = (side: number): FlowSide => (side === Side.buy ? "buy" : "sell");
const TIF_CODE: Record<FlowTif, Tif> = { gtc: Tif.gtc, ioc: Tif.ioc, fok: Tif.fok };

/** Generates `options.commands` commands; see the file comment for the shape. */
export function generateFlow(options: FlowOptions): FlowCommand[] {
  const instruments = options.instruments ?? 1;
  const accounts = options.accounts ?? 1000;
  assert(Number.isInteger(options.commands) && options.commands >= 0, "commands must be a non-negative integer");
  assert(Number.isInteger(instruments) && instruments >= 1, "instruments must be a positive integer");
  assert(Number.isInteger(accounts) && accounts >= 1, "accounts must be a positive integer");
  const g = new Generator(options.seed, instruments, accounts);
  const flow: FlowCommand[] = new Array<FlowCommand>(options.commands);
  for (let n = 0; n < options.commands; n++) flow[n] = g.next();
  return flow;
}

class Generator {
  private readonly rng: Prng;
  private readonly engine = new Engine();
  private readonly buf = Buf.alloc(MAX_COMMAND_SIZE);
  private readonly ev = new EventView(Buf.alloc(8));
  private readonly symbols: string[] = [];
  private readonly accountNames: string[] = [];
  private readonly live: Live[][] = [];
  private readonly byOrderNo = new Map<number, Live>();
  private readonly finished: Finished[] = [];
  private finishedNext = 0;
  private seq: number;
  private nextId = 1;
  /** The order a `new` command is about to create: claimed by its `accepted` event. */
  private pending: Live | undefined;

  constructor(seed: number, private readonly instruments: number, accounts: number) {
    this.rng = new Prng(seed);
    this.seq = defineInstruments(this.engine, instrumentCommands(instruments));
    for (let i = 0; i < instruments; i++) {
      this.symbols.push(symbolOf(i));
      this.live.push([]);
    }
    for (let a = 0; a < accounts; a++) this.accountNames.push(`a${a + 1}`);
  }

  next(): FlowCommand {
    const rng = this.rng;
    const instr = rng.int(0, this.instruments - 1);
    const live = this.live[instr]!;
    const r = rng.nextFloat();
    let cmd: FlowCommand | undefined;
    if (r < P_CROSS) cmd = this.cross(instr);
    else if (r < P_CROSS + P_AMEND) cmd = this.amend(instr);
    else if (r < P_CROSS + P_AMEND + P_CANCEL_FINISHED) cmd = this.cancelFinished();
    else {
      // Steer the book towards TARGET_LIVE resting orders.
      const addShare = clamp(0.52 + 0.6 * (TARGET_LIVE - live.length) / TARGET_LIVE, 0.2, 0.97);
      if (rng.chance(addShare)) cmd = this.add(instr);
      else cmd = this.cancel(instr);
    }
    cmd ??= this.add(instr);
    this.apply(cmd, instr);
    return cmd;
  }

  // --- command builders --------------------------------------------------------------

  private newId(): string {
    return `o${(this.nextId++).toString(36)}`;
  }

  private account(): string {
    return this.rng.pick(this.accountNames);
  }

  private best(instr: number, side: number): number | undefined {
    const d = this.engine.depth(instr, side === Side.buy ? Side.buy : Side.sell, 1)[0];
    return d === undefined ? undefined : d[0];
  }

  /** A passive GTC limit near the own-side touch. */
  private add(instr: number): FlowCommand {
    const rng = this.rng;
    const side = rng.chance(0.5) ? Side.buy : Side.sell;
    const sign = side === Side.buy ? 1 : -1; // +: towards the opposite side
    const own = this.best(instr, side);
    const opp = this.best(instr, side === Side.buy ? Side.sell : Side.buy);
    let price: number;
    if (own === undefined) {
      const anchor = opp ?? referencePrice(instr) + sign * TICK_SIZE;
      price = anchor - sign * TICK_SIZE * rng.int(1, 3);
    } else if (opp !== undefined && Math.abs(opp - own) > TICK_SIZE && rng.chance(0.08)) {
      price = own + sign * TICK_SIZE; // improve the touch inside the spread
    } else {
      const u = rng.nextFloat();
      let k: number;
      if (u < 0.2) k = 0; // join the touch
      else if (u < 0.9) k = geometric(rng, 0.22, 40);
      else k = rng.int(10, 180); // deep
      price = own - sign * TICK_SIZE * k;
    }
    // Stay passive and inside the band.
    if (opp !== undefined && (side === Side.buy ? price >= opp : price <= opp)) price = opp - sign * TICK_SIZE;
    price = clamp(price, PRICE_LOW, PRICE_HIGH);
    const live: Live = { id: this.newId(), account: this.account(), instrument: instr, side: SIDE_NAME(side), price, left: this.size(), slot: -1 };
    this.pending = live;
    return { kind: "new", id: live.id, account: live.account, symbol: this.symbols[instr]!, side: live.side, type: "limit", tif: "gtc", price, qty: live.left };
  }

  private size(): number {
    return this.rng.pick(SIZES) * this.rng.int(1, 4);
  }

  /** An order through one or a few opposite levels, or undefined when that side is empty. */
  private cross(instr: number): FlowCommand | undefined {
    const rng = this.rng;
    const bid = this.best(instr, Side.buy);
    const ask = this.best(instr, Side.sell);
    const ref = referencePrice(instr);
    const mid = bid !== undefined && ask !== undefined ? (bid + ask) / 2 : bid ?? ask ?? ref;
    // Lean against the drift: below the reference, buy more often.
    const pBuy = 0.5 + clamp((ref - mid) / (400 * TICK_SIZE), -0.3, 0.3);
    const side = rng.chance(pBuy) ? Side.buy : Side.sell;
    const u = rng.nextFloat();
    const want = u < 0.92 ? 1 : u < 0.99 ? 2 : rng.int(3, 4);
    const levels = this.engine.depth(instr, side === Side.buy ? Side.sell : Side.buy, want);
    if (levels.length === 0) return undefined;
    let before = 0;
    for (let k = 0; k < levels.length - 1; k++) before += levels[k]![1];
    const [lastPrice, lastQty] = levels[levels.length - 1]!;
    const t = rng.nextFloat();
    let type: FlowType = "limit";
    let tif: FlowTif;
    if (t < 0.08) { type = "market"; tif = "ioc"; }
    else if (t < 0.12) tif = "fok";
    else if (t < 0.62) tif = "ioc";
    else tif = "gtc";
    // Sized like an ordinary order, at least into the last level it targets and at most a
    // little past it (a limit then stops at its price: IOC remainder cancelled, GTC
    // remainder rests, FOK unfilled; a market order never takes more than those levels).
    const cap = type === "market" ? before + lastQty : before + Math.ceil(lastQty * 1.25);
    const qty = Math.min(cap, before + this.size() * rng.int(1, 2));
    const live: Live = { id: this.newId(), account: this.account(), instrument: instr, side: SIDE_NAME(side), price: lastPrice, left: qty, slot: -1 };
    this.pending = live;
    return {
      kind: "new", id: live.id, account: live.account, symbol: this.symbols[instr]!, side: live.side, type, tif,
      price: type === "market" ? 0 : lastPrice, qty,
    };
  }

  private pickLive(instr: number): Live | undefined {
    const live = this.live[instr]!;
    return live.length === 0 ? undefined : live[this.rng.int(0, live.length - 1)];
  }

  private cancel(instr: number): FlowCommand | undefined {
    const o = this.pickLive(instr);
    if (o === undefined) return undefined;
    return { kind: "cancel", id: o.id, account: o.account, symbol: this.symbols[instr]!, side: o.side, type: "limit", tif: "gtc", price: 0, qty: 0 };
  }

  private cancelFinished(): FlowCommand | undefined {
    if (this.finished.length === 0) return undefined;
    const f = this.rng.pick(this.finished);
    return { kind: "cancel", id: f.id, account: f.account, symbol: this.symbols[f.instrument]!, side: f.side, type: "limit", tif: "gtc", price: 0, qty: 0 };
  }

  private amend(instr: number): FlowCommand | undefined {
    const rng = this.rng;
    const o = this.pickLive(instr);
    if (o === undefined) return undefined;
    let price = o.price;
    let qty = o.left;
    const u = rng.nextFloat();
    if (u < 0.7 && o.left >= 2) {
      qty = rng.int(1, o.left - 1); // quantity down, in place
    } else if (u < 0.95) {
      const sign = o.side === "buy" ? 1 : -1;
      price = o.price + sign * TICK_SIZE * (rng.chance(0.5) ? rng.int(1, 3) : -rng.int(1, 3));
      const opp = this.best(instr, o.side === "buy" ? Side.sell : Side.buy);
      if (opp !== undefined && (o.side === "buy" ? price >= opp : price <= opp)) price = opp - sign * TICK_SIZE;
      price = clamp(price, PRICE_LOW, PRICE_HIGH);
      if (rng.chance(0.3)) qty = rng.int(1, o.left * 2);
    } else {
      qty = o.left + this.size(); // quantity up: loses priority
    }
    return { kind: "amend", id: o.id, account: o.account, symbol: this.symbols[instr]!, side: o.side, type: "limit", tif: "gtc", price, qty };
  }

  // --- tracking: run the command through the scratch engine ----------------------------

  private apply(cmd: FlowCommand, instr: number): void {
    writeFlowCommand(this.buf, 0, cmd, instr);
    stamp(this.buf.dv, 0, this.seq++, 0n);
    const out = this.engine.out;
    out.clear();
    this.engine.apply(this.buf, 0);
    const ev = this.ev;
    for (let o = 0; o < out.length; o += ev.size) {
      ev.wrap(out.buf, o);
      const kind = ev.kind;
      if (kind === EventKind.accepted) {
        const p = this.pending;
        assert(p !== undefined && cmd.kind === "new", "accepted without a pending new order");
        this.track(ev.orderNo, p);
      } else if (kind === EventKind.updated) {
        const l = this.byOrderNo.get(ev.orderNo);
        if (l === undefined) continue;
        const status = ev.status;
        if (status === OrderStatus.filled || status === OrderStatus.cancelled || status === OrderStatus.expired) {
          this.finish(ev.orderNo, l);
        } else {
          l.left = ev.leftQty;
          l.price = ev.price;
        }
      } else if (kind === EventKind.rejected) {
        assert(cmd.kind === "cancel", `the generator made a command the engine rejects: ${JSON.stringify(cmd)}`);
      }
    }
    out.clear();
    this.pending = undefined;
  }

  private track(orderNo: number, l: Live): void {
    const list = this.live[l.instrument]!;
    l.slot = list.length;
    list.push(l);
    this.byOrderNo.set(orderNo, l);
  }

  private finish(orderNo: number, l: Live): void {
    this.byOrderNo.delete(orderNo);
    const list = this.live[l.instrument]!;
    const last = list.pop()!;
    if (last !== l) {
      list[l.slot] = last;
      last.slot = l.slot;
    }
    l.slot = -1;
    const f: Finished = { id: l.id, account: l.account, instrument: l.instrument, side: l.side };
    if (this.finished.length < FINISHED_RING) this.finished.push(f);
    else this.finished[this.finishedNext] = f;
    this.finishedNext = (this.finishedNext + 1) % FINISHED_RING;
  }
}

function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : x > hi ? hi : x;
}

/** 1 + a geometric number of failures with success probability p, capped. */
function geometric(rng: Prng, p: number, cap: number): number {
  const u = 1 - rng.nextFloat(); // (0, 1]
  return Math.min(cap, 1 + Math.floor(Math.log(u) / Math.log(1 - p)));
}

// ---------------------------------------------------------------------------------------
// Encodings

/** Writes one flow command as a binary command record; returns its size. */
export function writeFlowCommand(buf: Buf, offset: number, c: FlowCommand, instrument: number): number {
  switch (c.kind) {
    case "new":
      return writeNewOrder(buf, offset, {
        instrument, account: c.account, orderId: c.id,
        side: c.side === "buy" ? Side.buy : Side.sell,
        orderType: c.type === "market" ? OrderType.market : OrderType.limit,
        tif: TIF_CODE[c.tif],
        price: c.price, qty: c.qty,
      });
    case "cancel":
      return writeCancel(buf, offset, { account: c.account, orderId: c.id });
    case "amend":
      return writeAmend(buf, offset, { account: c.account, orderId: c.id, price: c.price, qty: c.qty });
  }
}

export interface EncodedFlow {
  /** Every command record back to back. */
  buf: Buf;
  /** offsets[i]: where command i starts in `buf`. */
  offsets: Int32Array;
}

export interface EncodeOptions {
  /** Sequence number of the first command (default 1; after instruments defined with `defineInstruments`, pass its result). */
  firstSeq?: number;
  /** Timestamp of the first command in ns (default 2026-11-24T00:00:00Z); each next one is `stepNs` later. */
  startNs?: bigint;
  stepNs?: bigint;
}

/**
 * Encodes a flow as binary command records, stamped with consecutive sequence numbers and
 * timestamps, so that a timed loop only calls `engine.apply(buf, offsets[i])`. Symbols are
 * resolved through `engine` (its instruments must be defined); the records are valid for
 * any engine whose instruments were defined in the same order.
 */
export function encodeFlow(flow: readonly FlowCommand[], engine: Engine, options: EncodeOptions = {}): EncodedFlow {
  const instrumentOf = new Map<string, number>();
  let total = 0;
  for (const c of flow) {
    if (!instrumentOf.has(c.symbol)) {
      const i = engine.instrumentIndex(c.symbol);
      if (i < 0) throw new RangeError(`encodeFlow: instrument ${c.symbol} is not defined in the engine`);
      instrumentOf.set(c.symbol, i);
    }
    total += newOrderSize({ account: c.account, orderId: c.id }); // new and amend; cancel is 16 bytes smaller at most
  }
  const buf = Buf.alloc(Math.max(8, total));
  const offsets = new Int32Array(flow.length);
  let seq = options.firstSeq ?? 1;
  let ts = options.startNs ?? BigInt(Date.UTC(2026, 10, 24)) * 1_000_000n;
  const step = options.stepNs ?? 1_000n;
  let at = 0;
  for (let i = 0; i < flow.length; i++) {
    const c = flow[i]!;
    offsets[i] = at;
    const size = writeFlowCommand(buf, at, c, instrumentOf.get(c.symbol)!);
    stamp(buf.dv, at, seq++, ts);
    ts += step;
    at += size;
  }
  return { buf, offsets };
}

/** One JSONL command object for a flow command (as `venue replay` reads it). */
export function toJsonObject(c: FlowCommand): Record<string, string | number> {
  switch (c.kind) {
    case "new":
      return c.type === "market"
        ? { op: "new", id: c.id, account: c.account, symbol: c.symbol, side: c.side, type: "market", tif: c.tif, qty: c.qty }
        : { op: "new", id: c.id, account: c.account, symbol: c.symbol, side: c.side, type: "limit", tif: c.tif, price: c.price, qty: c.qty };
    case "cancel":
      return { op: "cancel", id: c.id, account: c.account };
    case "amend":
      return { op: "amend", id: c.id, account: c.account, price: c.price, qty: c.qty };
  }
}

/**
 * The flow as JSON lines (no newlines), preceded by the definitions of the instruments it
 * trades (`instruments`: how many; default: enough for every symbol in the flow).
 */
export function toJsonl(flow: readonly FlowCommand[], instruments?: number): string[] {
  let count = instruments ?? 1;
  if (instruments === undefined) {
    const seen = new Set<string>();
    for (const c of flow) seen.add(c.symbol);
    for (const s of seen) count = Math.max(count, instrumentOfSymbol(s) + 1);
  }
  const lines = instrumentCommands(count).map((d) => JSON.stringify(d));
  for (const c of flow) lines.push(JSON.stringify(toJsonObject(c)));
  return lines;
}

/** The instrument index of one of this module's symbols (inverse of `symbolOf`). */
export function instrumentOfSymbol(symbol: string): number {
  const named = (NAMED_SYMBOLS as readonly string[]).indexOf(symbol);
  if (named >= 0) return named;
  const m = /^X\.S(\d+)$/.exec(symbol);
  if (m === null || Number(m[1]) < NAMED_SYMBOLS.length) throw new RangeError(`not a generated symbol: ${symbol}`);
  return Number(m[1]);
}
