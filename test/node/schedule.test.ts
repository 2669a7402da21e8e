/**
 * The trading schedule (src/node/schedule.ts): the settlement time's arithmetic (China time,
 * weekdays only, less listed holidays), the timers against fake time, a real node that marks and settles on its
 * own, and the admin API's on-demand mark and settlement seen by a DIFF client.
 */

import { afterAll, afterEach, beforeAll, expect, test, vi } from "vitest";
import { VenueNode } from "../../src/node/node.ts";
import { TradingSchedule, formatClockTime, nextSettlementMs, parseClockTime } from "../../src/node/schedule.ts";
import { TradingCalendar } from "../../src/market/calendar.ts";
import { CommandKind, CommandView, writeDefineInstrument, writeNewOrder, writeTransfer } from "../../src/schema/command.ts";
import { Buf } from "../../src/schema/layout.ts";
import { OrderType, Side, Tif, currencyCode } from "../../src/schema/codes.ts";
import { engineParams } from "../../src/catalog/instrument.ts";
import { CU, startGatewayNode, type GatewayNode } from "../gateway/node_kit.ts";
import { DiffClient } from "../gateway/diff_client.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";
import { until } from "../until.ts";

const utc = (s: string): number => Date.parse(s);

test("a clock time is HH:MM from 00:00 to 23:59", () => {
  expect(parseClockTime("15:30")).toBe(930);
  expect(parseClockTime("00:00")).toBe(0);
  expect(parseClockTime("23:59")).toBe(1439);
  for (const bad of ["24:00", "9:30", "15:60", "15:3", "1530", " 15:30", "15:30:00", "off", ""]) expect(parseClockTime(bad), bad).toBeUndefined();
  expect(formatClockTime(930)).toBe("15:30");
  expect(formatClockTime(5)).toBe("00:05");
});

test("the next settlement is the next weekday, in China time, at the minute given", () => {
  const at1530 = 15 * 60 + 30;
  // Tuesday 2026-11-24, 15:00 in China (07:00 UTC): today at 15:30 China time.
  expect(new Date(nextSettlementMs(utc("2026-11-24T07:00:00Z"), at1530)).toISOString()).toBe("2026-11-24T07:30:00.000Z");
  // At 15:30 exactly it has happened: the next is Wednesday's.
  expect(new Date(nextSettlementMs(utc("2026-11-24T07:30:00Z"), at1530)).toISOString()).toBe("2026-11-25T07:30:00.000Z");
  // Tuesday 23:00 UTC is Wednesday 07:00 in China: Wednesday's.
  expect(new Date(nextSettlementMs(utc("2026-11-24T23:00:00Z"), at1530)).toISOString()).toBe("2026-11-25T07:30:00.000Z");
  // Friday after the settlement, Saturday and Sunday: Monday's.
  for (const now of ["2026-11-27T08:00:00Z", "2026-11-28T12:00:00Z", "2026-11-29T07:29:59Z"]) {
    expect(new Date(nextSettlementMs(utc(now), at1530)).toISOString(), now).toBe("2026-11-30T07:30:00.000Z");
  }
  // Sunday 17:00 UTC is Monday 01:00 in China: a settlement at 00:30 China time is Tuesday's (Monday's has passed).
  expect(new Date(nextSettlementMs(utc("2026-11-29T17:00:00Z"), 30)).toISOString()).toBe("2026-11-30T16:30:00.000Z");
});

test("listed holidays have no settlement: the next is on the next weekday that is not one", () => {
  const at1530 = 15 * 60 + 30;
  // Thursday 2026-12-31 and Friday 2027-01-01 closed: Wednesday's settlement done, the next is Monday's.
  const yearEnd = new TradingCalendar(["20261231", "20270101"]);
  expect(new Date(nextSettlementMs(utc("2026-12-30T08:00:00Z"), at1530, yearEnd)).toISOString()).toBe("2027-01-04T07:30:00.000Z");
  // Before Wednesday's: Wednesday's, holidays or not.
  expect(new Date(nextSettlementMs(utc("2026-12-30T07:00:00Z"), at1530, yearEnd)).toISOString()).toBe("2026-12-30T07:30:00.000Z");
  // On a holiday morning: the next trading day's.
  expect(new Date(nextSettlementMs(utc("2026-12-31T01:00:00Z"), at1530, yearEnd)).toISOString()).toBe("2027-01-04T07:30:00.000Z");
  // Without the list, Thursday's.
  expect(new Date(nextSettlementMs(utc("2026-12-30T08:00:00Z"), at1530)).toISOString()).toBe("2026-12-31T07:30:00.000Z");
});

afterEach(() => {
  vi.useRealTimers();
});

test("timed marks every interval and a settlement at its time, then the next weekday's; a mark waits for room", () => {
  vi.useFakeTimers({ now: utc("2026-11-27T07:29:00Z") }); // Friday 15:29 China time
  const kinds: number[] = [];
  const at: number[] = [];
  const buf = Buf.alloc(256);
  const view = new CommandView(buf);
  let room = 1 << 16;
  const logs: string[] = [];
  const s = new TradingSchedule({
    markEveryMs: 1_000,
    settleMinute: 15 * 60 + 30,
    submit: (write) => {
      write(buf, 0);
      kinds.push(view.wrap(buf, 0).kind);
      at.push(Date.now());
    },
    free: () => room,
    log: (l) => logs.push(l),
  });
  s.start();
  expect(logs[0]).toBe("schedule: every instrument marked every 1000 ms; daily settlement at 15:30 China time on weekdays, next at 2026-11-27T07:30:00.000Z");
  vi.advanceTimersByTime(3_500);
  expect(kinds).toEqual([CommandKind.mark, CommandKind.mark, CommandKind.mark]);
  room = 100; // the loop has not taken what is queued: marks are skipped, and said once
  vi.advanceTimersByTime(2_000);
  expect(s.marks).toBe(3);
  expect(s.marksSkipped).toBe(2);
  expect(logs.filter((l) => l.includes("skipped"))).toHaveLength(1);
  // The settlement waits for room too, but is never skipped.
  vi.advanceTimersByTime(60_000 - 5_500);
  expect(kinds.filter((k) => k === CommandKind.settle)).toHaveLength(0);
  room = 1 << 16;
  vi.advanceTimersByTime(200);
  expect(kinds.filter((k) => k === CommandKind.settle)).toHaveLength(1);
  expect(new Date(at[kinds.indexOf(CommandKind.settle)]!).toISOString()).toBe("2026-11-27T07:30:00.100Z");
  // Friday's done: the next is Monday's, three days on.
  vi.advanceTimersByTime(3 * 86_400_000 - 60_000);
  expect(s.settlements).toBe(1);
  vi.advanceTimersByTime(60_000);
  expect(s.settlements).toBe(2);
  expect(new Date(at[kinds.lastIndexOf(CommandKind.settle)]!).toISOString()).toBe("2026-11-30T07:30:00.000Z");
  s.stop();
  const n = kinds.length;
  vi.advanceTimersByTime(10_000);
  expect(kinds).toHaveLength(n);
});

test("a settlement further off than one timer holds (holidays) still comes at its time", () => {
  vi.useFakeTimers({ now: utc("2026-11-30T08:00:00Z") }); // Monday 16:00 China time, after its settlement
  // Every weekday from Tuesday 2026-12-01 to Friday 2027-01-08 listed: the next settlement is 2027-01-11's, 41.7 days off.
  const closed: string[] = [];
  for (let t = Date.UTC(2026, 11, 1); t <= Date.UTC(2027, 0, 8); t += 86_400_000) {
    if (new Date(t).getUTCDay() % 6 !== 0) closed.push(new Date(t).toISOString().slice(0, 10).replaceAll("-", ""));
  }
  expect(closed).toHaveLength(29);
  const logs: string[] = [];
  const settledAt: number[] = [];
  const s = new TradingSchedule({
    markEveryMs: 0,
    settleMinute: 15 * 60 + 30,
    calendar: new TradingCalendar(closed),
    submit: () => settledAt.push(Date.now()),
    free: () => 1 << 16,
    log: (l) => logs.push(l),
  });
  s.start();
  expect(logs[0]).toMatch(/on weekdays except 29 holidays, next at 2027-01-11T07:30:00\.000Z$/);
  vi.advanceTimersByTime(Date.UTC(2027, 0, 11, 7, 30) - Date.now() - 1);
  expect(settledAt).toEqual([]);
  vi.advanceTimersByTime(1);
  expect(settledAt.map((t) => new Date(t).toISOString())).toEqual(["2027-01-11T07:30:00.000Z"]);
  s.stop();
});

test("a node marks and settles on its own: the mark price follows the last trade, the day ends at the settlement time", async () => {
  const settleMinute = 15 * 60 + 30;
  // The schedule's clock reads 600 ms before a settlement; the node's own clock is the real one.
  const shift = nextSettlementMs(utc("2026-11-24T07:00:00Z"), settleMinute) - 600 - Date.now();
  const logs: string[] = [];
  const node = new VenueNode({ markEveryMs: 50, settleMinute, scheduleNowMs: () => Date.now() + shift, log: (l) => logs.push(l) });
  const d = node.drivers[0]!;
  const cny = currencyCode("CNY");
  d.submit((b, o) => writeDefineInstrument(b, o, engineParams(CU)));
  for (const a of ["a", "b"]) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, a, cny, 1e10));
  const order = (account: string, id: string, side: Side, price: number, tif: Tif = Tif.gtc): void =>
    d.submit((b, o) => writeNewOrder(b, o, { instrument: 0, side, orderType: OrderType.limit, tif, price, qty: 1, account, orderId: id }));
  order("b", "s1", Side.sell, 70_000);
  order("a", "b1", Side.buy, 70_000); // the first trade: mark price 70,000
  order("b", "s2", Side.sell, 70_500);
  order("a", "b2", Side.buy, 70_500); // last price 70,500: only a mark moves the mark price there
  order("a", "gfd", Side.buy, 70_000, Tif.gfd); // no asks left: rests until the settlement expires it
  d.flush();
  const running = node.start();
  try {
    const acc = node.engine.accounts;
    await until(() => acc.markPrice[0] === 70_500, "a timed mark at the last trade price", () => `mark ${acc.markPrice[0]}, last ${acc.lastPrice[0]}`);
    expect(node.schedule!.marks).toBeGreaterThan(0);
    await until(() => node.engine.dayFromSeq > 1, "the timed settlement", () => logs.join("\n"));
    expect(node.engine.orders.live).toBe(0); // the GFD order expired with the day
    expect(logs.join("\n")).toMatch(/schedule: every instrument marked every 50 ms; daily settlement at 15:30 China time on weekdays, next at 2026-11-24T07:30:00.000Z/);
    expect(logs.join("\n")).toContain("schedule: daily settlement submitted (15:30 China time)");
    expect(node.schedule!.settlements).toBe(1);
  } finally {
    await node.stop();
    await running;
  }
  // Stopped: no timer is left to submit into a ring nobody reads.
  const marks = node.schedule!.marks;
  await new Promise((r) => setTimeout(r, 150));
  expect(node.schedule!.marks).toBe(marks);
});

describe_admin();

/** The admin API's mark and settlement, over HTTP, as a trader's DIFF client sees them. */
function describe_admin(): void {
  let gw: GatewayNode;
  beforeAll(async () => {
    gw = await startGatewayNode({
      prefix: "venue-schedule-",
      users: [["boss", ["admin"], "boss-secret"], ["t1", ["trader"], "t1-secret"], ["t2", ["trader"], "t2-secret"]],
      funded: ["t1", "t2"],
    });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
  }, 60_000);

  const call = async (path: string, token?: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const r = await fetch(`${gw.http}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await r.text();
    return { status: r.status, body: text === "" ? undefined : JSON.parse(text) };
  };
  const login = async (user: string, password: string): Promise<DiffClient> => {
    const c = await DiffClient.connect(`${gw.ws}/trade`);
    c.send({ aid: "req_login", bid: "VENUE", user_name: user, password });
    await c.until(`${user}'s login`, () => c.trade(user)["trade_more_data"] === false);
    return c;
  };
  const insert = (c: DiffClient, user: string, id: string, direction: string, price: number): void =>
    c.send({ aid: "insert_order", user_id: user, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction, offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: price, volume_condition: "ANY", time_condition: "GFD" });
  const position = (c: DiffClient, user: string): JsonObject => ((c.trade(user)["positions"] as JsonObject | undefined)?.["SHFE.cu2601"] ?? {}) as JsonObject;

  test("admin API: POST /admin/mark re-values positions at the last price; POST /admin/settle ends the trading day", async () => {
    const t1 = await login("t1", "t1-secret");
    const t2 = await login("t2", "t2-secret");
    insert(t2, "t2", "s1", "SELL", 70_000);
    insert(t1, "t1", "b1", "BUY", 70_000);
    await t1.until("t1 long 1 at 70,000", () => position(t1, "t1")["volume_long"] === 1);
    insert(t2, "t2", "s2", "SELL", 70_100);
    insert(t1, "t1", "b2", "BUY", 70_100);
    await t1.until("t1 long 2", () => position(t1, "t1")["volume_long"] === 2);
    // No timed marks on this node: the positions stay valued at the first price until a mark.
    expect(position(t1, "t1")["last_price"]).toBe(70_000);
    insert(t1, "t1", "rest", "BUY", 70_000); // no asks left: it rests
    await t1.until("t1's resting order", () => ((t1.trade("t1")["orders"] as JsonObject)["rest"] as JsonObject | undefined)?.["status"] === "ALIVE");

    expect((await call("/admin/mark", undefined, {})).status).toBe(401);
    expect((await call("/admin/settle")).status).toBe(401);
    const boss = (await call("/admin/login", undefined, { user_name: "boss", password: "boss-secret" })).body as { token: string };
    expect(await call("/admin/mark", boss.token, { symbol: "SHFE.nope" })).toEqual({ status: 404, body: { error: "no instrument SHFE.nope in the engine" } });
    expect(await call("/admin/mark", boss.token, { symbol: 5 })).toEqual({ status: 400, body: { error: "symbol must be a string" } });
    expect(await call("/admin/mark", boss.token, { symbol: "SHFE.cu2601" })).toEqual({ status: 202, body: { marking: "SHFE.cu2601" } });
    // Valued at 70,100 now: 2 lots x 5 (the multiple) x (70,100 - 70,050 average) = 500 CNY.
    await t1.until("t1 marked at 70,100", () => position(t1, "t1")["last_price"] === 70_100);
    expect(position(t1, "t1")["float_profit_long"]).toBe(500);
    expect(position(t1, "t1")["position_profit_long"]).toBe(500);
    expect(await call("/admin/mark", boss.token)).toEqual({ status: 202, body: { marking: "all" } });

    expect(await call("/admin/settle", boss.token)).toEqual({ status: 202, body: { settling: true } });
    await t1.until("the next trading day", () => t1.trade("t1")["trading_day"] === "20261125");
    expect(t1.notifies.some((n) => n.content === "trading day 20261125 begins")).toBe(true);
    // Today's lots are earlier lots now, and the GFD order expired with the day (and left the tree with it).
    expect(position(t1, "t1")["volume_long_his"]).toBe(2);
    expect(position(t1, "t1")["volume_long_today"]).toBe(0);
    expect((t1.trade("t1")["orders"] as JsonObject | undefined)?.["rest"]).toBeUndefined();
    t1.close();
    t2.close();
  }, 60_000);
}
