/**
 * A random command file (JSON lines) from a seed, with accounts on: money instruments,
 * transfers, opening and closing orders, amends, cancels, mass cancels, state changes,
 * marks and settlements. Shared by the determinism and snapshot tests.
 */

import { Prng } from "../../src/stdx/prng.ts";

export function randomCommands(seed: number, count: number): string {
  const rng = new Prng(seed);
  // X.A is pure matching; X.B and SHFE.cu are money instruments (accounts, risk, positions).
  const symbols = ["X.A", "X.B", "SHFE.cu"];
  const lines = [
    JSON.stringify({ op: "instrument", symbol: "X.A", tickSize: 5, lotSize: 1, minQty: 1, maxQty: 500, priceLow: 50, priceHigh: 200 }),
    JSON.stringify({ op: "instrument", symbol: "X.B", tickSize: 5, lotSize: 1, minQty: 1, maxQty: 500, priceLow: 50, priceHigh: 200, multiplier: 10, marginRateBp: 1500, commissionPerLot: 2, commissionRateBp: 1 }),
    JSON.stringify({ op: "instrument", symbol: "SHFE.cu", tickSize: 5, lotSize: 1, minQty: 1, maxQty: 500, priceLow: 50, priceHigh: 200, multiplier: 5, marginPerLot: 40, closeTodayDistinct: true, positionLimit: 400 }),
  ];
  for (let a = 1; a <= 6; a++) lines.push(JSON.stringify({ op: "deposit", account: `a${a}`, amount: rng.int(20_000, 400_000) }));
  let next = 0;
  const ids: Array<[string, string]> = [];
  let ts = 1730772000000000000n;
  for (let i = 0; i < count; i++) {
    ts += BigInt(rng.int(1, 5000));
    const r = rng.nextFloat();
    const account = `a${rng.int(1, 6)}`;
    let c: Record<string, unknown>;
    if (r < 0.55 || ids.length === 0) {
      const id = `o${next++}`;
      ids.push([id, account]);
      c = {
        op: "new", id, account, symbol: rng.pick(symbols), side: rng.pick(["buy", "sell"]),
        type: rng.chance(0.05) ? "market" : "limit", tif: rng.pick(["gtc", "gtc", "gfd", "ioc", "fok"]),
        price: 5 * rng.int(18, 22) + (rng.chance(0.02) ? 1 : 0), qty: rng.int(rng.chance(0.02) ? 0 : 1, 60),
      };
      if (c["type"] === "market") c["tif"] = rng.pick(["ioc", "fok"]);
      if (rng.chance(0.1)) c["stp"] = rng.pick(["cancel_newest", "cancel_oldest", "cancel_both", "decrement"]);
      if (rng.chance(0.05) && c["type"] === "limit" && (c["tif"] === "gtc" || c["tif"] === "gfd")) c["postOnly"] = true;
      if (rng.chance(0.4)) c["offset"] = rng.pick(["close", "close", "close_today"]);
    } else if (r < 0.8) {
      const [id, acct] = rng.pick(ids);
      c = { op: "cancel", id, account: acct };
    } else if (r < 0.95) {
      const [id, acct] = rng.pick(ids);
      c = { op: "amend", id, account: acct, price: 5 * rng.int(18, 22), qty: rng.int(1, 60) };
    } else if (r < 0.97) {
      c = { op: "mass_cancel", account: account };
    } else if (r < 0.975) {
      c = { op: "state", symbol: rng.pick(symbols), state: rng.pick(["open", "open", "halted", "cancel_only"]) };
    } else if (r < 0.985) {
      c = rng.chance(0.5)
        ? { op: "deposit", account, amount: rng.int(1, 50_000) }
        : { op: "withdraw", account, amount: rng.int(1, 80_000) };
    } else if (r < 0.993) {
      c = rng.chance(0.85) ? { op: "mark" } : { op: "settle" };
    } else {
      c = { op: "expire", ...(rng.chance(0.5) ? { symbol: rng.pick(symbols) } : {}) };
    }
    lines.push(JSON.stringify(c).replace(/}$/, `,"ts":${ts}}`));
  }
  return lines.join("\n") + "\n";
}
