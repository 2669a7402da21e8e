/**
 * The market-data worker: a gating consumer of the trades and l2 rings (released up to the
 * durable sequence) that keeps the market-data model (DiffMarket over MarketData) and
 * sends the DIFF gateway what changed, over a MessagePort (the messages are described in
 * diff_market.ts).
 *
 * At start it seeds every instrument and book from the engine's state as the node hands
 * it over, after reading every stored trade through the model (so k-line bars keep their
 * ids across restarts), and tells the node `historyRead` (the node opens the event store
 * for writing only after every reader is done). Its first update to the gateway holds
 * every quote whole.
 */

import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer, type RecordHandler } from "../bus/ring.ts";
import { EventView } from "../schema/event.ts";
import { Buf } from "../schema/layout.ts";
import { NodeStatus } from "../schema/control.ts";
import type { InstrumentParams } from "../schema/command.ts";
import { Catalog } from "../catalog/catalog.ts";
import { EventStore } from "../store/event_store.ts";
import { DiffMarket, MarketPublisher } from "./diff_market.ts";

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
  /** The gateway's end of the channel. */
  port: MessagePort;
  /** Updates the gateway may leave unanswered (default 4). */
  credit?: number;
}

/** Reads every stored trade through the model. Logs what it read and how long it took. */
function readTrades(storeDir: string, instruments: number, market: DiffMarket, log: (line: string) => void): void {
  const t0 = performance.now();
  const store = EventStore.open(storeDir, { background: false });
  try {
    const scratch = Buf.alloc(1 << 16);
    const view = new EventView(scratch);
    const all = Array.from({ length: instruments }, (_, i) => i);
    let trades = 0;
    let lastLog = t0;
    store.historyMerged("trades", all, 1, (bytes) => {
      scratch.u8.set(bytes);
      market.onEvent(view.wrap(scratch, 0));
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
    log(`market data: history read in ${(performance.now() - t0).toFixed(0)} ms: ${trades} trades for the k-lines and the day's statistics`);
  } finally {
    store.tree.closeSync();
  }
}

export async function runMarket(d: MarketWorkerData, log: (line: string) => void, stopped: () => boolean): Promise<void> {
  const control = new Control(d.control);
  const catalog = Catalog.open(d.catalogDir);
  const market = new DiffMarket((symbol: string) => catalog.getInstrument(symbol));
  d.seed.instruments.forEach((params, i) => market.seedInstrument(i, params));
  if (d.history !== undefined) readTrades(d.history.storeDir, d.seed.instruments.length, market, log);
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

  try {
    while (!stopped() && control.status !== NodeStatus.fenced) {
      const durableSeen = control.durableLo();
      // l2 first: an instrument is defined there before its first trade.
      const n = l2.poll(onEvent) + trades.poll(onEvent);
      publisher.update();
      if (n > 0) await yieldToEventLoop();
      // Until the journal makes more durable (at most 1 ms: a topic published just after
      // the durable seq moved is seen at the next pass, and an ack waiting for is read).
      else await control.durableMoved(durableSeen, 1);
    }
  } finally {
    publisher.close();
    await catalog.close();
  }
}

if (parentPort !== null && (workerData as { market?: MarketWorkerData } | undefined)?.market !== undefined) {
  let stop = false;
  parentPort.on("message", (m: { stop?: boolean }) => {
    if (m.stop === true) stop = true;
  });
  const log = (line: string): void => parentPort!.postMessage({ log: line });
  await runMarket((workerData as { market: MarketWorkerData }).market, log, () => stop);
  parentPort.postMessage({ stopped: true });
  process.exit(0);
}
