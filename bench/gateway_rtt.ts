/**
 * Gateway round trip: how long does a DIFF client wait, through the whole node, for its
 * order to be live and for its order to trade, at 1, 10 and 100 connections?
 *
 *   npx tsx bench/gateway_rtt.ts [--quick] [--connections N] [--seconds S] [--warmup S]
 *                                [--rounds R] [--commands N] [--rate ORDERS_PER_S]
 *                                [--wait auto|spin-park|spin|park]
 *
 * The node is the real one: VenueNode({ dataDir, gateway }) with its journal (group commit,
 * fdatasync), event store, the market-data worker and the DIFF gateway worker (WebSocket server over `ws`, catalog
 * logins with scrypt), in this process, data under .bench-out/gateway-rtt-tmp (deleted at
 * the end). One instrument (SHFE.cu2601: tick 10, multiple 5, margin 10%, commission 10 a
 * lot); one user and account per connection, each funded with 10 billion CNY by a deposit
 * through the node's driver ring before the clients log in. The per-connection and
 * per-account rate limits are raised for the run (a closed loop on one connection sends
 * thousands of messages a second, above the defaults of 200 and 100).
 *
 * The clients run in a child process (its own event loop, as a trading program would):
 * one WebSocket per connection, each behaving as tqsdk does (a peek_message after every
 * frame, state read from the rtn_data merge patches). All connections log in one after
 * another (two at a time, one scrypt each) before anything is timed.
 *
 * Each connection trades in rounds of two limit orders (GFD, OPEN, 1 lot):
 *
 *   passive     BUY at 75,000 (even rounds) or SELL at 75,010 (odd rounds): rests.
 *               Timed from insert_order sent to the rtn_data showing it accepted
 *               (status ALIVE; or already FINISHED with an exchange_order_id, when a
 *               crossing order filled it before the client saw it alive).
 *   aggressive  the other side at the same price: crosses the resting passive orders.
 *               Timed from insert_order sent to the rtn_data showing it filled
 *               (volume_left 0, status FINISHED; its trade arrives in the same rtn_data).
 *
 * A connection's aggressive order always fills: its own passive order was applied before it
 * (one socket, one gateway thread, one inbound ring), so the book always holds at least as
 * many resting orders at that price as aggressive orders arrive, and at most as many per
 * side as there are connections. Positions grow by one lot a side per round (well inside
 * the deposit); with one connection the account trades with itself (the gateway sends no
 * self-trade prevention).
 *
 *   closed loop  (the main figures) one order in flight per connection: the passive order,
 *                then on its ALIVE the aggressive one, then on its fill the next round.
 *                Latency from the send; throughput is what the loop achieves. A stall
 *                delays the orders behind it unseen (coordinated omission), so:
 *   open loop    at the largest connection count, orders at a fixed total rate (--rate;
 *                default a quarter of the closed loop's throughput there in the first
 *                round), evenly spaced over the connections, not waiting for one another;
 *                latency from the scheduled time (the client's timer slack is in it) and
 *                from the send.
 *
 * Each level: a warm-up (--warmup seconds, not recorded), then --seconds measured (or
 * --commands orders, whichever comes first); orders sent in that window are recorded,
 * and each level's outstanding orders complete before the next level starts. --rounds
 * repeats the levels; histograms (hdr-histogram-js) gather every round, throughput is the
 * median of rounds. Times are performance.now() in the client process, one clock per side.
 * Beside them, each round, the physical floor (../shared/BENCH.md): 2,000 x a 64-byte append
 * + fdatasync on the journal's disk, on the main thread while the node is idle.
 * Defaults: 1, 10 and 100 connections (--connections sets the largest), 3 s + 10 s, 2
 * rounds (about 2.2 min with the logins). --quick: 1 and 4 connections, 0.5 s + 1 s, one
 * round (about 12 s): it proves the benchmark runs, it is not a measurement.
 *
 * Threads: the engine loop (main thread) and the journal worker wait with --wait, named as
 * `venue start --wait` names it and chosen the same way by default (auto: park on 2 cores
 * or fewer, where no thread spins; spin-park, 2,000 spins then a 1 ms park, above); the
 * market-data and gateway workers poll their rings and, when they are empty, wait up to
 * 1 ms for the durable seq to move; the storage worker polls; the client process and the password pool (2 threads, idle after the logins) never
 * spin. Each level reports the cores the node process and the client process kept busy,
 * what other processes took meanwhile, and interrupt time (/proc/stat; loopback TCP is
 * received there): the machine may be shared.
 *
 * Results go to stdout, .bench-out/gateway_rtt.json and a percentile plot,
 * .bench-out/gateway_rtt.svg.
 */

import { fork, type ChildProcess } from "node:child_process";
import { closeSync, fdatasyncSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import os from "node:os";
import { performance } from "node:perf_hooks";
import * as hdr from "hdr-histogram-js";
import WebSocket from "ws";
import { VenueNode } from "../src/node/node.ts";
import { Catalog } from "../src/catalog/catalog.ts";
import { PasswordHasher } from "../src/catalog/password.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../src/catalog/instrument.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../src/schema/command.ts";
import { currencyCode } from "../src/schema/codes.ts";
import { DEFAULT_WAIT, describeWait, type WaitStrategy } from "../src/bus/wait.ts";
import { benchArgs } from "./args.ts";
import { diskInfo, sourceInfo, threadCpuSample } from "../src/bench/machine.ts";
import { median, type Percentiles } from "../src/bench/stats.ts";

// ---------------------------------------------------------------------------------------
// Parameters and the order flow (shared by both processes)

const INSTRUMENT = DEMO_INSTRUMENTS[0]!;
const BID = 75_000;
const ASK = 75_010;
/** Minor units (fen): 10 billion CNY, margin for ~260,000 open lots at 37,500 CNY each. */
const DEPOSIT_MINOR = 1_000_000_000_000;
const PASSWORD = "bench-rtt-password";
const TRADING_DAY = "20261124";
/** Per connection and per account; the defaults (200 and 100 a second) would refuse a closed loop. */
const MESSAGES_PER_SECOND = 1_000_000;
const ORDERS_PER_SECOND = 1_000_000;
const LOGIN_CONCURRENCY = 2;
const HASH_THREADS = 2;
/** A level fails if no order completes for this long while some are in flight. */
const STALL_MS = 15_000;
const LEVELS = [1, 10, 100];
/** Raw fdatasyncs per round for the floor (a tenth with --quick). */
const FLOOR_FSYNCS = 2_000;

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, ".bench-out");
const TMP = join(OUT, "gateway-rtt-tmp");
const ROLE_ENV = "VENUE_GATEWAY_RTT_ROLE";

type Mode = "closed" | "open";

interface ClientSetup {
  url: string;
  users: string[];
  password: string;
  exchangeId: string;
  insId: string;
}

interface PhaseSpec {
  mode: Mode;
  connections: number;
  warmupMs: number;
  measureMs: number;
  maxOrders: number;
  /** Orders per second over all connections (open loop only). */
  ratePerS: number;
}

interface PhaseOutcome {
  /** Latencies in ns: from the send (closed) or the scheduled time (open). */
  alive: Float64Array;
  fill: Float64Array;
  /** Open loop: the same from the actual send. */
  aliveSend: Float64Array;
  fillSend: Float64Array;
  /** Orders completed inside the measured window, and the window. */
  completed: number;
  windowMs: number;
  /** Passive orders first seen already filled (their ALIVE folded into the fill). */
  aliveFolded: number;
  /** Aggressive fills whose trade did not arrive in the same rtn_data. */
  fillWithoutTrade: number;
  /** Largest number of orders in flight at once. */
  maxInFlight: number;
  /** Open loop: the worst lateness of a send behind its schedule, ms. */
  sendLateMaxMs: number;
  clientCpuMs: number;
  /** rtn_data received over the whole level (warm-up included) and their mean size. */
  rtnData: number;
  rtnMeanBytes: number;
  /** Orders completed over the whole level (warm-up included). */
  completedAll: number;
}

type ToClient = { setup: ClientSetup } | { phase: PhaseSpec } | { quit: true };
type FromClient = { ready: { loginMs: number } } | { done: PhaseOutcome } | { error: string };

// ---------------------------------------------------------------------------------------
// The client process

interface Pending {
  id: string;
  passive: boolean;
  /** performance.now() ms: scheduled (open loop) and sent. */
  sched: number;
  sent: number;
  status: string;
  volumeLeft: number;
  exchangeOrderId: string;
  lastMsg: string;
  traded: boolean;
}

type JsonMap = Record<string, unknown>;
const asMap = (v: unknown): JsonMap | undefined => (typeof v === "object" && v !== null ? (v as JsonMap) : undefined);

/** One DIFF trade connection, logged in as one account. */
class Conn {
  /** Events sent so far: event j is round j >> 1, passive when j is even. Counts across levels. */
  next = 0;
  /** Open loop: when the next event is due (ms). */
  nextAt = 0;
  readonly pending = new Map<string, Pending>();
  onComplete: (c: Conn, p: Pending, now: number) => void = () => {};
  onFailure: (why: string) => void = () => {};
  readonly notices: string[] = [];
  /** rtn_data received and their bytes (JSON text), since the connection opened. */
  rtnData = 0;
  rtnBytes = 0;
  private loggedIn: (() => void) | undefined;
  private loginFailed: ((e: Error) => void) | undefined;
  private readonly touched: Pending[] = [];

  private constructor(readonly ws: WebSocket, readonly account: string, private readonly s: ClientSetup) {
    ws.on("message", (data, isBinary) => {
      if (!isBinary) this.onFrame(String(data));
      if (ws.readyState === WebSocket.OPEN) ws.send('{"aid":"peek_message"}');
    });
    ws.on("close", (code, reason) => this.fail(`connection ${account} closed: ${code} ${String(reason)}`));
    ws.on("error", (err) => this.fail(`connection ${account}: ${err.message}`));
  }

  static async login(s: ClientSetup, account: string): Promise<Conn> {
    // Listeners go on before the socket opens: the greeting can arrive in the same read as
    // the handshake, and a client that misses it never peeks, so it is never answered.
    const ws = new WebSocket(`${s.url}/trade`, { perMessageDeflate: false });
    const c = new Conn(ws, account, s);
    const done = new Promise<void>((res, rej) => {
      c.loggedIn = res;
      c.loginFailed = rej;
    });
    await new Promise<void>((res, rej) => {
      ws.once("open", () => res());
      ws.once("error", rej);
    });
    ws.send(JSON.stringify({ aid: "req_login", bid: "VENUE", user_name: account, password: s.password }));
    await done;
    return c;
  }

  /** Sends event `next` (the passive or aggressive order of its round), scheduled at `sched`. */
  sendNext(sched: number): void {
    const j = this.next++;
    const round = j >> 1;
    const passive = (j & 1) === 0;
    const buyRound = (round & 1) === 0;
    const buy = passive === buyRound;
    const id = `${passive ? "p" : "a"}${round}`;
    const price = buyRound ? BID : ASK;
    const sent = performance.now();
    this.pending.set(id, { id, passive, sched, sent, status: "", volumeLeft: -1, exchangeOrderId: "", lastMsg: "", traded: false });
    this.ws.send(
      `{"aid":"insert_order","user_id":"${this.account}","order_id":"${id}","exchange_id":"${this.s.exchangeId}","instrument_id":"${this.s.insId}",` +
        `"direction":"${buy ? "BUY" : "SELL"}","offset":"OPEN","volume":1,"price_type":"LIMIT","limit_price":${price},"volume_condition":"ANY","time_condition":"GFD"}`,
    );
  }

  close(): void {
    this.ws.removeAllListeners("close");
    this.ws.terminate();
  }

  private fail(why: string): void {
    if (this.loginFailed !== undefined) this.loginFailed(new Error(why));
    else this.onFailure(why);
  }

  private onFrame(text: string): void {
    const m = JSON.parse(text) as JsonMap;
    if (m["aid"] !== "rtn_data") return;
    this.rtnData++;
    this.rtnBytes += text.length;
    const now = performance.now();
    for (const p of m["data"] as unknown[]) {
      const patch = asMap(p);
      if (patch === undefined) continue;
      const notify = asMap(patch["notify"]);
      if (notify !== undefined) this.onNotify(notify);
      const t = asMap(asMap(patch["trade"])?.[this.account]);
      if (t === undefined) continue;
      if (this.loggedIn !== undefined && t["trade_more_data"] === false) {
        const res = this.loggedIn;
        this.loggedIn = undefined;
        this.loginFailed = undefined;
        res();
      }
      this.readOrders(asMap(t["orders"]));
      const trades = asMap(t["trades"]);
      if (trades !== undefined) {
        for (const k in trades) {
          const id = asMap(trades[k])?.["order_id"];
          const pend = typeof id === "string" ? this.pending.get(id) : undefined;
          if (pend !== undefined) pend.traded = true;
        }
      }
    }
    for (const pend of this.touched) this.judge(pend, now);
    this.touched.length = 0;
  }

  private readOrders(orders: JsonMap | undefined): void {
    if (orders === undefined) return;
    for (const id in orders) {
      const pend = this.pending.get(id);
      const o = asMap(orders[id]);
      if (pend === undefined || o === undefined) continue;
      if (typeof o["status"] === "string") pend.status = o["status"];
      if (typeof o["volume_left"] === "number") pend.volumeLeft = o["volume_left"];
      if (typeof o["exchange_order_id"] === "string") pend.exchangeOrderId = o["exchange_order_id"];
      if (typeof o["last_msg"] === "string") pend.lastMsg = o["last_msg"];
      this.touched.push(pend);
    }
  }

  private judge(pend: Pending, now: number): void {
    if (!this.pending.has(pend.id)) return;
    const finished = pend.status === "FINISHED";
    if (finished && pend.exchangeOrderId === "") return this.onFailure(`${this.account} order ${pend.id} refused: ${pend.lastMsg}`);
    if (pend.passive) {
      if (pend.status !== "ALIVE" && !finished) return;
    } else {
      if (!finished) return;
      if (pend.volumeLeft !== 0) return this.onFailure(`${this.account} order ${pend.id} finished unfilled (${pend.volumeLeft} left): ${pend.lastMsg}`);
    }
    this.pending.delete(pend.id);
    this.onComplete(this, pend, now);
  }

  private onNotify(n: JsonMap): void {
    for (const k in n) {
      const e = asMap(n[k]);
      if (e === undefined) continue;
      const text = `${String(e["level"])} ${String(e["code"])}: ${String(e["content"])}`;
      if (e["level"] === "ERROR" && this.loginFailed !== undefined) this.loginFailed(new Error(`login ${this.account}: ${text}`));
      if (e["level"] !== "INFO") {
        this.notices.push(text);
        if (this.notices.length > 5) this.notices.shift();
      }
    }
  }
}

/** One measured level on the client side. */
class PhaseRun {
  readonly alive: number[] = [];
  readonly fill: number[] = [];
  readonly aliveSend: number[] = [];
  readonly fillSend: number[] = [];
  readonly measureFrom: number;
  /** When sending stops (the end of the window, or earlier once --commands orders were sent). */
  stopAt: number;
  completed = 0;
  sentMeasured = 0;
  aliveFolded = 0;
  fillWithoutTrade = 0;
  inFlight = 0;
  maxInFlight = 0;
  sendLateMaxMs = 0;
  lastProgress: number;
  private timer: NodeJS.Timeout | undefined;
  private finish: ((o: PhaseOutcome) => void) | undefined;
  private abort: ((e: Error) => void) | undefined;
  private readonly cpu0 = process.cpuUsage();
  private readonly rtn0: { n: number; bytes: number };
  private completedAll = 0;

  constructor(readonly spec: PhaseSpec, readonly conns: Conn[]) {
    const t0 = performance.now();
    this.measureFrom = t0 + spec.warmupMs;
    this.stopAt = this.measureFrom + spec.measureMs;
    this.lastProgress = t0;
    this.rtn0 = { n: conns.reduce((s, c) => s + c.rtnData, 0), bytes: conns.reduce((s, c) => s + c.rtnBytes, 0) };
  }

  run(): Promise<PhaseOutcome> {
    const done = new Promise<PhaseOutcome>((res, rej) => {
      this.finish = res;
      this.abort = rej;
    });
    for (const c of this.conns) {
      c.onComplete = (conn, p, now) => this.complete(conn, p, now);
      c.onFailure = (why) => this.fail(new Error(why));
    }
    this.watch();
    if (this.spec.mode === "closed") {
      for (const c of this.conns) this.send(c, performance.now());
    } else {
      const gapMs = 1000 / this.spec.ratePerS;
      const start = performance.now();
      this.conns.forEach((c, i) => (c.nextAt = start + i * gapMs));
      this.tick();
    }
    return done;
  }

  private send(c: Conn, sched: number): void {
    c.sendNext(sched);
    if (sched >= this.measureFrom && sched < this.stopAt && ++this.sentMeasured >= this.spec.maxOrders) this.stopAt = performance.now();
    if (++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
  }

  /** Open loop: sends every event that is due, then sleeps until the next one. */
  private readonly tick = (): void => {
    const now = performance.now();
    const perConnMs = (this.conns.length * 1000) / this.spec.ratePerS;
    let soonest = Infinity;
    for (const c of this.conns) {
      while (c.nextAt <= now && c.nextAt < this.stopAt) {
        this.sendLateMaxMs = Math.max(this.sendLateMaxMs, now - c.nextAt);
        this.send(c, c.nextAt);
        c.nextAt += perConnMs;
      }
      if (c.nextAt < this.stopAt) soonest = Math.min(soonest, c.nextAt);
    }
    if (soonest !== Infinity) this.timer = setTimeout(this.tick, Math.max(0, soonest - performance.now()));
    else this.timer = undefined;
  };

  private complete(c: Conn, p: Pending, now: number): void {
    this.inFlight--;
    this.completedAll++;
    this.lastProgress = now;
    const from = this.spec.mode === "closed" ? p.sent : p.sched;
    if (now >= this.measureFrom && now <= this.stopAt) this.completed++;
    if (from >= this.measureFrom && from < this.stopAt) {
      (p.passive ? this.alive : this.fill).push((now - from) * 1e6);
      if (this.spec.mode === "open") (p.passive ? this.aliveSend : this.fillSend).push((now - p.sent) * 1e6);
      if (p.passive && p.status === "FINISHED") this.aliveFolded++;
      if (!p.passive && !p.traded) this.fillWithoutTrade++;
    }
    // Closed loop: the next order of this connection at once, until the window closes.
    if (this.spec.mode === "closed" && now < this.stopAt) this.send(c, now);
    if (now >= this.stopAt && this.inFlight === 0 && this.timer === undefined) this.end();
  }

  private watch(): void {
    const w = setInterval(() => {
      const now = performance.now();
      if (this.finish === undefined) return clearInterval(w);
      if (now >= this.stopAt && this.inFlight === 0 && this.timer === undefined) return this.end();
      if (this.inFlight > 0 && now - this.lastProgress > STALL_MS) {
        const stuck = this.conns.filter((c) => c.pending.size > 0).slice(0, 3);
        this.fail(new Error(`no order completed for ${STALL_MS} ms with ${this.inFlight} in flight; e.g. ${stuck.map((c) => `${c.account}: ${[...c.pending.keys()].join(",")} (notices: ${c.notices.join(" | ") || "none"})`).join("; ")}`));
      }
    }, 200);
  }

  private end(): void {
    const finish = this.finish;
    if (finish === undefined) return;
    this.finish = undefined;
    const cpu = process.cpuUsage(this.cpu0);
    const rtn = this.conns.reduce((s, c) => s + c.rtnData, 0) - this.rtn0.n;
    const bytes = this.conns.reduce((s, c) => s + c.rtnBytes, 0) - this.rtn0.bytes;
    finish({
      rtnData: rtn,
      rtnMeanBytes: rtn === 0 ? 0 : bytes / rtn,
      completedAll: this.completedAll,
      alive: Float64Array.from(this.alive),
      fill: Float64Array.from(this.fill),
      aliveSend: Float64Array.from(this.aliveSend),
      fillSend: Float64Array.from(this.fillSend),
      completed: this.completed,
      windowMs: this.stopAt - this.measureFrom,
      aliveFolded: this.aliveFolded,
      fillWithoutTrade: this.fillWithoutTrade,
      maxInFlight: this.maxInFlight,
      sendLateMaxMs: this.sendLateMaxMs,
      clientCpuMs: (cpu.user + cpu.system) / 1000,
    });
  }

  private fail(e: Error): void {
    const abort = this.abort;
    this.finish = undefined;
    this.abort = undefined;
    if (this.timer !== undefined) clearTimeout(this.timer);
    abort?.(e);
  }
}

async function clientMain(): Promise<void> {
  const reply = (m: FromClient): void => void process.send!(m);
  let setup: ClientSetup | undefined;
  let conns: Conn[] = [];
  process.on("message", (m: ToClient) => {
    void (async () => {
      try {
        if ("setup" in m) {
          setup = m.setup;
          const t0 = performance.now();
          const users = m.setup.users;
          conns = new Array<Conn>(users.length);
          // A few at a time: each login is one scrypt on the gateway's password pool.
          for (let i = 0; i < users.length; i += LOGIN_CONCURRENCY) {
            const batch = users.slice(i, i + LOGIN_CONCURRENCY);
            const got = await Promise.all(batch.map((u) => Conn.login(setup!, u)));
            got.forEach((c, k) => (conns[i + k] = c));
          }
          reply({ ready: { loginMs: performance.now() - t0 } });
        } else if ("phase" in m) {
          const run = new PhaseRun(m.phase, conns.slice(0, m.phase.connections));
          reply({ done: await run.run() });
        } else {
          for (const c of conns) c.close();
          process.disconnect();
        }
      } catch (e) {
        reply({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
      }
    })();
  });
}

// ---------------------------------------------------------------------------------------
// The bench process: the node, the levels, the report

const log = (line = ""): void => {
  process.stdout.write(line + "\n");
};

type Pct = Percentiles;

type Histogram = ReturnType<typeof hdr.build>;
const newHist = (): Histogram => hdr.build({ lowestDiscernibleValue: 1_000, highestTrackableValue: 600e9, numberOfSignificantValueDigits: 3 });
function record(h: Histogram, xs: Float64Array): void {
  for (const x of xs) h.recordValue(Math.max(1_000, Math.round(x)));
}
function pct(h: Histogram): Pct {
  if (h.totalCount === 0) return { count: 0, p50: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  // A percentile is its bucket's highest equivalent value: never above the recorded max.
  const at = (p: number): number => Math.min(h.getValueAtPercentile(p), h.maxValue);
  return { count: h.totalCount, p50: at(50), p99: at(99), p999: at(99.9), max: h.maxValue, mean: h.mean };
}
const fmtNs = (ns: number): string => (!Number.isFinite(ns) ? "-" : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : `${(ns / 1e3).toFixed(0)} µs`);
const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const pctCols = (p: Pct): string => [p.p50, p.p99, p.p999, p.max].map((v) => fmtNs(v).padStart(9)).join(" ");

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The client process, driven one request at a time. */
class Clients {
  private waiting: { res: (m: FromClient) => void; rej: (e: Error) => void } | undefined;

  constructor(readonly child: ChildProcess) {
    child.on("message", (m: FromClient) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (w === undefined) return;
      if ("error" in m) w.rej(new Error(`client process: ${m.error}`));
      else w.res(m);
    });
    child.on("exit", (code, signal) => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.rej(new Error(`the client process exited (${code ?? signal})`));
    });
  }

  static start(): Clients {
    const file = fileURLToPath(import.meta.url);
    // Inherits this process's execArgv (the TypeScript loader).
    const child = fork(file, [], { env: { ...process.env, [ROLE_ENV]: "client" }, serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    return new Clients(child);
  }

  request(m: ToClient, ms: number, what: string): Promise<FromClient> {
    const p = new Promise<FromClient>((res, rej) => (this.waiting = { res, rej }));
    this.child.send(m);
    return withTimeout(p, ms, what);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once("exit", () => r()));
    if (this.child.connected) this.child.send({ quit: true } satisfies ToClient);
    await withTimeout(exited, 5_000, "client process exit").catch(() => this.child.kill());
  }
}

/**
 * CPU ms of the whole machine from /proc/stat (NaN off Linux): time charged to processes;
 * interrupt time (loopback TCP is received in softirq, charged to no process); steal.
 */
function machineCpuMs(): { busy: number; irq: number; steal: number } {
  try {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = f;
    return { busy: (user + nice + system) * 10, irq: (irq + softirq) * 10, steal: steal * 10 };
  } catch {
    return { busy: NaN, irq: NaN, steal: NaN };
  }
}

/** The disk under `path`, in one line (src/bench/machine.ts). */
function diskOf(path: string): string {
  const d = diskInfo(path);
  return d.mountPoint === "" ? "unknown (no /proc/mounts)" : `${d.device} (${d.fsType}, ${d.mountOptions}) at ${d.mountPoint}`;
}

/** The commit, and the files under src/ and bench/ that differ from it (src/bench/machine.ts). */
function gitInfo(): string {
  const { commit, dirty } = sourceInfo(ROOT, ["src", "bench"]);
  return `${commit}${dirty.length > 0 ? ` + uncommitted changes in ${dirty.join(", ")}` : ""}`;
}

/** The catalog (one user per connection, all with one password record), the node, the deposits. */
/** The wait strategies by the names `venue start --wait` takes; auto as there: park on 2 cores or fewer. */
const WAIT_NAMES = ["auto", "spin-park", "spin", "park"] as const;
type WaitName = (typeof WAIT_NAMES)[number];

function waitStrategy(name: WaitName): WaitStrategy {
  if (name === "spin") return { kind: "spin" };
  if (name === "park" || (name === "auto" && os.availableParallelism() <= 2)) return { kind: "park", parkMs: 1 }; // venue start's default waitParkMs
  return DEFAULT_WAIT;
}

/** Takes `--wait NAME` (or `--wait=NAME`) out of the arguments, which bench/args.ts does not know. */
function takeWaitArg(argv: string[]): WaitName {
  let name: string = "auto";
  for (let i = 2; i < argv.length; i++) {
    const a = argv[i]!;
    if (a !== "--wait" && !a.startsWith("--wait=")) continue;
    const inline = a.startsWith("--wait=");
    name = inline ? a.slice("--wait=".length) : (argv[i + 1] ?? "");
    argv.splice(i, inline ? 1 : 2);
    break;
  }
  if (!(WAIT_NAMES as readonly string[]).includes(name)) throw new RangeError(`--wait: expected one of ${WAIT_NAMES.join(", ")}, got ${JSON.stringify(name)}`);
  return name as WaitName;
}

async function startNode(users: string[], wait: WaitStrategy, nodeLog: string[]): Promise<{ node: VenueNode; url: string }> {
  const catalogDir = join(TMP, "catalog");
  const catalog = Catalog.open(catalogDir);
  const hasher = new PasswordHasher();
  const record = await hasher.hash(PASSWORD);
  await hasher.close();
  for (const u of users) await catalog.addUser(u, ["trader"], record);
  await catalog.putInstrument(INSTRUMENT);
  await catalog.close();
  const node = new VenueNode({
    dataDir: join(TMP, "data"),
    wait,
    log: (line) => nodeLog.push(line),
    gateway: {
      catalogDir,
      server: { port: 0 },
      options: { tradingDay: TRADING_DAY, messagesPerSecond: MESSAGES_PER_SECOND, ordersPerSecond: ORDERS_PER_SECOND },
      hashThreads: HASH_THREADS,
    },
  });
  const driver = node.drivers[0]!;
  void node.start().catch((e: unknown) => nodeLog.push(`engine loop stopped: ${String(e)}`));
  driver.submit((b, o) => writeDefineInstrument(b, o, engineParams(INSTRUMENT)));
  for (const u of users) driver.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, u, currencyCode("CNY"), DEPOSIT_MINOR));
  driver.flush();
  const { host, port } = await withTimeout(node.gatewayReady, 30_000, "gateway start");
  const want = 1 + users.length;
  const t0 = Date.now();
  while (node.loop.commands < want || node.durableSeq < want) {
    if (Date.now() - t0 > 30_000) throw new Error(`the deposits were not durable within 30 s (${node.loop.commands} applied, durable ${node.durableSeq})`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return { node, url: `ws://${host}:${port}` };
}

interface LevelResult {
  mode: Mode;
  connections: number;
  ratePerS: number;
  rounds: Array<{ ordersPerS: number; completed: number; windowMs: number; nodeCores: number; clientCores: number; otherCores: number; irqCores: number; stealCores: number; maxInFlight: number; sendLateMaxMs: number; nodeCpuUsPerOrder: number; nodeCpuUsPerOrderByThread: Record<string, number>; rtnDataPerOrder: number; rtnMeanBytes: number; rssMB: number }>;
  alive: Histogram;
  fill: Histogram;
  aliveSend: Histogram;
  fillSend: Histogram;
  aliveFolded: number;
  fillWithoutTrade: number;
}

async function runLevel(clients: Clients, spec: PhaseSpec, into: LevelResult): Promise<void> {
  const m0 = machineCpuMs();
  const c0 = process.cpuUsage();
  const th0 = threadCpuSample();
  const t0 = performance.now();
  const r = await clients.request({ phase: spec }, spec.warmupMs + spec.measureMs + 120_000, `${spec.mode} loop, ${spec.connections} connections`);
  if (!("done" in r)) throw new Error("unexpected reply from the client process");
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const th1 = threadCpuSample();
  const m1 = machineCpuMs();
  const o = r.done;
  const nodeMs = (c.user + c.system) / 1000;
  record(into.alive, o.alive);
  record(into.fill, o.fill);
  record(into.aliveSend, o.aliveSend);
  record(into.fillSend, o.fillSend);
  into.aliveFolded += o.aliveFolded;
  into.fillWithoutTrade += o.fillWithoutTrade;
  const round = {
    ordersPerS: o.completed / (o.windowMs / 1000),
    completed: o.completed,
    windowMs: o.windowMs,
    nodeCores: nodeMs / wall,
    clientCores: o.clientCpuMs / wall,
    otherCores: Math.max(0, (m1.busy - m0.busy - nodeMs - o.clientCpuMs) / wall),
    irqCores: (m1.irq - m0.irq) / wall,
    stealCores: (m1.steal - m0.steal) / wall,
    maxInFlight: o.maxInFlight,
    nodeCpuUsPerOrder: (nodeMs * 1000) / Math.max(1, o.completedAll),
    // The node's threads by name (/proc/self/task; "main" is the engine loop's), busiest first.
    nodeCpuUsPerOrderByThread: Object.fromEntries(
      [...th1].map(([name, ms]) => [name, ((ms - (th0.get(name) ?? 0)) * 1000) / Math.max(1, o.completedAll)] as const).filter(([, us]) => us >= 1).sort((x, y) => y[1] - x[1]),
    ),
    rtnDataPerOrder: o.rtnData / Math.max(1, o.completedAll),
    rtnMeanBytes: o.rtnMeanBytes,
    rssMB: process.memoryUsage().rss / 2 ** 20,
    sendLateMaxMs: o.sendLateMaxMs,
  };
  into.rounds.push(round);
  const a = pct(newHistOf(o.alive));
  const f = pct(newHistOf(o.fill));
  log(
    `  ${spec.mode.padEnd(6)} ${String(spec.connections).padStart(3)} conn${spec.mode === "open" ? ` at ${fmtInt(spec.ratePerS)}/s` : ""}: ${fmtInt(round.ordersPerS)} orders/s; ALIVE p50 ${fmtNs(a.p50)} p99 ${fmtNs(a.p99)}; fill p50 ${fmtNs(f.p50)} p99 ${fmtNs(f.p99)}; ` +
      `node CPU ${fmtInt(round.nodeCpuUsPerOrder)} µs and ${round.rtnDataPerOrder.toFixed(2)} rtn_data (${fmtInt(round.rtnMeanBytes)} B) per order; node RSS ${fmtInt(round.rssMB)} MB; ` +
      `cores busy: node ${round.nodeCores.toFixed(2)}, clients ${round.clientCores.toFixed(2)}, other processes ${round.otherCores.toFixed(2)}, interrupts ${round.irqCores.toFixed(2)}, steal ${round.stealCores.toFixed(2)}`,
  );
  log(`         node CPU per order by thread: ${Object.entries(round.nodeCpuUsPerOrderByThread).map(([name, us]) => `${name === "main" ? "main (engine loop)" : name} ${fmtInt(us)} µs`).join(", ")}`);
}

function newHistOf(xs: Float64Array): Histogram {
  const h = newHist();
  record(h, xs);
  return h;
}

const newLevel = (mode: Mode, connections: number, ratePerS: number): LevelResult => ({
  mode, connections, ratePerS, rounds: [], alive: newHist(), fill: newHist(), aliveSend: newHist(), fillSend: newHist(), aliveFolded: 0, fillWithoutTrade: 0,
});

/**
 * The physical floor beside the figures: a raw loop of a 64-byte append + fdatasync on the
 * journal's disk, run on this thread while no order is in flight (the node is idle).
 */
function fsyncFloor(dir: string, count: number, into: Histogram): void {
  const file = join(dir, "floor.bin");
  const fd = openSync(file, "w");
  const rec = Buffer.alloc(64, 0x5a);
  try {
    for (let i = 0; i < count; i++) {
      const t = process.hrtime.bigint();
      writeSync(fd, rec);
      fdatasyncSync(fd);
      into.recordValue(Math.max(1_000, Number(process.hrtime.bigint() - t)));
    }
  } finally {
    closeSync(fd);
    rmSync(file, { force: true });
  }
}

/** Percentile plot: latency against percentile on a 1/(1-p) axis, one line per level and kind. */
function percentileSvg(levels: LevelResult[], title: string): string {
  const W = 760;
  const H = 420;
  const L = 70;
  const R = 190;
  const T = 40;
  const B = 50;
  const ps = [0, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99];
  const xOf = (p: number): number => L + (Math.log10(1 / (1 - p / 100)) / 4) * (W - L - R);
  const lines: Array<{ name: string; pts: Array<[number, number]>; dash: boolean; color: string }> = [];
  const colors = ["#1b6ac9", "#d9480f", "#2b8a3e", "#862e9c", "#495057"];
  let yMax = 0;
  levels.forEach((lv, i) => {
    for (const [kind, h] of [["ALIVE", lv.alive], ["fill", lv.fill]] as const) {
      if (h.totalCount === 0) continue;
      const pts = ps.map((p) => [p, h.getValueAtPercentile(p) / 1e6] as [number, number]);
      yMax = Math.max(yMax, ...pts.map((q) => q[1]));
      lines.push({ name: `${lv.mode} ${lv.connections} conn ${kind}`, pts, dash: kind === "fill", color: colors[i % colors.length]! });
    }
  });
  const yTop = Math.max(1, Math.ceil(yMax));
  const yOf = (ms: number): number => T + (1 - ms / yTop) * (H - T - B);
  const out: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`];
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`, `<text x="${L}" y="22" font-size="14">${title}</text>`);
  for (const p of [0, 90, 99, 99.9, 99.99]) out.push(`<line x1="${xOf(p)}" y1="${T}" x2="${xOf(p)}" y2="${H - B}" stroke="#ddd"/><text x="${xOf(p)}" y="${H - B + 16}" text-anchor="middle">p${p}</text>`);
  for (let k = 0; k <= 4; k++) {
    const v = (yTop * k) / 4;
    out.push(`<line x1="${L}" y1="${yOf(v)}" x2="${W - R}" y2="${yOf(v)}" stroke="#eee"/><text x="${L - 6}" y="${yOf(v) + 4}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)} ms</text>`);
  }
  lines.forEach((ln, i) => {
    const d = ln.pts.map(([p, ms]) => `${xOf(p).toFixed(1)},${yOf(ms).toFixed(1)}`).join(" ");
    out.push(`<polyline fill="none" stroke="${ln.color}" stroke-width="2" ${ln.dash ? 'stroke-dasharray="6 4"' : ""} points="${d}"/>`);
    out.push(`<line x1="${W - R + 12}" y1="${T + 8 + i * 18}" x2="${W - R + 36}" y2="${T + 8 + i * 18}" stroke="${ln.color}" stroke-width="2" ${ln.dash ? 'stroke-dasharray="6 4"' : ""}/><text x="${W - R + 42}" y="${T + 12 + i * 18}">${ln.name}</text>`);
  });
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">percentile (the max is not plotted)</text></svg>`);
  return out.join("\n");
}

async function main(): Promise<number> {
  const wall0 = performance.now();
  const waitName = takeWaitArg(process.argv);
  const wait = waitStrategy(waitName);
  const spinning = wait.kind === "park" ? "no thread spins" : wait.kind === "spin" ? "2 busy-spinning threads" : "2 spin-then-park threads";
  const args = benchArgs({ commands: 1_000_000, quickCommands: 1_000_000, rounds: 2 }, ["connections", "seconds", "warmup", "rate"]);
  const quick = args.quick;
  const rounds = quick && !process.argv.some((a) => a.startsWith("--rounds")) ? 1 : args.rounds;
  const maxConns = args.extra["connections"] ?? (quick ? 4 : 100);
  const measureMs = (args.extra["seconds"] ?? (quick ? 1 : 10)) * 1000;
  const warmupMs = args.extra["warmup"] !== undefined ? args.extra["warmup"] * 1000 : quick ? 500 : 3000;
  const levels = [...LEVELS.filter((n) => n < maxConns), maxConns];
  const users = Array.from({ length: maxConns }, (_, i) => `rtt${i}`);
  const cpus = os.cpus();
  log(`gateway round trip benchmark${quick ? " (--quick: proves it runs, not a measurement)" : ""}: ${levels.join(", ")} connections, ${warmupMs / 1000} s warm-up + ${measureMs / 1000} s (or ${fmtInt(args.commands)} orders) per level, ${rounds} round(s)`);
  log(`machine: ${cpus[0]?.model ?? "unknown"} x ${cpus.length} (${os.availableParallelism()} available), ${(os.totalmem() / 2 ** 30).toFixed(0)} GB, ${os.platform()} ${os.release()} ${os.arch()}, Node ${process.version}; load average at start ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const disk = diskOf(TMP);
  log(`disk: ${disk}; data in ${TMP}`);
  log(`threads: engine loop (main thread) and journal worker wait with --wait ${waitName}: ${describeWait(wait)}: ${spinning} on ${os.availableParallelism()} cores; the market-data and gateway workers wait up to 1 ms for the durable seq when their rings are empty; the storage worker polls; clients in one child process (no spinning)`);
  const source = gitInfo();
  log(`source: commit ${source}`);

  const nodeLog: string[] = [];
  const t0 = performance.now();
  const { node, url } = await startNode(users, wait, nodeLog);
  log(`node up in ${((performance.now() - t0) / 1000).toFixed(1)} s (catalog of ${users.length} users, ${users.length} deposits durable); gateway at ${url}`);
  const clients = Clients.start();
  const results: LevelResult[] = [];
  const floor = newHist();
  let loginMs = NaN;
  try {
    const ready = await clients.request({ setup: { url, users, password: PASSWORD, exchangeId: INSTRUMENT.exchangeId, insId: INSTRUMENT.insId } }, 60_000 + users.length * 3_000, "logins");
    if (!("ready" in ready)) throw new Error("unexpected reply from the client process");
    loginMs = ready.ready.loginMs;
    log(`${users.length} logins (one scrypt each, ${LOGIN_CONCURRENCY} at a time, ${HASH_THREADS} hash threads) in ${(loginMs / 1000).toFixed(1)} s`);
    const closed = levels.map((n) => newLevel("closed", n, 0));
    let open: LevelResult | undefined;
    for (let r = 0; r < rounds; r++) {
      log(`round ${r + 1}/${rounds}`);
      const f = newHist();
      fsyncFloor(TMP, FLOOR_FSYNCS / (quick ? 10 : 1), f);
      floor.add(f);
      const fp = pct(f);
      log(`  floor: ${FLOOR_FSYNCS / (quick ? 10 : 1)} x (64-byte append + fdatasync): p50 ${fmtNs(fp.p50)} p99 ${fmtNs(fp.p99)} max ${fmtNs(fp.max)}`);
      for (const lv of closed) await runLevel(clients, { mode: "closed", connections: lv.connections, warmupMs, measureMs, maxOrders: args.commands, ratePerS: 0 }, lv);
      const top = closed[closed.length - 1]!;
      const rate = args.extra["rate"] ?? Math.max(10, Math.round(top.rounds[0]!.ordersPerS / 4 / 10) * 10);
      open ??= newLevel("open", maxConns, rate);
      await runLevel(clients, { mode: "open", connections: maxConns, warmupMs, measureMs, maxOrders: args.commands, ratePerS: rate }, open);
    }
    results.push(...closed, open!);
  } finally {
    await clients.stop();
  }
  const metrics = await fetch(`${url.replace("ws:", "http:")}/metrics`).then((r) => r.text()).catch((e: unknown) => `(metrics unavailable: ${String(e)})`);
  const commands = node.loop.commands;
  await node.stop();
  report(results, floor, { wait: `${waitName}: ${describeWait(wait)}`, quick, rounds, warmupMs, measureMs, maxOrders: args.commands, levels, loginMs, source, disk, metrics, commands, journal: node.journalStats, nodeLog, wallS: (performance.now() - wall0) / 1000 });
  return 0;
}

interface RunInfo {
  wait: string;
  quick: boolean;
  rounds: number;
  warmupMs: number;
  measureMs: number;
  maxOrders: number;
  levels: number[];
  loginMs: number;
  source: string;
  disk: string;
  metrics: string;
  commands: number;
  journal: { groups: number; records: number; durableSeq: number } | undefined;
  nodeLog: string[];
  wallS: number;
}

function report(results: LevelResult[], floorHist: Histogram, info: RunInfo): void {
  const metric = (name: string): number => Number(/^(\S+) (\S+)$/m.exec(info.metrics.split("\n").filter((l) => l.startsWith(name + " ")).join("\n"))?.[2] ?? NaN);
  log("");
  log(`results (${info.rounds} round(s) merged; latency from insert_order sent, open loop from its scheduled time)`);
  log(`  ${"load".padEnd(26)} ${"orders/s".padStart(9)}   ${"insert -> ALIVE: p50 / p99 / p99.9 / max".padEnd(40)}   ${"insert -> fill: p50 / p99 / p99.9 / max".padEnd(40)}  samples`);
  for (const lv of results) {
    const rate = median(lv.rounds.map((r) => r.ordersPerS));
    const name = lv.mode === "closed" ? `closed loop, ${lv.connections} conn` : `open loop, ${lv.connections} conn, ${fmtInt(lv.ratePerS)}/s`;
    log(`  ${name.padEnd(26)} ${fmtInt(rate).padStart(9)}   ${pctCols(pct(lv.alive)).padEnd(40)}   ${pctCols(pct(lv.fill)).padEnd(40)}  ${fmtInt(lv.alive.totalCount)} + ${fmtInt(lv.fill.totalCount)}`);
    if (lv.mode === "open") log(`  ${"  same, from the send".padEnd(26)} ${"".padStart(9)}   ${pctCols(pct(lv.aliveSend)).padEnd(40)}   ${pctCols(pct(lv.fillSend)).padEnd(40)}`);
  }
  const floor = pct(floorHist);
  log(`  ${"floor: append + fdatasync".padEnd(26)} ${"".padStart(9)}   ${pctCols(floor).padEnd(40)}   ${"".padEnd(40)}  ${fmtInt(floor.count)}`);
  log("");
  log(`orders/s by round: ${results.map((lv) => `${lv.mode} ${lv.connections}: ${lv.rounds.map((r) => fmtInt(r.ordersPerS)).join(" / ")}`).join("; ")}`);
  log(`passive orders first seen already filled (ALIVE folded into the fill): ${results.map((lv) => `${lv.mode} ${lv.connections}: ${fmtInt(lv.aliveFolded)}`).join(", ")}; fills without their trade in the same rtn_data: ${results.reduce((s, lv) => s + lv.fillWithoutTrade, 0)}`);
  const open = results.find((lv) => lv.mode === "open");
  if (open !== undefined) log(`open loop: most orders in flight ${Math.max(...open.rounds.map((r) => r.maxInFlight))}; worst send behind schedule ${Math.max(...open.rounds.map((r) => r.sendLateMaxMs)).toFixed(2)} ms (the client's timers)`);
  const j = info.journal;
  log(`node: ${fmtInt(info.commands)} commands applied; journal ${j === undefined ? "stats unavailable" : `${fmtInt(j.records)} records in ${fmtInt(j.groups)} commits (${(j.records / Math.max(1, j.groups)).toFixed(1)} per fdatasync)`}; gateway: ${fmtInt(metric("venue_gateway_orders_sent_total"))} orders sent, ${fmtInt(metric("venue_gateway_rtn_data_total"))} rtn_data, ${fmtInt(metric("venue_gateway_rate_limited_total"))} rate-limited, ${fmtInt(metric("venue_gateway_rejected_input_total"))} refused inputs`);
  const problems = info.nodeLog.filter((l) => /fail|error|fenced|cut off/i.test(l));
  for (const l of problems) log(`node log: ${l}`);
  log(`wall time ${info.wallS.toFixed(1)} s; load average at end ${os.loadavg().map((x) => x.toFixed(2)).join(" ")}`);

  mkdirSync(OUT, { recursive: true });
  const svg = join(OUT, "gateway_rtt.svg");
  writeFileSync(svg, percentileSvg(results, `DIFF gateway round trip, ${new Date().toISOString().slice(0, 10)}, ${info.source}`));
  const file = join(OUT, "gateway_rtt.json");
  const cpus = os.cpus();
  const levelJson = results.map((lv) => ({
    mode: lv.mode,
    connections: lv.connections,
    ratePerS: lv.ratePerS,
    ordersPerS: median(lv.rounds.map((r) => r.ordersPerS)),
    rounds: lv.rounds,
    aliveNs: pct(lv.alive),
    fillNs: pct(lv.fill),
    ...(lv.mode === "open" ? { aliveFromSendNs: pct(lv.aliveSend), fillFromSendNs: pct(lv.fillSend) } : {}),
    aliveFolded: lv.aliveFolded,
    fillWithoutTrade: lv.fillWithoutTrade,
  }));
  writeFileSync(
    file,
    JSON.stringify(
      {
        benchmark: "gateway_rtt",
        date: new Date().toISOString(),
        quick: info.quick,
        params: { rounds: info.rounds, warmupMs: info.warmupMs, measureMs: info.measureMs, maxOrders: info.maxOrders, levels: info.levels, messagesPerSecond: MESSAGES_PER_SECOND, ordersPerSecond: ORDERS_PER_SECOND },
        machine: { cpu: cpus[0]?.model ?? "unknown", logicalCpus: cpus.length, availableParallelism: os.availableParallelism(), memoryBytes: os.totalmem(), platform: `${os.platform()} ${os.release()} ${os.arch()}`, node: process.version },
        disk: info.disk,
        source: info.source,
        wait: info.wait,
        loginMs: info.loginMs,
        levels: levelJson,
        floorFdatasyncNs: floor,
        node: { commands: info.commands, journal: info.journal },
        wallSeconds: info.wallS,
      },
      null,
      2,
    ),
  );
  log(`wrote ${file} and ${svg}`);
}

if (process.env[ROLE_ENV] === "client") {
  await clientMain();
} else {
  let code = 1;
  try {
    code = await main();
  } catch (e) {
    process.stderr.write(`gateway round trip benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    code = 1;
  } finally {
    rmSync(TMP, { recursive: true, force: true });
  }
  // Exit explicitly: a node or child left behind by a failure must not keep the process alive.
  process.exit(code);
}
