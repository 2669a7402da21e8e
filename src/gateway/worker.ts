/**
 * The gateway worker: a gating consumer of the accounts ring (released up to the durable
 * sequence) and the DIFF gateway over WebSocket. Quotes and k-lines come from the
 * market-data worker (src/market/worker.ts) over a MessagePort. Commands go to the engine
 * through this worker's inbound ring.
 *
 * It starts from the engine's state as the node hands it over (account ids, account and
 * position events, resting orders), which is durable: the node builds it before its loop
 * runs. Events then arrive through the ring, each command's as one transaction. It listens
 * once the market-data worker's first update (every quote) is in.
 */

import { parentPort, type MessagePort } from "node:worker_threads";
import { workerMain } from "../node/worker_main.ts";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Control } from "../bus/control.ts";
import { InboundProducer } from "../bus/inbound.ts";
import { Ring, RingConsumer, type RecordHandler } from "../bus/ring.ts";
import { EventKind, EventView, NO_ACCOUNT } from "../schema/event.ts";
import { EventStore } from "../store/event_store.ts";
import { chinaDate } from "../market/time.ts";
import { Buf } from "../schema/layout.ts";
import { NodeStatus } from "../schema/control.ts";
import { CommandKind, CommandView, writeCancel, writeDefineInstrument, writeNewOrder, writeMark, writeSetTradingState, writeSettle, writeTransfer, type InstrumentParams } from "../schema/command.ts";
import { AdminApi, type AdminOptions, type AdminSink } from "./admin.ts";
import { nameOf, type Offset, type OrderType, type Side, type Tif } from "../schema/codes.ts";
import { Gateway, type CommandSink, type GatewayOptions } from "./gateway.ts";
import { startServer, type ServerOptions } from "./server.ts";
import type { LiveOrder } from "./trade_view.ts";
import { openAuth } from "./auth.ts";
import { MarketMirror } from "./market_mirror.ts";
import { PromText } from "../node/metrics.ts";

export interface GatewaySeed {
  /** Engine instruments by index, as defined there. */
  instruments: InstrumentParams[];
  accountNames: string[];
  /** Account and position events of every account (EventBuffer bytes). */
  stateEvents: Uint8Array;
  orders: LiveOrder[];
}

export interface GatewayWorkerData {
  control: SharedArrayBuffer;
  topics: { accounts: { ring: SharedArrayBuffer; slot: number } };
  /** The market-data worker's end of the channel. */
  market: MessagePort;
  inbound: SharedArrayBuffer;
  catalogDir: string;
  server: Partial<ServerOptions>;
  gateway: Partial<GatewayOptions>;
  seed: GatewaySeed;
  /** Password hashing threads (default 1). */
  hashThreads?: number;
  /** Their nice value (default 10). */
  hashNice?: number;
  admin?: Partial<AdminOptions>;
  /**
   * The event store to read history from at start, before anything else opens it (the
   * node starts its storage worker when this worker says `historyRead`): the current
   * trading day's order, trade and transfer events (from `dayFromSeq`), for the trade trees.
   */
  history?: { storeDir: string; dayFromSeq: number };
}

/** Accounts-topic kinds a trade tree is rebuilt from (accounts and positions come from the state). */
const DAY_KINDS = new Set<number>([EventKind.accepted, EventKind.rejected, EventKind.updated, EventKind.trade, EventKind.transfer]);

/**
 * Reads the day's order, trade and transfer events from the event store into the trade
 * trees. Logs what it read and how long it took.
 */
function readHistory(h: NonNullable<GatewayWorkerData["history"]>, instruments: number, seedTrades: (dayEvents: (visit: (e: EventView) => void) => void) => void, log: (line: string) => void): { dayEndedNs: bigint | undefined } {
  const t0 = performance.now();
  const store = EventStore.open(h.storeDir, { background: false });
  try {
    const scratch = Buf.alloc(1 << 16);
    const view = new EventView(scratch);
    const wrap = (bytes: Uint8Array): EventView => {
      scratch.u8.set(bytes);
      return view.wrap(scratch, 0);
    };
    const all = Array.from({ length: instruments }, (_, i) => i);
    let dayEvents = 0;
    seedTrades((visit) => {
      store.historyMerged("accounts", [...all, NO_ACCOUNT], h.dayFromSeq, (bytes) => {
        if (!DAY_KINDS.has(bytes[0]!)) return;
        dayEvents++;
        visit(wrap(bytes));
      });
    });
    log(`gateway: history read in ${(performance.now() - t0).toFixed(0)} ms: ${dayEvents} order, trade and transfer events of the trading day (from seq ${h.dayFromSeq})`);
    // When the last trading day ended: the day shown is the one after it, at the earliest.
    let dayEndedNs: bigint | undefined;
    if (h.dayFromSeq > 1) {
      store.history("accounts", NO_ACCOUNT, h.dayFromSeq - 1, h.dayFromSeq - 1, (bytes) => {
        const e = wrap(bytes);
        if (e.kind === EventKind.dayEnded) dayEndedNs = e.timestampNs;
      });
    }
    return { dayEndedNs };
  } finally {
    store.tree.closeSync();
  }
}

function* events(bytes: Uint8Array): Generator<EventView> {
  const buf = Buf.alloc(Math.max(8, (bytes.byteLength + 7) & ~7));
  buf.u8.set(bytes);
  const view = new EventView(buf);
  for (let at = 0; at < bytes.byteLength; at += buf.dv.getUint16(at + 2, true)) yield view.wrap(buf, at);
}

export async function runGateway(d: GatewayWorkerData, log: (line: string) => void, stopped: () => boolean): Promise<void> {
  const control = new Control(d.control);
  const inbound = new InboundProducer(new Ring(d.inbound, "gateway inbound"), control);
  const sink: CommandSink = {
    newOrder: (f) => inbound.submit((b, o) => writeNewOrder(b, o, { ...f, side: f.side as Side, orderType: f.orderType as OrderType, tif: f.tif as Tif, offset: f.offset as Offset })),
    cancel: (f) => inbound.submit((b, o) => writeCancel(b, o, f)),
    transfer: (kind, account, currency, amount) => inbound.submit((b, o) => writeTransfer(b, o, kind === CommandKind.deposit ? CommandKind.deposit : CommandKind.withdraw, account, currency, amount)),
    flush: () => inbound.flush(),
    // Backed up: less than a quarter of the ring free (the loop drains it within a batch
    // unless something downstream, such as a slow disk, holds it).
    busy: () => inbound.free() < inbound.ring.capacity / 4,
    full: () => inbound.free() < inbound.ring.capacity / 16,
  };
  const auth = await openAuth(d.catalogDir, { threads: d.hashThreads ?? 1, ...(d.hashNice === undefined ? {} : { nice: d.hashNice }) });
  const clock = { nowMs: () => Date.now(), nowNs: () => BigInt(Date.now()) * 1_000_000n };
  const market = new MarketMirror(d.market);
  const gw = new Gateway(auth, sink, market, (symbol) => auth.catalog.getInstrument(symbol), clock, d.gateway);
  market.onUpdate = (u) => {
    gw.quotesChanged(u.quotes);
    for (const c of u.series) gw.seriesChanged(c.symbol, c.duration, c.top, c.lastId);
    gw.l2Changed(u.l2);
    gw.flush();
  };
  gw.audit = log;
  gw.statements = { put: (account, day, text) => auth.catalog.putStatement(account, day, text), get: (account, day) => auth.catalog.getStatement(account, day) };

  // The state at start, with the history the event store holds.
  d.seed.instruments.forEach((params, i) => gw.defineInstrument(i, params.symbol));
  const seedTrades = (dayEvents?: (visit: (e: EventView) => void) => void): void => gw.seed(d.seed.accountNames, events(d.seed.stateEvents), d.seed.orders, dayEvents);
  if (d.history !== undefined) {
    const { dayEndedNs } = readHistory(d.history, d.seed.instruments.length, seedTrades, log);
    // A settle moved the trading day on before this start: show the day after it, if later.
    if (dayEndedNs !== undefined) {
      const after = gw.trade.calendar.next(chinaDate(Number(dayEndedNs / 1_000_000_000n)));
      if (after > gw.trade.tradingDay) gw.trade.tradingDay = after;
    }
  } else {
    seedTrades();
  }
  parentPort?.postMessage({ historyRead: true });

  const accounts = new RingConsumer(new Ring(d.topics.accounts.ring, "accounts"), d.topics.accounts.slot, { wait: { kind: "park", parkMs: 20 }, durable: control.durableGate });
  const cmd = new CommandView(Buf.alloc(8));
  let openSeq = -1;
  const acctView = new EventView(Buf.alloc(8));
  const onAccount: RecordHandler = (buf, offset) => {
    const e = acctView.wrap(buf, offset);
    const seq = e.seq;
    if (seq !== openSeq) {
      if (openSeq >= 0) gw.endCommand();
      openSeq = seq;
    }
    // An instrument is defined on this topic before any order or position names it.
    if (e.kind === EventKind.instrument) gw.defineInstrument(e.instrument, cmd.wrap(buf, offset).symbol());
    else gw.onAccountEvent(e);
  };

  const adminSink: AdminSink = {
    defineInstrument: (p) => inbound.submit((b, o) => writeDefineInstrument(b, o, p)),
    setTradingState: (instrument, state) => inbound.submit((b, o) => writeSetTradingState(b, o, instrument, state)),
    mark: (instrument) => inbound.submit((b, o) => writeMark(b, o, instrument)),
    settle: () => inbound.submit((b, o) => writeSettle(b, o)),
    transfer: sink.transfer,
    flush: sink.flush,
  };
  const admin = new AdminApi(auth, gw, adminSink, clock.nowMs, log, d.admin);
  const nodeMetrics = nodeMetricsClient();
  const metrics = async (): Promise<string> => {
    const node = await nodeMetrics();
    if (node === undefined) return `# venue node metrics: the main thread did not answer within ${NODE_METRICS_TIMEOUT_MS} ms; only the gateway's own follow\n${metricsText(gw, market)}`;
    return node + metricsText(gw, market);
  };
  // Clients see quotes from their first message on.
  await market.ready;
  const server = await startServer(gw, d.server, () => {
    const slow = control.slowCommitMs;
    return { ok: control.status === NodeStatus.running, status: nameOf(NodeStatus, control.status), ...(slow === 0 ? {} : { degraded: `the journal's last group commit took ${slow} ms` }) };
  }, metrics, log, admin);
  parentPort?.postMessage({ listening: { host: server.host, port: server.port } });
  log(`gateway: DIFF over WebSocket on ws://${server.host}:${server.port}/md and /trade`);

  try {
    while (!stopped() && control.status !== NodeStatus.fenced) {
      const durableSeen = control.durableLo();
      const n = accounts.poll(onAccount);
      if (openSeq >= 0) {
        gw.endCommand();
        openSeq = -1;
      }
      if (n > 0) {
        gw.flush();
        await yieldToEventLoop();
      } else {
        // Until the journal makes more durable (at most 1 ms: a topic published just after
        // the durable seq moved is seen at the next pass).
        await control.durableMoved(durableSeen, 1);
      }
    }
  } finally {
    market.close();
    await server.close();
    await auth.close();
  }
}

/** How long GET /metrics waits for the main thread's part of the metrics. */
const NODE_METRICS_TIMEOUT_MS = 2_000;

/**
 * GET /metrics serves the whole node's metrics: this asks the main thread for its part
 * (`{ metricsRequest: id }`, answered with `{ metricsReply: id, text }` between engine loop
 * slices) and resolves with the text, or undefined if no answer came within
 * NODE_METRICS_TIMEOUT_MS. Outside a worker there is no node part: it resolves with "".
 */
function nodeMetricsClient(): () => Promise<string | undefined> {
  const port = parentPort;
  if (port === null) return () => Promise.resolve("");
  let nextId = 1;
  const waiting = new Map<number, (text: string) => void>();
  port.on("message", (m: { metricsReply?: number; text?: string }) => {
    if (m.metricsReply === undefined) return;
    const answer = waiting.get(m.metricsReply);
    waiting.delete(m.metricsReply);
    answer?.(m.text ?? ""); // a reply after its timeout finds no one waiting
  });
  return () =>
    new Promise((resolve) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        resolve(undefined);
      }, NODE_METRICS_TIMEOUT_MS);
      waiting.set(id, (text) => {
        clearTimeout(timer);
        resolve(text);
      });
      port.postMessage({ metricsRequest: id });
    });
}

/** The gateway's own metrics (connections, rejects, logins, traffic), Prometheus text. */
function metricsText(gw: Gateway, market: MarketMirror): string {
  const s = gw.stats;
  const p = new PromText();
  p.family("venue_gateway_connections", "gauge", "Open DIFF connections.").sample(s.connections);
  p.family("venue_gateway_connections_opened_total", "counter", "Connections accepted since start.").sample(s.opened);
  const refused = p.family("venue_gateway_connections_refused_total", "counter", "Connections refused before a session existed, by reason: path (404), origin (403), rate (429, new connections a second from one address), capacity and per_ip (503, the connection caps), timeout (408, headers too slow), bad_request (400 or 431).");
  for (const [reason, n] of Object.entries(s.refused)) refused.sample(n, { reason });
  p.family("venue_gateway_rejected_input_total", "counter", "Client messages refused (bad input, not allowed, rate limited).").sample(s.rejectedInput);
  p.family("venue_gateway_rate_limited_total", "counter", "Client messages and orders refused by a rate limit (also counted as rejected input).").sample(s.rateLimited);
  p.family("venue_gateway_logins_total", "counter", "DIFF logins, by result.").sample(s.loginsOk, { result: "ok" }).sample(s.loginsRefused, { result: "refused" });
  p.family("venue_gateway_orders_sent_total", "counter", "New orders the gateway passed to the engine.").sample(s.ordersSent);
  p.family("venue_gateway_busy_refusals_total", "counter", "New orders refused because the way into the engine was backed up (a slow disk holding the loop).").sample(s.busy);
  p.family("venue_gateway_rtn_data_total", "counter", "rtn_data messages sent to clients.").sample(s.rtnData);
  p.family("venue_market_updates_total", "counter", "Updates (quote, k-line and L2 changes) the market-data worker sent the gateway.").sample(market.updates);
  p.family("venue_market_updates_held_total", "counter", "Passes of the market-data worker that found changes while the gateway had not answered its earlier updates: the changes went into a later, coarser update.").sample(market.held);
  return p.text();
}

await workerMain("gateway", runGateway);
