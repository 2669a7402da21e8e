/**
 * Property tests of the matching engine against the naive reference matcher
 * (reference_matcher.ts). Random JSONL command sequences (three instruments, four accounts,
 * prices on a small grid with off-tick and out-of-band values, bad quantities, cancels and
 * amends of live, finished and unknown ids, duplicate ids, state changes, mass cancels,
 * expiries, redefinitions) run through `Replayer` and through the reference. After every
 * command this checks:
 *   [rejection]  the same rejection reason, or acceptance;
 *   [trades]     the same trades in the same order (maker, taker, price, qty);
 *   [book]       the same aggregate levels on both sides and the same queue of resting ids;
 *   [invariants] engine.checkInvariants();
 * and, from the engine's own events, the properties:
 *   [crossed]      the book is never crossed;
 *   [live fills]   every fill names a maker resting before the command and the command's order;
 *   [priority]     every maker is the first order of the opposite side (best level, oldest);
 *   [conservation] per order, accepted qty (+ amend changes) = filled + left + cancelled + decremented;
 *   [l2]           the last l2 event of each touched level matches the book.
 * Seeded from VENUE_SEED (printed); a failure shows the JSONL commands that reproduce it.
 */

import { describe, it } from "vitest";
import * as fc from "fast-check";
import { Replayer } from "../../src/replay/replayer.ts";
import type { Engine } from "../../src/engine/engine.ts";
import { Side } from "../../src/schema/codes.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { CONFIG, CheckFailure, bump, check, jsonl, show, weighted } from "./property_kit.ts";
import { ReferenceMatcher, type JsonCommand, type RefTrade, type SideName } from "./reference_matcher.ts";

// ---------------------------------------------------------------------------------------
// The universe of a sequence

interface InstrumentDef {
  symbol: string;
  tickSize: number;
  lotSize: number;
  minQty: number;
  maxQty: number;
  priceLow: number;
  priceHigh: number;
  center: number;
}

const INSTRUMENTS: readonly InstrumentDef[] = [
  { symbol: "X.AAA", tickSize: 100, lotSize: 1, minQty: 2, maxQty: 1000, priceLow: 1000, priceHigh: 3000, center: 2000 },
  { symbol: "X.BBB", tickSize: 5, lotSize: 10, minQty: 20, maxQty: 500, priceLow: 50, priceHigh: 200, center: 125 },
  { symbol: "Y.CCC", tickSize: 1, lotSize: 1, minQty: 1, maxQty: 60, priceLow: 1, priceHigh: 30, center: 15 },
];
const UNKNOWN_SYMBOL = "Z.NONE";
const ACCOUNTS = ["a0", "a1", "a2", "a3"];

function defineCommand(d: InstrumentDef, variant = 0): JsonCommand {
  const c: JsonCommand = {
    op: "instrument", symbol: d.symbol, tickSize: variant === 2 ? d.tickSize * 2 : d.tickSize, lotSize: d.lotSize,
    minQty: d.minQty, maxQty: d.maxQty, priceLow: d.priceLow, priceHigh: d.priceHigh,
  };
  if (variant === 1) c["state"] = "cancel_only";
  return c;
}

const PREAMBLE: readonly JsonCommand[] = INSTRUMENTS.map((d) => defineCommand(d));

// ---------------------------------------------------------------------------------------
// Abstract steps (what fast-check generates and shrinks) and their materialization

type PriceSel =
  | { kind: "grid"; k: number }
  | { kind: "off"; k: number; d: number }
  | { kind: "band"; which: number }
  | { kind: "frac"; k: number }
  | { kind: "unsafe" }
  | { kind: "missing" }
  | { kind: "same" };

type QtySel =
  | { kind: "lots"; n: number }
  | { kind: "bad"; which: number };

type IdSel =
  | { kind: "fresh" }
  | { kind: "dup"; back: number }
  | { kind: "otherAccount"; back: number }
  | { kind: "empty" };

type Target =
  | { kind: "ref"; back: number; wrongAccount: boolean }
  | { kind: "unknown" }
  | { kind: "empty" };

type Step =
  | {
    k: "new"; acct: number; sym: number; side: string; type: string | null; tif: string | null; postOnly: boolean;
    stp: string | null; price: PriceSel; qty: QtySel; id: IdSel;
  }
  | { k: "cancel"; target: Target }
  | { k: "amend"; target: Target; price: PriceSel; qty: QtySel }
  | { k: "mass"; acct: number | null; sym: number | null }
  | { k: "state"; sym: number; state: string }
  | { k: "expire"; sym: number | null }
  | { k: "define"; sym: number; variant: number };

const gridK = fc.integer({ min: -4, max: 4 });

function priceSel(forAmend: boolean): fc.Arbitrary<PriceSel> {
  return fc.oneof(
    { weight: 30, arbitrary: fc.record({ kind: fc.constant("grid" as const), k: gridK }) },
    { weight: forAmend ? 12 : 0, arbitrary: fc.constant({ kind: "same" as const }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("off" as const), k: gridK, d: fc.integer({ min: 0, max: 98 }) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("band" as const), which: fc.integer({ min: 0, max: 5 }) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant("frac" as const), k: gridK }) },
    { weight: 1, arbitrary: fc.constant({ kind: "unsafe" as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: "missing" as const }) },
  );
}

const qtySel: fc.Arbitrary<QtySel> = fc.oneof(
  { weight: 30, arbitrary: fc.record({ kind: fc.constant("lots" as const), n: fc.integer({ min: 1, max: 5 }) }) },
  { weight: 8, arbitrary: fc.record({ kind: fc.constant("lots" as const), n: fc.integer({ min: 1, max: 30 }) }) },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("bad" as const), which: fc.integer({ min: 0, max: 7 }) }) },
);

const back = fc.integer({ min: 0, max: 30 });

const target: fc.Arbitrary<Target> = fc.oneof(
  { weight: 20, arbitrary: fc.record({ kind: fc.constant("ref" as const), back, wrongAccount: fc.constant(false) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("ref" as const), back, wrongAccount: fc.constant(true) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "unknown" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "empty" as const }) },
);

const symIdx = fc.oneof({ weight: 30, arbitrary: fc.integer({ min: 0, max: 2 }) }, { weight: 1, arbitrary: fc.constant(3) });

const newStep: fc.Arbitrary<Step> = fc.record({
  k: fc.constant("new" as const),
  acct: fc.integer({ min: 0, max: ACCOUNTS.length - 1 }),
  sym: symIdx,
  side: weighted<string>([30, "buy"], [30, "sell"], [1, "hold"]),
  type: weighted<string | null>([40, null], [40, "limit"], [14, "market"], [1, "stop"]),
  tif: weighted<string | null>([40, null], [15, "gtc"], [15, "gfd"], [12, "ioc"], [12, "fok"], [1, "day"]),
  postOnly: weighted([9, false], [1, true]),
  stp: weighted<string | null>([40, null], [10, "cancel_newest"], [10, "cancel_oldest"], [10, "cancel_both"], [10, "decrement"], [1, "bogus"]),
  price: priceSel(false),
  qty: qtySel,
  id: fc.oneof(
    { weight: 30, arbitrary: fc.constant({ kind: "fresh" as const }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant("dup" as const), back }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant("otherAccount" as const), back }) },
    { weight: 1, arbitrary: fc.constant({ kind: "empty" as const }) },
  ),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 60, arbitrary: newStep },
  { weight: 10, arbitrary: fc.record({ k: fc.constant("cancel" as const), target }) },
  { weight: 12, arbitrary: fc.record({ k: fc.constant("amend" as const), target, price: priceSel(true), qty: qtySel }) },
  {
    weight: 1,
    arbitrary: fc.record({
      k: fc.constant("mass" as const),
      acct: fc.option(fc.integer({ min: 0, max: ACCOUNTS.length - 1 }), { nil: null }),
      sym: fc.option(symIdx, { nil: null }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      k: fc.constant("state" as const),
      sym: symIdx,
      state: weighted<string>([8, "open"], [2, "halted"], [2, "cancel_only"], [1, "closed"]),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("expire" as const), sym: fc.option(symIdx, { nil: null }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("define" as const), sym: fc.integer({ min: 0, max: 2 }), variant: fc.integer({ min: 0, max: 2 }) }) },
);

function symbolOf(i: number): string {
  return INSTRUMENTS[i]?.symbol ?? UNKNOWN_SYMBOL;
}

function priceOf(sel: PriceSel, sym: number, samePrice: number | undefined): number | undefined {
  const d = INSTRUMENTS[sym] ?? INSTRUMENTS[0]!;
  const grid = (k: number): number => d.center + k * d.tickSize;
  switch (sel.kind) {
    case "grid": return grid(sel.k);
    case "same": return samePrice ?? d.center;
    case "off": return d.tickSize > 1 ? grid(sel.k) + 1 + (sel.d % (d.tickSize - 1)) : grid(sel.k) + 0.25;
    case "band": return [d.priceLow, d.priceHigh, d.priceLow - d.tickSize, d.priceHigh + d.tickSize, 0, -d.tickSize][sel.which]!;
    case "frac": return grid(sel.k) + 0.5;
    case "unsafe": return 2 ** 60;
    case "missing": return undefined;
  }
}

function qtyOf(sel: QtySel, sym: number): number {
  const d = INSTRUMENTS[sym] ?? INSTRUMENTS[0]!;
  if (sel.kind === "lots") return Math.min(d.minQty + (sel.n - 1) * d.lotSize, d.maxQty);
  const bad = [0, -d.lotSize, d.minQty + 0.5, d.minQty + 1, d.minQty - d.lotSize, d.maxQty + d.lotSize, 1e12, d.maxQty];
  return bad[sel.which]!;
}

interface Sequence {
  commands: JsonCommand[];
}

/** Turns abstract steps into JSON commands, resolving references to earlier orders. */
function materialize(steps: readonly Step[]): Sequence {
  const commands: JsonCommand[] = [...PREAMBLE];
  // Every (account, id) a `new` named, with its symbol and price: targets of later references.
  const named: Array<{ account: string; id: string; sym: number; price: number | undefined }> = [];
  let fresh = 0;
  const pick = (b: number): (typeof named)[number] | undefined => named[named.length - 1 - (b % Math.max(1, named.length))];
  const targetOf = (t: Target): { account: string; id: string; sym: number; price: number | undefined } => {
    if (t.kind === "empty") return { account: "a0", id: "", sym: 0, price: undefined };
    const n = t.kind === "ref" ? pick(t.back) : undefined;
    if (n === undefined) return { account: "a1", id: "nope", sym: 0, price: undefined };
    if (t.kind === "ref" && t.wrongAccount) return { ...n, account: ACCOUNTS[(ACCOUNTS.indexOf(n.account) + 1) % ACCOUNTS.length]! };
    return n;
  };
  for (const s of steps) {
    switch (s.k) {
      case "new": {
        let account = ACCOUNTS[s.acct]!;
        let id = `o${++fresh}`;
        const earlier = s.id.kind === "dup" || s.id.kind === "otherAccount" ? pick(s.id.back) : undefined;
        if (s.id.kind === "empty") id = "";
        if (earlier !== undefined) {
          id = earlier.id;
          if (s.id.kind === "dup") account = earlier.account;
        }
        const c: JsonCommand = { op: "new", id, account, symbol: symbolOf(s.sym), side: s.side };
        if (s.type !== null) c["type"] = s.type;
        if (s.tif !== null) c["tif"] = s.tif;
        const price = priceOf(s.price, s.sym, undefined);
        if (price !== undefined) c["price"] = price;
        c["qty"] = qtyOf(s.qty, s.sym);
        if (s.postOnly) c["postOnly"] = true;
        if (s.stp !== null) c["stp"] = s.stp;
        commands.push(c);
        named.push({ account, id, sym: s.sym, price });
        break;
      }
      case "cancel": {
        const t = targetOf(s.target);
        commands.push({ op: "cancel", id: t.id, account: t.account });
        break;
      }
      case "amend": {
        const t = targetOf(s.target);
        const c: JsonCommand = { op: "amend", id: t.id, account: t.account };
        const price = priceOf(s.price, t.sym, t.price);
        if (price !== undefined) c["price"] = price;
        c["qty"] = qtyOf(s.qty, t.sym);
        commands.push(c);
        break;
      }
      case "mass": {
        const c: JsonCommand = { op: "mass_cancel" };
        if (s.acct !== null) c["account"] = ACCOUNTS[s.acct]!;
        if (s.sym !== null) c["symbol"] = symbolOf(s.sym);
        commands.push(c);
        break;
      }
      case "state":
        commands.push({ op: "state", symbol: symbolOf(s.sym), state: s.state });
        break;
      case "expire":
        commands.push(s.sym === null ? { op: "expire" } : { op: "expire", symbol: symbolOf(s.sym) });
        break;
      case "define":
        commands.push(defineCommand(INSTRUMENTS[s.sym]!, s.variant));
        break;
    }
  }
  return { commands, [fc.toStringMethod]: () => `JSONL (${commands.length} commands):\n${jsonl(commands)}` } as Sequence;
}

function sequences(maxSteps: number): fc.Arbitrary<Sequence> {
  return fc.array(step, { minLength: 1, maxLength: maxSteps, size: "max" }).map(materialize);
}

// ---------------------------------------------------------------------------------------
// Engine events

interface EngineEvent {
  ev: string;
  symbol?: string;
  op?: string;
  reason?: string;
  message?: string;
  id?: string;
  account?: string;
  orderNo?: number;
  side?: string;
  type?: string;
  tif?: string;
  stp?: string;
  price?: number;
  qty?: number;
  orders?: number;
  aggressor?: string;
  maker?: string;
  taker?: string;
  makerAccount?: string;
  takerAccount?: string;
  makerOrderNo?: number;
  takerOrderNo?: number;
  makerLeft?: number;
  takerLeft?: number;
  status?: string;
  left?: number;
  filled?: number;
}

function sideName(s: Side): SideName {
  return s === Side.buy ? "buy" : "sell";
}

// ---------------------------------------------------------------------------------------
// Engine-only properties, tracked from the events

interface QEntry { orderNo: number; price: number; left: number }
type Queues = Map<string, Record<SideName, QEntry[]>>;

interface Ledger {
  orderNo: number;
  symbol: string;
  side: SideName;
  stp: string;
  qty: number;
  adjust: number;
  filled: number;
  decremented: number;
  cancelled: number;
  left: number;
  done: boolean;
}

function engineQueues(engine: Engine, symbols: readonly string[]): Queues {
  const out: Queues = new Map();
  for (const symbol of symbols) {
    const i = engine.instrumentIndex(symbol);
    const q = (s: Side): QEntry[] => engine.queue(i, s).map(([orderNo, , price, left]) => ({ orderNo, price, left }));
    out.set(symbol, { buy: q(Side.buy), sell: q(Side.sell) });
  }
  return out;
}

function copyQueues(q: Queues): Queues {
  const out: Queues = new Map();
  for (const [s, v] of q) out.set(s, { buy: v.buy.map((e) => ({ ...e })), sell: v.sell.map((e) => ({ ...e })) });
  return out;
}

class Auditor {
  readonly ledger = new Map<number, Ledger>();
  readonly keyToOrderNo = new Map<string, number>();
  readonly orderNoToKey = new Map<number, string>();
  private prev: Queues = new Map();

  constructor(private readonly engine: Engine) {}

  /** Checks one command's events against the state before it; then records the state after it. */
  audit(cmd: JsonCommand, events: readonly EngineEvent[], symbols: readonly string[]): void {
    const shadow = copyQueues(this.prev);
    const rejected = events.some((e) => e.ev === "rejected");
    let takerNo = -1;
    let takerLimit = 0;
    if (cmd["op"] === "amend" && !rejected) {
      takerNo = this.keyToOrderNo.get(`${String(cmd["account"])}/${String(cmd["id"])}`) ?? -1;
      takerLimit = cmd["price"] as number;
    }
    const ledgerOf = (orderNo: number | undefined, what: string): Ledger => {
      const l = orderNo === undefined ? undefined : this.ledger.get(orderNo);
      check(l !== undefined, "conservation", () => `${what}: event names order ${orderNo ?? "?"} that was never accepted`);
      check(!l.done, "live fills", () => `${what}: event names order ${l.orderNo}, which had already finished`);
      return l;
    };
    const dropShadow = (symbol: string, orderNo: number): void => {
      const q = shadow.get(symbol);
      if (q === undefined) return;
      for (const s of ["buy", "sell"] as const) {
        const i = q[s].findIndex((e) => e.orderNo === orderNo);
        if (i >= 0) q[s].splice(i, 1);
      }
    };
    const shadowEntry = (symbol: string, orderNo: number): QEntry | undefined => {
      const q = shadow.get(symbol);
      return q?.buy.find((e) => e.orderNo === orderNo) ?? q?.sell.find((e) => e.orderNo === orderNo);
    };
    const lastL2 = new Map<string, EngineEvent>();

    for (const e of events) {
      switch (e.ev) {
        case "accepted": {
          const orderNo = e.orderNo!;
          const key = `${e.account!}/${e.id!}`;
          this.keyToOrderNo.set(key, orderNo);
          this.orderNoToKey.set(orderNo, key);
          this.ledger.set(orderNo, {
            orderNo, symbol: e.symbol!, side: e.side as SideName, stp: e.stp ?? "none", qty: e.qty!, adjust: 0,
            filled: 0, decremented: 0, cancelled: 0, left: e.qty!, done: false,
          });
          takerNo = orderNo;
          takerLimit = e.price!;
          break;
        }
        case "trade": {
          check(e.takerOrderNo === takerNo, "live fills", () => `trade ${show(e)}: the taker is not the command's order (${takerNo})`);
          const makerBefore = this.prev.get(e.symbol!);
          const wasResting = makerBefore !== undefined && [...makerBefore.buy, ...makerBefore.sell].some((q) => q.orderNo === e.makerOrderNo);
          check(wasResting, "live fills", () => `trade ${show(e)}: the maker was not resting before the command`);
          const opp: SideName = e.aggressor === "buy" ? "sell" : "buy";
          const head = shadow.get(e.symbol!)?.[opp][0];
          check(head !== undefined && head.orderNo === e.makerOrderNo, "priority",
            () => `trade ${show(e)}: the first order of the opposite side was ${show(head)}, not the maker`);
          check(e.price === head.price, "priority", () => `trade ${show(e)}: not at the maker's price ${head.price}`);
          check(e.aggressor === "buy" ? e.price! <= takerLimit : e.price! >= takerLimit, "priority",
            () => `trade ${show(e)}: price beyond the taker's limit ${takerLimit}`);
          const maker = ledgerOf(e.makerOrderNo, "trade");
          const taker = ledgerOf(e.takerOrderNo, "trade");
          const q = e.qty!;
          check(q > 0 && q === Math.min(maker.left, taker.left), "conservation",
            () => `trade ${show(e)}: qty should be min(maker left ${maker.left}, taker left ${taker.left})`);
          maker.left -= q;
          maker.filled += q;
          taker.left -= q;
          taker.filled += q;
          check(e.makerLeft === maker.left && e.takerLeft === taker.left, "conservation",
            () => `trade ${show(e)}: expected makerLeft ${maker.left}, takerLeft ${taker.left}`);
          head.left -= q;
          if (head.left === 0) shadow.get(e.symbol!)![opp].shift();
          break;
        }
        case "updated": {
          const l = ledgerOf(e.orderNo, `updated ${show(e)}`);
          check(e.filled === l.filled, "conservation", () => `updated ${show(e)}: filled should be ${l.filled}`);
          const taker = takerNo >= 0 ? this.ledger.get(takerNo) : undefined;
          const decrementTaker = (d: number): void => {
            check(taker !== undefined && taker.stp === "decrement" && d > 0 && d <= taker.left, "conservation",
              () => `updated ${show(e)}: a self-trade decrement of ${d} that the taker ${show(taker)} cannot match`);
            taker.left -= d;
            taker.decremented += d;
          };
          switch (e.status) {
            case "partially_filled":
              check(e.left === l.left && l.left > 0, "conservation", () => `updated ${show(e)}: left should be ${l.left} (> 0)`);
              break;
            case "filled":
              check(e.left === 0 && l.left === 0, "conservation", () => `updated ${show(e)}: filled with ${l.left} left`);
              l.done = true;
              dropShadow(l.symbol, l.orderNo);
              break;
            case "cancelled":
            case "expired": {
              if (e.reason === "self_trade" && l.orderNo !== takerNo && taker?.stp === "decrement") decrementTaker(l.left);
              check(e.left === l.left, "conservation", () => `updated ${show(e)}: left should be ${l.left}`);
              l.cancelled += l.left;
              l.left = 0;
              l.done = true;
              dropShadow(l.symbol, l.orderNo);
              break;
            }
            case "amended": {
              if (e.reason === "self_trade") {
                if (l.orderNo === takerNo) {
                  check(l.stp === "decrement" && e.left === l.left, "conservation",
                    () => `updated ${show(e)}: the taker's left after decrements should be ${l.left}`);
                } else {
                  const d = l.left - e.left!;
                  check(d > 0, "conservation", () => `updated ${show(e)}: a self-trade decrement must reduce left ${l.left}`);
                  decrementTaker(d);
                  l.left -= d;
                  l.decremented += d;
                  const s = shadowEntry(l.symbol, l.orderNo);
                  if (s !== undefined) s.left = l.left;
                }
              } else {
                check(cmd["op"] === "amend" && l.orderNo === takerNo, "conservation",
                  () => `updated ${show(e)}: amended, but not by this command`);
                l.adjust += e.left! - l.left;
                l.left = e.left!;
                const s = shadowEntry(l.symbol, l.orderNo);
                if (s !== undefined && s.price === e.price && e.left! <= s.left) s.left = e.left!;
                else dropShadow(l.symbol, l.orderNo);
              }
              break;
            }
            default:
              check(false, "conservation", () => `updated ${show(e)}: unknown status`);
          }
          break;
        }
        case "l2":
          lastL2.set(`${e.symbol!}/${e.side!}/${e.price!}`, e);
          break;
        default:
          break;
      }
    }

    const post = engineQueues(this.engine, symbols);
    let resting = 0;
    for (const [symbol, q] of post) {
      for (const s of ["buy", "sell"] as const) {
        for (const entry of q[s]) {
          resting++;
          const l = this.ledger.get(entry.orderNo);
          check(l !== undefined && !l.done && l.symbol === symbol && l.side === s && l.left === entry.left, "conservation",
            () => `resting order ${show(entry)} (${symbol} ${s}) does not match its events: ${show(l)}`);
        }
      }
      const bid = q.buy[0];
      const ask = q.sell[0];
      check(bid === undefined || ask === undefined || bid.price < ask.price, "crossed",
        () => `${symbol} is crossed: best bid ${show(bid)}, best ask ${show(ask)}`);
    }
    let open = 0;
    for (const l of this.ledger.values()) {
      if (!l.done) open++;
      check(l.qty + l.adjust === l.filled + l.left + l.cancelled + l.decremented, "conservation",
        () => `order ${l.orderNo}: qty ${l.qty} + amend changes ${l.adjust} != filled ${l.filled} + left ${l.left} + cancelled ${l.cancelled} + decremented ${l.decremented}`);
    }
    check(open === resting, "conservation", () => `${open} orders are neither filled nor cancelled by their events, but ${resting} rest in the book`);

    for (const e of lastL2.values()) {
      const i = this.engine.instrumentIndex(e.symbol!);
      const level = this.engine.depth(i, e.side === "buy" ? Side.buy : Side.sell).find(([p]) => p === e.price);
      const actual = level === undefined ? [0, 0] : [level[1], level[2]];
      check(actual[0] === e.qty && actual[1] === e.orders, "l2", () => `last l2 event ${show(e)} but the level is [qty, orders] ${show(actual)}`);
    }
    this.prev = post;
  }
}

// ---------------------------------------------------------------------------------------
// One sequence through the engine and the reference

interface Stats {
  sequences: number;
  commands: number;
  trades: number;
  rejected: Map<string, number>;
  updates: Map<string, number>;
}

const stats: Stats = { sequences: 0, commands: 0, trades: 0, rejected: new Map(), updates: new Map() };

function tradeKey(t: RefTrade | EngineEvent): string {
  return show([t.symbol, t.maker, t.makerAccount, t.taker, t.takerAccount, t.price, t.qty]);
}

function runSequence(seq: Sequence): void {
  const replayer = new Replayer(CONFIG);
  const engine = replayer.engine;
  const ref = new ReferenceMatcher();
  const auditor = new Auditor(engine);
  stats.sequences++;
  seq.commands.forEach((cmd, index) => {
    const lines: string[] = [];
    try {
      replayer.feed(JSON.stringify(cmd), (l) => { lines.push(l); });
      const events = lines.map((l) => JSON.parse(l) as EngineEvent);
      const expected = ref.apply(cmd);
      stats.commands++;
      const errors = events.filter((e) => e.ev === "error");
      check(errors.length === 0, "rejection", () => `the replayer could not encode the command: ${show(errors)}`);

      const rejections = events.filter((e) => e.ev === "rejected");
      const actualReason = rejections[0]?.reason ?? null;
      if (actualReason !== null) bump(stats.rejected, `${String(cmd["op"])}:${actualReason}`);
      check(actualReason === expected.rejected, "rejection",
        () => `expected ${expected.rejected === null ? "acceptance" : `rejection ${expected.rejected}`}, engine ${actualReason === null ? "accepted" : `rejected ${actualReason}`}`);
      check(rejections.length === 0 || events.length === 1, "rejection", () => "a rejection must be the command's only event");

      const trades = events.filter((e) => e.ev === "trade");
      stats.trades += trades.length;
      for (const e of events) if (e.ev === "updated") bump(stats.updates, `${e.status!}:${e.reason ?? ""}`);
      const expectedTrades = expected.trades.map(tradeKey);
      const actualTrades = trades.map(tradeKey);
      check(show(expectedTrades) === show(actualTrades), "trades",
        () => `[symbol, maker, makerAccount, taker, takerAccount, price, qty]\n  expected ${expectedTrades.join(" ")}\n  engine   ${actualTrades.join(" ")}`);

      try {
        engine.checkInvariants();
      } catch (err) {
        throw new CheckFailure("invariants", (err as Error).message);
      }

      auditor.audit(cmd, events, ref.symbols());

      for (const symbol of ref.symbols()) {
        const i = engine.instrumentIndex(symbol);
        check(i >= 0, "book", () => `engine does not know ${symbol}`);
        const want = ref.book(symbol);
        const level = ([p, q]: [number, number, number]): [number, number] => [p, q];
        const got = { bids: engine.depth(i, Side.buy).map(level), asks: engine.depth(i, Side.sell).map(level) };
        check(show(want) === show(got), "book", () => `${symbol} levels\n  expected ${show(want)}\n  engine   ${show(got)}`);
        for (const s of [Side.buy, Side.sell]) {
          const wantQ = ref.resting(symbol, sideName(s)).map((o) => `${o.account}/${o.id}:${o.left}`);
          const gotQ = engine.queue(i, s).map(([orderNo, , , left]) => `${auditor.orderNoToKey.get(orderNo) ?? `#${orderNo}`}:${left}`);
          check(show(wantQ) === show(gotQ), "book", () => `${symbol} ${sideName(s)} queue (account/id:left)\n  expected ${show(wantQ)}\n  engine   ${show(gotQ)}`);
        }
      }
    } catch (err) {
      const label = err instanceof CheckFailure ? err.label : "exception";
      throw new Error(
        `${label} check failed at command #${index + 1} of the JSONL below: ${(err as Error).message}\n` +
        `command: ${show(cmd)}\nengine events for it:\n${lines.join("\n")}\n` +
        `JSONL to reproduce (e.g. venue replay):\n${jsonl(seq.commands.slice(0, index + 1))}`,
        { cause: err },
      );
    }
  });
}

// ---------------------------------------------------------------------------------------

const SEED = seedFromEnv();
console.log(`matching.property: seed ${SEED} (replay with VENUE_SEED=${SEED})`);

describe("matching engine vs reference matcher", () => {
  it("agrees on short random sequences, command by command", () => {
    fc.assert(fc.property(sequences(60), (seq) => { runSequence(seq); }), { seed: SEED, numRuns: 6000, includeErrorInReport: true });
  });

  it("agrees on long random sequences (deep books)", () => {
    fc.assert(fc.property(sequences(600), (seq) => { runSequence(seq); }), { seed: SEED, numRuns: 200, includeErrorInReport: true });
    const top = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ");
    console.log(`matching.property: ${stats.sequences} sequences, ${stats.commands} commands, ${stats.trades} trades`);
    console.log(`  rejections: ${top(stats.rejected)}`);
    console.log(`  updates: ${top(stats.updates)}`);
  });
});
