/**
 * The market-data worker: a gating consumer of the trades and l2 rings (released up to the
 * durable sequence) that keeps the market-data model (DiffMarket over MarketData) and
 * sends the DIFF gateway what changed, over a MessagePort (the messages are described in
 * diff_market.ts).
 *
 * At start it seeds every instrument from the engine's state as the node hands it over,
 * restores its last checkpoint (what trades made, as of a seq), reads the stored trades
 * after that seq through the model (so k-line bars keep their ids across restarts), seeds
 * the books, and tells the node `historyRead` (the node opens the event store for writing
 * only after every reader is done). Its first update to the gateway holds every quote
 * whole. It writes a checkpoint every `everyMs` while trades come (parts only for the
 * instruments that changed since the last: checkpoint_file.ts), and when it stops.
 */

import { parentPort, type MessagePort } from "node:worker_threads";
import { workerMain } from "../node/worker_main.ts";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer, type RecordHandler } from "../bus/ring.ts";
import { EventKind, EventView } from "../schema/event.ts";
import { Buf } from "../schema/layout.ts";
import { NodeStatus } from "../schema/control.ts";
import type { InstrumentParams } from "../schema/command.ts";
import { Catalog } from "../catalog/catalog.ts";
import { EventStore } from "../store/event_store.ts";
import { DiffMarket, MarketPublisher } from "./diff_market.ts";
import { MarketCheckpointWriter, readMarketCheckpoint, type PreparedCheckpoint } from "./checkpoint_file.ts";

export interface MarketWorkerData {
  control: SharedArrayBuffer;
  topics: { trades: { ring: SharedArrayBuffer; slot: number }; l2: { ring: SharedArrayBuffer; slot: number } };
  /** The catalog, for the static fields of quotes (exchange, class, names). */
  catalogDir: string;
  seed: {
    /** Engine instruments by index, as defined there. */
    instruments: InstrumentParams[];
    /** Aggregated levels per instrument: [price, qty, orderCount], best first. */
    books: Array<{ bids: Array<[number, number, number]>; asks: Array<[number, number, number]> }>;
  };
  /** The event store whose trades to read at start, before anything opens it for writing. */
  history?: { storeDir: string };
  /**
   * Where the model's checkpoint is kept, how often it is written while trades come (and
   * at stop), and the journal's last seq at start (a checkpoint past it is not used).
   */
  checkpoint?: { dir: string; everyMs: number; lastSeq: number };
  /** The gateway's end of the channel. */
  port: MessagePort;
  /** Updates the gateway may leave unanswered (default 4). */
  credit?: number;
}

/** Reads the stored trades from seq `fromSeq` through the model; returns the last one's seq (0: none). Logs what it read and how long it took. */
function readTrades(storeDir: string, instruments: number, market: DiffMarket, fromSeq: number, log: (line: string) => void): number {
  const t0 = performance.now();
  const store = EventStore.open(storeDir, { background: false });
  try {
    const scratch = Buf.alloc(1 << 16);
    const view = new EventView(scratch);
    const all = Array.from({ length: instruments }, (_, i) => i);
    let trades = 0;
    let lastSeq = 0;
    let lastLog = t0;
    store.historyMerged("trades", all, fromSeq, (bytes) => {
      scratch.u8.set(bytes);
      const e = view.wrap(scratch, 0);
      lastSeq = Math.max(lastSeq, e.seq);
      market.onEvent(e);
      if (++trades % 100_000 === 0) {
        market.takeQuoteChanges();
        market.takeSeriesChanges();
        market.endRound();
        const now = performance.now();
        if (now - lastLog > 2_000) {
          lastLog = now;
          log(`market data: history: ${trades} trades read`);
        }
      }
    });
    market.takeQuoteChanges();
    market.takeSeriesChanges();
    market.endRound();
    log(`market data: history read in ${(performance.now() - t0).toFixed(0)} ms: ${trades} trades for the k-lines and the day's statistics${fromSeq > 1 ? ` (from seq ${fromSeq})` : ""}`);
    return lastSeq;
  } finally {
    store.tree.closeSync();
  }
}

export async function runMarket(d: MarketWorkerData, log: (line: string) => void, stopped: () => boolean): Promise<void> {
  const control = new Control(d.control);
  const catalog = Catalog.open(d.catalogDir);
  const market = new DiffMarket((symbol: string) => catalog.getInstrument(symbol));
  d.seed.instruments.forEach((params, i) => market.seedInstrument(i, params));
  // The model holds every trade up to this seq.
  let tradesThrough = 0;
  let restoredSeq = 0;
  const cp = d.checkpoint;
  if (cp !== undefined) {
    const t0 = performance.now();
    const r = readMarketCheckpoint(cp.dir);
    if (r === undefined) log("market data: no checkpoint yet: every stored trade is read");
    else if ("error" in r) log(`market data: the checkpoint is not used (${r.error}): every stored trade is read`);
    else if (r.seq > cp.lastSeq) log(`market data: the checkpoint of seq ${r.seq} is past the journal's last seq ${cp.lastSeq}, not used: every stored trade is read`);
    else {
      const restored = market.data.restore(r.checkpoint);
      tradesThrough = r.seq;
      restoredSeq = r.seq;
      log(`market data: checkpoint of seq ${r.seq} restored in ${(performance.now() - t0).toFixed(0)} ms (${restored.length} instrument${restored.length === 1 ? "" : "s"})`);
    }
  }
  if (d.history !== undefined) tradesThrough = Math.max(tradesThrough, readTrades(d.history.storeDir, d.seed.instruments.length, market, tradesThrough + 1, log));
  parentPort?.postMessage({ historyRead: true });
  const startNs = BigInt(Date.now()) * 1_000_000n;
  d.seed.instruments.forEach((params, i) => {
    market.seedInstrument(i, params, startNs);
    const book = d.seed.books[i];
    if (book !== undefined) market.seedBook(i, book.bids, book.asks);
  });

  const publisher = new MarketPublisher(market, d.port, d.credit);

  const consumer = (t: { ring: SharedArrayBuffer; slot: number }, name: string): RingConsumer =>
    new RingConsumer(new Ring(t.ring, name), t.slot, { wait: { kind: "park", parkMs: 20 }, durable: control.durableGate });
  const l2 = consumer(d.topics.l2, "l2");
  const trades = consumer(d.topics.trades, "trades");
  const view = new EventView(Buf.alloc(8));
  const onEvent: RecordHandler = (buf, offset) => market.onEvent(view.wrap(buf, offset));
  const onTrade: RecordHandler = (buf, offset) => {
    const e = view.wrap(buf, offset);
    if (e.kind === EventKind.trade) tradesThrough = e.seq;
    market.onEvent(e);
  };
  // Trades read past the checkpoint (or without one) go into the next one.
  let checkpointed = restoredSeq;
  let checkpointAt = performance.now();
  /** The checkpoint being written, if any: one at a time. */
  let writing: Promise<void> | undefined;
  /**
   * Writes the checkpoint if trades came since the last one: the model is copied and
   * encoded on this thread, and the file written and fsynced on libuv's threads while
   * events go on being read. Resolves when it (or the one in flight) is durable.
   */
  let writer: MarketCheckpointWriter | undefined;
  const checkpoint = (why: string): Promise<void> => {
    if (cp === undefined || tradesThrough <= checkpointed || writing !== undefined) return writing ?? Promise.resolve();
    const seq = tradesThrough;
    const t0 = performance.now();
    let p: PreparedCheckpoint;
    try {
      writer ??= new MarketCheckpointWriter(cp.dir);
      p = writer.prepare(seq, market.data);
    } catch (e) {
      log(`market data: writing the checkpoint failed: ${(e as Error).message}`);
      return Promise.resolve();
    }
    const held = performance.now() - t0;
    writing = writer
      .write(p)
      .then(
        () => {
          checkpointed = Math.max(checkpointed, seq);
          log(`market data: checkpoint of seq ${seq} written${why} (${p.files.length} of ${p.instruments} instrument${p.instruments === 1 ? "" : "s"} changed, ${(p.bytes / 1e6).toFixed(1)} MB; the thread held ${held.toFixed(0)} ms for it, the files took ${(performance.now() - t0 - held).toFixed(0)} ms more)`);
        },
        // The next start reads more trades; nothing is lost.
        (e: unknown) => log(`market data: writing the checkpoint failed: ${(e as Error).message}`),
      )
      .finally(() => {
        writing = undefined;
      });
    return writing;
  };

  try {
    while (!stopped() && control.status !== NodeStatus.fenced) {
      const durableSeen = control.durableLo();
      // l2 first: an instrument is defined there before its first trade.
      const n = l2.poll(onEvent) + trades.poll(onTrade);
      publisher.update();
      if (cp !== undefined && performance.now() - checkpointAt >= cp.everyMs) {
        checkpointAt = performance.now();
        void checkpoint("");
      }
      if (n > 0) await yieldToEventLoop();
      // Until the journal makes more durable (at most 1 ms: a topic published just after
      // the durable seq moved is seen at the next pass, and an ack waiting for is read).
      else await control.durableMoved(durableSeen, 1);
    }
  } finally {
    await writing;
    await checkpoint(" at stop");
    publisher.close();
    await catalog.close();
  }
}

await workerMain("market", runMarket);
