/**
 * The gateway under abuse (TESTING.md §G 27-29), against real nodes: a journal, the engine
 * loop, the gateway worker with its WebSocket server and catalog.
 *
 * - 27: fast-check messages of the DIFF protocol, valid and mutated (bytes that are not
 *   UTF-8, deep nesting, duplicate keys, numbers beyond 2^53, NaN and Infinity text, -0,
 *   bad volumes and prices, unknown instruments, `__proto__` and `constructor` keys,
 *   binary frames), each with the outcome it must have. An engine tap records every order
 *   command the engine applies and every order it accepts: exactly the valid orders get
 *   there, and no refused one. The sessions stay open and the node keeps trading.
 * - 28: frames one byte under, at and over the 16 KiB cap, fragments adding up past it, a
 *   length header far beyond it, and an offered permessage-deflate.
 * - 29: a client at 100x its message and order rates, a client that stops reading, a full
 *   connection cap with an honest client still trading, slow handshakes and a client that
 *   never answers pings.
 *
 * Figures are printed, never asserted. The fuzz prints its seed and replays with VENUE_SEED;
 * VENUE_FUZZ_RUNS, VENUE_IDLE_SOCKETS, VENUE_RTT_SAMPLES and VENUE_FRAME_CONNS raise the counts.
 */

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { connect } from "node:net";
import { execSync } from "node:child_process";
import * as fc from "fast-check";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { DEFAULT_SESSION_LIMITS, TokenBucket } from "../../src/gateway/session.ts";
import { DEFAULT_GATEWAY_OPTIONS } from "../../src/gateway/gateway.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";
import { checkTradeInvariants, DiffClient } from "./diff_client.ts";
import { startGatewayNode } from "./node_kit.ts";
import {
  connections, fuzzSpec, login, metric, Opcode, paddedMessage, percentile, RawWs, render, rssMiB, startAbuseNode, startFlooder, startIdler,
  type AbuseNode, type FloodResult, type FuzzContext, type FuzzMessage,
} from "./abuse_kit.ts";

const KiB = 1024;
const MAX_PAYLOAD = 16 * KiB;
const envInt = (name: string, fallback: number): number => {
  const v = process.env[name];
  return v === undefined || v === "" ? fallback : Number(v);
};

const orders = (c: DiffClient, user: string): JsonObject => (c.trade(user)["orders"] as JsonObject | undefined) ?? {};
const orderOf = (c: DiffClient, user: string, id: string): JsonObject | undefined => orders(c, user)[id] as JsonObject | undefined;

const limitOrder = (user: string, id: string, price: number, time: string): Record<string, unknown> => ({
  aid: "insert_order", user_id: user, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN",
  volume: 1, price_type: "LIMIT", limit_price: price, volume_condition: "ANY", time_condition: time,
});

/** Polls an async condition (a metric, the health count) until it holds; fails after `ms`. */
async function eventually(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const fmt = (xs: readonly number[]): string => `p50 ${percentile(xs, 50).toFixed(2)} ms, p99 ${percentile(xs, 99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(2)} ms (n=${xs.length})`;

describe("token bucket", () => {
  test("refills at its rate up to its burst, and a clock step backwards does not lock a client out", () => {
    const b = new TokenBucket(100, 200, 1_000_000);
    let taken = 0;
    while (b.take(1_000_000)) taken++;
    expect(taken).toBe(200);
    expect(b.take(1_000_010)).toBe(true); // 10 ms: one token
    // The wall clock steps back an hour (an NTP correction): the bucket keeps its tokens, it does not owe them.
    expect(b.take(1_000_010 - 3_600_000)).toBe(false);
    expect(b.take(1_000_010 - 3_600_000 + 20)).toBe(true);
  });
});

// -------------------------------------------------------------------------------------
// 27, 28 and the slow reader: one node with rates high enough not to interfere with the
// fuzz, self-transfers on (so transfer fields are checked) and a small unread-bytes cap.

describe("malformed input, frames and a slow reader", () => {
  const MAX_BUFFERED = 256 * KiB;
  let a: AbuseNode;

  beforeAll(async () => {
    a = await startAbuseNode({
      users: [["fz1", ["trader"]], ["fz2", ["trader"]]],
      gateway: { messagesPerSecond: 1_000_000, ordersPerSecond: 1_000_000, selfTransfers: true, limits: { ...DEFAULT_SESSION_LIMITS, maxBufferedBytes: MAX_BUFFERED } },
      depositMinor: 1e12,
    });
  }, 60_000);

  afterAll(async () => {
    await a?.stop();
  }, 60_000);

  test("27: fuzzed DIFF messages: typed refusals, no crash, no pollution, only valid orders reach the engine", async () => {
    const seed = seedFromEnv();
    // VENUE_FUZZ_SECONDS runs for that long instead (CI: 5 minutes), as many runs as fit.
    const seconds = envInt("VENUE_FUZZ_SECONDS", 0);
    const runs = envInt("VENUE_FUZZ_RUNS", seconds > 0 ? 10_000_000 : 300);
    console.log(`abuse fuzz: seed ${seed} (replay with VENUE_SEED=${seed}), ${seconds > 0 ? `${seconds} s` : `${runs} runs`} (VENUE_FUZZ_RUNS or VENUE_FUZZ_SECONDS raises it)`);
    const protoBefore = Object.getOwnPropertyNames(Object.prototype).sort().join(",");
    const main = await login(a.url, "fz1");
    main.check = (m) => {
      const t = (m["trade"] as JsonObject | undefined)?.["fz1"] as JsonObject | undefined;
      if (t !== undefined) checkTradeInvariants(t);
    };
    let anon = await DiffClient.connect(`${a.url}/trade`);
    let nextId = 0;
    const ctx: FuzzContext = { account: "fz1", other: "fz2", nextId: () => `f${seed.toString(36)}-${++nextId}`, sentIds: [] };
    const want = { engine: new Set<string>(), engineRejects: new Set<string>(), refused: new Set<string>() };
    const counts = new Map<string, number>();
    let messages = 0;
    let closes1007 = 0;
    let sentinel = 0;
    const rss0 = rssMiB();

    const warnings = (c: DiffClient): number => c.notifies.filter((n) => n.level !== "INFO" && !n.content.startsWith("unsupported aid: sentinel-")).length;
    /** Sends a sentinel on `c` and waits for its answer: every earlier message on `c` has been handled. */
    const settle = async (c: DiffClient): Promise<void> => {
      const tag = `sentinel-${++sentinel}`;
      c.send({ aid: tag });
      await c.until(tag, () => c.notifies.some((n) => n.content === `unsupported aid: ${tag}`));
    };

    let executions = 0;
    const step = async (batch: FuzzMessage[]): Promise<void> => {
      executions++;
      const w0 = { main: warnings(main), anon: warnings(anon) };
      const need = { main: 0, anon: 0 };
      for (const m of batch) {
        messages++;
        counts.set(m.label, (counts.get(m.label) ?? 0) + 1);
        if (m.outcome === "close1007") {
          await settle(anon);
          expect(warnings(anon) - w0.anon, "a notify for each refused message before the bad bytes").toBeGreaterThanOrEqual(need.anon);
          anon.ws.send(m.frame.data, { binary: false });
          await anon.until("the 1007 close", () => anon.closed !== undefined);
          expect(anon.closed!.code).toBe(1007);
          closes1007++;
          anon = await DiffClient.connect(`${a.url}/trade`);
          w0.anon = 0;
          need.anon = 0;
          continue;
        }
        (m.channel === "main" ? main : anon).ws.send(m.frame.data, { binary: m.frame.binary });
        if (m.outcome === "refused") need[m.channel]++;
        if (m.orderId !== undefined && m.outcome !== "any") want[m.outcome].add(m.orderId);
      }
      await settle(main);
      await settle(anon);
      expect(main.closed, "the logged-in session stays open").toBeUndefined();
      expect(warnings(main) - w0.main, "a notify for each refused message").toBeGreaterThanOrEqual(need.main);
      expect(warnings(anon) - w0.anon, "a notify for each refused message (not logged in)").toBeGreaterThanOrEqual(need.anon);
      for (const m of batch) {
        const id = m.orderId;
        if (id === undefined) continue;
        if (m.outcome === "engine") {
          await main.until(`${m.label} ${id} accepted`, () => (orderOf(main, "fz1", id)?.["exchange_order_id"] ?? "") !== "");
        } else if (m.outcome === "engineRejects") {
          await main.until(`${m.label} ${id} refused by the engine`, () => a.tap.commands.includes(`fz1 ${id}`) && orderOf(main, "fz1", id)?.["status"] === "FINISHED");
          expect(orderOf(main, "fz1", id)?.["exchange_order_id"]).toBe("");
        } else {
          const o = orderOf(main, "fz1", id);
          if (o !== undefined) expect(o, `${m.label} ${id}`).toMatchObject({ status: "FINISHED", exchange_order_id: "" });
        }
      }
    };

    await fc.assert(
      fc.asyncProperty(fc.array(fuzzSpec, { minLength: 1, maxLength: 6 }), async (specs) => step(specs.map((s) => render(ctx, s)))),
      { seed, numRuns: runs, endOnFailure: true, ...(seconds > 0 ? { interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false } : {}) },
    );

    // Prototype pollution: none here, and none the gateway acts on (a message without an aid, an
    // order without a volume, are still refused, as they would not be if Object.prototype had them).
    expect(Object.getOwnPropertyNames(Object.prototype).sort().join(",")).toBe(protoBefore);
    expect((Object.create({}) as Record<string, unknown>)["polluted"]).toBeUndefined();
    main.send('{"user_id":"fz1","volume":1,"price_type":"LIMIT"}');
    main.send({ aid: "insert_order", user_id: "fz1", order_id: "probe-novol", exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", limit_price: 75_000 });
    await main.until("the probes' refusals", () => main.notifies.some((n) => n.content === "a message needs a string aid") && orderOf(main, "fz1", "probe-novol")?.["status"] === "FINISHED");
    expect(orderOf(main, "fz1", "probe-novol")?.["exchange_order_id"]).toBe("");

    // The node still trades: a fresh login, an order accepted; the engine's invariants hold.
    // The gateway's commands reach the engine in order, so everything it passed on before
    // this order has been applied once this order is.
    const honest = await login(a.url, "fz2");
    honest.send(limitOrder("fz2", "after-fuzz", 75_000, "GFD"));
    await honest.until("the honest order", () => (orderOf(honest, "fz2", "after-fuzz")?.["exchange_order_id"] ?? "") !== "");
    expect((await fetch(`${a.http}/health`)).status).toBe(200);
    a.node.engine.checkInvariants();

    const applied = new Set(a.tap.commands.filter((k) => k.startsWith("fz1 ")).map((k) => k.slice(4)));
    const accepted = new Set(a.tap.accepted.filter((k) => k.startsWith("fz1 ")).map((k) => k.slice(4)));
    const invalidReached = [...applied].filter((id) => !want.engine.has(id) && !want.engineRejects.has(id));
    const invalidAccepted = [...accepted].filter((id) => !want.engine.has(id));
    const validMissing = [...[...want.engine].filter((id) => !accepted.has(id)), ...[...want.engineRejects].filter((id) => !applied.has(id))];
    const crashes = a.logs.filter((l) => /failed on a message|gateway worker failed|exited with code/.test(l));

    const top = [...counts].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k}=${v}`).join(" ");
    console.log(`abuse fuzz: ${executions} executions, ${messages} messages; ${want.engine.size} valid orders, ${want.engineRejects.size} for the engine to refuse, ${want.refused.size} refused at the edge; ${closes1007} closes with 1007`);
    console.log(`abuse fuzz: crashes ${crashes.length}; invalid orders that reached the engine ${invalidReached.length}; invalid orders accepted ${invalidAccepted.length}; valid orders missing ${validMissing.length}`);
    console.log(`abuse fuzz: RSS ${rss0.toFixed(1)} -> ${rssMiB().toFixed(1)} MiB (test process, every thread)`);
    console.log(`abuse fuzz: messages by kind: ${top}`);
    expect(crashes).toEqual([]);
    expect(invalidReached).toEqual([]);
    expect(invalidAccepted).toEqual([]);
    expect(validMissing).toEqual([]);
    expect(main.failure).toBeUndefined();
    for (const c of [main, anon, honest]) c.close();
  }, (envInt("VENUE_FUZZ_SECONDS", 0) + 120) * 1000);

  test("27: a limit_price a fraction of a unit off the tick is refused, not rounded onto the tick", async () => {
    const c = await login(a.url, "fz2");
    try {
      c.send(limitOrder("fz2", "frac-tick", 75_000.07, "GFD"));
      const o = (): JsonObject | undefined => orderOf(c, "fz2", "frac-tick");
      await c.until("the order accepted or refused", () => o()?.["status"] === "FINISHED" || (o()?.["exchange_order_id"] ?? "") !== "");
      expect(o()).toMatchObject({ status: "FINISHED", exchange_order_id: "" });
    } finally {
      c.close();
    }
  });

  test("27: an order_id that is not well-formed UTF-16 (a lone surrogate) is refused, not sent to the engine as U+FFFD", async () => {
    const c = await login(a.url, "fz2");
    try {
      c.send(limitOrder("fz2", "lone-\ud800", 75_000, "GFD"));
      // Commands reach the engine in order: once the next one is applied, so is the first, if it was sent.
      c.send(limitOrder("fz2", "after-lone", 75_000, "GFD"));
      await c.until("the next order accepted", () => (orderOf(c, "fz2", "after-lone")?.["exchange_order_id"] ?? "") !== "");
      expect(a.tap.commands.filter((k) => k.startsWith("fz2 lone-"))).toEqual([]);
    } finally {
      c.close();
    }
  });

  test("28: frames one byte under and at the 16 KiB cap pass; one byte over closes with 1009", async () => {
    const codes: string[] = [];
    for (const [size, passes] of [[MAX_PAYLOAD - 1, true], [MAX_PAYLOAD, true], [MAX_PAYLOAD + 1, false]] as const) {
      const r = await RawWs.connect(a.host, a.port, "/trade");
      expect(r.status).toBe(101);
      const text = paddedMessage(`size-${size}`, size);
      expect(Buffer.byteLength(text)).toBe(size);
      r.text('{"aid":"peek_message"}');
      r.text(text);
      if (passes) {
        await r.until(`the notify for ${size} bytes`, () => r.texts.some((t) => t.includes(`unsupported aid: size-${size}`)));
        expect(r.closeCode).toBeUndefined();
        codes.push(`${size} B: answered`);
      } else {
        expect(await r.closed()).toBe(1009);
        codes.push(`${size} B: close ${r.closeCode}`);
      }
      r.destroy();
    }
    console.log(`frames: ${codes.join("; ")}`);
  });

  test("28: fragments adding up past the cap, and a length header far beyond it, close with 1009 without the payload", async () => {
    const codes: string[] = [];
    // Under the cap in three fragments: one message.
    const whole = Buffer.from(paddedMessage("frag-ok", MAX_PAYLOAD));
    const ok = await RawWs.connect(a.host, a.port, "/trade");
    ok.text('{"aid":"peek_message"}');
    ok.frame(Opcode.text, whole.subarray(0, 6_000), { fin: false });
    ok.frame(Opcode.ping, Buffer.from("mid-message ping"));
    ok.frame(Opcode.continuation, whole.subarray(6_000, 12_000), { fin: false });
    ok.frame(Opcode.continuation, whole.subarray(12_000), { fin: true });
    await ok.until("the fragmented message's notify", () => ok.texts.some((t) => t.includes("unsupported aid: frag-ok")));
    expect(ok.pongs).toBe(1);
    codes.push(`3 fragments, ${MAX_PAYLOAD} B in all: one message`);
    ok.destroy();

    const over = await RawWs.connect(a.host, a.port, "/trade");
    over.frame(Opcode.text, Buffer.alloc(8_000, 0x20), { fin: false });
    over.frame(Opcode.continuation, Buffer.alloc(8_000, 0x20), { fin: false });
    over.frame(Opcode.continuation, Buffer.alloc(1_000, 0x20), { fin: false });
    codes.push(`continuations 8000+8000+1000 B: close ${await over.closed()}`);
    expect(over.closeCode).toBe(1009);

    for (const announced of [2n ** 40n, 2n ** 63n]) {
      const big = await RawWs.connect(a.host, a.port, "/trade");
      big.frame(Opcode.text, Buffer.alloc(100, 0x20), { length: announced });
      codes.push(`a header announcing ${announced} B (100 sent): close ${await big.closed()}`);
      expect(big.closeCode).toBe(1009);
    }
    console.log(`frames: ${codes.join("; ")}`);
  });

  test("28: compression is off: permessage-deflate is not negotiated, and a compressed frame closes with 1002", async () => {
    const r = await RawWs.connect(a.host, a.port, "/trade", { headers: { "Sec-WebSocket-Extensions": "permessage-deflate; client_max_window_bits" } });
    expect(r.status).toBe(101);
    expect(r.headers["sec-websocket-extensions"]).toBeUndefined();
    r.frame(Opcode.text, Buffer.from('{"aid":"peek_message"}'), { rsv1: true });
    expect(await r.closed()).toBe(1002);
    console.log(`frames: permessage-deflate offered, response extensions ${String(r.headers["sec-websocket-extensions"])}; an RSV1 frame: close ${r.closeCode}`);
  });

  test("28: memory of connections each holding a partial message just under the cap, then closed with 1009", async () => {
    const n = envInt("VENUE_FRAME_CONNS", 200);
    const rss0 = rssMiB();
    const conns = await Promise.all(Array.from({ length: n }, () => RawWs.connect(a.host, a.port, "/trade")));
    const rssOpen = rssMiB();
    for (const c of conns) {
      c.frame(Opcode.text, Buffer.alloc(MAX_PAYLOAD - 100, 0x20), { fin: false });
      c.frame(Opcode.ping, Buffer.alloc(0));
    }
    // A pong answers the ping sent after the fragment: the server has read the fragment.
    await Promise.all(conns.map((c) => c.until("the pong", () => c.pongs > 0)));
    const rssHeld = rssMiB();
    for (const c of conns) c.frame(Opcode.continuation, Buffer.alloc(200, 0x20), { fin: false });
    const codes = await Promise.all(conns.map((c) => c.closed()));
    expect(new Set(codes)).toEqual(new Set([1009]));
    const rssClosed = rssMiB();
    const per = (mib: number): string => `${((mib * KiB) / n).toFixed(1)} KiB`;
    console.log(`frames: ${n} connections: RSS ${rss0.toFixed(1)} MiB; open ${rssOpen.toFixed(1)} (${per(rssOpen - rss0)} each); holding ${MAX_PAYLOAD - 100} B each ${rssHeld.toFixed(1)} (${per(rssHeld - rssOpen)} each more); all closed 1009: ${rssClosed.toFixed(1)} MiB`);
    for (const c of conns) c.destroy();
  });

  test("29: a client that stops reading is disconnected once it leaves more than the cap unread", async () => {
    const before = await connections(a.http);
    const r = await RawWs.connect(a.host, a.port, "/trade");
    expect(r.status).toBe(101);
    await eventually("the session to open", async () => (await connections(a.http)) === before + 1);
    r.socket.pause();
    const rss0 = rssMiB();
    // Each pair asks for about 8 KiB: a changed 8,000-character ins_list, then a peek.
    const pad = "x".repeat(8_000);
    const pairs = envInt("VENUE_SLOW_READER_PAIRS", 3_000);
    for (let i = 0; i < pairs; i++) {
      r.text(JSON.stringify({ aid: "subscribe_quote", ins_list: `SHFE.cu2601,${i % 2 === 0 ? "A" : "B"}${pad}` }));
      r.text('{"aid":"peek_message"}');
      if (i % 100 === 99) await new Promise((res) => setImmediate(res));
    }
    const asked = pairs * 8_000;
    await eventually("the server to drop the slow reader", async () => (await connections(a.http)) === before);
    const rssPeak = rssMiB();
    r.socket.resume();
    const code = await r.closed();
    console.log(`slow reader: asked for about ${(asked / 2 ** 20).toFixed(1)} MiB without reading; cap ${MAX_BUFFERED / KiB} KiB; disconnected (close seen by the client: ${code}, ${(r.bytesRead / 2 ** 20).toFixed(1)} MiB were still readable from the kernel buffers); RSS ${rss0.toFixed(1)} -> ${rssPeak.toFixed(1)} MiB`);
    expect(r.bytesRead).toBeLessThan(asked);
    r.destroy();
    // The node still answers.
    expect((await fetch(`${a.http}/health`)).status).toBe(200);
  });
});

// -------------------------------------------------------------------------------------
// 29: a node with the default rates, a connection cap, and short handshake and ping timeouts.

describe("floods, connection caps and slow handshakes", () => {
  // TESTING 29's 10,000 idle sockets, unless this process may not open that many files
  // (the node's ends are here; the clients' ends are in a child process of their own).
  const fdLimit = Number(execSync("ulimit -n", { shell: "/bin/sh", encoding: "utf8" }).trim());
  const idleDefault = Number.isFinite(fdLimit) && fdLimit < 10_500 ? 1_000 : 10_000;
  if (idleDefault < 10_000) console.log(`connection caps: 1,000 idle sockets, not 10,000: \`ulimit -n\` is ${fdLimit} here (10,000 need about 10,500)`);
  const idleSockets = envInt("VENUE_IDLE_SOCKETS", idleDefault);
  const perIp = Math.max(1, Math.min(200, Math.floor(idleSockets / 4)));
  const samples = envInt("VENUE_RTT_SAMPLES", 60);
  const HEADERS_TIMEOUT_MS = 1_000;
  const PING_MS = 2_000;
  const FLOOD_MIN_MS = envInt("VENUE_FLOOD_MS", 2_000);
  let b: AbuseNode;
  let honest: DiffClient;
  const rtt = new Map<string, number[]>();
  const legs = new Map<string, number[]>();
  let honestOrders = 0;

  /**
   * Sequential IOC orders of the honest client, each timed from send to FINISHED with an
   * exchange order id, and split where the engine applied it: client to engine (the
   * gateway's inbound side) and engine to client (journal, rings, rtn_data).
   */
  const roundTrips = async (phase: string, n: number): Promise<number[]> => {
    const out: number[] = [];
    const inbound: number[] = [];
    for (let i = 0; i < n; i++) {
      const id = `${phase}-${i}`;
      const t0 = performance.now();
      honest.send(limitOrder("hon", id, 70_000, "IOC"));
      honestOrders++;
      await honest.until(`${id} done`, () => {
        const o = orderOf(honest, "hon", id);
        return o?.["status"] === "FINISHED" && o["exchange_order_id"] !== "";
      });
      out.push(performance.now() - t0);
      inbound.push(b.tap.appliedAtMs.get(`hon ${id}`)! - t0);
    }
    rtt.set(phase, out);
    legs.set(phase, inbound);
    return out;
  };

  /** Runs a flooder while the honest client takes its samples, and for at least `FLOOD_MIN_MS`. */
  const floodWhile = async (phase: string, perSecond: number, o: { user?: string; order?: Record<string, unknown> } = {}): Promise<FloodResult> => {
    const f = await startFlooder(b.url, perSecond, o);
    const t0 = performance.now();
    f.go();
    await roundTrips(phase, samples);
    const left = FLOOD_MIN_MS - (performance.now() - t0);
    if (left > 0) await new Promise((r) => setTimeout(r, left));
    return f.stop();
  };

  beforeAll(async () => {
    b = await startAbuseNode({
      users: [["hon", ["trader"]], ["atk", ["trader"]]],
      server: { maxConnections: idleSockets, maxConnectionsPerIp: perIp, connectionsPerSecondPerIp: 100_000, headersTimeoutMs: HEADERS_TIMEOUT_MS, pingMs: PING_MS },
      depositMinor: 1e11,
    });
    honest = await login(b.url, "hon");
  }, 60_000);

  afterAll(async () => {
    honest?.close();
    for (const [phase, xs] of rtt) {
      const inbound = legs.get(phase)!;
      const outbound = xs.map((x, i) => x - inbound[i]!);
      console.log(`honest round trips, ${phase} (insert_order IOC to FINISHED): ${fmt(xs)}; client to engine p99 ${percentile(inbound, 99).toFixed(2)} ms, engine to client p99 ${percentile(outbound, 99).toFixed(2)} ms`);
    }
    await b?.stop();
  }, 60_000);

  test("29: a client at 100x its message rate and one at 100x its order rate: accepted up to the buckets, the rest refused", async () => {
    const { messagesPerSecond, ordersPerSecond } = DEFAULT_GATEWAY_OPTIONS;
    await roundTrips("warm-up", 10);
    rtt.delete("warm-up");
    await roundTrips("baseline", samples);

    // Messages: an anonymous connection (in a process of its own) sends a harmless command at 100x the per-connection rate.
    const limited0 = await metric(b.http, "venue_gateway_rate_limited_total");
    const m = await floodWhile("message-flood", 100 * messagesPerSecond);
    const mSent = m.sent + m.drained;
    const mRefused = (await metric(b.http, "venue_gateway_rate_limited_total")) - limited0;
    const mAccepted = mSent - mRefused;
    const mLimit = 2 * messagesPerSecond + messagesPerSecond * m.seconds;
    console.log(`message flood: ${m.sent} messages in ${m.seconds.toFixed(2)} s (${(m.sent / m.seconds).toFixed(0)}/s against a limit of ${messagesPerSecond}/s, burst ${2 * messagesPerSecond}), then ${m.drained} until a sentinel got through; accepted ${mAccepted}, refused ${mRefused}; the bucket allows ${mLimit.toFixed(0)} over the flood`);
    expect(mRefused).toBeGreaterThan(0);
    expect(mAccepted).toBeGreaterThanOrEqual(2 * messagesPerSecond);
    // Generous: the server may handle the last messages later than they were sent.
    expect(mAccepted).toBeLessThanOrEqual(2 * messagesPerSecond + messagesPerSecond * (m.seconds + 5));

    // Orders: the attacker, logged in, sends insert_order at 100x the per-account order rate.
    const atkBefore = b.tap.countFor(b.tap.commands, "atk");
    const sent0 = await metric(b.http, "venue_gateway_orders_sent_total");
    const honest0 = honestOrders;
    const o = await floodWhile("order-flood", 100 * ordersPerSecond, { user: "atk", order: limitOrder("atk", "", 70_000, "GFD") });
    const passed = (await metric(b.http, "venue_gateway_orders_sent_total")) - sent0 - (honestOrders - honest0);
    await honest.until("the attacker's passed orders at the engine", () => b.tap.countFor(b.tap.commands, "atk") - atkBefore === passed);
    const oLimit = 2 * ordersPerSecond + ordersPerSecond * o.seconds;
    console.log(`order flood: ${o.sent} insert_order in ${o.seconds.toFixed(2)} s (${(o.sent / o.seconds).toFixed(0)}/s against a limit of ${ordersPerSecond}/s, burst ${2 * ordersPerSecond}); ${passed} reached the engine, ${o.sent - passed} refused; the bucket allows ${oLimit.toFixed(0)} over the flood`);
    expect(passed).toBeGreaterThanOrEqual(2 * ordersPerSecond);
    expect(passed).toBeLessThanOrEqual(2 * ordersPerSecond + ordersPerSecond * (o.seconds + 5));
    b.node.engine.checkInvariants();
  });

  test("29: idle sockets fill the per-address and the total connection caps, the next ones are refused with 503, and the honest client still trades", async () => {
    const before = await connections(b.http);
    const rss0 = rssMiB();
    // The client ends live in a child process: this process holds only the node's ends.
    const idler = startIdler(b.host, b.port);
    try {
      const all = (xs: readonly number[], status: number): boolean => xs.every((x) => x === status);

      // One address: up to its cap, then refused, while other addresses still get in.
      expect(all(await idler.open(2, perIp), 101)).toBe(true);
      const perIpRefused = await idler.open(2, 5);
      expect(all(perIpRefused, 503)).toBe(true);
      // The rest of the total cap from other addresses, then refused from any address.
      let host = 3;
      while ((await connections(b.http)) < idleSockets) {
        const want = Math.min(perIp, idleSockets - (await connections(b.http)));
        expect(all(await idler.open(host++, want), 101)).toBe(true);
      }
      expect(await connections(b.http)).toBe(idleSockets);
      const rssFull = rssMiB();
      const totalRefused = [...(await idler.open(250, 5)), ...(await idler.open(1, 5))];
      expect(all(totalRefused, 503)).toBe(true);
      // Counted in the metrics by reason (before any session existed).
      expect(await refusedMetric(b.http, "per_ip")).toBeGreaterThanOrEqual(perIpRefused.length);
      expect(await refusedMetric(b.http, "capacity")).toBeGreaterThanOrEqual(totalRefused.length);
      const during = await roundTrips("cap-full", Math.min(samples, 30));
      console.log(`connection caps: ${perIp} per address (then ${perIpRefused.length} more refused with ${perIpRefused[0]}), ${idleSockets} in all (then ${totalRefused.length} more refused with ${totalRefused[0]}); ${idler.held} idle sockets from ${host - 2} addresses (held by a child process) beside ${before} live; RSS ${rss0.toFixed(1)} -> ${rssFull.toFixed(1)} MiB, ${(((rssFull - rss0) * KiB) / idler.held).toFixed(1)} KiB per connection (the node's side); honest with the cap full: ${fmt(during)}`);
    } finally {
      await idler.close();
    }
    await eventually("the idle sockets' sessions to close", async () => (await connections(b.http)) === before);
    const again = await RawWs.connect(b.host, b.port, "/trade", { localAddress: "127.0.0.2" });
    expect(again.status).toBe(101);
    again.destroy();
  });

  test("29: a slow handshake and a silent socket are closed by the header timeout; a client that never pongs is dropped", async () => {
    const t0 = performance.now();
    const slowloris = new Promise<{ ms: number; first: string; lines: number }>((resolve, reject) => {
      const s = connect(b.port, b.host);
      let first = "";
      let lines = 0;
      s.on("error", () => {});
      s.write(`GET /trade HTTP/1.1\r\nHost: ${b.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n`);
      const drip = setInterval(() => {
        if (!s.destroyed) s.write(`X-Slow-${++lines}: 1\r\n`);
      }, 100);
      const give = setTimeout(() => {
        clearInterval(drip);
        s.destroy();
        reject(new Error(`the slow handshake was still open after ${20 * HEADERS_TIMEOUT_MS} ms`));
      }, 20 * HEADERS_TIMEOUT_MS);
      s.on("data", (d: Buffer) => (first ||= d.toString("latin1").split("\r\n")[0]!));
      s.on("close", () => {
        clearInterval(drip);
        clearTimeout(give);
        resolve({ ms: performance.now() - t0, first, lines });
      });
    });
    const silent = new Promise<number>((resolve, reject) => {
      const s = connect(b.port, b.host);
      s.on("error", () => {});
      s.resume(); // reads, so that the server's close is seen
      const give = setTimeout(() => {
        s.destroy();
        reject(new Error("the silent socket was still open"));
      }, 20 * HEADERS_TIMEOUT_MS);
      s.on("close", () => {
        clearTimeout(give);
        resolve(performance.now() - t0);
      });
    });
    const mute = await RawWs.connect(b.host, b.port, "/md", { autoPong: false });
    const polite = await RawWs.connect(b.host, b.port, "/md");
    const muteCode = mute.closed(5 * PING_MS);
    const [sl, silentMs, code] = await Promise.all([slowloris, silent, muteCode]);
    const muteMs = performance.now() - t0;
    console.log(`slow handshakes: header timeout ${HEADERS_TIMEOUT_MS} ms: a handshake dripping a header every 100 ms was closed after ${sl.ms.toFixed(0)} ms (${sl.lines} headers sent, answer "${sl.first}"); a silent socket after ${silentMs.toFixed(0)} ms; a client that never pongs (ping every ${PING_MS} ms) after ${muteMs.toFixed(0)} ms with ${code}`);
    expect(code).toBe(1006);
    expect(polite.closeCode).toBeUndefined();
    // Both timed-out handshakes are counted (408).
    expect(await refusedMetric(b.http, "timeout")).toBeGreaterThanOrEqual(2);
    polite.destroy();
    // The honest client is still there and trades.
    await roundTrips("after-timeouts", 5);
  });
});

describe("the rate of new connections from one address", () => {
  test("29: past it, connections are refused with 429 before any handshake; other addresses are not affected", async () => {
    const g = await startGatewayNode({ prefix: "venue-gw-rate-", users: [], funded: [], server: { connectionsPerSecondPerIp: 5 } });
    try {
      const { hostname: host, port } = new URL(g.ws);
      const burst = await Promise.all(Array.from({ length: 30 }, () => RawWs.connect(host, Number(port), "/md", { localAddress: "127.0.0.5" })));
      const statuses = burst.map((c) => c.status);
      const accepted = statuses.filter((x) => x === 101).length;
      // The bucket holds a burst of 10 (twice the rate); at 5 a second, at most a few more refill meanwhile.
      expect(accepted).toBeGreaterThanOrEqual(10);
      expect(accepted).toBeLessThanOrEqual(13);
      expect(statuses.filter((x) => x !== 101).every((x) => x === 429)).toBe(true);
      const other = await RawWs.connect(host, Number(port), "/md", { localAddress: "127.0.0.6" });
      expect(other.status).toBe(101);
      expect(await refusedMetric(g.ws.replace("ws:", "http:"), "rate")).toBe(30 - accepted);
      console.log(`connection rate: 30 at once from one address at 5/s (burst 10): ${accepted} accepted, ${30 - accepted} refused with 429`);
      for (const c of [...burst, other]) c.destroy();
    } finally {
      await g.close();
    }
  });
});

/** The gateway's count of connections refused before a session, for one reason, from GET /metrics. */
async function refusedMetric(http: string, reason: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  const m = new RegExp(`^venue_gateway_connections_refused_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text);
  if (m === null) throw new Error(`no venue_gateway_connections_refused_total for ${reason} in the metrics`);
  return Number(m[1]);
}
