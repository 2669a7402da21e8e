/**
 * Matching benchmark: the Venue engine against `nodejs-order-book` (v10) on the same
 * seeded mixed order flow (src/sim/order_flow.ts), in the same process, alternating
 * rounds (Venue, peer, Venue, peer, ...). Checks nothing about correctness beyond a
 * sanity pass; owns only measurement and the report.
 *
 *   npx tsx bench/matching.ts [--quick] [--commands N] [--rounds R] [--seed S]
 *                             [--instruments I] [--accounts A]
 *
 * Per round and engine, on a fresh engine / fresh books:
 *   - a throughput run: the whole flow, one clock read before and after;
 *   - a latency run: the whole flow, each command timed alone with performance.now()
 *     (timer overhead NOT subtracted), recorded into an HDR histogram (perf_hooks).
 * Venue runs pre-encoded, pre-stamped binary commands through `engine.apply` and clears
 * `engine.out` after each command, as the real loop does. The peer gets pre-built argument
 * objects (`limit`, `market`, `cancel`, `modify`), one OrderBook per instrument.
 * Reported figures are medians over rounds. Then, untimed: heap growth per million
 * commands after warm-up (forced GC), RSS, and a sanity pass comparing both final books.
 * Results go to stdout and to .bench-out/matching.json. Single-threaded: no worker or
 * spinning thread takes part.
 */

import { createHistogram, performance, PerformanceObserver, type PerformanceEntry } from "node:perf_hooks";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { OrderBook, Side as PeerSide, type LimitOrderOptions, type MarketOrderOptions } from "nodejs-order-book";
import { Engine } from "../src/engine/engine.ts";
import { EventKind, EventView } from "../src/schema/event.ts";
import { Buf } from "../src/schema/layout.ts";
import { Reason, Side, nameOf } from "../src/schema/codes.ts";
import {
  defineInstruments,
  encodeFlow,
  generateFlow,
  instrumentCommands,
  type EncodedFlow,
  type FlowCommand,
  type FlowTif,
  type InstrumentCommand,
} from "../src/sim/order_flow.ts";
import { benchArgs } from "./args.ts";
import { sourceInfo, type SourceInfo } from "../src/bench/machine.ts";
import { median } from "../src/bench/stats.ts";

// ---------------------------------------------------------------------------------------
// Parameters

const args = benchArgs({ commands: 1_000_000, quickCommands: 20_000 }, ["instruments", "accounts"]);
const quick = args.quick;
const COMMANDS = args.commands;
const ROUNDS = args.rounds;
const SEED = args.seed;
const INSTRUMENTS = args.extra["instruments"] ?? 4;
const ACCOUNTS = args.extra["accounts"] ?? 1000;
const WARMUP = Math.min(COMMANDS, quick ? 5_000 : 100_000);

const TARGET_THROUGHPUT = 2_000_000;
const TARGET_RATIO = 10;
const TARGET_P99_NS = 5_000;

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

// ---------------------------------------------------------------------------------------
// Venue

function newVenue(defs: readonly InstrumentCommand[]): Engine {
  const e = new Engine();
  defineInstruments(e, defs);
  return e;
}

function venueThroughput(e: Engine, enc: EncodedFlow, n: number): number {
  const { buf, offsets } = enc;
  const out = e.out;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    e.apply(buf, offsets[i]!);
    out.clear();
  }
  return performance.now() - t0;
}

function venueLatency(e: Engine, enc: EncodedFlow, n: number, lat: Float64Array): number {
  const { buf, offsets } = enc;
  const out = e.out;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const off = offsets[i]!;
    const t0 = performance.now();
    e.apply(buf, off);
    out.clear();
    lat[i] = performance.now() - t0;
  }
  return performance.now() - start;
}

// ---------------------------------------------------------------------------------------
// Peer: nodejs-order-book, one OrderBook per instrument

// Its TimeInForce enum is not exported from the package index; these are its values.
type PeerTif = NonNullable<LimitOrderOptions["timeInForce"]>;
const PEER_TIF = { gtc: "GTC", ioc: "IOC", fok: "FOK" } as unknown as Record<FlowTif, PeerTif>;

const OP_LIMIT = 0;
const OP_MARKET = 1;
const OP_CANCEL = 2;
const OP_MODIFY = 3;

type PeerOp =
  | { k: typeof OP_LIMIT; b: number; o: LimitOrderOptions }
  | { k: typeof OP_MARKET; b: number; o: MarketOrderOptions }
  | { k: typeof OP_CANCEL; b: number; id: string }
  | { k: typeof OP_MODIFY; b: number; id: string; u: { price: number; size: number } };

function peerOps(flow: readonly FlowCommand[], defs: readonly InstrumentCommand[]): PeerOp[] {
  const book = new Map(defs.map((d, i) => [d.symbol, i]));
  return flow.map((c): PeerOp => {
    const b = book.get(c.symbol)!;
    const side = c.side === "buy" ? PeerSide.BUY : PeerSide.SELL;
    switch (c.kind) {
      case "new":
        return c.type === "market"
          ? { k: OP_MARKET, b, o: { side, size: c.qty } }
          : { k: OP_LIMIT, b, o: { id: c.id, side, size: c.qty, price: c.price, timeInForce: PEER_TIF[c.tif] } };
      case "cancel":
        return { k: OP_CANCEL, b, id: c.id };
      case "amend":
        return { k: OP_MODIFY, b, id: c.id, u: { price: c.price, size: c.qty } };
    }
  });
}

function newPeer(instruments: number): OrderBook[] {
  const books: OrderBook[] = [];
  for (let i = 0; i < instruments; i++) books.push(new OrderBook());
  return books;
}

function peerApply(books: OrderBook[], op: PeerOp): void {
  const book = books[op.b]!;
  switch (op.k) {
    case OP_LIMIT: book.limit(op.o); return;
    case OP_MARKET: book.market(op.o); return;
    case OP_CANCEL: book.cancel(op.id); return;
    case OP_MODIFY: book.modify(op.id, op.u); return;
  }
}

function peerThroughput(books: OrderBook[], ops: readonly PeerOp[], n: number): number {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) peerApply(books, ops[i]!);
  return performance.now() - t0;
}

function peerLatency(books: OrderBook[], ops: readonly PeerOp[], n: number, lat: Float64Array): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    const t0 = performance.now();
    peerApply(books, op);
    lat[i] = performance.now() - t0;
  }
  return performance.now() - start;
}

// ---------------------------------------------------------------------------------------
// Measurement helpers

interface Percentiles { p50: number; p99: number; p999: number; max: number; mean: number }

function percentiles(lat: Float64Array, n: number): Percentiles {
  const h = createHistogram();
  for (let i = 0; i < n; i++) h.record(Math.max(1, Math.round(lat[i]! * 1e6)));
  return { p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9), max: h.max, mean: h.mean };
}

const KIND_NAMES = ["new limit gtc", "new limit ioc", "new limit fok", "new market", "cancel", "amend"] as const;

function kindIndex(c: FlowCommand): number {
  if (c.kind === "cancel") return 4;
  if (c.kind === "amend") return 5;
  if (c.type === "market") return 3;
  return c.tif === "gtc" ? 0 : c.tif === "ioc" ? 1 : 2;
}

/** p50 / p99 / p99.9 / max per command kind, in ns. */
function percentilesByKind(lat: Float64Array, n: number, kinds: Uint8Array): Record<string, Percentiles & { count: number }> {
  const hs = KIND_NAMES.map(() => createHistogram());
  for (let i = 0; i < n; i++) hs[kinds[i]!]!.record(Math.max(1, Math.round(lat[i]! * 1e6)));
  const out: Record<string, Percentiles & { count: number }> = {};
  KIND_NAMES.forEach((name, k) => {
    const h = hs[k]!;
    if (h.count > 0) out[name] = { count: h.count, p50: h.percentile(50), p99: h.percentile(99), p999: h.percentile(99.9), max: h.max, mean: h.mean };
  });
  return out;
}


const gcEntries: PerformanceEntry[] = [];
const gcObserver = new PerformanceObserver((list) => { for (const e of list.getEntries()) gcEntries.push(e); });
gcObserver.observe({ entryTypes: ["gc"] });
// GC entries reach the observer only after a timer turn of the event loop.
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 50));

/** GC pauses (count, total ms) that started inside [t0, t1] (performance.now() time). */
async function gcBetween(t0: number, t1: number): Promise<{ count: number; ms: number }> {
  await settle();
  let count = 0;
  let ms = 0;
  for (const e of gcEntries) if (e.startTime >= t0 && e.startTime <= t1) { count++; ms += e.duration; }
  return { count, ms };
}

function timerOverheadNs(): number {
  const samples = new Float64Array(200_001);
  for (let i = 0; i < samples.length; i++) {
    const t0 = performance.now();
    samples[i] = performance.now() - t0;
  }
  return percentiles(samples, samples.length).p50;
}

/** The commit and the files under src/ and bench/ that differ from it (src/bench/machine.ts). */
const gitInfo = (): SourceInfo => sourceInfo(join(import.meta.dirname, ".."), ["src", "bench"]);

const mb = (bytes: number): number => Math.round(bytes / 1048576 * 10) / 10;
const fmtBytes = (b: number): string => (Math.abs(b) >= 1048576 ? `${mb(b)} MB` : `${Math.round(b / 1024)} KB`);
const fmtRate = (r: number): string => `${(r / 1e6).toFixed(2)}M/s`;
const fmtNs = (ns: number): string => (ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} µs` : `${Math.round(ns)} ns`);
const log = (line = ""): void => { process.stdout.write(line + "\n"); };

// ---------------------------------------------------------------------------------------
// Untimed passes: heap growth and sanity

interface HeapResult { warmupCommands: number; measuredCommands: number; heapGrowthPerMillion: number; arrayBuffersGrowthPerMillion: number; heapUsedBefore: number; heapUsedAfter: number; arrayBuffersBefore: number; arrayBuffersAfter: number }

function memSample(): { heapUsed: number; arrayBuffers: number; external: number } {
  gc();
  gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external };
}

interface VenueSanity { trades: number; eventsPerCommand: number; rejected: Record<string, number>; resting: number; levelsPerSide: number[]; books: Array<{ bids: number; bidQty: number; asks: number; askQty: number }> }

/** Heap growth across the last 3/4 of the flow (after a 1/4 warm-up), with counts for the sanity check. */
function venueHeapAndSanity(defs: readonly InstrumentCommand[], enc: EncodedFlow, n: number): { heap: HeapResult; sanity: VenueSanity; engineBytes: number } {
  const base = memSample();
  const e = newVenue(defs);
  const out = e.out;
  const ev = new EventView(Buf.alloc(8));
  const warm = Math.floor(n / 4);
  let trades = 0;
  let events = 0;
  const rejected = new Map<number, number>();
  const run = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      e.apply(enc.buf, enc.offsets[i]!);
      for (let o = 0; o < out.length; o += ev.size) {
        ev.wrap(out.buf, o);
        events++;
        const k = ev.kind;
        if (k === EventKind.trade) trades++;
        else if (k === EventKind.rejected) rejected.set(ev.reason, (rejected.get(ev.reason) ?? 0) + 1);
      }
      out.clear();
    }
  };
  run(0, warm);
  const before = memSample();
  run(warm, n);
  const after = memSample();
  e.checkInvariants();
  const perM = 1e6 / Math.max(1, n - warm);
  const books = [];
  const levels: number[] = [];
  for (let i = 0; i < defs.length; i++) {
    const bids = e.depth(i, Side.buy);
    const asks = e.depth(i, Side.sell);
    books.push({ bids: bids.length, bidQty: bids.reduce((s, l) => s + l[1], 0), asks: asks.length, askQty: asks.reduce((s, l) => s + l[1], 0) });
    levels.push(bids.length, asks.length);
  }
  const rej: Record<string, number> = {};
  for (const [r, c] of rejected) rej[nameOf(Reason, r)] = c;
  return {
    heap: {
      warmupCommands: warm, measuredCommands: n - warm,
      heapGrowthPerMillion: (after.heapUsed - before.heapUsed) * perM,
      arrayBuffersGrowthPerMillion: (after.arrayBuffers - before.arrayBuffers) * perM,
      heapUsedBefore: before.heapUsed, heapUsedAfter: after.heapUsed, arrayBuffersBefore: before.arrayBuffers, arrayBuffersAfter: after.arrayBuffers,
    },
    sanity: { trades, eventsPerCommand: events / n, rejected: rej, resting: e.orders.live, levelsPerSide: levels, books },
    engineBytes: after.heapUsed + after.arrayBuffers - base.heapUsed - base.arrayBuffers,
  };
}

interface PeerSanity { errors: Record<string, number>; books: Array<{ bids: number; bidQty: number; asks: number; askQty: number }> }

function peerHeapAndSanity(ops: readonly PeerOp[], instruments: number, n: number): { heap: HeapResult; sanity: PeerSanity } {
  const books = newPeer(instruments);
  const errors = new Map<string, number>();
  const warm = Math.floor(n / 4);
  const run = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const op = ops[i]!;
      const book = books[op.b]!;
      let err: { message: string } | null = null;
      switch (op.k) {
        case OP_LIMIT: err = book.limit(op.o).err; break;
        case OP_MARKET: err = book.market(op.o).err; break;
        case OP_CANCEL: if (book.cancel(op.id) === undefined) err = { message: "cancel: order not found" }; break;
        case OP_MODIFY: err = book.modify(op.id, op.u).err; break;
      }
      if (err !== null) errors.set(err.message, (errors.get(err.message) ?? 0) + 1);
    }
  };
  run(0, warm);
  const before = memSample();
  run(warm, n);
  const after = memSample();
  const perM = 1e6 / Math.max(1, n - warm);
  const out: Record<string, number> = {};
  for (const [m, c] of errors) out[m] = c;
  return {
    heap: {
      warmupCommands: warm, measuredCommands: n - warm,
      heapGrowthPerMillion: (after.heapUsed - before.heapUsed) * perM,
      arrayBuffersGrowthPerMillion: (after.arrayBuffers - before.arrayBuffers) * perM,
      heapUsedBefore: before.heapUsed, heapUsedAfter: after.heapUsed, arrayBuffersBefore: before.arrayBuffers, arrayBuffersAfter: after.arrayBuffers,
    },
    sanity: {
      errors: out,
      books: books.map((b) => {
        const [asks, bids] = b.depth();
        return { bids: bids.length, bidQty: bids.reduce((s, l) => s + l[1], 0), asks: asks.length, askQty: asks.reduce((s, l) => s + l[1], 0) };
      }),
    },
  };
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<void> {
  const wall0 = performance.now();
  const cpus = os.cpus();
  const machine = {
    cpu: cpus[0]?.model ?? "unknown", logicalCpus: cpus.length, availableParallelism: os.availableParallelism(),
    totalMemGB: Math.round(os.totalmem() / 1073741824), platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version, v8: process.versions.v8,
  };
  log(`matching benchmark${quick ? " (--quick)" : ""}: Venue engine vs nodejs-order-book@10 on the same flow`);
  log(`machine: ${machine.cpu}, ${machine.logicalCpus} logical CPUs, ${machine.totalMemGB} GB, ${machine.platform}, Node ${machine.node} (V8 ${machine.v8})`);
  log(`threads: matching on the main thread only; no worker or spinning thread (wait strategy: none)`);
  const git = gitInfo();
  const loadStart = os.loadavg();
  log(`source: commit ${git.commit}${git.dirty.length > 0 ? ` + uncommitted changes in ${git.dirty.join(", ")}` : ""}; load average at start ${loadStart.map((x) => x.toFixed(2)).join(" ")}`);

  const defs = instrumentCommands(INSTRUMENTS);
  let t = performance.now();
  const flow = generateFlow({ seed: SEED, commands: COMMANDS, instruments: INSTRUMENTS, accounts: ACCOUNTS });
  const genMs = performance.now() - t;
  const mix: Record<string, number> = {};
  for (const c of flow) {
    const k = c.kind === "new" ? (c.type === "market" ? "new market" : `new limit ${c.tif}`) : c.kind;
    mix[k] = (mix[k] ?? 0) + 1;
  }
  const mixText = Object.entries(mix).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${(100 * v / COMMANDS).toFixed(1)}%`).join(", ");
  log(`flow: seed ${SEED}, ${COMMANDS} commands, ${INSTRUMENTS} instruments, ${ACCOUNTS} accounts (generated in ${(genMs / 1000).toFixed(1)} s)`);
  log(`  mix: ${mixText}`);

  t = performance.now();
  const template = newVenue(defs);
  const enc = encodeFlow(flow, template, { firstSeq: defs.length + 1 });
  const ops = peerOps(flow, defs);
  log(`  pre-built: ${mb(enc.buf.byteLength)} MB of binary commands; ${ops.length} peer argument objects (${((performance.now() - t) / 1000).toFixed(1)} s)`);

  const kinds = new Uint8Array(COMMANDS);
  flow.forEach((c, i) => { kinds[i] = kindIndex(c); });
  const lat = new Float64Array(COMMANDS);
  const overhead = timerOverheadNs();
  log(`timing: throughput runs read the clock twice per run; latency runs time each command with performance.now() (overhead of one back-to-back pair: ~${fmtNs(overhead)}, not subtracted)`);

  // Warm-up (not reported): a prefix of the flow through each engine, twice.
  for (let w = 0; w < 2; w++) {
    venueThroughput(newVenue(defs), enc, WARMUP);
    venueLatency(newVenue(defs), enc, WARMUP, lat);
    peerThroughput(newPeer(INSTRUMENTS), ops, WARMUP);
    peerLatency(newPeer(INSTRUMENTS), ops, WARMUP, lat);
  }

  interface Gc { count: number; ms: number }
  interface Round { venueRate: number; peerRate: number; venueLat: Percentiles; peerLat: Percentiles; venueGc: Gc; peerGc: Gc; venueLatGc: Gc; peerLatGc: Gc }
  const rounds: Round[] = [];
  let venueByKind: ReturnType<typeof percentilesByKind> = {};
  let peerByKind: ReturnType<typeof percentilesByKind> = {};
  for (let r = 0; r < ROUNDS; r++) {
    gc();
    let e = newVenue(defs);
    let t0 = performance.now();
    const vMs = venueThroughput(e, enc, COMMANDS);
    const venueGc = await gcBetween(t0, performance.now());
    gc();
    let books = newPeer(INSTRUMENTS);
    t0 = performance.now();
    const pMs = peerThroughput(books, ops, COMMANDS);
    const peerGc = await gcBetween(t0, performance.now());
    gc();
    e = newVenue(defs);
    t0 = performance.now();
    venueLatency(e, enc, COMMANDS, lat);
    const venueLatGc = await gcBetween(t0, performance.now());
    const venueLat = percentiles(lat, COMMANDS);
    venueByKind = percentilesByKind(lat, COMMANDS, kinds);
    gc();
    books = newPeer(INSTRUMENTS);
    t0 = performance.now();
    peerLatency(books, ops, COMMANDS, lat);
    const peerLatGc = await gcBetween(t0, performance.now());
    const peerLat = percentiles(lat, COMMANDS);
    peerByKind = percentilesByKind(lat, COMMANDS, kinds);
    const round: Round = { venueRate: COMMANDS / (vMs / 1000), peerRate: COMMANDS / (pMs / 1000), venueLat, peerLat, venueGc, peerGc, venueLatGc, peerLatGc };
    rounds.push(round);
    log(`  round ${r + 1}/${ROUNDS}: Venue ${fmtRate(round.venueRate)} (p99 ${fmtNs(venueLat.p99)}), ` +
      `peer ${fmtRate(round.peerRate)} (p99 ${fmtNs(peerLat.p99)}), ratio ${(round.venueRate / round.peerRate).toFixed(1)}x`);
  }

  const med = (f: (r: Round) => number): number => median(rounds.map(f));
  const venueRate = med((r) => r.venueRate);
  const peerRate = med((r) => r.peerRate);
  const ratio = med((r) => r.venueRate / r.peerRate);
  const latOf = (pick: (r: Round) => Percentiles): Percentiles => ({
    p50: med((r) => pick(r).p50), p99: med((r) => pick(r).p99), p999: med((r) => pick(r).p999),
    max: med((r) => pick(r).max), mean: med((r) => pick(r).mean),
  });
  const venueLat = latOf((r) => r.venueLat);
  const peerLat = latOf((r) => r.peerLat);
  const worstVenueMax = Math.max(...rounds.map((r) => r.venueLat.max));

  // Untimed: heap growth and sanity.
  const v = venueHeapAndSanity(defs, enc, COMMANDS);
  const p = peerHeapAndSanity(ops, INSTRUMENTS, COMMANDS);
  const rss = process.memoryUsage().rss;
  const maxRss = process.resourceUsage().maxRSS * 1024;
  const sameBooks = JSON.stringify(v.sanity.books) === JSON.stringify(p.sanity.books);

  log();
  log(`results (median of ${ROUNDS} rounds; each round: fresh engine/books, the whole flow)`);
  const rows: Array<[string, string, string, string]> = [
    ["", "Venue", "nodejs-order-book", "Venue/peer"],
    ["throughput", fmtRate(venueRate), fmtRate(peerRate), `${ratio.toFixed(1)}x`],
    ["latency p50", fmtNs(venueLat.p50), fmtNs(peerLat.p50), ""],
    ["latency p99", fmtNs(venueLat.p99), fmtNs(peerLat.p99), ""],
    ["latency p99.9", fmtNs(venueLat.p999), fmtNs(peerLat.p999), ""],
    ["latency max", fmtNs(venueLat.max), fmtNs(peerLat.max), ""],
    ["events out", `${fmtRate(venueRate * v.sanity.eventsPerCommand)}`, "(returns objects)", ""],
    ["GC in throughput run", `${med((r) => r.venueGc.count)}x, ${med((r) => r.venueGc.ms).toFixed(1)} ms`, `${med((r) => r.peerGc.count)}x, ${med((r) => r.peerGc.ms).toFixed(1)} ms`, ""],
    ["GC in latency run", `${med((r) => r.venueLatGc.count)}x, ${med((r) => r.venueLatGc.ms).toFixed(1)} ms`, `${med((r) => r.peerLatGc.count)}x, ${med((r) => r.peerLatGc.ms).toFixed(1)} ms`, ""],
    ["heap growth / 1M cmds", fmtBytes(v.heap.heapGrowthPerMillion), fmtBytes(p.heap.heapGrowthPerMillion), ""],
    ["ArrayBuffer growth / 1M", fmtBytes(v.heap.arrayBuffersGrowthPerMillion), fmtBytes(p.heap.arrayBuffersGrowthPerMillion), ""],
  ];
  const w = [24, 16, 20, 10];
  for (const row of rows) log("  " + row.map((c, i) => c.padEnd(w[i]!)).join(" "));
  log(`  heap = V8 heapUsed, ArrayBuffer = typed-array backing stores; both after forced GC, across commands ${v.heap.warmupCommands}..${COMMANDS} after a warm-up of ${v.heap.warmupCommands}.`);
  log(`  Venue's ArrayBuffer growth is its client-order-id table: ids stay taken until an end-of-day expire, so it grows with the day's orders.`);
  log(`  Venue engine memory at the end (heap + typed arrays, after GC): ${mb(v.engineBytes)} MB; process RSS ${mb(rss)} MB, peak RSS ${mb(maxRss)} MB (includes the flow, both encodings and the peer)`);
  log(`  worst single-command Venue latency over all rounds: ${fmtNs(worstVenueMax)}`);
  log();
  log(`latency by command kind (last round; ns p50 / p99 / p99.9 / max):`);
  for (const k of KIND_NAMES) {
    const a = venueByKind[k];
    const b = peerByKind[k];
    if (a === undefined || b === undefined) continue;
    const f = (x: Percentiles): string => `${fmtNs(x.p50)} / ${fmtNs(x.p99)} / ${fmtNs(x.p999)} / ${fmtNs(x.max)}`;
    log(`  ${k.padEnd(14)} ${String(a.count).padStart(8)}  Venue ${f(a).padEnd(44)} peer ${f(b)}`);
  }
  log();
  const met = (ok: boolean): string => (ok ? "met" : "NOT met");
  const targets = {
    throughput: { target: TARGET_THROUGHPUT, value: venueRate, met: venueRate >= TARGET_THROUGHPUT },
    ratio: { target: TARGET_RATIO, value: ratio, met: ratio >= TARGET_RATIO },
    p99Ns: { target: TARGET_P99_NS, value: venueLat.p99, met: venueLat.p99 <= TARGET_P99_NS },
  };
  log(`targets:`);
  log(`  >= 2M commands/s ............ ${fmtRate(venueRate).padEnd(10)} ${met(targets.throughput.met)}`);
  log(`  >= 10x nodejs-order-book .... ${(ratio.toFixed(1) + "x").padEnd(10)} ${met(targets.ratio.met)}`);
  log(`  p99 <= 5 µs ................. ${fmtNs(venueLat.p99).padEnd(10)} ${met(targets.p99Ns.met)}`);
  log();
  const levels = v.sanity.levelsPerSide;
  log(`sanity: Venue ${(v.sanity.trades / COMMANDS).toFixed(3)} trades/command, ${v.sanity.eventsPerCommand.toFixed(2)} events/command, rejected ${JSON.stringify(v.sanity.rejected)}; ` +
    `at the end ${v.sanity.resting} resting orders, ${Math.min(...levels)}..${Math.max(...levels)} levels per side`);
  log(`  peer errors: ${JSON.stringify(p.sanity.errors)}`);
  log(`  final books ${sameBooks ? "identical" : "differ"} (levels and quantity per side): Venue ${JSON.stringify(v.sanity.books)} peer ${JSON.stringify(p.sanity.books)}`);
  if (!sameBooks) log(`  (expected: the peer's modify always re-queues an order, Venue keeps priority on quantity-down amends, so fills and later targets diverge)`);
  const wallS = (performance.now() - wall0) / 1000;
  const loadEnd = os.loadavg();
  log(`wall time ${wallS.toFixed(1)} s; load average at end ${loadEnd.map((x) => x.toFixed(2)).join(" ")} (${machine.logicalCpus} CPUs: above ~1 means other processes shared the machine)`);

  const result = {
    benchmark: "matching", date: new Date().toISOString(), quick, machine, git, loadAverage: { start: loadStart, end: loadEnd },
    threads: { matching: 1, spinning: 0 },
    flow: { seed: SEED, commands: COMMANDS, instruments: INSTRUMENTS, accounts: ACCOUNTS, mix, generatedMs: genMs, encodedBytes: enc.buf.byteLength },
    method: {
      rounds: ROUNDS, warmupCommands: WARMUP, order: "per round: Venue throughput, peer throughput, Venue latency, peer latency; fresh engine/books each run",
      timer: "performance.now() around each command in latency runs; overhead not subtracted", timerOverheadNs: overhead,
      histogram: "perf_hooks.createHistogram, ns", aggregate: "median over rounds",
    },
    venue: { commandsPerSecond: venueRate, eventsPerSecond: venueRate * v.sanity.eventsPerCommand, latencyNs: venueLat, latencyByKindNs: venueByKind, worstMaxNs: worstVenueMax, heap: v.heap, engineBytes: v.engineBytes },
    peer: { name: "nodejs-order-book", version: "10.1.1", commandsPerSecond: peerRate, latencyNs: peerLat, latencyByKindNs: peerByKind, heap: p.heap },
    ratio, targets, rss, maxRss,
    sanity: { venue: v.sanity, peer: p.sanity, sameBooks },
    rounds, wallSeconds: wallS,
  };
  const dir = join(import.meta.dirname, "..", ".bench-out");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "matching.json"), JSON.stringify(result, null, 2) + "\n");
  log(`wrote .bench-out/matching.json`);
  gcObserver.disconnect();
}

await main();
