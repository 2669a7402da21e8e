/**
 * The caps on an account's DIFF trade tree (TradeView, from real engine events): past
 * `maxFinishedOrders` finished orders and `maxTrades` trades, the oldest leave the tree and
 * the command's patch deletes them for clients; alive orders stay whatever their age.
 *
 * Must: after each command the tree holds exactly the newest finished orders and trades up
 * to the caps, plus every alive order; a client that applied every patch from the first
 * snapshot holds the same tree. Long enough (2,200 finished orders and 1,100 trades at caps
 * of 5 and 7) that both queues of ids drop past 1,024 and compact.
 */

import { describe, expect, it } from "vitest";
import { TradeView, type AccountChange } from "../../src/gateway/trade_view.ts";
import { applyPatch, clone, type Json, type JsonObject } from "../../src/gateway/patch.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { writeSettle } from "../../src/schema/command.ts";
import { DEMO_INSTRUMENTS } from "../../src/catalog/instrument.ts";
import { Venue } from "../market/market_kit.ts";

const CU = DEMO_INSTRUMENTS[0]!;

/**
 * Feeds the venue's events not yet fed to `view`, ending each command where the next one's
 * events begin, and hands each command's changes to `onChanges`.
 */
function feeder(v: Venue, view: TradeView, onChanges: (changes: Map<string, AccountChange>) => void = () => {}): () => void {
  const scratch = Buf.alloc(1 << 12);
  const ev = new EventView(scratch);
  let fed = 0;
  return () => {
    for (; fed < v.events.length; fed++) {
      scratch.u8.set(v.events[fed]!);
      const e = ev.wrap(scratch, 0);
      view.onEvent(e);
      const next = v.events[fed + 1];
      if (next === undefined || new DataView(next.buffer, next.byteOffset).getUint32(8, true) !== e.seq) onChanges(view.endCommand());
    }
  };
}

describe("trade tree caps", () => {
  it("keeps the newest finished orders and trades up to the caps, every alive order, and clients in step", () => {
    const v = new Venue({}, undefined, undefined, true);
    const cu = v.defineCatalog(CU.symbol);
    const view = new TradeView((i) => (i === cu ? CU : undefined), { maxFinishedOrders: 5, maxTrades: 7, tradingDay: "20261124" });
    const client = clone(view.snapshot("a1") as Json) as JsonObject;
    const feed = feeder(v, view, (changes) => {
      const change = changes.get("a1");
      if (change !== undefined) applyPatch(client, (change.patch["trade"] as JsonObject)["a1"] as JsonObject);
    });
    feed();
    // a1 rests one order that never trades (it stays alive), then trades 1,100 rounds with a2:
    // a resting sell of a1 taken by a2 (a1's order finishes, one trade) and an IOC buy of a1
    // that finds nothing (it finishes with no trade).
    v.order(cu, "a1", "buy", 74_000, 1);
    const finishedIds: string[] = [];
    const orderIds = (): string[] => Object.keys((view.snapshot("a1")["orders"] as JsonObject) ?? {});
    for (let k = 0; k < 1_100; k++) {
      v.order(cu, "a1", "sell", 75_000, 1);
      v.order(cu, "a2", "buy", 75_000, 1, "ioc");
      v.order(cu, "a1", "buy", 74_500, 1, "ioc");
      feed();
      finishedIds.push(`o${4 + 3 * k - 2}`, `o${4 + 3 * k}`);
      const tree = view.snapshot("a1");
      const orders = tree["orders"] as JsonObject;
      const alive = orderIds().filter((id) => (orders[id] as JsonObject)["status"] === "ALIVE");
      expect(alive).toEqual(["o1"]);
      const finished = orderIds().filter((id) => (orders[id] as JsonObject)["status"] === "FINISHED");
      expect(finished.sort()).toEqual(finishedIds.slice(-5).sort());
      expect(Object.keys(tree["trades"] as JsonObject)).toHaveLength(Math.min(7, k + 1));
      expect(client).toEqual(JSON.parse(JSON.stringify(tree)));
    }
  });
});

describe("the node's cap on trade trees", () => {
  for (const [perAccount, rounds] of [[1_000, 1_500], [4, 600]] as const) {
  it(`keeps the newest finished orders and trades of all accounts together up to maxRecords, and clients in step (accounts' own caps ${perAccount})`, () => {
    const v = new Venue({}, undefined, undefined, true);
    const cu = v.defineCatalog(CU.symbol);
    const MAX = 9;
    // Long enough that the queue of records behind the node's cap is compacted (past 4,096 entries).
    const view = new TradeView((i) => (i === cu ? CU : undefined), { maxFinishedOrders: perAccount, maxTrades: perAccount, maxRecords: MAX, tradingDay: "20261124" });
    const names = ["a1", "a2", "a3"];
    const clients = new Map(names.map((n) => [n, clone(view.snapshot(n) as Json) as JsonObject]));
    const feed = feeder(v, view, (changes) => {
      for (const [name, change] of changes) {
        const client = clients.get(name);
        if (client !== undefined) applyPatch(client, (change.patch["trade"] as JsonObject)[name] as JsonObject);
      }
    });
    feed();
    // Records in the order they finished, over all accounts: `account section id`.
    const made: string[] = [];
    const held = (): string[] => {
      const out: string[] = [];
      for (const n of names) {
        const t = view.snapshot(n);
        for (const [id, o] of Object.entries(t["orders"] as JsonObject)) if ((o as JsonObject)["status"] === "FINISHED") out.push(`${n} orders ${id}`);
        for (const id of Object.keys(t["trades"] as JsonObject)) out.push(`${n} trades ${id}`);
      }
      return out.sort();
    };
    let orderNo = 0;
    for (let k = 0; k < rounds; k++) {
      // Accounts take turns: a resting sell taken by the next account's IOC buy (two finished
      // orders, a trade in each account), now and then an IOC that finds nothing (one finished order).
      const seller = names[k % 3]!;
      const buyer = names[(k + 1) % 3]!;
      const s = ++orderNo;
      v.order(cu, seller, "sell", 75_000, 1);
      const b = ++orderNo;
      v.order(cu, buyer, "buy", 75_000, 1, "ioc");
      made.push(`${seller} orders o${s}`, `${seller} trades o${s}|${k + 1}`, `${buyer} orders o${b}`, `${buyer} trades o${b}|${k + 1}`);
      if (k % 5 === 0) {
        const x = ++orderNo;
        v.order(cu, seller, "buy", 70_000, 1, "ioc");
        made.push(`${seller} orders o${x}`);
      }
      feed();
      const got = held();
      expect(view.records).toBe(got.length);
      expect(got.length).toBeLessThanOrEqual(MAX);
      for (const r of made.slice(-4)) expect(got).toContain(r);
      if (perAccount >= 1_000) {
        // Only the node's cap at work: exactly the newest MAX of what was made (their order
        // within one command is the view's, so the command's own records are left out).
        expect(got).toHaveLength(Math.min(MAX, made.length));
        const newest = new Set(made.slice(-(MAX + 5)));
        for (const r of got) expect(newest.has(r), r).toBe(true);
      }
      for (const n of names) expect(clients.get(n)).toEqual(JSON.parse(JSON.stringify(view.snapshot(n))));
    }
  });
  }
});

describe("settlement statements", () => {
  it("are made for every account as the day ends, from its tree before the settlement rolls it", () => {
    const v = new Venue({}, undefined, undefined, true);
    const cu = v.defineCatalog(CU.symbol);
    const view = new TradeView((i) => (i === cu ? CU : undefined), { tradingDay: "20261124" });
    const made: Array<{ account: string; day: number; text: string }> = [];
    view.onStatement = (account, day, text) => made.push({ account, day, text });
    const feed = feeder(v, view);
    v.order(cu, "a1", "sell", 75_000, 2);
    v.order(cu, "a2", "buy", 75_000, 2, "ioc");
    feed();
    const before = view.snapshot("a1");
    const commission = ((before["accounts"] as JsonObject)["CNY"] as JsonObject)["commission"] as number;
    expect(commission).toBeGreaterThan(0);
    expect(made).toEqual([]);
    v.apply((b, o) => writeSettle(b, o));
    feed();
    const a1 = made.find((m) => m.account === "a1")!;
    expect(a1.day).toBe(20261124);
    expect(made.map((m) => m.account).sort()).toEqual([...new Set(made.map((m) => m.account))].sort());
    expect(made.some((m) => m.account === "a2")).toBe(true);
    expect(a1.text).toMatch(/^Settlement statement\nAccount: a1\nTrading day: 20261124\n/);
    // The day's figures, not the next day's: the commission the day charged (the settlement resets it).
    expect(a1.text).toMatch(new RegExp(`Commission +${commission.toFixed(2).replace(".", "\\.")}\\n`));
    expect(((view.snapshot("a1")["accounts"] as JsonObject)["CNY"] as JsonObject)["commission"]).toBe(0);
    expect(a1.text).toMatch(/Trades \(1\)\n.*\n +\d\d:\d\d:\d\d\.\d{3} +SHFE\.cu2601 +SELL +OPEN +2 +75000 /);
    expect(a1.text).toMatch(/Positions \(1\)\n.*\n +SHFE\.cu2601 +0 +0 +2 +75000 /);
  });
});

describe("the trading day", () => {
  it("moves at each settlement to the next weekday that is not a listed holiday", () => {
    const v = new Venue({}, undefined, undefined, true);
    const cu = v.defineCatalog(CU.symbol);
    // Thursday 2026-10-01 to Wednesday 10-07 listed as holidays (a week's closure).
    const holidays = ["20261001", "20261002", "20261005", "20261006", "20261007"];
    const view = new TradeView((i) => (i === cu ? CU : undefined), { tradingDay: "20260929", holidays });
    const feed = feeder(v, view);
    v.order(cu, "a1", "sell", 75_000, 1); // an account with a tree, so that the roll reaches a client
    feed();
    const days: string[] = [];
    for (let k = 0; k < 3; k++) {
      v.apply((b, o) => writeSettle(b, o));
      feed();
      days.push(view.tradingDay);
      expect((view.snapshot("a1")["session"] as JsonObject)["trading_day"]).toBe(view.tradingDay);
    }
    // Tuesday 09-29 → Wednesday 09-30 → (Thu, Fri, weekend, Mon-Wed closed) Thursday 10-08 → Friday 10-09.
    expect(days).toEqual(["20260930", "20261008", "20261009"]);
  });
});
