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
import { TradeView } from "../../src/gateway/trade_view.ts";
import { applyPatch, clone, type Json, type JsonObject } from "../../src/gateway/patch.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { DEMO_INSTRUMENTS } from "../../src/catalog/instrument.ts";
import { Venue } from "../market/market_kit.ts";

const CU = DEMO_INSTRUMENTS[0]!;

describe("trade tree caps", () => {
  it("keeps the newest finished orders and trades up to the caps, every alive order, and clients in step", () => {
    const v = new Venue({}, undefined, undefined, true);
    const cu = v.defineCatalog(CU.symbol);
    const view = new TradeView((i) => (i === cu ? CU : undefined), { maxFinishedOrders: 5, maxTrades: 7, tradingDay: "20261124" });
    const client = clone(view.snapshot("a1") as Json) as JsonObject;
    const scratch = Buf.alloc(1 << 12);
    const ev = new EventView(scratch);
    let fed = 0;
    const feed = (): void => {
      for (; fed < v.events.length; fed++) {
        scratch.u8.set(v.events[fed]!);
        const e = ev.wrap(scratch, 0);
        view.onEvent(e);
        // One command's events end where the next command's begin.
        const next = v.events[fed + 1];
        if (next === undefined || new DataView(next.buffer, next.byteOffset).getUint32(8, true) !== e.seq) {
          const change = view.endCommand().get("a1");
          if (change !== undefined) applyPatch(client, ((change.patch["trade"] as JsonObject)["a1"] as JsonObject));
        }
      }
    };
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
