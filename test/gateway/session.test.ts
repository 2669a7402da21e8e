/**
 * Whole DIFF sessions against a real node: a journal, the engine loop, the gateway worker
 * with its WebSocket server and catalog, and real WebSocket clients that behave as tqsdk
 * does (a peek after every frame, a mirror of merge patches). After every rtn_data the
 * trade mirror must satisfy DIFF's account and position invariants.
 */

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { join } from "node:path";
import { VenueNode } from "../../src/node/node.ts";
import { checkTradeInvariants, DiffClient } from "./diff_client.ts";
import { startGatewayNode, type GatewayNode } from "./node_kit.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";
import { HASH_SEED } from "../../src/stdx/hash.ts";

let gw: GatewayNode;
let node: VenueNode;
let url: string;

beforeAll(async () => {
  gw = await startGatewayNode({ prefix: "venue-gw-", users: [["u1", ["trader"], "secret-1"], ["u2", ["trader"], "secret-2"], ["watcher", ["readonly"], "secret-3"], ["u3", ["trader"], "secret-4"], ["pw", ["trader"], "secret-5"], ["l2u", ["trader"], "secret-6"]], funded: ["u1", "u2", "u3", "l2u"] });
  node = gw.node;
  url = gw.ws;
}, 60_000);

afterAll(async () => {
  await gw?.close();
}, 60_000);

async function login(user: string, password: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${url}/trade`);
  c.check = (m) => {
    const t = (m["trade"] as JsonObject | undefined)?.[user] as JsonObject | undefined;
    if (t !== undefined) checkTradeInvariants(t);
  };
  await c.until("rtn_brokers", () => c.bare.some((b) => b["aid"] === "rtn_brokers"));
  c.send({ aid: "req_login", bid: "VENUE", user_name: user, password });
  await c.until(`${user}'s full snapshot`, () => c.trade(user)["trade_more_data"] === false);
  return c;
}

const order = (user: string, id: string, direction: string, offset: string, volume: number, price: number): Record<string, unknown> => ({
  aid: "insert_order", user_id: user, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction, offset,
  volume, price_type: "LIMIT", limit_price: price, volume_condition: "ANY", time_condition: "GFD",
});

describe("a DIFF trade session", () => {
  test("the node's engine hashes the clients' order ids with a seed of its own, not the public default", () => {
    // A node with a gateway draws its id seed at random: ids crafted against the default seed
    // do not pile up in its tables (test/stdx/bytes_map.test.ts shows what they do under it).
    expect(node.engine.idSeed).not.toBe(HASH_SEED);
    // Drawn for each node (this one is never started), and only where clients send the ids.
    expect(new VenueNode({ gateway: { catalogDir: join(gw.dir, "catalog") } }).engine.idSeed).not.toBe(node.engine.idSeed);
    expect(new VenueNode({}).engine.idSeed).toBe(HASH_SEED);
  });

  test("login gives the full trade tree with session and trading day", async () => {
    const c = await login("u1", "secret-1");
    const t = c.trade("u1");
    expect((t["session"] as JsonObject)["trading_day"]).toBe("20261124");
    for (const s of ["accounts", "positions", "orders", "trades", "banks", "transfers"]) expect(t[s]).toBeDefined();
    await c.until("the deposit", () => ((t["accounts"] as JsonObject)?.["CNY"] as JsonObject | undefined)?.["balance"] === 1_000_000);
    expect(c.notifies.some((n) => n.code === 401)).toBe(true);
    c.close();
  });

  test("a wrong password is refused with a generic error, and the socket stays open", async () => {
    const c = await DiffClient.connect(`${url}/trade`);
    c.send({ aid: "req_login", bid: "VENUE", user_name: "u1", password: "wrong" });
    await c.until("the refusal", () => c.notifies.some((n) => n.level === "ERROR"));
    c.send({ aid: "req_login", bid: "VENUE", user_name: "nobody", password: "wrong" });
    await c.until("the second refusal", () => c.notifies.filter((n) => n.level === "ERROR").length === 2);
    const texts = c.notifies.filter((n) => n.level === "ERROR").map((n) => n.content);
    expect(texts[0]).toBe(texts[1]);
    expect(c.closed).toBeUndefined();
    c.close();
  });

  test("change_password: refused before login, with a wrong old password or a short new one; then the new password logs in and the old does not", async () => {
    const anon = await DiffClient.connect(`${url}/trade`);
    anon.send({ aid: "change_password", old_password: "secret-5", new_password: "another-secret" });
    await anon.until("the refusal before login", () => anon.notifies.some((n) => n.code === 403 && n.content === "log in first"));
    anon.close();
    const c = await login("pw", "secret-5");
    const errors = (): string[] => c.notifies.filter((n) => n.level !== "INFO").map((n) => `${n.code} ${n.content}`);
    c.send({ aid: "change_password", old_password: "not-it", new_password: "another-secret" });
    await c.until("the wrong old password refused", () => errors().length === 1);
    expect(errors()[0]).toBe("326 password not changed: the old password is wrong");
    c.send({ aid: "change_password", old_password: "secret-5", new_password: "short" });
    await c.until("the short new password refused", () => errors().length === 2);
    expect(errors()[1]).toMatch(/^1000 change_password needs new_password, 8 to 64 characters/);
    c.send({ aid: "change_password", old_password: "secret-5", new_password: "another-secret" });
    await c.until("the change", () => c.notifies.some((n) => n.level === "INFO" && n.code === 326));
    c.close();
    const again = await login("pw", "another-secret");
    expect(again.notifies.some((n) => n.code === 401)).toBe(true);
    again.close();
    const old = await DiffClient.connect(`${url}/trade`);
    old.send({ aid: "req_login", bid: "VENUE", user_name: "pw", password: "secret-5" });
    await old.until("the old password refused", () => old.notifies.some((n) => n.level === "ERROR"));
    old.close();
  });

  test("an order goes ALIVE, fills against another account, and a cancel finishes the rest", async () => {
    const a = await login("u1", "secret-1");
    const b = await login("u2", "secret-2");
    a.send(order("u1", "ord-A", "BUY", "OPEN", 2, 75_000));
    const orders = (): JsonObject => a.trade("u1")["orders"] as JsonObject;
    await a.until("ord-A alive", () => (orders()["ord-A"] as JsonObject | undefined)?.["status"] === "ALIVE");
    const o = orders()["ord-A"] as JsonObject;
    expect(o["exchange_order_id"]).not.toBe("");
    expect(o["volume_left"]).toBe(2);
    const acct = (): JsonObject => (a.trade("u1")["accounts"] as JsonObject)["CNY"] as JsonObject;
    // 10% of 75,000 x 5 per lot, two lots; commission 10 per lot.
    expect(acct()["frozen_margin"]).toBe(75_000);
    expect(acct()["frozen_commission"]).toBe(20);

    b.send(order("u2", "sell-1", "SELL", "OPEN", 1, 75_000));
    await a.until("the fill", () => Object.keys(a.trade("u1")["trades"] as JsonObject).length === 1);
    const trade = Object.values(a.trade("u1")["trades"] as JsonObject)[0] as JsonObject;
    expect(trade).toMatchObject({ order_id: "ord-A", direction: "BUY", offset: "OPEN", volume: 1, price: 75_000, commission: 10 });
    expect(orders()["ord-A"]).toMatchObject({ status: "ALIVE", volume_left: 1 });
    const pos = (a.trade("u1")["positions"] as JsonObject)["SHFE.cu2601"] as JsonObject;
    expect(pos).toMatchObject({ pos_long_today: 1, volume_long: 1, open_price_long: 75_000, margin_long: 37_500 });
    expect(acct()).toMatchObject({ margin: 37_500, commission: 10, balance: 999_990 });
    await b.until("the seller's fill", () => Object.keys(b.trade("u2")["trades"] as JsonObject).length === 1);

    a.send({ aid: "cancel_order", user_id: "u1", order_id: "ord-A" });
    await a.until("ord-A finished", () => (orders()["ord-A"] as JsonObject)["status"] === "FINISHED");
    expect(orders()["ord-A"]).toMatchObject({ volume_left: 1 });
    expect(acct()).toMatchObject({ frozen_margin: 0, frozen_commission: 0, available: 999_990 - 37_500 });
    a.close();
    b.close();
  });

  test("every refused order still appears, FINISHED with an empty exchange_order_id", async () => {
    const c = await login("u1", "secret-1");
    const cases: Array<[string, Record<string, unknown>]> = [
      ["bad-inst", { ...order("u1", "bad-inst", "BUY", "OPEN", 1, 75_000), instrument_id: "nope" }],
      ["bad-tick", order("u1", "bad-tick", "BUY", "OPEN", 1, 75_005)],
      ["bad-dir", order("u1", "bad-dir", "UP", "OPEN", 1, 75_000)],
      ["bad-vol", order("u1", "bad-vol", "BUY", "OPEN", 0, 75_000)],
      ["big-vol", order("u1", "big-vol", "BUY", "OPEN", 2 ** 60, 75_000)],
      ["no-pos", order("u1", "no-pos", "SELL", "CLOSE", 5, 75_000)],
      ["no-money", order("u1", "no-money", "BUY", "OPEN", 400, 89_990)],
    ];
    for (const [, m] of cases) c.send(m);
    const orders = (): JsonObject => c.trade("u1")["orders"] as JsonObject;
    await c.until("every refusal", () => cases.every(([id]) => (orders()[id] as JsonObject | undefined)?.["status"] === "FINISHED"));
    for (const [id] of cases) expect((orders()[id] as JsonObject)["exchange_order_id"]).toBe("");
    // The engine's rejections keep the fields as sent, though its events do not carry them.
    for (const id of ["no-pos", "no-money"]) expect(orders()[id]).toMatchObject({ price_type: "LIMIT", volume_condition: "ANY", time_condition: "GFD" });
    expect(orders()["no-pos"]).toMatchObject({ offset: "CLOSE", direction: "SELL" });
    expect(c.notifies.filter((n) => n.level === "WARNING").length).toBeGreaterThanOrEqual(cases.length);
    // A duplicate id is a notify only: the order stays as it was.
    c.send(order("u1", "bad-tick", "BUY", "OPEN", 1, 75_000));
    await c.until("the duplicate refusal", () => c.notifies.some((n) => n.code === 407));
    expect((orders()["bad-tick"] as JsonObject)["last_msg"]).toMatch(/tick/);
    c.close();
  });

  test("identity comes from the login: another user's account, and orders before login, are refused", async () => {
    const c = await DiffClient.connect(`${url}/trade`);
    c.send(order("u1", "early", "BUY", "OPEN", 1, 75_000));
    await c.until("the refusal before login", () => c.notifies.some((n) => /log in first/.test(n.content)));
    const u2 = await login("u2", "secret-2");
    u2.send(order("u1", "steal", "BUY", "OPEN", 1, 75_000));
    u2.send({ aid: "cancel_order", user_id: "u1", order_id: "ord-A" });
    await u2.until("two refusals", () => u2.notifies.filter((n) => /user_id is not the account/.test(n.content)).length === 2);
    expect(u2.mirror["trade"]).not.toHaveProperty("u1");
    const w = await login("watcher", "secret-3");
    w.send(order("watcher", "ro", "BUY", "OPEN", 1, 75_000));
    await w.until("the read-only refusal", () => w.notifies.some((n) => /read-only/.test(n.content)));
    w.send({ aid: "req_transfer", bank_id: "b", future_account: "watcher", currency: "CNY", amount: 100 });
    await w.until("the transfer refusal", () => w.notifies.some((n) => /admin/.test(n.content)));
    for (const x of [c, u2, w]) x.close();
  });

  test("past the rate limits: orders refused by the order rate appear FINISHED, and peeks still go through, so a client never stalls", async () => {
    const c = await login("u3", "secret-4"); // its own account: the burst ties up its margin
    const orders = (): JsonObject => c.trade("u3")["orders"] as JsonObject;
    // 250 orders at once against 100 a second (burst 200): the rest refused, each still shown.
    for (let i = 0; i < 250; i++) c.send(order("u3", `burst-${i}`, "BUY", "OPEN", 1, 70_000 + 10 * (i % 50)));
    await c.until("every burst order answered", () => Array.from({ length: 250 }, (_, i) => orders()[`burst-${i}`]).every((o) => o !== undefined && ((o as JsonObject)["status"] === "FINISHED" || (o as JsonObject)["exchange_order_id"] !== "")));
    const limited = Object.values(orders()).filter((o) => (o as JsonObject)["last_msg"] === "too many orders, slow down");
    expect(limited.length).toBeGreaterThan(0);
    for (const o of limited) expect(o).toMatchObject({ status: "FINISHED", exchange_order_id: "" });
    // A second of messages at 25 times the message rate (200 a second, burst 400): the peeks
    // the client sends after each rtn_data meanwhile are not refused with them, so once the
    // flood ends the client still gets its data.
    const end = performance.now() + 1_000;
    while (performance.now() < end) {
      for (let i = 0; i < 5; i++) c.send({ aid: "qry_account_info" });
      await new Promise((r) => setTimeout(r, 1));
    }
    await c.until("the refusals", () => c.notifies.some((n) => /too many messages/.test(n.content)));
    await new Promise((r) => setTimeout(r, 2_500));
    c.send({ aid: "cancel_order", user_id: "u3", order_id: "burst-0" });
    await c.until("the cancel seen", () => (orders()["burst-0"] as JsonObject)["status"] === "FINISHED");
    c.close();
  });

  test("bad input gets a notify and changes nothing; the connection and the node keep running", async () => {
    const c = await login("u2", "secret-2");
    const before = JSON.stringify(c.trade("u2"));
    const bad = [
      "{not json", "[]", "42", '{"aid": 7}', '{"aid":"nope"}', '{"aid":"insert_order","__proto__":{"x":1}}',
      '{"aid":"insert_order","user_id":"u2","order_id":"x","constructor":{"prototype":{}}}',
      `{"aid":"set_chart","chart_id":"c","ins_list":"SHFE.cu2601","duration":1.5,"view_width":10}`,
      '{"aid":"subscribe_quote","ins_list":5}', '{"a":' + "[".repeat(50) + "]".repeat(50) + "}",
    ];
    for (const b of bad) c.send(b);
    c.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    await c.until("a notify per bad frame", () => c.notifies.filter((n) => n.level === "WARNING").length >= bad.length + 1);
    expect(JSON.stringify(c.trade("u2"))).toBe(before);
    expect(({} as Record<string, unknown>)["x"]).toBeUndefined();
    c.send({ aid: "peek_message" });
    expect(c.closed).toBeUndefined();
    c.close();
  });

  test("a frame above the size cap closes the connection with 1009", async () => {
    const c = await DiffClient.connect(`${url}/trade`);
    c.send(JSON.stringify({ aid: "peek_message", pad: "x".repeat(20_000) }));
    await c.until("the close", () => c.closed !== undefined);
    expect(c.closed!.code).toBe(1009);
  });

  test("a cross-origin browser handshake is refused; an allowed origin is not", async () => {
    await expect(DiffClient.connect(`${url}/trade`, { headers: { Origin: "https://evil.example" } })).rejects.toThrow(/403/);
    const ok = await DiffClient.connect(`${url}/trade`, { headers: { Origin: "http://localhost:8080" } });
    ok.close();
  });
});

describe("the L2 feed (ws://HOST/l2)", () => {
  test("a snapshot, then contiguous numbered updates that rebuild the book exactly; a second subscription resynchronises; an empty list stops it", async () => {
    const feed = await DiffClient.connect(`${url}/l2`, { autoPeek: false });
    const of = (aid: string): JsonObject[] => feed.bare.filter((b) => b["aid"] === aid);
    feed.send({ aid: "subscribe_l2", ins_list: "SHFE.cu2601,SHFE.nope" });
    await feed.until("the snapshot", () => of("l2_snapshot").length === 1);
    const first = of("l2_snapshot")[0]!;
    expect(first["symbol"]).toBe("SHFE.cu2601");
    // The book as [price, volume, orders] per side, rebuilt from the snapshot and the updates.
    const book = { BUY: new Map<number, [number, number]>(), SELL: new Map<number, [number, number]>() };
    const load = (snap: JsonObject): void => {
      book.BUY.clear();
      book.SELL.clear();
      for (const [p, v, n] of snap["bids"] as unknown as number[][]) book.BUY.set(p!, [v!, n!]);
      for (const [p, v, n] of snap["asks"] as unknown as number[][]) book.SELL.set(p!, [v!, n!]);
    };
    load(first);
    let seq = first["seq"] as number;
    const gaps: string[] = [];
    let applied = 0;
    const apply = (): void => {
      for (const u of of("l2_update").slice(applied)) {
        for (const [n, side, price, volume, orders] of u["updates"] as unknown as Array<[number, "BUY" | "SELL", number, number, number]>) {
          if (n !== seq + 1) gaps.push(`${seq} -> ${n}`);
          seq = n;
          if (volume === 0) book[side].delete(price);
          else book[side].set(price, [volume, orders]);
        }
        applied++;
      }
    };
    // Orders from l2u: new levels on both sides, one added to, one cancelled.
    const t = await login("l2u", "secret-6");
    t.send(order("l2u", "l2-1", "BUY", "OPEN", 2, 74_100));
    t.send(order("l2u", "l2-2", "BUY", "OPEN", 1, 74_100));
    t.send(order("l2u", "l2-3", "SELL", "OPEN", 3, 76_900));
    t.send(order("l2u", "l2-4", "BUY", "OPEN", 1, 74_050));
    const orders = (): JsonObject => (t.trade("l2u")["orders"] as JsonObject | undefined) ?? {};
    await t.until("l2-4 alive", () => (orders()["l2-4"] as JsonObject | undefined)?.["status"] === "ALIVE");
    t.send({ aid: "cancel_order", user_id: "l2u", order_id: "l2-4" });
    await t.until("the cancel", () => (orders()["l2-4"] as JsonObject | undefined)?.["status"] === "FINISHED");
    await feed.until("the updates", () => {
      apply();
      return book.BUY.get(74_100)?.[0] === 3 && book.SELL.get(76_900)?.[0] === 3 && !book.BUY.has(74_050) && seq >= (first["seq"] as number) + 4;
    });
    expect(gaps).toEqual([]);
    expect(book.BUY.get(74_100)).toEqual([3, 2]);
    // Subscribing again sends a fresh snapshot: the rebuilt book equals it.
    feed.send({ aid: "subscribe_l2", ins_list: "SHFE.cu2601" });
    await feed.until("the second snapshot", () => of("l2_snapshot").length === 2);
    apply();
    const second = of("l2_snapshot")[1]!;
    expect(second["seq"]).toBe(seq);
    const rebuilt = { bids: [...book.BUY].sort((a, b) => b[0] - a[0]).map(([p, [v, n]]) => [p, v, n]), asks: [...book.SELL].sort((a, b) => a[0] - b[0]).map(([p, [v, n]]) => [p, v, n]) };
    expect(rebuilt).toEqual({ bids: second["bids"], asks: second["asks"] });
    // An empty list: no more updates for this connection.
    feed.send({ aid: "subscribe_l2", ins_list: "" });
    const before = of("l2_update").length;
    t.send(order("l2u", "l2-5", "BUY", "OPEN", 1, 74_000));
    await t.until("l2-5 alive", () => (orders()["l2-5"] as JsonObject | undefined)?.["status"] === "ALIVE");
    const probe = await DiffClient.connect(`${url}/l2`, { autoPeek: false });
    probe.send({ aid: "subscribe_l2", ins_list: "SHFE.cu2601" });
    await probe.until("a later snapshot", () => probe.bare.some((b) => b["aid"] === "l2_snapshot" && (b["seq"] as number) > seq));
    expect(of("l2_update").length).toBe(before);
    // Bad input gets a notify at once (the feed has no peek).
    probe.send({ aid: "subscribe_l2", ins_list: 42 });
    await probe.until("the notify", () => probe.bare.some((b) => b["aid"] === "notify" && String(b["content"]).startsWith("subscribe_l2 needs ins_list")));
    t.send({ aid: "cancel_order", user_id: "l2u", order_id: "l2-5" });
    for (const c of [feed, probe, t]) c.close();
  });
});

describe("a DIFF market-data session", () => {
  test("ins_query (multi_symbol_info) answers known instruments' static fields, by variables or query text, and an empty query cancels", async () => {
    const c = await DiffClient.connect(`${url}/md`);
    await c.until("the first rtn_data", () => c.mirror["mdhis_more_data"] === false);
    const query = "query($instrument_id:[String]){multi_symbol_info(instrument_id:$instrument_id){instrument_id price_tick}}";
    c.send({ aid: "ins_query", query_id: "q1", query, variables: { instrument_id: ["SHFE.cu2601", "SHFE.nope"] } });
    c.send({ aid: "ins_query", query_id: "q2", query: 'query{multi_symbol_info(instrument_id:["SHFE.cu2601"]){instrument_id}}' });
    const answer = (id: string): JsonObject | undefined => (c.mirror["symbols"] as JsonObject | undefined)?.[id] as JsonObject | undefined;
    await c.until("both answers", () => answer("q1") !== undefined && answer("q2") !== undefined);
    const rows = (id: string): JsonObject[] => Object.values((answer(id)!["result"] as JsonObject)["multi_symbol_info"] as JsonObject) as JsonObject[];
    expect(answer("q1")).toMatchObject({ query, variables: { instrument_id: { 0: "SHFE.cu2601", 1: "SHFE.nope" } } });
    for (const id of ["q1", "q2"]) {
      expect(rows(id)).toHaveLength(1);
      expect(rows(id)[0]).toMatchObject({ instrument_id: "SHFE.cu2601", class: "FUTURE", exchange_id: "SHFE", ins_id: "cu2601", price_tick: 10, volume_multiple: 5 });
    }
    c.send({ aid: "ins_query", query_id: "q1", query: "" });
    await c.until("the cancel", () => answer("q1") === undefined);
    c.close();
  });

  test("hello, static quotes first, then a subscription's full quote and a chart with contiguous bars", async () => {
    const c = await DiffClient.connect(`${url}/md`);
    await c.until("rsp_login", () => c.bare.some((b) => b["aid"] === "rsp_login"));
    await c.until("the first rtn_data", () => c.mirror["mdhis_more_data"] === false);
    const quotes = (): JsonObject => c.mirror["quotes"] as JsonObject;
    expect(quotes()["SHFE.cu2601"]).toMatchObject({ price_tick: 10, volume_multiple: 5, exchange_id: "SHFE", ins_id: "cu2601" });
    expect(c.mirror["ins_list"]).toBe("");

    const list = "SHFE.cu2601,SHFE.nope";
    c.send({ aid: "subscribe_quote", ins_list: list });
    await c.until("the ins_list echo", () => c.mirror["ins_list"] === list);
    const q = quotes()["SHFE.cu2601"] as JsonObject;
    expect(typeof q["datetime"]).toBe("string");
    expect(q["last_price"]).toBe(75_000);
    expect(q["volume"]).toBe(1);
    expect(quotes()["SHFE.nope"]).toBeUndefined();

    c.send({ aid: "set_chart", chart_id: "c1", ins_list: "SHFE.cu2601", duration: 60_000_000_000, view_width: 10 });
    await c.until("the chart", () => ((c.mirror["charts"] as JsonObject | undefined)?.["c1"] as JsonObject | undefined)?.["ready"] === true);
    const chart = (c.mirror["charts"] as JsonObject)["c1"] as JsonObject;
    expect((chart["state"] as JsonObject)["chart_id"]).toBe("c1");
    const series = ((c.mirror["klines"] as JsonObject)["SHFE.cu2601"] as JsonObject)["60000000000"] as JsonObject;
    expect(series["last_id"]).toBe(0);
    expect(chart).toMatchObject({ left_id: 0, right_id: 0, more_data: false });
    expect((series["data"] as JsonObject)["0"]).toMatchObject({ open: 75_000, high: 75_000, low: 75_000, close: 75_000, volume: 1 });

    // A new trade moves the quote and the bar: the subscriber gets the change.
    const a = await login("u1", "secret-1");
    const b = await login("u2", "secret-2");
    b.send(order("u2", "s-2", "SELL", "OPEN", 3, 75_010));
    a.send(order("u1", "b-2", "BUY", "OPEN", 3, 75_010));
    await c.until("the quote update", () => (quotes()["SHFE.cu2601"] as JsonObject)["volume"] === 4);
    expect((quotes()["SHFE.cu2601"] as JsonObject)["last_price"]).toBe(75_010);
    await c.until("the bar update", () => {
      const s = ((c.mirror["klines"] as JsonObject)["SHFE.cu2601"] as JsonObject)["60000000000"] as JsonObject;
      const bars = s["data"] as JsonObject;
      return Object.values(bars).reduce((n: number, x) => n + ((x as JsonObject)["volume"] as number), 0) === 4;
    });
    for (const x of [a, b, c]) x.close();
  });

  test("GET /health and /metrics answer beside the WebSocket endpoints", async () => {
    const h = await fetch(`${url.replace("ws", "http")}/health`);
    expect(h.status).toBe(200);
    expect(await h.json()).toMatchObject({ status: "running" });
    const m = await (await fetch(`${url.replace("ws", "http")}/metrics`)).text();
    expect(m).toMatch(/^venue_gateway_connections \d+$/m);
    expect(m).toMatch(/venue_gateway_logins_total\{result="ok"\} [1-9]/);
  });
});
