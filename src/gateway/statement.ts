/**
 * Settlement statements: the plain-text summary of one account's trading day that DIFF's
 * `qry_settlement_info` returns (`settlement_info`), made from the account's DIFF trade
 * tree as the day ends (its money accounts, trades and positions before the settlement
 * rolls them). Pure: the gateway keeps the text in the catalog.
 */

import type { Json, JsonObject } from "./patch.ts";

/** Trades listed in one statement; a busier day lists the first ones and says how many more there were. */
export const STATEMENT_TRADES_MAX = 1_000;

const num = (v: Json | undefined): number => (typeof v === "number" ? v : 0);
const str = (v: Json | undefined): string => (typeof v === "string" ? v : "");

/** A number as a statement column: money with two decimals, everything else as it is. */
function money(v: Json | undefined): string {
  return num(v).toFixed(2);
}

function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => "  " + r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ").trimEnd());
}

/** The statement of `account` for `tradingDay` (YYYYMMDD) from its DIFF tree as the day ends. */
export function settlementStatement(account: string, tradingDay: number, tree: JsonObject, maxTrades = STATEMENT_TRADES_MAX): string {
  const out: string[] = [`Settlement statement`, `Account: ${account}`, `Trading day: ${tradingDay}`, ""];
  const accounts = (tree["accounts"] ?? {}) as JsonObject;
  for (const cur of Object.keys(accounts).sort()) {
    const a = accounts[cur] as JsonObject;
    out.push(`Money (${cur})`);
    out.push(
      ...table([
        ["Balance brought forward", money(a["pre_balance"])],
        ["Deposit", money(a["deposit"])],
        ["Withdrawal", money(a["withdraw"])],
        ["Close profit", money(a["close_profit"])],
        ["Position profit", money(a["position_profit"])],
        ["Commission", money(a["commission"])],
        ["Balance", money(a["balance"])],
        ["Margin", money(a["margin"])],
        ["Frozen margin", money(a["frozen_margin"])],
        ["Available", money(a["available"])],
        ["Risk ratio", `${(num(a["risk_ratio"]) * 100).toFixed(2)}%`],
      ]),
    );
    out.push("");
  }

  const trades = Object.values((tree["trades"] ?? {}) as JsonObject) as JsonObject[];
  trades.sort((x, y) => num(x["seqno"]) - num(y["seqno"]));
  out.push(`Trades (${trades.length})`);
  if (trades.length > 0) {
    const rows = [["time (UTC)", "instrument", "direction", "offset", "volume", "price", "commission", "trade"]];
    for (const t of trades.slice(0, maxTrades)) {
      const ns = num(t["trade_date_time"]);
      rows.push([
        ns > 0 ? new Date(ns / 1e6).toISOString().slice(11, 23) : "",
        `${str(t["exchange_id"])}.${str(t["instrument_id"])}`,
        str(t["direction"]),
        str(t["offset"]),
        String(num(t["volume"])),
        String(num(t["price"])),
        money(t["commission"]),
        str(t["exchange_trade_id"]),
      ]);
    }
    out.push(...table(rows));
    if (trades.length > maxTrades) out.push(`  ... and ${trades.length - maxTrades} more trades, not listed`);
  }
  out.push("");

  const positions = (tree["positions"] ?? {}) as JsonObject;
  const held = Object.keys(positions)
    .sort()
    .map((k) => positions[k] as JsonObject)
    .filter((p) => num(p["volume_long"]) > 0 || num(p["volume_short"]) > 0);
  out.push(`Positions (${held.length})`);
  if (held.length > 0) {
    const rows = [["instrument", "long", "long price", "short", "short price", "margin", "position profit", "mark"]];
    for (const p of held) {
      rows.push([
        `${str(p["exchange_id"])}.${str(p["instrument_id"])}`,
        String(num(p["volume_long"])),
        String(num(p["position_price_long"])),
        String(num(p["volume_short"])),
        String(num(p["position_price_short"])),
        money(p["margin"]),
        money(p["position_profit"]),
        String(num(p["last_price"])),
      ]);
    }
    out.push(...table(rows));
  }
  return out.join("\n") + "\n";
}
