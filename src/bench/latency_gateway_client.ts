/**
 * The DIFF client of `venue bench latency --gateway`, on a worker thread of the bench
 * process (its own event loop; the main thread is the engine's). One WebSocket to the
 * gateway's /trade endpoint, logged in as one user, behaving as tqsdk does: a peek_message
 * after every frame, state read from the rtn_data merge patches.
 *
 * Open loop: order i (a 1-lot GFD limit BUY at a price below the market, so it rests) is
 * due at t0 + i / rate; a timer sends whatever has fallen due. An order is acknowledged
 * when an rtn_data shows it ALIVE: the gateway sends it only once its command is durable.
 * Latency from the scheduled time (the timer's lateness is in it) and from the send; orders
 * due in the warm-up are not recorded. Times: `nowNs` (src/bench/clock.ts) on this thread.
 */

import type { MessagePort } from "node:worker_threads";
import WebSocket from "ws";
import { nowNs } from "./clock.ts";

export interface GatewayClientData {
  role: "gateway";
  url: string;
  user: string;
  password: string;
  exchangeId: string;
  insId: string;
  /** The resting BUY's price, in the instrument's price units. */
  price: number;
  ratePerS: number;
  warmupMs: number;
  measureMs: number;
  /** A step fails if no acknowledgement arrives for this long while orders are in flight. */
  stallMs: number;
}

export interface GatewayClientResult {
  /** ns from each recorded order's scheduled time, and from its send, to its ALIVE. */
  fromSchedule: Float64Array;
  fromSend: Float64Array;
  sent: number;
  acknowledged: number;
  /** Worst lateness of a send behind its schedule, ns. */
  sendLateMaxNs: number;
  loginMs: number;
}

type JsonMap = Record<string, unknown>;
const asMap = (v: unknown): JsonMap | undefined => (typeof v === "object" && v !== null ? (v as JsonMap) : undefined);

export async function runGatewayClient(d: GatewayClientData, port: MessagePort): Promise<void> {
  const t0Login = nowNs();
  const ws = new WebSocket(`${d.url}/trade`, { perMessageDeflate: false });
  const sched = new Map<string, { schedNs: number; sentNs: number; recorded: boolean }>();
  const fromSchedule: number[] = [];
  const fromSend: number[] = [];
  let loggedIn: (() => void) | undefined;
  let failed: ((e: Error) => void) | undefined;
  let lastAckNs = nowNs();
  const done = new Promise<void>((res, rej) => {
    loggedIn = res;
    failed = rej;
  });
  ws.on("message", (data, isBinary) => {
    if (!isBinary) onFrame(String(data));
    if (ws.readyState === WebSocket.OPEN) ws.send('{"aid":"peek_message"}');
  });
  ws.on("error", (err) => failed?.(err));
  ws.on("close", (code) => failed?.(new Error(`the gateway closed the connection (${code})`)));

  const onFrame = (text: string): void => {
    const m = JSON.parse(text) as JsonMap;
    if (m["aid"] !== "rtn_data") return;
    const now = nowNs();
    for (const p of m["data"] as unknown[]) {
      const patch = asMap(p);
      const notify = asMap(patch?.["notify"]);
      if (notify !== undefined) {
        for (const k in notify) {
          const n = asMap(notify[k]);
          if (n?.["level"] === "ERROR") failed?.(new Error(`gateway: ${String(n["code"])}: ${String(n["content"])}`));
        }
      }
      const t = asMap(asMap(patch?.["trade"])?.[d.user]);
      if (t === undefined) continue;
      if (loggedIn !== undefined && t["trade_more_data"] === false) {
        const r = loggedIn;
        loggedIn = undefined;
        r();
      }
      const orders = asMap(t["orders"]);
      if (orders === undefined) continue;
      for (const id in orders) {
        const o = asMap(orders[id]);
        const s = sched.get(id);
        if (o === undefined || s === undefined) continue;
        if (o["status"] === "FINISHED") failed?.(new Error(`order ${id} refused: ${String(o["last_msg"])}`));
        if (o["status"] !== "ALIVE") continue;
        sched.delete(id);
        lastAckNs = now;
        if (s.recorded) {
          fromSchedule.push(now - s.schedNs);
          fromSend.push(now - s.sentNs);
        }
      }
    }
  };

  await new Promise<void>((res, rej) => {
    ws.once("open", () => res());
    ws.once("error", rej);
  });
  ws.send(JSON.stringify({ aid: "req_login", bid: "VENUE", user_name: d.user, password: d.password }));
  await done;
  const loginMs = (nowNs() - t0Login) / 1e6;

  // The open loop.
  const periodNs = 1e9 / d.ratePerS;
  const t0 = nowNs() + 1e6;
  const measureFrom = t0 + d.warmupMs * 1e6;
  const total = Math.max(1, Math.floor(((d.warmupMs + d.measureMs) * 1e6) / periodNs));
  let i = 0;
  let sendLateMax = 0;
  const finished = new Promise<void>((res, rej) => {
    failed = rej;
    const tick = (): void => {
      const now = nowNs();
      while (i < total && t0 + i * periodNs <= now) {
        const schedNs = t0 + i * periodNs;
        const id = `g${i}`;
        const sentNs = nowNs();
        sendLateMax = Math.max(sendLateMax, sentNs - schedNs);
        sched.set(id, { schedNs, sentNs, recorded: schedNs >= measureFrom });
        ws.send(
          `{"aid":"insert_order","user_id":"${d.user}","order_id":"${id}","exchange_id":"${d.exchangeId}","instrument_id":"${d.insId}",` +
            `"direction":"BUY","offset":"OPEN","volume":1,"price_type":"LIMIT","limit_price":${d.price},"volume_condition":"ANY","time_condition":"GFD"}`,
        );
        i++;
      }
      if (i < total) {
        setTimeout(tick, Math.max(0, (t0 + i * periodNs - nowNs()) / 1e6));
        return;
      }
      // All sent: wait for the last acknowledgements.
      const check = (): void => {
        if (sched.size === 0) return res();
        if (nowNs() - lastAckNs > d.stallMs * 1e6) return rej(new Error(`no acknowledgement for ${d.stallMs} ms with ${sched.size} orders in flight`));
        setTimeout(check, 5);
      };
      check();
    };
    lastAckNs = nowNs();
    setTimeout(tick, Math.max(0, (t0 - nowNs()) / 1e6));
  });
  await finished;
  ws.removeAllListeners("close");
  ws.terminate();
  const result: GatewayClientResult = {
    fromSchedule: Float64Array.from(fromSchedule),
    fromSend: Float64Array.from(fromSend),
    sent: i,
    acknowledged: i - sched.size,
    sendLateMaxNs: sendLateMax,
    loginMs,
  };
  port.postMessage({ gateway: result });
}
