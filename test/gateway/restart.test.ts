/**
 * What a DIFF client sees survives a restart: the day's finished orders, trades and
 * transfers come back from the event store into the trade trees, and k-line bars keep
 * their ids and values. The end of the trading day (a settle) empties the trees of the
 * day's finished orders and trades and moves the trading day on, live and after a restart.
 */

import { afterAll, expect, test } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VenueNode } from "../../src/node/node.ts";
import { CommandKind, writeDefineInstrument, writeSettle, writeTransfer } from "../../src/schema/command.ts";
import { currencyCode } from "../../src/schema/codes.ts";
import { checkTradeInvariants, DiffClient } from "./diff_client.ts";
import { CU, makeCatalog } from "./node_kit.ts";
import { chinaDate } from "../../src/market/time.ts";
import { TradingCalendar } from "../../src/market/calendar.ts";
import { engineParams } from "../../src/catalog/instrument.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";

const dir = mkdtempSync(join(tmpdir(), "venue-gw-restart-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function node(logs: string[] = []): VenueNode {
  return new VenueNode({
    dataDir: join(dir, "data"),
    snapshotEvery: 0,
    log: (l) => logs.push(l),
    // A checkpoint every 200 ms while trades come (written off the market worker's thread), besides the one at stop.
    gateway: { catalogDir: join(dir, "catalog"), server: { port: 0 }, options: { tradingDay: "20261124", selfTransfers: false }, marketCheckpointMs: 200 },
  });
}

async function url(n: VenueNode): Promise<string> {
  const { host, port } = await n.gatewayReady;
  return `ws://${host}:${port}`;
}

async function login(base: string, user: string, password: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${base}/trade`);
  c.check = (m) => {
    const t = (m["trade"] as JsonObject | undefined)?.[user] as JsonObject | undefined;
    if (t !== undefined) checkTradeInvariants(t);
  };
  c.send({ aid: "req_login", bid: "VENUE", user_name: user, password });
  await c.until(`${user}'s full snapshot`, () => c.trade(user)["trade_more_data"] === false);
  return c;
}

const order = (user: string, id: string, direction: string, volume: number, price: number): Record<string, unknown> => ({
  aid: "insert_order", user_id: user, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction, offset: "OPEN",
  volume, price_type: "LIMIT", limit_price: price, volume_condition: "ANY", time_condition: "GFD",
});

const orders = (c: DiffClient, user: string): JsonObject => (c.trade(user)["orders"] ?? {}) as JsonObject;
const status = (c: DiffClient, user: string, id: string): unknown => (orders(c, user)[id] as JsonObject | undefined)?.["status"];

/** The day's part of a trade tree, without the view's change counters. */
function day(c: DiffClient, user: string): unknown {
  const t = c.trade(user);
  const strip = (s: unknown): unknown => JSON.parse(JSON.stringify(s ?? {}, (k, v: unknown) => (k === "seqno" ? undefined : v)));
  return { orders: strip(t["orders"]), trades: strip(t["trades"]), transfers: strip(t["transfers"]), accounts: strip(t["accounts"]), positions: strip(t["positions"]) };
}

async function chart(base: string): Promise<JsonObject> {
  const c = await DiffClient.connect(`${base}/md`);
  c.send({ aid: "set_chart", chart_id: "k", ins_list: "SHFE.cu2601", duration: 60_000_000_000, view_width: 100 });
  await c.until("the chart", () => ((c.mirror["charts"] as JsonObject | undefined)?.["k"] as JsonObject | undefined)?.["ready"] === true);
  const series = ((c.mirror["klines"] as JsonObject)["SHFE.cu2601"] as JsonObject)["60000000000"] as JsonObject;
  c.close();
  return JSON.parse(JSON.stringify(series)) as JsonObject;
}

test("the day's orders, trades, transfers and bars survive a restart; the end of the day clears them, live and after a restart", async () => {
  await makeCatalog(join(dir, "catalog"), [["u1", ["trader"], "secret-1"], ["u2", ["trader"], "secret-2"]]);

  // First run: a fill, a cancel, an engine rejection and transfers.
  const firstLogs: string[] = [];
  const first = node(firstLogs);
  const d = first.drivers[0]!;
  const running = first.start();
  d.submit((b, o) => writeDefineInstrument(b, o, engineParams(CU)));
  for (const a of ["u1", "u2"]) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, a, currencyCode("CNY"), 1_000_000_00));
  d.flush();
  let base = await url(first);
  let u1 = await login(base, "u1", "secret-1");
  let u2 = await login(base, "u2", "secret-2");
  u2.send(order("u2", "s1", "SELL", 2, 75_000));
  await u2.until("s1 alive", () => status(u2, "u2", "s1") === "ALIVE");
  u1.send(order("u1", "b1", "BUY", 1, 75_000));
  u1.send(order("u1", "b2", "BUY", 1, 74_000));
  await u1.until("b1 filled, b2 alive", () => status(u1, "u1", "b1") === "FINISHED" && status(u1, "u1", "b2") === "ALIVE");
  u1.send({ aid: "cancel_order", user_id: "u1", order_id: "b2" });
  u1.send(order("u1", "b3", "BUY", 100_000, 75_000)); // far beyond the funds: the engine rejects it
  await u1.until("b2 cancelled, b3 rejected", () => status(u1, "u1", "b2") === "FINISHED" && status(u1, "u1", "b3") === "FINISHED");
  await u2.until("s1's fill", () => Object.keys(u2.trade("u2")["trades"] as JsonObject).length === 1);
  expect(Object.keys(u1.trade("u1")["trades"] as JsonObject)).toHaveLength(1);
  expect(Object.keys(u1.trade("u1")["transfers"] as JsonObject)).toHaveLength(1);
  const before = { u1: day(u1, "u1"), u2: day(u2, "u2") };
  // The periodic checkpoint, written in the background while the worker runs.
  for (let i = 0; i < 200 && !firstLogs.some((l) => /market data: checkpoint of seq \d+ written \(\d+ of \d+ instruments? changed, [\d.]+ MB; the thread held \d+ ms for it, the files took \d+ ms more\)/.test(l)); i++) await new Promise((r) => setTimeout(r, 50));
  expect(firstLogs.join("\n")).toMatch(/market data: checkpoint of seq \d+ written \(\d+ of \d+ instruments? changed, [\d.]+ MB; the thread held/);
  const bars = await chart(base);
  expect(bars["last_id"]).toBe(0);
  u1.close();
  u2.close();
  await first.stop();
  await running;

  // Second run: the same trees and the same bars, the bars from the market checkpoint the
  // first run wrote at its stop (no trade after it to read), the trees from the event store.
  const logs: string[] = [];
  const second = node(logs);
  const running2 = second.start();
  base = await url(second);
  expect(logs.join("\n")).toMatch(/market data: checkpoint of seq \d+ restored in \d+ ms \(1 instrument\)/);
  expect(logs.join("\n")).toMatch(/market data: history read in \d+ ms: 0 trades for the k-lines and the day's statistics \(from seq \d+\)/);
  expect(logs.join("\n")).toMatch(/gateway: history read in \d+ ms: \d+ order, trade and transfer events of the trading day \(from seq 1\)/);
  u1 = await login(base, "u1", "secret-1");
  u2 = await login(base, "u2", "secret-2");
  expect(day(u1, "u1")).toEqual(before.u1);
  expect(day(u2, "u2")).toEqual(before.u2);
  expect(await chart(base)).toEqual(bars);

  // The end of the day: finished orders and trades leave the trees, the trading day moves on.
  const d2 = second.drivers[0]!;
  const settledAround = [Date.now()];
  d2.submit((b, o) => writeSettle(b, o));
  d2.flush();
  await u2.until("the new trading day", () => u2.trade("u2")["trading_day"] === "20261125");
  settledAround.push(Date.now());
  await u1.until("u1's new trading day", () => u1.trade("u1")["trading_day"] === "20261125");
  expect(orders(u2, "u2")).toEqual({}); // s1 was good for the day: it expired, then left with the day
  expect(orders(u1, "u1")).toEqual({});
  // (DIFF deletes an object a patch leaves empty.)
  expect(u1.trade("u1")["trades"] ?? {}).toEqual({});
  expect(u1.trade("u1")["transfers"] ?? {}).toEqual({});
  expect((u1.trade("u1")["session"] as JsonObject)["trading_day"]).toBe("20261125");
  expect(u1.notifies.some((n) => n.content === "trading day 20261125 begins")).toBe(true);
  // The day's settlement statement: made as the day ended, from u1's tree before the roll.
  const statement = async (c: DiffClient, account: string, day: number): Promise<JsonObject> => {
    const had = c.bare.length;
    c.send({ aid: "qry_settlement_info", trading_day: day });
    await c.until(`the statement of ${day}`, () => c.bare.slice(had).some((p) => p["aid"] === "qry_settlement_info"));
    const p = c.bare.slice(had).find((x) => x["aid"] === "qry_settlement_info")!;
    expect(p).toMatchObject({ trading_day: day, user_name: account });
    return p;
  };
  const s1 = String((await statement(u1, "u1", 20261124))["settlement_info"]);
  expect(s1).toMatch(/^Settlement statement\nAccount: u1\nTrading day: 20261124\n/);
  expect(s1).toMatch(/Trades \(1\)/);
  expect(s1).toMatch(/SHFE\.cu2601/);
  expect(s1).toMatch(/Money \(CNY\)/);
  expect((await statement(u1, "u1", 20261123))["settlement_info"]).toBe("");
  expect(u1.notifies.some((n) => n.code === 1008)).toBe(true);
  // The new day's first order.
  u1.send(order("u1", "n1", "BUY", 1, 74_000));
  await u1.until("n1 alive", () => status(u1, "u1", "n1") === "ALIVE");
  u1.close();
  u2.close();
  await second.stop();
  await running2;

  // Third run: the day starts after the settle, so the earlier day's orders stay gone; bars
  // stay. Without the checkpoint (removed): the bars come from every stored trade again.
  rmSync(join(dir, "data", "market"), { recursive: true, force: true });
  const logs3: string[] = [];
  const third = node(logs3);
  const running3 = third.start();
  base = await url(third);
  expect(logs3.join("\n")).toMatch(/market data: no checkpoint yet: every stored trade is read/);
  expect(logs3.join("\n")).toMatch(/market data: history read in \d+ ms: 1 trades for the k-lines/);
  u1 = await login(base, "u1", "secret-1");
  expect(Object.keys(orders(u1, "u1"))).toEqual(["n1"]);
  expect((await statement(u1, "u1", 20261124))["settlement_info"]).toBe(s1); // kept in the catalog
  expect(u1.trade("u1")["trades"] ?? {}).toEqual({});
  // The day shown is the one after the settle's (by the clock), as the configured day is older.
  const [from, to] = settledAround.map((ms) => new TradingCalendar().next(chinaDate(Math.floor(ms! / 1000))));
  if (from === to) expect(u1.trade("u1")["trading_day"]).toBe(from! > "20261124" ? from : "20261124");
  expect(await chart(base)).toMatchObject({ last_id: bars["last_id"], data: bars["data"] });
  u1.close();
  await third.stop();
  await running3;
}, 120_000);
