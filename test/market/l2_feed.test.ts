/**
 * The L2 feed: numbered updates, snapshots, a consumer's mirror that follows them, and
 * the forbidden outcomes: a mirror that applies an update out of order, misses a gap, or
 * ends with a book other than the engine's.
 */

import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import { L2Applied, L2Log, L2Mirror, type L2Update } from "../../src/market/l2_feed.ts";
import { Side } from "../../src/schema/codes.ts";
import { encodeFlow, generateFlow, instrumentCommands } from "../../src/sim/order_flow.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { Venue, plainParams } from "./market_kit.ts";

const S = "X.ABC";

describe("l2 log", () => {
  it("numbers updates from 1 and keeps the newest `kept`", () => {
    const log = new L2Log(3, 4);
    expect(log.updates(0)).toEqual([]);
    for (let k = 1; k <= 6; k++) log.push(Side.buy, 100 + k, k, 1);
    expect([log.firstSeq, log.seq]).toEqual([3, 6]);
    expect(log.updates(2)!.map((u) => u.seq)).toEqual([3, 4, 5, 6]);
    expect(log.updates(4)).toEqual([
      { instrument: 3, seq: 5, side: Side.buy, price: 105, qty: 5, orderCount: 1 },
      { instrument: 3, seq: 6, side: Side.buy, price: 106, qty: 6, orderCount: 1 },
    ]);
    expect(log.updates(2, 1)!.map((u) => u.seq)).toEqual([3]);
    expect(log.updates(1)).toBeUndefined(); // update 2 is gone
    expect(log.updates(7)).toBeUndefined(); // ahead of the log
    log.reset();
    expect(log.seq).toBe(7);
    expect(log.updates(6)).toBeUndefined();
    expect(log.updates(7)).toEqual([]);
  });
});

describe("l2 mirror", () => {
  it("applies updates in order, ignores stale ones and stops at a gap", () => {
    const asked: number[] = [];
    const m = new L2Mirror(0, (i) => asked.push(i));
    const u = (seq: number, price: number, qty: number): L2Update => ({ instrument: 0, seq, side: Side.sell, price, qty, orderCount: 1 });
    expect(m.apply(u(1, 10, 1))).toBe(L2Applied.unsynced);
    m.applySnapshot({ instrument: 0, seq: 4, bids: [[9, 1, 1]], asks: [[11, 2, 1]] });
    expect(m.apply(u(4, 10, 1))).toBe(L2Applied.stale);
    expect(m.apply(u(5, 10, 3))).toBe(L2Applied.applied);
    expect(m.book.asks.levels()).toEqual([[10, 3, 1], [11, 2, 1]]);
    expect(m.apply(u(7, 12, 1))).toBe(L2Applied.gap);
    expect(asked).toEqual([0]);
    expect(m.synced).toBe(false);
    expect(m.apply(u(8, 12, 1))).toBe(L2Applied.unsynced);
    expect(m.book.asks.levels()).toEqual([[10, 3, 1], [11, 2, 1]]); // nothing applied past the gap
  });

  it("follows the engine through a mixed flow, catching up from kept updates or a snapshot", () => {
    const seed = seedFromEnv();
    console.log(`market l2 feed: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const v = new Venue({ l2UpdatesKept: 64 }, () => undefined);
    for (const def of instrumentCommands(2)) v.define(def);
    const flow = generateFlow({ seed, commands: 20_000, instruments: 2, accounts: 100 });
    const { buf, offsets } = encodeFlow(flow, v.engine, { firstSeq: v.seq });
    const gaps: number[] = [];
    // Mirror 0 catches up every command; mirror 1 now and then, sometimes too late for the
    // kept updates; mirror 2 is fed every update but one, by hand, and must see the gap.
    const close = new L2Mirror(0);
    const late = new L2Mirror(0);
    const lossy = new L2Mirror(1, (i) => gaps.push(i));
    let lossySeq = 0;
    let dropped = false;
    const rng = fc.sample(fc.integer({ min: 1, max: 200 }), { seed, numRuns: offsets.length });
    let nextLate = 0;
    let snapshotsTaken = 0;
    for (let k = 0; k < offsets.length; k++) {
      v.applyRecord(buf, offsets[k]!);
      close.catchUp(v.market);
      if (k >= nextLate) {
        if (late.synced && v.market.l2Updates(0, late.seq) === undefined) snapshotsTaken++;
        late.catchUp(v.market);
        nextLate = k + rng[k]!;
      }
      if (!lossy.synced) {
        lossy.applySnapshot(v.market.l2Snapshot(1)!);
        lossySeq = lossy.seq;
      } else {
        for (const u of v.market.l2Updates(1, lossySeq) ?? []) {
          lossySeq = u.seq;
          if (!dropped && k > offsets.length / 2) {
            dropped = true; // lose exactly one update
            continue;
          }
          lossy.apply(u);
        }
      }
      if (k % 499 === 0 || k === offsets.length - 1) {
        expect(close.seq).toBe(v.market.l2Seq(0));
        expect(close.book.bids.levels()).toEqual(v.engine.depth(0, Side.buy));
        expect(close.book.asks.levels()).toEqual(v.engine.depth(0, Side.sell));
      }
    }
    late.catchUp(v.market);
    expect(late.book.bids.levels()).toEqual(v.engine.depth(0, Side.buy));
    expect(late.book.asks.levels()).toEqual(v.engine.depth(0, Side.sell));
    expect(snapshotsTaken).toBeGreaterThan(0);
    expect(gaps).toEqual([1]);
    expect(lossy.gaps).toBe(1);
    lossy.catchUp(v.market);
    expect(lossy.book.bids.levels()).toEqual(v.engine.depth(1, Side.buy));
    expect(lossy.book.asks.levels()).toEqual(v.engine.depth(1, Side.sell));
    const snap = v.market.l2Snapshot(0)!;
    expect(snap.seq).toBe(v.market.l2Seq(0));
    expect(v.market.l2Snapshot(9)).toBeUndefined();
    expect(v.market.l2Updates(9, 0)).toBeUndefined();
  });

  it("numbers only real changes, and a seeded side forces a snapshot", () => {
    const v = new Venue({}, () => undefined);
    const i = v.define(plainParams(S));
    v.order(i, "a", "buy", 100, 2);
    v.order(i, "a", "buy", 101, 1);
    expect(v.market.l2Seq(i)).toBe(2);
    const m = new L2Mirror(i);
    m.catchUp(v.market);
    v.market.seedBook(i, Side.buy, [[100, 5, 2]]);
    expect(v.market.l2Seq(i)).toBe(3);
    expect(v.market.l2Updates(i, 2)).toBeUndefined();
    m.catchUp(v.market);
    expect(m.seq).toBe(3);
    expect(m.book.bids.levels()).toEqual([[100, 5, 2]]);
  });
});
