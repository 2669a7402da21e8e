/**
 * A DIFF client for tests and benchmarks, behaving as tqsdk does: it keeps a mirror of the
 * server's state (merge patches applied per rtn_data), sends a peek_message after every
 * frame it receives, and collects notifies. `until` waits for the mirror to satisfy a
 * condition, checked after each rtn_data (with `check` called there too, so invariants are
 * verified at every transaction boundary).
 */

import WebSocket from "ws";
import { applyPatch, obj, type JsonObject } from "../../src/gateway/patch.ts";

export interface NotifyEntry {
  level: string;
  code: number;
  content: string;
}

export class DiffClient {
  readonly mirror: JsonObject = obj();
  readonly notifies: NotifyEntry[] = [];
  readonly bare: JsonObject[] = [];
  rtnData = 0;
  closed: { code: number; reason: string } | undefined;
  private waiters: Array<() => void> = [];
  check: ((mirror: JsonObject) => void) | undefined;
  failure: unknown;

  private constructor(readonly ws: WebSocket, readonly autoPeek: boolean) {
    ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const m = JSON.parse(String(data)) as JsonObject;
      if (m["aid"] === "rtn_data") {
        this.rtnData++;
        for (const p of m["data"] as JsonObject[]) {
          const n = p["notify"] as JsonObject | undefined;
          if (n !== undefined) for (const v of Object.values(n)) this.notifies.push(v as unknown as NotifyEntry);
          const rest = obj();
          for (const k of Object.keys(p)) if (k !== "notify") rest[k] = p[k]!;
          applyPatch(this.mirror, rest);
        }
        try {
          this.check?.(this.mirror);
        } catch (err) {
          this.failure ??= err;
        }
      } else {
        this.bare.push(m);
      }
      if (this.autoPeek && ws.readyState === WebSocket.OPEN) ws.send('{"aid":"peek_message"}');
      this.wake();
    });
    ws.on("close", (code, reason) => {
      this.closed = { code, reason: String(reason) };
      this.wake();
    });
    ws.on("error", () => {});
  }

  static async connect(url: string, o: { autoPeek?: boolean; headers?: Record<string, string> } = {}): Promise<DiffClient> {
    const ws = new WebSocket(url, { headers: o.headers ?? {}, perMessageDeflate: false });
    const c = new DiffClient(ws, o.autoPeek ?? true);
    await new Promise<void>((res, rej) => {
      ws.once("open", () => res());
      ws.once("error", rej);
      ws.once("unexpected-response", (_req, resp) => rej(new Error(`HTTP ${resp.statusCode}`)));
    });
    return c;
  }

  send(m: Record<string, unknown> | string): void {
    this.ws.send(typeof m === "string" ? m : JSON.stringify(m));
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Resolves when `cond()` holds (checked after every frame); rejects after `ms` with `what`. */
  async until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.failure !== undefined) throw this.failure;
      if (cond()) return;
      if (this.closed !== undefined) throw new Error(`connection closed (${this.closed.code} ${this.closed.reason}) while waiting for ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; notifies: ${JSON.stringify(this.notifies.slice(-5))}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 1000));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  /** `trade.<account>` of the mirror. */
  trade(account: string): JsonObject {
    return ((this.mirror["trade"] as JsonObject | undefined)?.[account] as JsonObject | undefined) ?? obj();
  }

  close(): void {
    this.ws.terminate();
  }
}

const near = (a: number, b: number): boolean => Math.abs(a - b) < 1e-6 * Math.max(1, Math.abs(a), Math.abs(b));

/** DIFF §3.5: the account and position invariants of a trade tree; throws naming the first broken one. */
export function checkTradeInvariants(t: JsonObject): void {
  const accounts = (t["accounts"] ?? {}) as JsonObject;
  const positions = (t["positions"] ?? {}) as JsonObject;
  for (const [cur, v] of Object.entries(accounts)) {
    const a = v as Record<string, number>;
    const must = (ok: boolean, what: string): void => {
      if (!ok) throw new Error(`account ${cur}: ${what}: ${JSON.stringify(a)}`);
    };
    must(near(a["static_balance"]!, a["pre_balance"]! + a["deposit"]! - a["withdraw"]!), "static_balance = pre_balance + deposit - withdraw");
    must(near(a["balance"]!, a["static_balance"]! + a["close_profit"]! - a["commission"]! + a["premium"]! + a["position_profit"]!), "balance = static + close_profit - commission + premium + position_profit");
    must(near(a["available"]!, a["balance"]! - a["margin"]! - a["frozen_margin"]! - a["frozen_commission"]! - a["frozen_premium"]!), "available = balance - margin - frozen");
    let margin = 0;
    let posProfit = 0;
    for (const p of Object.values(positions)) {
      margin += (p as Record<string, number>)["margin"]!;
      posProfit += (p as Record<string, number>)["position_profit"]!;
    }
    must(near(a["margin"]!, margin), "margin = sum of position margins");
    must(near(a["position_profit"]!, posProfit), "position_profit = sum of positions'");
  }
  for (const [sym, v] of Object.entries(positions)) {
    const p = v as Record<string, number>;
    for (const s of ["long", "short"]) {
      if (p[`volume_${s}`] !== p[`volume_${s}_today`]! + p[`volume_${s}_his`]!) throw new Error(`position ${sym}: volume_${s} = today + his`);
      if (p[`volume_${s}_frozen`]! > p[`volume_${s}`]!) throw new Error(`position ${sym}: frozen above volume on the ${s} side`);
    }
    for (const k of ["pos_long_today", "pos_long_his", "pos_short_today", "pos_short_his"]) if (typeof p[k] !== "number") throw new Error(`position ${sym}: ${k} missing`);
  }
  for (const [id, v] of Object.entries((t["orders"] ?? {}) as JsonObject)) {
    const o = v as Record<string, unknown>;
    if (o["status"] !== "ALIVE" && o["status"] !== "FINISHED") throw new Error(`order ${id}: status ${String(o["status"])}`);
    if (typeof o["exchange_order_id"] !== "string") throw new Error(`order ${id}: no exchange_order_id`);
    const left = o["volume_left"] as number;
    if (!(left >= 0 && left <= (o["volume_orign"] as number))) throw new Error(`order ${id}: volume_left out of range`);
  }
}
