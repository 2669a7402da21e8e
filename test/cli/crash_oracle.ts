/**
 * The history oracle for the crash test (TESTING.md H3): what DIFF clients saw before the
 * node was killed, against what the restarted node shows. The clients only ever see
 * released events, and the gateway releases only what the journal made durable, so
 * everything seen is acknowledged: it must come back whole, at least as far along as it
 * was seen (P1). Orders sent but never seen were in flight: they may come back or not, and
 * if they come back they come back whole, as sent (P2). The restarted trees must also hold
 * together on their own: fills against orders, positions against trades, commission
 * against trades, and each trade's two sides against each other.
 */

import type { JsonObject } from "../../src/gateway/patch.ts";

/** An order as the load generator sent it: the oracle's record of what may exist. */
export interface SentOrder {
  account: string;
  orderId: string;
  exchangeId: string;
  instrumentId: string;
  direction: "BUY" | "SELL";
  offset: "OPEN" | "CLOSE" | "CLOSETODAY";
  volume: number;
  limitPrice: number;
  timeCondition: "GFD" | "IOC";
}

/** What one account's check found, for the run's report. */
export interface AccountVerdict {
  account: string;
  /** Orders seen before the kill (all must come back). */
  seenOrders: number;
  /** Seen ALIVE, recovered further along: filled or cancelled by commands in flight at the kill. */
  advanced: number;
  /** Sent but never seen, and recovered (in flight at the kill, made durable). */
  inFlightRecovered: number;
  /** Sent, never seen and not recovered, over all kills so far (in flight, never made durable). */
  inFlightLost: number;
  /** The account's trees are exactly as last seen, so its money and positions must be too. */
  unchanged: boolean;
}

/** One account's part of the DIFF trade tree, without the view's change counters. */
export function dayTree(t: JsonObject): JsonObject {
  const keep = { orders: t["orders"] ?? {}, trades: t["trades"] ?? {}, transfers: t["transfers"] ?? {}, accounts: t["accounts"] ?? {}, positions: t["positions"] ?? {} };
  return JSON.parse(JSON.stringify(keep, (k, v: unknown) => (k === "seqno" ? undefined : v))) as JsonObject;
}

const section = (t: JsonObject, name: string): Record<string, JsonObject> => (t[name] ?? {}) as Record<string, JsonObject>;
/** JSON with every object's keys sorted: a restored tree may list its entries in another order. */
const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (x !== null && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : x));
const same = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b);
const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/** The paths where two JSON values differ, each with both values: what a failure shows. */
function differences(a: unknown, b: unknown, path = ""): string[] {
  if (same(a, b)) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === "object" && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return [`${path || "."}: seen ${JSON.stringify(a)}, now ${JSON.stringify(b)}`];
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].flatMap((k) => differences(a[k], b[k], `${path}.${k}`));
}

function fail(account: string, what: string, detail: unknown): never {
  throw new Error(`${account}: ${what}: ${JSON.stringify(detail)}`);
}

/** The figures a mark moves: positions valued at the new mark price, margins re-priced, and what follows from them. */
const MARKED = new Set([
  "last_price", "position_profit", "position_profit_long", "position_profit_short", "float_profit", "float_profit_long", "float_profit_short",
  "margin", "margin_long", "margin_short", "balance", "available", "risk_ratio",
]);

/** What a mark at an unmoved price may change: margins re-priced at the mark price. */
const REPRICED = new Set(["margin", "margin_long", "margin_short", "available", "risk_ratio"]);
/** The field a `differences` line names. */
const fieldOf = (d: string): string => d.slice(0, d.indexOf(":")).split(".").pop()!;

/** The fields an order never changes once the engine has it. */
const ORDER_FIXED = ["exchange_order_id", "exchange_id", "instrument_id", "direction", "offset", "volume_orign", "limit_price", "price_type", "volume_condition", "time_condition", "insert_date_time"];

/**
 * `seen` and `now` are dayTree()s of one account; `sent` maps its order ids to what was
 * sent. Throws naming the first broken promise.
 */
export function checkAccount(account: string, seen: JsonObject, now: JsonObject, sent: ReadonlyMap<string, SentOrder>): AccountVerdict {
  const seenOrders = section(seen, "orders");
  const nowOrders = section(now, "orders");
  let advanced = 0;
  for (const [id, s] of Object.entries(seenOrders)) {
    const n = nowOrders[id];
    if (n === undefined) fail(account, `order ${id} was seen but is gone`, s);
    if (same(s, n)) continue;
    // Only an order seen ALIVE may have moved on, and only forward.
    if (s["status"] !== "ALIVE") fail(account, `order ${id} was seen ${String(s["status"])} and changed`, { seen: s, now: n });
    for (const k of ORDER_FIXED) if (!same(s[k], n[k])) fail(account, `order ${id}: ${k} changed`, { seen: s, now: n });
    if (!((n["volume_left"] as number) <= (s["volume_left"] as number))) fail(account, `order ${id}: volume_left grew`, { seen: s, now: n });
    if (n["status"] === "ALIVE" && n["volume_left"] === s["volume_left"]) fail(account, `order ${id}: ALIVE as seen but not equal`, { seen: s, now: n });
    advanced++;
  }
  let inFlightRecovered = 0;
  for (const [id, n] of Object.entries(nowOrders)) {
    if (seenOrders[id] !== undefined) continue;
    const o = sent.get(id);
    if (o === undefined) fail(account, `order ${id} was never sent`, n);
    const asSent = { exchange_id: o.exchangeId, instrument_id: o.instrumentId, direction: o.direction, volume_orign: o.volume, limit_price: o.limitPrice };
    for (const [k, v] of Object.entries(asSent)) if (n[k] !== v) fail(account, `order ${id} in flight at the kill came back unlike it was sent (${k})`, { sent: o, now: n });
    // An order the engine rejected shows no offset or time condition (its rejected event
    // does not carry them); any other shows both as sent.
    const mayLack = n["status"] === "FINISHED" && n["exchange_order_id"] === "";
    for (const [k, v] of Object.entries({ offset: o.offset, time_condition: o.timeCondition })) {
      if (n[k] !== v && !(mayLack && n[k] === undefined)) fail(account, `order ${id} in flight at the kill came back unlike it was sent (${k})`, { sent: o, now: n });
    }
    inFlightRecovered++;
  }
  const seenTrades = section(seen, "trades");
  const nowTrades = section(now, "trades");
  for (const [id, s] of Object.entries(seenTrades)) {
    if (!same(s, nowTrades[id])) fail(account, `trade ${id} was seen and is gone or changed`, { seen: s, now: nowTrades[id] });
  }
  for (const [id, s] of Object.entries(section(seen, "transfers"))) {
    if (!same(s, section(now, "transfers")[id])) fail(account, `transfer ${id} was seen and is gone or changed`, s);
  }
  // Nothing the account did happened after its last rtn_data: then its money and positions
  // are exactly as it saw them, but for what a timed mark moves (`venue start` marks every
  // second): margins re-priced at the mark price (a fill charges margin at the order's
  // price), and where the mark price (last_price) moved, positions re-valued; an account's
  // balance moves by exactly the change in its position profit.
  const unchanged = same(seen["orders"], now["orders"]) && same(seen["trades"], now["trades"]) && same(seen["transfers"], now["transfers"]);
  if (unchanged) {
    let marked = false;
    const seenPositions = section(seen, "positions");
    const nowPositions = section(now, "positions");
    for (const symbol of new Set([...Object.keys(seenPositions), ...Object.keys(nowPositions)])) {
      const s = seenPositions[symbol];
      const n = nowPositions[symbol];
      const moved = s !== undefined && n !== undefined && s["last_price"] !== n["last_price"];
      marked ||= moved;
      const diff = differences(s, n, `.${symbol}`).filter((d) => !(moved ? MARKED : REPRICED).has(fieldOf(d)));
      if (diff.length > 0) fail(account, "nothing happened after the last rtn_data seen, yet the positions differ", diff);
    }
    const seenMoney = section(seen, "accounts");
    const nowMoney = section(now, "accounts");
    const diff = differences(seenMoney, nowMoney).filter((d) => !(marked ? MARKED : REPRICED).has(fieldOf(d)));
    if (diff.length > 0) fail(account, "nothing happened after the last rtn_data seen, yet the money differs", diff);
    for (const [cur, s] of Object.entries(seenMoney)) {
      const n = nowMoney[cur]!;
      const num = (o: JsonObject, k: string): number => o[k] as number;
      // Only position profit moved the balance; only margin and balance moved what is available.
      if (!near(num(n, "balance") - num(n, "position_profit"), num(s, "balance") - num(s, "position_profit"))) fail(account, "a mark moved the balance by more than the position profit", differences(s, n));
      if (!near(num(n, "available") + num(n, "margin") - num(n, "balance"), num(s, "available") + num(s, "margin") - num(s, "balance"))) fail(account, "a mark moved what is available by more than margin and balance", differences(s, n));
    }
  }
  const inFlightLost = [...sent.keys()].filter((id) => nowOrders[id] === undefined).length;
  return { account, seenOrders: Object.keys(seenOrders).length, advanced, inFlightRecovered, inFlightLost, unchanged };
}

/**
 * One account's tree holds together: each order's filled volume is the sum of its trades;
 * each position is the sum of its trades (the trading day is the account's whole life
 * here) and freezes what its ALIVE close orders leave; the commission is the trades' sum;
 * the deposit is the demo deposit; no ALIVE order, no frozen money.
 */
export function checkConsistent(account: string, t: JsonObject, deposit: number): void {
  const orders = section(t, "orders");
  const trades = Object.values(section(t, "trades"));
  const filled = new Map<string, number>();
  const long = new Map<string, number>();
  const short = new Map<string, number>();
  let commission = 0;
  const add = (m: Map<string, number>, k: string, v: number): void => void m.set(k, (m.get(k) ?? 0) + v);
  for (const tr of trades) {
    const id = tr["order_id"] as string;
    if (orders[id] === undefined) fail(account, `trade ${String(tr["trade_id"])} of an order not in the tree`, tr);
    const vol = tr["volume"] as number;
    add(filled, id, vol);
    const sym = `${String(tr["exchange_id"])}.${String(tr["instrument_id"])}`;
    const buy = tr["direction"] === "BUY";
    if (tr["offset"] === "OPEN") add(buy ? long : short, sym, vol);
    else add(buy ? short : long, sym, -vol);
    commission += tr["commission"] as number;
  }
  const frozenLong = new Map<string, number>();
  const frozenShort = new Map<string, number>();
  let alive = 0;
  for (const [id, o] of Object.entries(orders)) {
    const done = (o["volume_orign"] as number) - (o["volume_left"] as number);
    if (done !== (filled.get(id) ?? 0)) fail(account, `order ${id}: filled ${done} but its trades sum to ${filled.get(id) ?? 0}`, o);
    if (o["status"] !== "ALIVE") continue;
    alive++;
    if (o["offset"] !== "OPEN") add(o["direction"] === "SELL" ? frozenLong : frozenShort, `${String(o["exchange_id"])}.${String(o["instrument_id"])}`, o["volume_left"] as number);
  }
  const positions = section(t, "positions");
  for (const sym of new Set([...Object.keys(positions), ...long.keys(), ...short.keys()])) {
    const p = positions[sym] ?? {};
    const want = { volume_long: long.get(sym) ?? 0, volume_short: short.get(sym) ?? 0, volume_long_frozen: frozenLong.get(sym) ?? 0, volume_short_frozen: frozenShort.get(sym) ?? 0 };
    for (const [k, v] of Object.entries(want)) if ((p[k] ?? 0) !== v) fail(account, `position ${sym}: ${k} ${String(p[k])}, its trades and orders say ${v}`, p);
  }
  const cny = section(t, "accounts")["CNY"];
  if (cny === undefined) fail(account, "no CNY account", t["accounts"]);
  if (cny["deposit"] !== deposit) fail(account, `deposit ${String(cny["deposit"])}, not the demo deposit ${deposit}`, cny);
  if (!near(cny["commission"] as number, commission)) fail(account, `commission ${String(cny["commission"])}, its trades sum to ${commission}`, cny);
  if (alive === 0 && (cny["frozen_margin"] !== 0 || cny["frozen_commission"] !== 0)) fail(account, "money frozen with no ALIVE order", cny);
}

/** Across accounts: every trade number has exactly its two sides, opposite, at one price and volume. */
export function checkTradePairs(trees: readonly JsonObject[]): number {
  const sides = new Map<string, JsonObject[]>();
  for (const t of trees) {
    for (const tr of Object.values(section(t, "trades"))) {
      const k = `${String(tr["exchange_id"])}.${String(tr["instrument_id"])}#${String(tr["exchange_trade_id"])}`;
      sides.set(k, [...(sides.get(k) ?? []), tr]);
    }
  }
  for (const [k, s] of sides) {
    const [a, b] = s;
    if (s.length !== 2 || a === undefined || b === undefined) fail("trades", `trade ${k} has ${s.length} side(s)`, s);
    if (a["direction"] === b["direction"] || a["price"] !== b["price"] || a["volume"] !== b["volume"]) fail("trades", `trade ${k}: its sides disagree`, s);
  }
  return sides.size;
}
