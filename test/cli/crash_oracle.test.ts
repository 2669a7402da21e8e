/**
 * The crash test's oracle (crash_oracle.ts) on hand-made trees: an account that did nothing
 * after its last rtn_data must come back exactly as seen, except for what a timed mark moves,
 * and a mark may move its balance only by the change in position profit.
 */

import { expect, test } from "vitest";
import { checkAccount } from "./crash_oracle.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";

function tree(o: { lastPrice: number; posProfit: number; margin: number; volume?: number; commission?: number }): JsonObject {
  const staticBalance = 1_000_000;
  const commission = o.commission ?? 20;
  const balance = staticBalance + o.posProfit - commission;
  return {
    orders: { b1: { status: "FINISHED", volume_left: 0 } },
    trades: { t1: { order_id: "b1", volume: 2 } },
    transfers: {},
    accounts: {
      CNY: {
        static_balance: staticBalance, commission, position_profit: o.posProfit, float_profit: o.posProfit, balance, margin: o.margin,
        frozen_margin: 0, frozen_commission: 0, available: balance - o.margin, risk_ratio: o.margin / balance,
      },
    },
    positions: {
      "SHFE.cu2601": {
        volume_long: o.volume ?? 2, last_price: o.lastPrice, position_profit_long: o.posProfit, position_profit: o.posProfit,
        float_profit_long: o.posProfit, float_profit: o.posProfit, margin_long: o.margin, margin: o.margin, open_cost_long: 700_500,
      },
    },
  };
}

const seen = tree({ lastPrice: 70_000, posProfit: -500, margin: 70_000 });

test("as seen: passes", () => {
  expect(checkAccount("a", seen, tree({ lastPrice: 70_000, posProfit: -500, margin: 70_000 }), new Map()).unchanged).toBe(true);
});

test("re-valued by a mark after the last rtn_data: passes", () => {
  expect(checkAccount("a", seen, tree({ lastPrice: 70_100, posProfit: 500, margin: 70_100 }), new Map()).unchanged).toBe(true);
});

test("margins re-priced by a mark at an unmoved price: passes", () => {
  expect(checkAccount("a", seen, tree({ lastPrice: 70_000, posProfit: -500, margin: 69_990 }), new Map()).unchanged).toBe(true);
});

test("money moved with no mark, or by more than the mark explains, or a position changed: fails", () => {
  expect(() => checkAccount("a", seen, tree({ lastPrice: 70_000, posProfit: 500, margin: 70_000 }), new Map())).toThrow(/yet the positions differ/);
  expect(() => checkAccount("a", seen, tree({ lastPrice: 70_100, posProfit: 500, margin: 70_100, commission: 10 }), new Map())).toThrow(/yet the money differs/);
  const more = tree({ lastPrice: 70_100, posProfit: 500, margin: 70_100 });
  const money = (more["accounts"] as JsonObject)["CNY"] as JsonObject;
  money["balance"] = (money["balance"] as number) + 1;
  expect(() => checkAccount("a", seen, more, new Map())).toThrow(/a mark moved the balance by more than the position profit/);
  expect(() => checkAccount("a", seen, tree({ lastPrice: 70_100, posProfit: 500, margin: 70_100, volume: 1 }), new Map())).toThrow(/yet the positions differ/);
});
