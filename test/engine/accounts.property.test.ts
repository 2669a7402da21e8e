/**
 * Property tests of the engine's accounts, positions and pre-trade risk against the naive
 * reference (reference_accounts.ts wrapping reference_matcher.ts). Random JSONL sequences
 * over one or two money instruments (SHFE.cu with closeTodayDistinct, DCE.m without; random
 * margin and commission parameters, per lot and as rates, a position limit sometimes, DCE.m
 * sometimes in USD) and one pure matching instrument; five accounts, most funded by initial
 * deposits (one never is; later deposits are random); deposits (some invalid), withdrawals
 * (some too large, some to a risk ratio of exactly 90% or 100%), orders with offsets
 * open/close/close_today (most closes sized from a position the account holds, some of
 * positions it does not), all-in orders (as many lots as available pays for), market
 * orders, IOC/FOK, self-trade prevention, cancels, amends, marks, price shocks (a one-lot
 * trade far from the last price, then `mark`), settlements, mass cancels and expiries.
 * Commands are made from the steps one at a time, reading the reference's state (book,
 * positions, available). Each runs through `Replayer` and through the reference; after
 * every command this checks:
 *   [rejection]   the same rejection reason, or acceptance;
 *   [trades]      the same trades (maker, taker, price, qty) with each side's commission
 *                 and close profit;
 *   [breaches]    the same riskBreach events (account, currency, ratio, balance, margin);
 *   [accounts]    the engine's latest `account` event of every money account equals the
 *                 reference state (and the engine has no account the reference lacks);
 *   [positions]   the same for `position` events (markPrice only in events of this command:
 *                 the first trade sets the mark without touching other, empty positions);
 *   [book]        the same resting queues (account/id:left), and engine.checkInvariants();
 *   [event invariants] in every account event: staticBalance = preBalance + deposit -
 *                 withdraw; balance = staticBalance + closeProfit + positionProfit -
 *                 commission; available = balance - margin - frozenMargin - frozenCommission;
 *                 frozen amounts >= 0; riskRatioBp = floor(margin * 10^4 / balance) (capped;
 *                 RISK_RATIO_MAX when balance <= 0 with margin); after `settle`: preBalance =
 *                 balance and the day's figures zero; in every position event: volumes
 *                 >= 0, frozen volumes >= 0, frozen today <= today and frozen his <= his;
 *                 every figure of both a safe integer;
 *   [conservation] over the latest account events of each currency:
 *                 Σ balance + Σ commission - Σ (preBalance + deposit - withdraw)
 *                   = Σ (closeProfit + positionProfit) = 0
 *                 (trades are zero-sum and all positions of an instrument are valued at its
 *                 one mark price; settlement resets closeProfit and rebases position cost);
 *   [available]   see below.
 *
 * The "available >= 0" property asserted. A full "available never goes negative" cannot
 * hold under mark-to-market: a `mark` (or settlement) re-values held positions, and a loss
 * on them lowers balance, hence available, with nothing the account did. The account model
 * instead guarantees (accounts.ts) that an accepted order and its fills cannot turn
 * available negative *at the mark its frozen amounts were computed at*: per lot it freezes
 * its margin plus the premium max(0, P - M) (buy) / max(0, M - P) (sell) times the
 * multiplier and the commission at its worst fill price, so a fill at F moves available by
 * at least (P - F) * multiplier >= 0. That per-lot amount is fixed at acceptance (or amend);
 * an order accepted before the mark moved (or before the first trade, mark 0) may fill
 * at a loss against the new mark, and then even an account that ends the command with no
 * position can go below zero. E.g. (STALE_PREMIUM below; multiplier 1, margin 1 per lot):
 * A long 1 lot at cost 90, mark 90; a trade at 110 elsewhere; A's sell-close at 100 rests,
 * accepted at mark 90 (premium 0); `mark` (now 110); A withdraws down to available 1; a
 * buyer lifts the 100 and A ends flat with available -8 (the 10 below the mark it sold at,
 * less the margin released). So the property asserted is:
 *   after any command other than `mark` and `settle`, every money account whose available
 *   was >= 0 before the command (an account that did not exist counts as 0), and none of
 *   whose fills in the command was of an order frozen at a mark price other than the
 *   instrument's mark at that fill, has available >= 0 after it.
 * This covers the two cases asked for: an account with no position after the command (its
 * fills, if any, at an unchanged mark), and the account of an accepted new order, amend or
 * withdrawal at an unchanged mark (a withdrawal is checked against available; an order's
 * own fills are at the mark of its acceptance unless it is the first trade of the
 * instrument). The stats line counts how often each case was exercised, and how often the
 * excluded (stale mark) case did go negative.
 *
 * Engine bugs still open are listed in KNOWN_BUGS: the reference mirrors them in the random
 * sequences, and a small `it.fails` test pins each with the correct expectation.
 *
 * Seeded from VENUE_SEED (printed); a failure shows the JSONL commands that reproduce it.
 */

import { describe, it } from "vitest";
import * as fc from "fast-check";
import { Replayer } from "../../src/replay/replayer.ts";
import { Side } from "../../src/schema/codes.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { CONFIG, CheckFailure, bump, check, jsonl, show, weighted } from "./property_kit.ts";
import { type JsonCommand, type RefTrade, type SideName } from "./reference_matcher.ts";
import {
  RISK_RATIO_MAX,
  ReferenceVenue,
  accountKey,
  positionKey,
  type AccountState,
  type KnownEngineBugs,
  type PositionState,
  type RefBreach,
} from "./reference_accounts.ts";

// ---------------------------------------------------------------------------------------
// The universe of a sequence

interface InstrumentDef {
  symbol: string;
  tickSize: number;
  maxQty: number;
  priceLow: number;
  priceHigh: number;
  center: number;
  multiplier: number;
  closeTodayDistinct: boolean;
}

const CU: InstrumentDef = { symbol: "SHFE.cu", tickSize: 10, maxQty: 40, priceLow: 1000, priceHigh: 3000, center: 2000, multiplier: 5, closeTodayDistinct: true };
const SOY: InstrumentDef = { symbol: "DCE.m", tickSize: 1, maxQty: 40, priceLow: 50, priceHigh: 150, center: 100, multiplier: 10, closeTodayDistinct: false };
const PURE: InstrumentDef = { symbol: "X.PURE", tickSize: 1, maxQty: 40, priceLow: 1, priceHigh: 99, center: 50, multiplier: 0, closeTodayDistinct: false };
const ACCOUNTS = ["a0", "a1", "a2", "a3", "a4"];

interface MoneyParams {
  marginPerLot: number;
  marginRateBp: number;
  commissionPerLot: number;
  commissionRateBp: number;
  positionLimit: number;
}

interface Universe {
  /** Which money instruments: 0 CU, 1 SOY, 2 both. */
  money: number;
  soyUsd: boolean;
  cu: MoneyParams;
  soy: MoneyParams;
  /** Initial deposit per account (null: none); the last account never gets one. */
  funding: Array<number | null>;
}

const moneyParams: fc.Arbitrary<MoneyParams> = fc.record({
  marginPerLot: fc.constantFrom(0, 0, 20, 150),
  marginRateBp: fc.constantFrom(0, 300, 800, 1000, 1500, 2500),
  commissionPerLot: fc.constantFrom(0, 0, 1, 3),
  commissionRateBp: fc.constantFrom(0, 0, 1, 3, 7),
  positionLimit: fc.constantFrom(0, 0, 0, 6, 15),
});

const universe: fc.Arbitrary<Universe> = fc.record({
  money: fc.constantFrom(0, 1, 2, 2, 2),
  soyUsd: fc.boolean(),
  cu: moneyParams,
  soy: moneyParams,
  funding: fc.array(weighted<number | null>([1, null], [2, 3_000], [2, 20_000], [2, 50_000], [1, 100_000], [1, 300_000]), { minLength: ACCOUNTS.length - 1, maxLength: ACCOUNTS.length - 1 }),
});

function instrumentsOf(u: Universe): { money: InstrumentDef[]; all: InstrumentDef[] } {
  const money = u.money === 0 ? [CU] : u.money === 1 ? [SOY] : [CU, SOY];
  return { money, all: [...money, PURE] };
}

function currencyOf(u: Universe, d: InstrumentDef): string {
  return d === SOY && u.soyUsd ? "USD" : "CNY";
}

function preamble(u: Universe): JsonCommand[] {
  const out: JsonCommand[] = [];
  for (const d of instrumentsOf(u).all) {
    const c: JsonCommand = {
      op: "instrument", symbol: d.symbol, tickSize: d.tickSize, lotSize: 1, minQty: 1, maxQty: d.maxQty,
      priceLow: d.priceLow, priceHigh: d.priceHigh,
    };
    if (d.multiplier > 0) {
      const p = d === CU ? u.cu : u.soy;
      // Every opening order needs some margin: a zero rate and zero per-lot margin would make funds irrelevant.
      const marginRateBp = p.marginRateBp === 0 && p.marginPerLot === 0 ? 1000 : p.marginRateBp;
      Object.assign(c, {
        multiplier: d.multiplier, currency: currencyOf(u, d), marginPerLot: p.marginPerLot, marginRateBp,
        commissionPerLot: p.commissionPerLot, commissionRateBp: p.commissionRateBp, positionLimit: p.positionLimit,
        closeTodayDistinct: d.closeTodayDistinct,
      });
    }
    out.push(c);
  }
  u.funding.forEach((amount, k) => {
    if (amount === null) return;
    out.push({ op: "deposit", account: ACCOUNTS[k]!, currency: "CNY", amount });
    if (u.money !== 0 && u.soyUsd) out.push({ op: "deposit", account: ACCOUNTS[k]!, currency: "USD", amount: Math.floor(amount / 4) });
  });
  return out;
}

// ---------------------------------------------------------------------------------------
// Abstract steps (generated and shrunk by fast-check), materialized against the reference

type OffsetSel = "held" | "open" | "none" | "close" | "close_today";
/** A price `ticks` from the last trade price, or crossing the opposite best by `ticks`, or `ticks` short of the last price. */
type PriceSel = { kind: "grid"; ticks: number } | { kind: "cross"; ticks: number } | { kind: "passive"; ticks: number };
/** Transfer amounts: a share of available, more than available, fixed, invalid, or what leaves the risk ratio at `bp` (a threshold). */
type AmountSel =
  | { kind: "frac"; pct: number }
  | { kind: "over"; extra: number }
  | { kind: "fixed"; amount: number }
  | { kind: "bad"; which: number }
  | { kind: "ratio"; bp: number };

type Step =
  | {
    k: "new"; acct: number; sym: number; side: SideName; market: boolean; tif: string | null; postOnly: boolean;
    stp: string | null; price: PriceSel; lots: number; allIn: boolean; offset: OffsetSel; dupBack: number | null;
  }
  | { k: "cancel"; back: number; live: boolean }
  | { k: "amend"; back: number; live: boolean; price: PriceSel | null; lots: number }
  | { k: "deposit"; acct: number; usd: boolean; amount: AmountSel }
  | { k: "withdraw"; acct: number; usd: boolean; amount: AmountSel }
  | { k: "mark"; sym: number | null }
  | { k: "settle" }
  | { k: "shock"; sym: number; maker: number; taker: number; side: SideName; ticks: number }
  | { k: "mass"; acct: number | null; sym: number | null }
  | { k: "expire" };

const acct = fc.integer({ min: 0, max: ACCOUNTS.length - 1 });
/** 0..9: the money instruments most of the time, the pure one for 8 and 9. */
const sym = fc.integer({ min: 0, max: 9 });
const ticks = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -3, max: 3 }) },
  { weight: 2, arbitrary: fc.integer({ min: -12, max: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: -40, max: 40 }) }, // big moves of the mark: losses, breaches
);
const priceSel: fc.Arbitrary<PriceSel> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("grid" as const), ticks }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("cross" as const), ticks: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("passive" as const), ticks: fc.integer({ min: 1, max: 3 }) }) },
);
const lots = fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 4 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 25 }) });
const back = fc.integer({ min: 0, max: 20 });

const amountSel: fc.Arbitrary<AmountSel> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("frac" as const), pct: fc.integer({ min: 1, max: 100 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("over" as const), extra: fc.integer({ min: 1, max: 5_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("fixed" as const), amount: fc.constantFrom(1, 500, 5_000, 30_000) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("bad" as const), which: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("ratio" as const), bp: fc.constantFrom(9_000, 10_000) }) },
);

const newStep: fc.Arbitrary<Step> = fc.record({
  k: fc.constant("new" as const),
  acct,
  sym,
  side: fc.constantFrom<SideName>("buy", "sell"),
  market: weighted([9, false], [1, true]),
  tif: weighted<string | null>([20, null], [10, "gfd"], [5, "ioc"], [3, "fok"]),
  postOnly: weighted([15, false], [1, true]),
  stp: weighted<string | null>([30, null], [2, "cancel_newest"], [2, "cancel_oldest"], [2, "cancel_both"], [3, "decrement"]),
  price: priceSel,
  lots,
  allIn: weighted([7, false], [1, true]),
  offset: weighted<OffsetSel>([12, "held"], [8, "open"], [4, "none"], [1, "close"], [1, "close_today"]),
  dupBack: weighted<number | null>([30, null], [1, 0], [1, 3]),
});

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 55, arbitrary: newStep },
  { weight: 8, arbitrary: fc.record({ k: fc.constant("cancel" as const), back, live: weighted([3, true], [1, false]) }) },
  { weight: 10, arbitrary: fc.record({ k: fc.constant("amend" as const), back, live: weighted([3, true], [1, false]), price: fc.option(priceSel, { nil: null, freq: 3 }), lots }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("deposit" as const), acct, usd: fc.boolean(), amount: amountSel }) },
  { weight: 5, arbitrary: fc.record({ k: fc.constant("withdraw" as const), acct, usd: fc.boolean(), amount: amountSel }) },
  { weight: 4, arbitrary: fc.record({ k: fc.constant("mark" as const), sym: fc.option(fc.integer({ min: 0, max: 10 }), { nil: null }) }) },
  { weight: 2, arbitrary: fc.constant({ k: "settle" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("shock" as const), sym: fc.integer({ min: 0, max: 7 }), maker: acct, taker: acct,
      side: fc.constantFrom<SideName>("buy", "sell"), ticks: fc.oneof(fc.integer({ min: -40, max: -8 }), fc.integer({ min: 8, max: 40 })),
    }),
  },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("mass" as const), acct: fc.option(acct, { nil: null }), sym: fc.option(sym, { nil: null }) }) },
  { weight: 1, arbitrary: fc.constant({ k: "expire" as const }) },
);

interface Case {
  u: Universe;
  steps: Step[];
}

function cases(maxSteps: number): fc.Arbitrary<Case> {
  return fc.record({ u: universe, steps: fc.array(step, { minLength: 1, maxLength: maxSteps, size: "max" }) });
}

/** Turns steps into commands one at a time, reading the reference's state before each. */
class Materializer {
  private readonly named: Array<{ account: string; id: string; d: InstrumentDef; price: number }> = [];
  private fresh = 0;
  private readonly inst: { money: InstrumentDef[]; all: InstrumentDef[] };

  constructor(private readonly u: Universe, private readonly ref: ReferenceVenue) {
    this.inst = instrumentsOf(u);
  }

  private instrument(s: number): InstrumentDef {
    return s >= 8 ? PURE : this.inst.money[s % this.inst.money.length]!;
  }

  private pick(b: number): (typeof this.named)[number] | undefined {
    return this.named[this.named.length - 1 - (b % Math.max(1, this.named.length))];
  }

  /** An order to cancel or amend: one resting now (`live`, when there is one) or any named earlier. */
  private target(b: number, live: boolean): (typeof this.named)[number] | undefined {
    const resting = live ? this.ref.matcher.liveOrders() : [];
    const o = resting[b % Math.max(1, resting.length)];
    if (o === undefined) return this.pick(b);
    return this.named.find((n) => n.account === o.account && n.id === o.id) ?? this.pick(b);
  }

  /**
   * The price `sel` names for an order on `side`, within the band, relative to the anchor
   * (the last trade price, the center before any) so that prices wander: `ticks` from it
   * (grid), `ticks` short of it (passive: a buy below, a sell above), or crossing the
   * opposite best by `ticks` (just short of the anchor when that side is empty).
   */
  private price(sel: PriceSel, d: InstrumentDef, side: SideName): number {
    const anchor = this.ref.accounts.instruments.get(d.symbol)?.last || d.center;
    const toward = side === "buy" ? 1 : -1;
    let p: number;
    if (sel.kind === "grid") p = anchor + sel.ticks * d.tickSize;
    else if (sel.kind === "passive") p = anchor - toward * sel.ticks * d.tickSize;
    else {
      const opposite = this.ref.matcher.resting(d.symbol, side === "buy" ? "sell" : "buy")[0];
      p = opposite === undefined ? anchor - toward * (sel.ticks % 2) * d.tickSize : opposite.price + toward * sel.ticks * d.tickSize;
    }
    return Math.min(d.priceHigh, Math.max(d.priceLow, p));
  }

  private available(account: string, currency: string): number {
    return this.ref.accounts.accountStates().get(accountKey(account, currency))?.available ?? 0;
  }

  /** The withdrawal that leaves floor(margin * 10^4 / balance) at least `bp`, with balance as large as that allows (or 1). */
  private toRatio(account: string, currency: string, bp: number): number {
    const st = this.ref.accounts.accountStates().get(accountKey(account, currency));
    if (st === undefined || st.margin === 0) return 1;
    return Math.max(1, st.balance - Math.floor((st.margin * 10_000) / bp));
  }

  private amount(sel: AmountSel, account: string, currency: string): number {
    switch (sel.kind) {
      case "frac": return Math.max(1, Math.floor((Math.max(0, this.available(account, currency)) * sel.pct) / 100));
      case "over": return Math.max(0, this.available(account, currency)) + sel.extra;
      case "fixed": return sel.amount;
      case "bad": return [0, -100, 12.5, 2 ** 60][sel.which]!;
      case "ratio": return this.toRatio(account, currency, sel.bp);
    }
  }

  /** The commands of one step: one, except for a price shock. */
  commands(s: Step): JsonCommand[] {
    if (s.k !== "shock") return [this.command(s)];
    // Two accounts trade one lot far from the last price, then the instrument is marked there.
    const d = this.instrument(s.sym);
    const anchor = this.ref.accounts.instruments.get(d.symbol)?.last || d.center;
    const price = Math.min(d.priceHigh, Math.max(d.priceLow, anchor + s.ticks * d.tickSize));
    const id = `o${++this.fresh}`;
    const taker = `o${++this.fresh}`;
    this.named.push({ account: ACCOUNTS[s.maker]!, id, d, price });
    return [
      { op: "new", id, account: ACCOUNTS[s.maker]!, symbol: d.symbol, side: s.side, price, qty: 1 },
      { op: "new", id: taker, account: ACCOUNTS[s.taker]!, symbol: d.symbol, side: s.side === "buy" ? "sell" : "buy", price, qty: 1, tif: "ioc" },
      { op: "mark", symbol: d.symbol },
    ];
  }

  private command(s: Exclude<Step, { k: "shock" }>): JsonCommand {
    switch (s.k) {
      case "new": {
        const d = this.instrument(s.sym);
        const earlier = s.dupBack === null ? undefined : this.pick(s.dupBack);
        const account = earlier?.account ?? ACCOUNTS[s.acct]!;
        const id = earlier?.id ?? `o${++this.fresh}`;
        const c: JsonCommand = { op: "new", id, account, symbol: d.symbol, side: s.side };
        let qty = s.lots;
        if (s.offset === "held") {
          // Close a position the account holds (when it holds one): its side, an offset that has lots, qty within them.
          const p = this.ref.accounts.positionStates().get(positionKey(account, d.symbol));
          const long = p === undefined ? 0 : p.longToday + p.longHis;
          const short = p === undefined ? 0 : p.shortToday + p.shortHis;
          if (long + short > 0) {
            const closeLong = short === 0 || (long > 0 && s.side === "sell");
            c["side"] = closeLong ? "sell" : "buy";
            let today = closeLong ? p!.longToday - p!.longFrozenToday : p!.shortToday - p!.shortFrozenToday;
            let his = closeLong ? p!.longHis - p!.longFrozenHis : p!.shortHis - p!.shortFrozenHis;
            if (!d.closeTodayDistinct) {
              his += today;
              today = 0;
            }
            const useToday = d.closeTodayDistinct && (his <= 0 || (today > 0 && s.lots % 2 === 0));
            c["offset"] = useToday ? "close_today" : "close";
            const closable = useToday ? today : his;
            qty = closable > 0 ? 1 + ((s.lots - 1) % closable) : s.lots;
          } else if (s.lots % 3 === 0) {
            c["offset"] = s.lots % 2 === 0 ? "close" : "close_today"; // nothing to close
          }
        } else if (s.offset !== "none") {
          c["offset"] = s.offset;
        }
        // An all-in order crosses the book: it fills what rests there and leaves the account fully used.
        const price = this.price(s.allIn ? { kind: "cross", ticks: 2 } : s.price, d, c["side"] as SideName);
        if (s.market) {
          c["type"] = "market";
          if (s.tif === "fok") c["tif"] = "fok";
        } else {
          c["price"] = price;
          if (s.tif !== null) c["tif"] = s.tif;
          if (s.postOnly && s.tif !== "ioc" && s.tif !== "fok") c["postOnly"] = true;
        }
        const inst = this.ref.accounts.instruments.get(d.symbol);
        if (s.allIn && inst !== undefined && isOpenOffset(c["offset"])) {
          // As many lots as the account's available pays for: fully used accounts breach on small price moves.
          const side = c["side"] as SideName;
          const limit = s.market ? (side === "buy" ? d.priceHigh : d.priceLow) : price;
          const a = this.ref.accounts;
          const perLot = a.frozenMarginPerLot(inst, side, "open", limit) + a.commissionPerLot(inst, a.commissionFreezePrice(inst, side, limit));
          qty = Math.max(1, Math.floor(this.available(account, inst.currency) / perLot));
        }
        c["qty"] = Math.min(qty, d.maxQty);
        if (s.stp !== null) c["stp"] = s.stp;
        if (earlier === undefined) this.named.push({ account, id, d, price });
        return c;
      }
      case "cancel": {
        const t = this.target(s.back, s.live);
        return t === undefined ? { op: "cancel", id: "nope", account: "a0" } : { op: "cancel", id: t.id, account: t.account };
      }
      case "amend": {
        const t = this.target(s.back, s.live);
        if (t === undefined) return { op: "amend", id: "nope", account: "a0", price: CU.center, qty: 1 };
        const live = this.ref.matcher.liveOrders().find((o) => o.account === t.account && o.id === t.id);
        const price = s.price === null || live === undefined ? (live?.price ?? t.price) : this.price(s.price, t.d, live.side);
        return { op: "amend", id: t.id, account: t.account, price, qty: Math.min(s.lots, t.d.maxQty) };
      }
      case "deposit":
      case "withdraw": {
        const account = ACCOUNTS[s.acct]!;
        const currency = s.usd ? (this.u.soyUsd && this.u.money !== 0 ? "USD" : "EUR") : "CNY";
        return { op: s.k, account, currency, amount: this.amount(s.amount, account, currency) };
      }
      case "mark":
        if (s.sym === null) return { op: "mark" };
        return { op: "mark", symbol: s.sym === 10 ? "Z.NONE" : this.instrument(s.sym).symbol };
      case "settle":
        return { op: "settle" };
      case "mass": {
        const c: JsonCommand = { op: "mass_cancel" };
        if (s.acct !== null) c["account"] = ACCOUNTS[s.acct]!;
        if (s.sym !== null) c["symbol"] = this.instrument(s.sym).symbol;
        return c;
      }
      case "expire":
        return { op: "expire" };
    }
  }
}

function isOpenOffset(offset: unknown): boolean {
  return offset === undefined || offset === "open" || offset === "none";
}

// ---------------------------------------------------------------------------------------
// Engine events

type EngineEvent = Record<string, unknown> & { ev: string };

const ACCOUNT_FIELDS: ReadonlyArray<keyof AccountState> = [
  "preBalance", "deposit", "withdraw", "staticBalance", "closeProfit", "commission", "positionProfit", "floatProfit",
  "balance", "margin", "frozenMargin", "frozenCommission", "available", "riskRatioBp",
];
const POSITION_FIELDS: ReadonlyArray<keyof PositionState> = [
  "longToday", "longHis", "shortToday", "shortHis", "longFrozenToday", "longFrozenHis", "shortFrozenToday", "shortFrozenHis",
  "openCostLong", "openCostShort", "positionCostLong", "positionCostShort", "marginLong", "marginShort",
  "positionProfitLong", "positionProfitShort", "floatProfitLong", "floatProfitShort", "markPrice",
];

function num(e: EngineEvent, field: string): number {
  const v = e[field];
  return typeof v === "number" ? v : NaN;
}

/** Field-by-field differences between an engine event and a reference state. */
function diff(e: EngineEvent, want: Record<string, number>, fields: readonly string[]): string[] {
  return fields.filter((f) => e[f] !== want[f]).map((f) => `${f}: engine ${show(e[f])}, expected ${want[f]!}`);
}

function tradeKey(t: RefTrade | EngineEvent): string {
  const n = (k: string): number => {
    const v = (t as Record<string, unknown>)[k];
    return typeof v === "number" ? v : 0; // the engine leaves the money fields out when all are zero
  };
  const r = t as Record<string, unknown>;
  return show([r["symbol"], r["maker"], r["makerAccount"], r["taker"], r["takerAccount"], n("price"), n("qty"),
    n("makerCommission"), n("takerCommission"), n("makerCloseProfit"), n("takerCloseProfit")]);
}

function breachKey(b: RefBreach | EngineEvent): string {
  const r = b as Record<string, unknown>;
  return show([r["account"], r["currency"], r["riskRatioBp"], r["balance"], r["margin"]]);
}

/** Every figure of an account or position event is a safe integer (the binary events' -0 check is in determinism.test.ts). */
function checkFigures(e: EngineEvent, fields: readonly string[]): void {
  for (const k of fields) {
    const v = num(e, k);
    check(Number.isSafeInteger(v), "event invariants", () => `${k} is ${String(v)}, not a safe integer: ${show(e)}`);
  }
}

function checkAccountEvent(e: EngineEvent): void {
  const f = (k: string): number => num(e, k);
  const what = (): string => show(e);
  checkFigures(e, ACCOUNT_FIELDS);
  check(f("staticBalance") === f("preBalance") + f("deposit") - f("withdraw"), "event invariants", () => `staticBalance != preBalance + deposit - withdraw: ${what()}`);
  check(f("balance") === f("staticBalance") + f("closeProfit") + f("positionProfit") - f("commission"), "event invariants",
    () => `balance != staticBalance + closeProfit + positionProfit - commission: ${what()}`);
  check(f("available") === f("balance") - f("margin") - f("frozenMargin") - f("frozenCommission"), "event invariants",
    () => `available != balance - margin - frozenMargin - frozenCommission: ${what()}`);
  check(f("frozenMargin") >= 0 && f("frozenCommission") >= 0 && f("margin") >= 0 && f("commission") >= 0, "event invariants",
    () => `negative frozen amounts, margin or commission: ${what()}`);
  const balance = f("balance");
  const ratio = balance <= 0 ? (f("margin") > 0 ? RISK_RATIO_MAX : 0) : Math.min(RISK_RATIO_MAX, Math.floor((f("margin") * 10_000) / balance));
  check(f("riskRatioBp") === ratio, "event invariants", () => `riskRatioBp should be ${ratio}: ${what()}`);
}

/** After a settlement every account starts the day afresh: its balance is its pre-balance. */
function checkSettled(e: EngineEvent): void {
  const f = (k: string): number => num(e, k);
  check(f("deposit") === 0 && f("withdraw") === 0 && f("closeProfit") === 0 && f("commission") === 0 && f("positionProfit") === 0 && f("preBalance") === f("balance"),
    "event invariants", () => `after settle: deposit, withdraw, closeProfit, commission and positionProfit 0, preBalance = balance: ${show(e)}`);
}

function checkPositionEvent(e: EngineEvent): void {
  const f = (k: string): number => num(e, k);
  checkFigures(e, POSITION_FIELDS);
  for (const s of ["long", "short"]) {
    const today = f(`${s}Today`);
    const his = f(`${s}His`);
    const frozenToday = f(`${s}FrozenToday`);
    const frozenHis = f(`${s}FrozenHis`);
    check(today >= 0 && his >= 0 && frozenToday >= 0 && frozenHis >= 0, "event invariants", () => `negative ${s} volume: ${show(e)}`);
    check(frozenToday <= today && frozenHis <= his, "event invariants", () => `${s} frozen close volume over the volume: ${show(e)}`);
  }
}

// ---------------------------------------------------------------------------------------
// One sequence through the engine and the reference

interface Stats {
  sequences: number;
  commands: number;
  trades: number;
  closeTrades: number;
  breaches: number;
  rejected: Map<string, number>;
  availableChecked: number;
  availableFlat: number;
  availableOrdering: number;
  staleNegative: number;
  staleNegativeFlat: number;
  markNegative: number;
}

const stats: Stats = {
  sequences: 0, commands: 0, trades: 0, closeTrades: 0, breaches: 0, rejected: new Map(),
  availableChecked: 0, availableFlat: 0, availableOrdering: 0, staleNegative: 0, staleNegativeFlat: 0, markNegative: 0,
};

/**
 * Engine bugs still open, mirrored by the reference so that the random sequences check
 * everything else meanwhile; each has a test below that fails until it is fixed (`it.fails`).
 * Set an entry to false (and turn its `it.fails` into `it`) once the engine is fixed.
 */
const KNOWN_BUGS: KnownEngineBugs = { settleDropsPositionProfit: false };

function runCase(k: Case): void {
  const replayer = new Replayer(CONFIG);
  const engine = replayer.engine;
  const ref = new ReferenceVenue(KNOWN_BUGS);
  const materializer = new Materializer(k.u, ref);
  const commands: JsonCommand[] = [];
  const latestAccount = new Map<string, EngineEvent>();
  const latestPosition = new Map<string, EngineEvent>();
  const orderKey = new Map<number, string>();
  const pending: JsonCommand[] = preamble(k.u);
  let nextStep = 0;
  stats.sequences++;

  for (let index = 0; ; index++) {
    const lines: string[] = [];
    let cmd: JsonCommand = {};
    try {
      while (pending.length === 0 && nextStep < k.steps.length) pending.push(...materializer.commands(k.steps[nextStep++]!));
      const first = pending.shift();
      if (first === undefined) break;
      cmd = first;
      commands.push(cmd);
      const availableBefore = new Map<string, number>();
      for (const [key, e] of latestAccount) availableBefore.set(key, num(e, "available"));

      replayer.feed(JSON.stringify(cmd), (l) => { lines.push(l); });
      const events = lines.map((l) => JSON.parse(l) as EngineEvent);
      const expected = ref.apply(cmd);
      stats.commands++;
      const errors = events.filter((e) => e.ev === "error");
      check(errors.length === 0, "rejection", () => `the replayer could not encode the command: ${show(errors)}`);

      // [rejection]
      const actualReason = (events.find((e) => e.ev === "rejected")?.["reason"] as string | undefined) ?? null;
      if (actualReason !== null) bump(stats.rejected, `${String(cmd["op"])}:${actualReason}`);
      check(actualReason === expected.rejected, "rejection",
        () => `expected ${expected.rejected === null ? "acceptance" : `rejection ${expected.rejected}`}, engine ${actualReason === null ? "accepted" : `rejected ${actualReason}`}`);

      // [trades]
      const trades = events.filter((e) => e.ev === "trade");
      stats.trades += trades.length;
      stats.closeTrades += expected.trades.filter((t) => t.makerCloseProfit !== 0 || t.takerCloseProfit !== 0).length;
      const wantTrades = expected.trades.map(tradeKey);
      const gotTrades = trades.map(tradeKey);
      check(show(wantTrades) === show(gotTrades), "trades",
        () => `[symbol, maker, makerAccount, taker, takerAccount, price, qty, makerCommission, takerCommission, makerCloseProfit, takerCloseProfit]\n  expected ${wantTrades.join(" ")}\n  engine   ${gotTrades.join(" ")}`);

      // [breaches]
      const wantBreaches = expected.breaches.map(breachKey).sort();
      const gotBreaches = events.filter((e) => e.ev === "riskBreach").map(breachKey).sort();
      stats.breaches += gotBreaches.length;
      check(show(wantBreaches) === show(gotBreaches), "breaches",
        () => `[account, currency, riskRatioBp, balance, margin]\n  expected ${wantBreaches.join(" ")}\n  engine   ${gotBreaches.join(" ")}`);

      // [event invariants], and the latest account and position events
      const positionEvents = new Set<string>();
      for (const e of events) {
        if (e.ev === "accepted") orderKey.set(num(e, "orderNo"), `${String(e["account"])}/${String(e["id"])}`);
        if (e.ev === "account") {
          checkAccountEvent(e);
          if (cmd["op"] === "settle") checkSettled(e);
          latestAccount.set(accountKey(String(e["account"]), String(e["currency"])), e);
        }
        if (e.ev === "position") {
          checkPositionEvent(e);
          latestPosition.set(positionKey(String(e["account"]), String(e["symbol"])), e);
          positionEvents.add(positionKey(String(e["account"]), String(e["symbol"])));
        }
      }

      // [accounts] [positions]
      const refAccounts = ref.accounts.accountStates();
      for (const [key, want] of refAccounts) {
        const e = latestAccount.get(key);
        check(e !== undefined, "accounts", () => `no account event yet for ${key}; expected ${show(want)}`);
        const d = diff(e, { ...want }, ACCOUNT_FIELDS);
        check(d.length === 0, "accounts", () => `${key}:\n  ${d.join("\n  ")}`);
      }
      for (const key of latestAccount.keys()) check(refAccounts.has(key), "accounts", () => `the engine has account ${key}, the reference does not`);
      const refPositions = ref.accounts.positionStates();
      for (const [key, want] of refPositions) {
        const e = latestPosition.get(key);
        // A position gets an event only when a field it reports changes: one that only
        // working opening orders have touched (all zeros) may have none yet.
        if (e === undefined && POSITION_FIELDS.every((f) => f === "markPrice" || (want as unknown as Record<string, number>)[f] === 0)) continue;
        check(e !== undefined, "positions", () => `no position event yet for ${key}; expected ${show(want)}`);
        // An instrument's first trade sets its mark without touching the (empty) positions of other accounts.
        const d = diff(e, { ...want }, positionEvents.has(key) ? POSITION_FIELDS : POSITION_FIELDS.filter((f) => f !== "markPrice"));
        check(d.length === 0, "positions", () => `${key}:\n  ${d.join("\n  ")}`);
      }
      for (const key of latestPosition.keys()) check(refPositions.has(key), "positions", () => `the engine has position ${key}, the reference does not`);

      // [book]
      try {
        engine.checkInvariants();
      } catch (err) {
        throw new CheckFailure("book", `checkInvariants: ${(err as Error).message}`);
      }
      for (const symbol of ref.matcher.symbols()) {
        const i = engine.instrumentIndex(symbol);
        for (const s of [Side.buy, Side.sell]) {
          const side: SideName = s === Side.buy ? "buy" : "sell";
          const want = ref.matcher.resting(symbol, side).map((o) => `${o.account}/${o.id}:${o.left}`);
          const got = engine.queue(i, s).map(([orderNo, , , left]) => `${orderKey.get(orderNo) ?? `#${orderNo}`}:${left}`);
          check(show(want) === show(got), "book", () => `${symbol} ${side} queue (account/id:left)\n  expected ${show(want)}\n  engine   ${show(got)}`);
        }
      }

      // [conservation]
      const byCurrency = new Map<string, { pnl: number; gap: number }>();
      for (const e of latestAccount.values()) {
        const c = byCurrency.get(String(e["currency"])) ?? { pnl: 0, gap: 0 };
        c.pnl += num(e, "closeProfit") + num(e, "positionProfit");
        c.gap += num(e, "balance") + num(e, "commission") - (num(e, "preBalance") + num(e, "deposit") - num(e, "withdraw"));
        byCurrency.set(String(e["currency"]), c);
      }
      for (const [currency, c] of byCurrency) {
        check(c.gap === c.pnl, "conservation", () => `${currency}: Σ balance + Σ commission - Σ static = ${c.gap}, Σ (closeProfit + positionProfit) = ${c.pnl}`);
        check(c.pnl === 0, "conservation", () => `${currency}: Σ (closeProfit + positionProfit) = ${c.pnl}, not 0`);
      }

      // [available]
      const op = cmd["op"];
      for (const [key, e] of latestAccount) {
        const before = availableBefore.get(key) ?? 0;
        const after = num(e, "available");
        if (before < 0) continue;
        if (op === "mark" || op === "settle") {
          if (after < 0) stats.markNegative++;
          continue;
        }
        const [account, currency] = key.split("/") as [string, string];
        const flat = !ref.accounts.holdsPosition(account, currency);
        if (ref.accounts.staleFills.has(key)) {
          if (after < 0) {
            stats.staleNegative++;
            if (flat) stats.staleNegativeFlat++;
          }
          continue;
        }
        stats.availableChecked++;
        if (flat) stats.availableFlat++;
        const ordering = expected.rejected === null && (op === "new" || op === "amend" || op === "withdraw") && cmd["account"] === account;
        if (ordering) stats.availableOrdering++;
        check(after >= 0, "available", () => `${key}: available ${before} before, ${after} after (no fill at a stale mark${flat ? ", no position after" : ""}${ordering ? ", its own accepted command" : ""})`);
      }
    } catch (err) {
      const label = err instanceof CheckFailure ? err.label : "exception";
      throw new Error(
        `${label} check failed at command #${index + 1} of the JSONL below: ${(err as Error).message}\n` +
        `command: ${show(cmd)}\nengine events for it:\n${lines.join("\n")}\n` +
        `JSONL to reproduce (e.g. venue replay):\n${jsonl(commands)}`,
        { cause: err },
      );
    }
  }
}

/**
 * The example of the opening comment: A's sell-close at 100 was frozen at mark 90 (premium
 * 0); after `mark` at 110 and a withdrawal down to available 1, a buyer lifts it and A ends
 * flat with available -8. Not a bug: the premium is fixed at acceptance (notes 1 and 5).
 */
const STALE_PREMIUM = [
  { op: "instrument", symbol: "X.T", tickSize: 1, lotSize: 1, minQty: 1, maxQty: 100, priceLow: 1, priceHigh: 1000, multiplier: 1, marginPerLot: 1 },
  ...["A", "B", "C", "D"].map((account) => ({ op: "deposit", account, currency: "CNY", amount: account === "A" ? 200 : 10_000 })),
  { op: "new", id: "b1", account: "B", symbol: "X.T", side: "sell", price: 90, qty: 1 },
  { op: "new", id: "a1", account: "A", symbol: "X.T", side: "buy", price: 90, qty: 1 },
  { op: "new", id: "c1", account: "C", symbol: "X.T", side: "sell", price: 110, qty: 1 },
  { op: "new", id: "d1", account: "D", symbol: "X.T", side: "buy", price: 110, qty: 1 },
  { op: "new", id: "a2", account: "A", symbol: "X.T", side: "sell", offset: "close", price: 100, qty: 1 },
  { op: "mark", symbol: "X.T" },
  { op: "withdraw", account: "A", currency: "CNY", amount: 218 },
  { op: "new", id: "d2", account: "D", symbol: "X.T", side: "buy", price: 100, qty: 1 },
];

/**
 * Settlement must not change a balance: A holds 2 long bought at 100 and 110, marked at 100
 * (positionProfit -10); `settle` marks at 110 (+10), so A's balance and next preBalance are
 * 1010 and B's 990. The engine (Accounts.settle rebases position cost before reading the
 * balance) gives both 1000: the day's position profit is dropped.
 */
const SETTLE_KEEPS_BALANCE = [
  { op: "instrument", symbol: "X.T", tickSize: 1, lotSize: 1, minQty: 1, maxQty: 100, priceLow: 1, priceHigh: 1000, multiplier: 1, marginPerLot: 1 },
  { op: "deposit", account: "A", currency: "CNY", amount: 1000 },
  { op: "deposit", account: "B", currency: "CNY", amount: 1000 },
  { op: "new", id: "s1", account: "B", symbol: "X.T", side: "sell", price: 100, qty: 2 },
  { op: "new", id: "b1", account: "A", symbol: "X.T", side: "buy", price: 100, qty: 1 },
  { op: "amend", id: "s1", account: "B", price: 110, qty: 1 },
  { op: "new", id: "b2", account: "A", symbol: "X.T", side: "buy", price: 110, qty: 1 },
  { op: "settle" },
];

// ---------------------------------------------------------------------------------------

const SEED = seedFromEnv();
console.log(`accounts.property: seed ${SEED} (replay with VENUE_SEED=${SEED})`);

describe("accounts vs reference accounts", () => {
  it("lets a fill frozen at an older mark turn a flat account's available negative (why [available] has a precondition)", () => {
    const replayer = new Replayer(CONFIG);
    const ref = new ReferenceVenue();
    const availableOfA: number[] = [];
    for (const cmd of STALE_PREMIUM) {
      replayer.feed(JSON.stringify(cmd), (l) => {
        const e = JSON.parse(l) as EngineEvent;
        if (e.ev === "account" && e["account"] === "A") availableOfA.push(num(e, "available"));
      });
      ref.apply(cmd);
    }
    const want = ref.accounts.accountStates().get("A/CNY");
    check(want !== undefined && want.available === -8 && !ref.accounts.holdsPosition("A", "CNY"), "available", () => `reference: ${show(want)}`);
    check(availableOfA.at(-1) === -8, "available", () => `engine: A's available over the commands ${show(availableOfA)}, expected to end at -8`);
  });

  it("keeps every balance through settlement (was an engine bug: position profit dropped at settlement)", () => {
    const replayer = new Replayer(CONFIG);
    const ref = new ReferenceVenue();
    const latest = new Map<string, EngineEvent>();
    for (const cmd of SETTLE_KEEPS_BALANCE) {
      replayer.feed(JSON.stringify(cmd), (l) => {
        const e = JSON.parse(l) as EngineEvent;
        if (e.ev === "account") latest.set(String(e["account"]), e);
      });
      ref.apply(cmd);
    }
    for (const [account, want] of [["A", 1010], ["B", 990]] as const) {
      check(ref.accounts.accountStates().get(`${account}/CNY`)?.preBalance === want, "accounts", () => `reference: ${account}'s preBalance should be ${want}`);
      const e = latest.get(account);
      check(e !== undefined && num(e, "preBalance") === want && num(e, "balance") === want, "accounts",
        () => `after settle ${account}'s preBalance and balance should be ${want}: ${show(e)}`);
    }
  });

  it("agrees on short random sequences, command by command", () => {
    fc.assert(fc.property(cases(50), (k) => { runCase(k); }), { seed: SEED, numRuns: 3500, includeErrorInReport: true });
  });

  it("agrees on long random sequences (several trading days)", () => {
    fc.assert(fc.property(cases(400), (k) => { runCase(k); }), { seed: SEED, numRuns: 250, includeErrorInReport: true });
    const top = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([key, v]) => `${key}=${v}`).join(" ");
    console.log(`accounts.property: ${stats.sequences} sequences, ${stats.commands} commands, ${stats.trades} trades (${stats.closeTrades} closing), ${stats.breaches} breaches`);
    console.log(`  available checked ${stats.availableChecked} (flat after ${stats.availableFlat}, own accepted order/amend/withdraw ${stats.availableOrdering}); negative after a stale-mark fill ${stats.staleNegative} (flat ${stats.staleNegativeFlat}); negative after mark/settle ${stats.markNegative}`);
    console.log(`  rejections: ${top(stats.rejected)}`);
  });
});
