/**
 * The market-data worker's exchange with the gateway, over a real MessageChannel on one
 * thread: MarketPublisher (the worker's end, over DiffMarket fed with real engine events)
 * and MarketMirror (the gateway's end). Messages on a port arrive only when the event
 * loop turns, so passes made without a turn are the passes of a worker whose gateway has
 * not answered yet.
 *
 * Must: the first update holds every quote whole; with credit 2, the third and later passes
 * send nothing until the acks are in, and the next update carries everything they
 * gathered; the gateway's copy of each quote, and a client that applied every forwarded
 * change, equal the model's quote; a chart opens with the window asked for, then takes
 * the series' new bars; after `unwatch`, its changes stop. A watched book's L2 updates come
 * numbered on from its snapshot, or as a new snapshot when more changed than is kept.
 */

import { MessageChannel } from "node:worker_threads";
import { setImmediate as turn } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { DiffMarket, MarketPublisher, type ChartWindow, type L2BookSnapshot, type L2Change, type SeriesChange } from "../../src/market/diff_market.ts";
import { MarketMirror } from "../../src/gateway/market_mirror.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { MINUTE, SECOND, T0, Venue, catalogLookup } from "./market_kit.ts";

const CU = "SHFE.cu2601";
const MIN_NS = 60 * 1_000_000_000;

/** Lets messages cross the port both ways (each hop takes a turn of the event loop). */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await turn();
}

const plain = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

let close: (() => void) | undefined;
afterEach(() => close?.());

function setUp(credit: number, l2UpdatesKept?: number): { v: Venue; cu: number; diff: DiffMarket; feed: () => void; publisher: MarketPublisher; mirror: MarketMirror; updates: Array<{ quotes: Map<string, Record<string, unknown>>; series: SeriesChange[]; l2: L2Change[] }> } {
  const v = new Venue({}, catalogLookup, T0, true);
  const cu = v.defineCatalog(CU);
  const diff = new DiffMarket(catalogLookup, l2UpdatesKept === undefined ? {} : { l2UpdatesKept });
  const scratch = Buf.alloc(1 << 12);
  const view = new EventView(scratch);
  let fed = 0;
  const feed = (): void => {
    for (; fed < v.events.length; fed++) {
      scratch.u8.set(v.events[fed]!);
      diff.onEvent(view.wrap(scratch, 0));
    }
  };
  feed();
  const channel = new MessageChannel();
  const publisher = new MarketPublisher(diff, channel.port1, credit);
  const mirror = new MarketMirror(channel.port2);
  const updates: Array<{ quotes: Map<string, Record<string, unknown>>; series: SeriesChange[]; l2: L2Change[] }> = [];
  mirror.onUpdate = (u) => updates.push(u);
  close = () => {
    publisher.close();
    mirror.close();
  };
  return { v, cu, diff, feed, publisher, mirror, updates };
}

describe("market data to the gateway over a port", () => {
  it("sends every quote first, gathers changes while the gateway has not answered, and keeps the gateway's copy equal to the model", async () => {
    const { v, cu, diff, feed, publisher, mirror, updates } = setUp(2);
    expect(publisher.update()).toBe(true);
    // A client that subscribed at the start and applies every forwarded change.
    const client: Record<string, unknown> = {};
    // Ten passes, each after a trade at a new price, with no turn of the event loop between.
    for (let k = 0; k < 10; k++) {
      v.advance(SECOND);
      v.order(cu, "a1", "sell", 75_000 + 10 * k, 1);
      v.order(cu, "a2", "buy", 75_000 + 10 * k, 1, "ioc");
      feed();
      publisher.update();
    }
    expect(publisher.sent).toBe(2);
    expect(publisher.held).toBe(9);
    await settle();
    expect(updates.length).toBe(2);
    expect(Object.keys(updates[0]!.quotes.get(CU)!)).toEqual(Object.keys(diff.quote(CU)!));
    // The acks are in: one update with everything the held passes gathered.
    expect(publisher.update()).toBe(true);
    await settle();
    expect(updates.length).toBe(3);
    expect(mirror.held).toBe(9); // for the gateway's metrics
    for (const u of updates) Object.assign(client, plain(u.quotes.get(CU) ?? {}));
    expect(plain(mirror.quote(CU))).toEqual(plain(diff.quote(CU)));
    expect(client).toEqual(plain(diff.quote(CU)));
    expect(diff.quote(CU)!["last_price"]).toBe(75_090); // the last of the ten trades
    // Nothing changed since: no update.
    expect(publisher.update()).toBe(false);
  });

  it("sends a watched book's numbered updates, and a snapshot instead when the gateway fell further behind than the updates kept", async () => {
    const { v, cu, feed, publisher, mirror, updates } = setUp(1, 4);
    publisher.update();
    await settle();
    let snap: L2BookSnapshot | undefined | null = null;
    mirror.l2(CU, (s) => (snap = s));
    await settle();
    const first = snap as unknown as L2BookSnapshot;
    expect(first.symbol).toBe(CU);
    // Two new levels: the next update carries updates numbered on from the snapshot.
    v.order(cu, "a1", "buy", 74_000, 1);
    v.order(cu, "a1", "buy", 73_990, 2);
    feed();
    expect(publisher.update()).toBe(true);
    await settle();
    const l2 = updates[updates.length - 1]!.l2;
    expect(l2).toEqual([{ symbol: CU, updates: [[first.seq + 1, "BUY", 74_000, 1, 1], [first.seq + 2, "BUY", 73_990, 2, 1]] }]);
    // Ten more levels without a turn of the event loop: the first is sent (credit 1), the other
    // nine gather while the gateway has not answered, more than the 4 kept.
    for (let k = 1; k <= 10; k++) {
      v.order(cu, "a1", "buy", 73_990 - 10 * k, 1);
      feed();
      expect(publisher.update()).toBe(k === 1);
    }
    await settle();
    expect(publisher.update()).toBe(true);
    await settle();
    const last = updates[updates.length - 1]!.l2;
    expect(last).toHaveLength(1);
    expect("snapshot" in last[0]!).toBe(true);
    const s = (last[0] as { snapshot: L2BookSnapshot }).snapshot;
    expect(s.seq).toBe(first.seq + 12);
    expect(s.bids.slice(0, 3)).toEqual([[74_000, 1, 1], [73_990, 2, 1], [73_980, 1, 1]]);
    expect(s.bids).toHaveLength(12);
    // Unwatched: no more L2 changes.
    mirror.l2Unwatch(CU);
    await settle();
    const before = updates.length;
    v.order(cu, "a1", "buy", 74_010, 1); // a new best bid
    feed();
    expect(publisher.update()).toBe(true); // the quote's depth changed, so an update goes
    await settle();
    expect(updates.length).toBe(before + 1);
    expect(updates[updates.length - 1]!.l2).toEqual([]);
  });

  it("opens a chart with its window, then sends its new bars, until unwatched", async () => {
    const { v, cu, feed, publisher, mirror, updates } = setUp(4);
    const trade = (price: number): void => {
      v.order(cu, "a1", "sell", price, 1);
      v.order(cu, "a2", "buy", price, 1, "ioc");
      feed();
    };
    for (let k = 0; k < 5; k++) {
      trade(75_000 + 10 * k);
      v.advance(MINUTE);
    }
    publisher.update();
    await settle();
    let window: ChartWindow | undefined | null = null;
    mirror.chart(CU, MIN_NS, 3, (w) => (window = w));
    await settle();
    expect(window).not.toBeNull();
    const w = window as unknown as ChartWindow;
    expect([w.leftId, w.rightId]).toEqual([2, 4]);
    const rows = (w.top["klines"] as Record<string, Record<string, { data: Record<string, unknown>; last_id: number }>>)[CU]![String(MIN_NS)]!;
    expect(Object.keys(rows.data)).toEqual(["2", "3", "4"]);
    expect(rows.last_id).toBe(4);
    // A new bar: the next update carries the series, with the last sent bar again and the new one.
    trade(75_100);
    publisher.update();
    await settle();
    const last = updates[updates.length - 1]!;
    expect(last.series.map((c) => [c.symbol, c.duration, c.lastId])).toEqual([[CU, MIN_NS, 5]]);
    // An unknown symbol: no window.
    let unknown: ChartWindow | undefined | null = null;
    mirror.chart("SHFE.nope", MIN_NS, 3, (x) => (unknown = x));
    await settle();
    expect(unknown).toBeUndefined();
    // Unwatched: the quote still changes, the series is not sent.
    mirror.unwatch(CU, MIN_NS);
    await settle();
    v.advance(MINUTE);
    trade(75_110);
    publisher.update();
    await settle();
    const after = updates[updates.length - 1]!;
    expect(after.quotes.has(CU)).toBe(true);
    expect(after.series).toEqual([]);
  });
});
