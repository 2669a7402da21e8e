/**
 * The node: the engine, the control block, the journal ring, the topic rings, one inbound
 * ring per source (drivers and plugins), the engine loop on the main thread and the plugin
 * supervisor; with a data directory also recovery (at construction: the newest snapshot,
 * then the journal after it), the journal worker and the snapshot worker. Built and
 * started on the main thread.
 *
 * Slots of the topic rings are handed out here: each consumer (a plugin, later the
 * gateway, market data and the event store) gets its own slot, opened gating or lossy.
 *
 * Metrics: the journal and storage workers post reports about once a second; the node
 * keeps the latest of each and, on `metricsText()`, reads ring lag per consumer slot from
 * the ring headers and renders everything for Prometheus (src/node/metrics.ts). The
 * gateway worker asks for that text over its port when it serves GET /metrics.
 */

import { randomBytes } from "node:crypto";
import { MessageChannel, Worker, type MessagePort } from "node:worker_threads";
import { dirname, join } from "node:path";
import { assert } from "../stdx/assert.ts";
import { VenueError } from "../stdx/errors.ts";
import { mkdirSync } from "node:fs";
import { listSegments, recoverJournal, type Recovery } from "../wal/recover.ts";
import { listSnapshots, readNewestSnapshot, type LoadedSnapshot } from "../wal/snapshot_file.ts";
import { CaptureBuffers, StateShapeError, captureState, restoreState, stateBufferSizes } from "../engine/state.ts";
import type { SnapshotJob, SnapshotPrefault, SnapshotPrefaulted, SnapshotReply } from "../wal/snapshot_worker.ts";
import { JournalMetrics, type JournalMetricsSnapshot, type JournalWorkerData } from "../wal/journal_worker.ts";
import { closePreparer, keepPrepared, newPrepCells } from "../wal/prepare.ts";
import type { PreparerWorkerData } from "../wal/prepare_worker.ts";
import { DEFAULT_SEGMENT_BYTES } from "../wal/writer.ts";
import { DEFAULT_ENGINE_CONFIG, Engine } from "../engine/engine.ts";
import { Control } from "../bus/control.ts";
import { InboundProducer } from "../bus/inbound.ts";
import { AuditFile } from "./audit_file.ts";
import { TradingCalendar } from "../market/calendar.ts";
import { TradingSchedule } from "./schedule.ts";
import { Ring } from "../bus/ring.ts";
import { DEFAULT_WAIT, type WaitStrategy } from "../bus/wait.ts";
import { TOPICS, TOPICS_OF_KIND, TOPIC_RING_BYTES, type Topic } from "../schema/topics.ts";
import { PREPARED_SEGMENT_NAME, segmentFirstSeq } from "../schema/wal.ts";
import { EventStore } from "../store/event_store.ts";
import { JOB_SECONDS_BOUNDS, type StorageMetricsSnapshot, type StorageStats, type StorageWorkerData, type StoreTuning } from "../store/storage_worker.ts";
import type { AdminOptions } from "../gateway/admin.ts";
import { EngineLoop, type Clock } from "./engine_loop.ts";
import { PluginSupervisor, type PluginReport } from "../plugins/supervisor.ts";
import type { PluginSpec } from "../plugins/api.ts";
import { EventBuffer } from "../schema/event.ts";
import { Side, nameOf, type TradingState } from "../schema/codes.ts";
import type { GatewayWorkerData } from "../gateway/worker.ts";
import type { MarketWorkerData } from "../market/worker.ts";
import type { ServerOptions } from "../gateway/server.ts";
import type { GatewayOptions } from "../gateway/gateway.ts";
import { NodeStatus } from "../schema/control.ts";
import { SlotState } from "../schema/ring.ts";
import { emptyStorageMetrics, renderNodeMetrics, type RingMetrics } from "./metrics.ts";
import type { NodeLog } from "./log.ts";
import type { CommitTraceBuffers } from "../wal/commit_trace.ts";
import { DEFAULT_THREAD_SCHEDULING, describeScheduling, enterThread, planFor, type ThreadPlan, type ThreadRole, type ThreadScheduling } from "./threads.ts";
import { warmUp } from "./warmup.ts";

/** The DIFF gateway (WebSocket server, market data) on its worker. */
export interface NodeGatewayOptions {
  /** The catalog (LMDB) of users, accounts and instruments. */
  catalogDir: string;
  server?: Partial<ServerOptions>;
  options?: Partial<GatewayOptions>;
  /** Password hashing threads (default 1). */
  hashThreads?: number;
  /** Their nice value (default 10: the scheduler prefers the node's other threads). */
  hashNice?: number;
  /**
   * The nice value of the gateway's and market-data worker's threads (default 0): above 0
   * the scheduler prefers the engine loop and the journal worker when they compete for a
   * core, as under a flood of connections on a small machine.
   */
  edgeNice?: number;
  /** How often the market-data worker writes its checkpoint while trades come (default 60 s; it also writes one at stop). */
  marketCheckpointMs?: number;
  /** The admin HTTP API's token lifetime and limits. */
  admin?: Partial<AdminOptions>;
}

export interface NodeOptions {
  /**
   * The engine (default: a new one with the default config). The one a node with a gateway
   * makes for itself hashes client ids with a seed drawn at random (`EngineConfig.idSeed`):
   * its ids come from clients, who must not be able to craft ids that collide in the table.
   */
  engine?: Engine;
  /**
   * Where the journal lives. With it, the node recovers from the journal at construction
   * and runs the journal worker, which makes commands durable (group commit) before any
   * consumer sees their events. Without it nothing is kept (`durableByLoop`).
   */
  dataDir?: string;
  /** Journal segment size (default 1 GiB). */
  segmentBytes?: number;
  /**
   * Make journal segments ahead, zero-filled, on a thread of their own (src/wal/prepare.ts;
   * default true): commits into them write data only. False: each segment is made when
   * needed (fallocate).
   */
  prepareSegments?: boolean;
  /** The pace of that preparation, bytes a second (default 128 MiB/s). */
  prepareBytesPerSecond?: number;
  /** Commands between engine snapshots (with a data directory; default 1,000,000; 0: none). */
  snapshotEvery?: number;
  /**
   * Synthetic commands run through a scratch engine and loop before recovery, so that the
   * engine's code is compiled before the first real command (src/node/warmup.ts; default 0:
   * none; `venue start` runs 50,000).
   */
  warmUpCommands?: number;
  /** See JournalWorkerData.fsModule (fault injection in tests). */
  journalFsModule?: string;
  /** See JournalWorkerData.commitTrace: every group commit recorded (the latency harness). */
  commitTrace?: CommitTraceBuffers;
  /**
   * Delete journal segments wholly below the oldest kept snapshot (the newest two, and the
   * newest one at or below the event store's replay point), so the data directory stays
   * bounded. Off by default: a journal is also an audit log some operators keep whole.
   */
  pruneJournal?: boolean;
  /**
   * Keep every event in the event store (`<dataDir>/events`), written by the storage
   * worker (default: on with a data directory).
   */
  eventStore?: boolean;
  /** The event store's MemTable size (default 32 MiB). */
  storeMemtableBytes?: number;
  /** The event store's cap on tables open for reads (LsmOptions.maxOpenTables). */
  storeMaxOpenTables?: number;
  /** See StorageWorkerData.fsModule (fault injection in tests). */
  storeFsModule?: string;
  gateway?: NodeGatewayOptions;
  /** Log lines, each with the part of the node it came from and a level (info unless said). */
  log?: NodeLog;
  /** In-process command sources (tests, benchmarks, the demo flow): one inbound ring each. */
  drivers?: number;
  /** Milliseconds between timed marks of every instrument (src/node/schedule.ts; default 0: none). */
  markEveryMs?: number;
  /** The minute of the day, China time, of the timed daily settlement (default: none). */
  settleMinute?: number;
  /**
   * Append the gateway's audit lines to `<dataDir>/audit/audit.log` too (src/node/audit_file.ts;
   * default true where there is a data directory and a gateway).
   */
  auditFile?: boolean;
  /** Weekdays that do not trade (YYYYMMDD, China dates): the timed settlement skips them (default: none). */
  holidays?: readonly string[];
  /** The schedule's wall clock, ms since the epoch (tests; default Date.now). */
  scheduleNowMs?: () => number;
  plugins?: PluginSpec[];
  wait?: WaitStrategy;
  ringBytes?: Partial<Record<Topic | "journal" | "inbound", number>>;
  /** Slots per topic ring (consumers it can have). */
  topicSlots?: number;
  /** See EngineLoop: with no journal worker the loop marks batches durable itself. */
  durableByLoop?: boolean;
  cutOffMs?: number;
  journalStallMs?: number;
  /** A group commit this slow (ms) or slower reports the journal degraded (default 100). */
  slowCommitMs?: number;
  /** With snapshots on: a clean stop takes one of the final state, so a start replays nothing (default true). */
  snapshotOnStop?: boolean;
  heartbeatMs?: number;
  clock?: Clock;
  firstSeq?: number;
  onPluginReport?: (r: PluginReport) => void;
  /**
   * The threads' scheduling (src/node/threads.ts): the critical threads' slice and the bulk
   * threads' nice value (defaults: 100 µs, nice 10).
   */
  threads?: Partial<ThreadScheduling>;
}

/** How often the market-data worker writes its checkpoint (`<dataDir>/market`) while trades come; also at stop. */
const MARKET_CHECKPOINT_MS = 60_000;

export class VenueNode {
  readonly engine: Engine;
  readonly control = new Control();
  readonly journal: Ring;
  readonly topics: Record<Topic, Ring>;
  readonly drivers: InboundProducer[];
  readonly loop: EngineLoop;
  readonly plugins: PluginSupervisor;
  private readonly nextSlot: Record<Topic, number> = { trades: 0, accounts: 0, l2: 0 };
  private readonly topicSlots: number;
  private readonly pluginSpecs: PluginSpec[];
  private started: Promise<void> | undefined;
  private journalWorker: Worker | undefined;
  private journalExited: Promise<void> | undefined;
  private preparer: { data: PreparerWorkerData; worker?: Worker; exited?: Promise<void> } | undefined;
  /** The journal writer's counts, once its worker has exited (after `stop`). */
  journalStats: { groups: number; records: number; durableSeq: number } | undefined;
  /** What recovery found (with a data directory). */
  readonly recovery: Recovery | undefined;
  private readonly journalData: JournalWorkerData | undefined;
  private snapshotWorker: Worker | undefined;
  private readonly snapshotDir: string | undefined;
  private readonly snapshotEvery: number;
  private readonly pruneJournal: boolean;
  private readonly snapshotOnStop: boolean;
  private lastSnapshotSeq = 0;
  /** The snapshot worker was asked for buffers ahead of the next capture. */
  private prefaultAsked = false;
  /** The shared buffers of the capture the snapshot worker is writing (given back to captureBuffers when it is done). */
  private inFlightBuffers: SharedArrayBuffer[] = [];
  private readonly storeDir: string | undefined;
  private storeTuning: StoreTuning = {};
  private readonly storeFsModule: string | undefined;
  private readonly threadScheduling: ThreadScheduling;
  private storageWorker: Worker | undefined;
  /** The storage worker's data while it waits for the market-data and gateway workers to read their history. */
  private storageWaiting: StorageWorkerData | undefined;
  private storageExited: Promise<void> | undefined;
  /** The storage worker's counts, once it has exited (after `stop`). */
  storageStats: StorageStats | undefined;
  private readonly gatewayOptions: NodeGatewayOptions | undefined;
  private readonly gatewayRing: Ring | undefined;
  private gatewayWorker: Worker | undefined;
  private gatewayExited: Promise<void> | undefined;
  /** The audit lines' own file (with a data directory and a gateway). */
  readonly auditFile: AuditFile | undefined;
  private gatewaySlots: Array<[Topic, number]> = [];
  private marketWorker: Worker | undefined;
  private marketExited: Promise<void> | undefined;
  private marketSlots: Array<[Topic, number]> = [];
  /** Set by `stop`: a gateway worker not started yet is not started. */
  private stopping = false;
  /** Timed marks and settlement, when configured. */
  readonly schedule: TradingSchedule | undefined;
  /** Where the gateway listens, once it does (see `gatewayReady`). */
  gatewayAddress: { host: string; port: number } | undefined;
  private gatewayListening: (a: { host: string; port: number }) => void = () => {};
  private gatewayFailed: (e: Error) => void = () => {};
  /** Resolves when the gateway listens; rejects if its worker fails first. */
  readonly gatewayReady: Promise<{ host: string; port: number }>;
  private snapshotInFlight = false;
  /** Resolves when no snapshot is being written. */
  private snapshotIdle: Promise<void> = Promise.resolve();
  private snapshotWritten: () => void = () => {};
  private readonly log: NodeLog;
  /** Who reads each topic ring slot handed out (metrics labels). */
  private readonly slotConsumers: Record<Topic, string[]> = { trades: [], accounts: [], l2: [] };
  /** Names the slots `allocSlot` hands out while plugins start. */
  private slotOwner = "plugin";
  private readonly inboundRings: Ring[];
  /** The journal worker's latest metrics report (with a data directory). */
  private journalMetrics: JournalMetricsSnapshot | undefined;
  /** The storage worker's latest metrics report (with an event store; sent about once a second). */
  storageMetrics: StorageMetricsSnapshot | undefined;
  /** Snapshots written since start: seq, file, ms from capture to rename, bytes. */
  readonly snapshots: Array<{ seq: number; name: string; ms: number; bytes: number; captureMs: number; reusedBytes: number }> = [];
  private lastCaptureMs = 0;
  private lastCaptureReusedBytes = 0;
  /** The last snapshot's buffers, given back by the snapshot worker: the next capture copies into them. */
  private readonly captureBuffers = new CaptureBuffers();

  constructor(o: NodeOptions = {}) {
    this.engine = o.engine ?? new Engine(o.gateway === undefined ? DEFAULT_ENGINE_CONFIG : { ...DEFAULT_ENGINE_CONFIG, idSeed: randomBytes(4).readUInt32LE(0) });
    const bytes = o.ringBytes ?? {};
    const wait = o.wait ?? DEFAULT_WAIT;
    this.topicSlots = o.topicSlots ?? 16;
    this.journal = Ring.create(bytes.journal ?? 16 << 20, 4, "journal");
    this.topics = {
      trades: Ring.create(bytes.trades ?? TOPIC_RING_BYTES.trades, this.topicSlots, "trades"),
      accounts: Ring.create(bytes.accounts ?? TOPIC_RING_BYTES.accounts, this.topicSlots, "accounts"),
      l2: Ring.create(bytes.l2 ?? TOPIC_RING_BYTES.l2, this.topicSlots, "l2"),
    };
    this.pluginSpecs = o.plugins ?? [];
    let firstSeq = o.firstSeq ?? 1;
    this.log = o.log ?? (() => {});
    // Until the workers start, every line comes from recovery.
    const recoveryLog = (line: string): void => this.log(line, "recovery");
    this.threadScheduling = { ...DEFAULT_THREAD_SCHEDULING, ...o.threads };
    this.snapshotEvery = o.snapshotEvery ?? 1_000_000;
    if ((o.warmUpCommands ?? 0) > 0) {
      const w = warmUp(o.warmUpCommands!);
      this.log(`engine: warmed up on ${w.commands} synthetic commands in ${w.ms.toFixed(0)} ms (a scratch engine and loop; nothing of it is kept)`, "node");
    }
    this.snapshotOnStop = o.snapshotOnStop ?? true;
    this.pruneJournal = o.pruneJournal ?? false;
    if (o.dataDir !== undefined) {
      const dir = join(o.dataDir, "journal");
      const engine = this.engine;
      const t0 = performance.now();
      // The newest snapshot that checks, then the journal after it (every record is still read and checked).
      this.snapshotDir = join(o.dataDir, "snapshots");
      mkdirSync(this.snapshotDir, { recursive: true });
      mkdirSync(dir, { recursive: true });
      // The engine's state comes from the data directory: an engine that already holds state cannot take it.
      const fresh = engine.instruments.count === 0 && engine.accountCount === 0 && engine.nextOrderNo === 1;
      if (!fresh && (listSnapshots(this.snapshotDir).length > 0 || listSegments(dir).length > 0)) {
        throw new VenueError("ENGINE_NOT_FRESH", `the data directory ${o.dataDir} holds a journal: give the node a fresh engine (its state is rebuilt from the directory)`);
      }
      // The event store needs the events of every command from its replayFrom on: start
      // from a snapshot old enough for that, if the journal still reaches back to it.
      let store: EventStore | undefined;
      if (o.eventStore ?? true) {
        this.storeDir = join(o.dataDir, "events");
        this.storeTuning = { ...(o.storeMemtableBytes ? { memtableBytes: o.storeMemtableBytes } : {}), ...(o.storeMaxOpenTables ? { maxOpenTables: o.storeMaxOpenTables } : {}) };
        this.storeFsModule = o.storeFsModule;
        mkdirSync(this.storeDir, { recursive: true });
        store = EventStore.open(this.storeDir, { ...this.storeTuning, background: false, log: recoveryLog });
      }
      const segments = listSegments(dir);
      const journalFrom = segments.length > 0 ? segmentFirstSeq(segments[0]!) : 1;
      // A snapshot restores into this engine exactly or not at all: one taken by a build whose
      // engine state differs is passed over (tried on a scratch engine first).
      const usable = (s: LoadedSnapshot): string | undefined => {
        try {
          restoreState(new Engine(engine.config), s.state);
          return undefined;
        } catch (err) {
          if (err instanceof StateShapeError) return `it does not fit this build's engine state (${err.message})`;
          throw err;
        }
      };
      let snap = readNewestSnapshot(this.snapshotDir, recoveryLog, store === undefined ? undefined : store.replayFrom - 1, usable);
      if (store !== undefined && (snap?.seq ?? 0) + 1 < journalFrom) {
        this.log(`event store: it lacks the events from seq ${store.replayFrom}, and the journal no longer holds them (it starts at ${journalFrom}); its history will have a gap`, "recovery", "warn");
        snap = readNewestSnapshot(this.snapshotDir, recoveryLog, undefined, usable);
      }
      const from = snap?.seq ?? 0;
      const out = engine.out;
      const feed = store === undefined ? undefined : (): void => {
        const dv = out.buf.dv;
        for (let at = 0; at < out.length; ) {
          const bits = TOPICS_OF_KIND[dv.getUint8(at)]!;
          for (let t = 0; t < TOPICS.length; t++) if ((bits & (1 << t)) !== 0) store.append(TOPICS[t]!, out.buf, at);
          at += dv.getUint16(at + 2, true);
        }
        if (!store.tree.writable) store.tree.flushSync(true);
      };
      if (snap !== undefined) {
        restoreState(engine, snap.state);
        this.lastSnapshotSeq = snap.seq;
        recoveryLog(`recovery: restored ${snap.name}`);
      }
      this.recovery = recoverJournal(dir, (buf, offset, _size, seq) => {
        if (seq <= from) return;
        engine.apply(buf, offset);
        feed?.();
        engine.out.clear();
      }, { log: recoveryLog, progress: (records, done, total) => recoveryLog(`recovery: segment ${done}/${total}, ${records} commands read`) });
      if (this.recovery.firstSeq > from + 1) {
        throw new VenueError("JOURNAL_GAP", `the journal starts at seq ${this.recovery.firstSeq} but ${snap === undefined ? "there is no usable snapshot" : `the newest usable snapshot, ${snap.name}, ends at seq ${from}`}: seqs ${from + 1}..${this.recovery.firstSeq - 1} are gone; restore the data directory from a backup`);
      }
      if (this.recovery.nextSeq - 1 < from) {
        throw new VenueError("SNAPSHOT_AHEAD_OF_JOURNAL", `snapshot ${snap!.name} holds seq ${from} but the journal ends at ${this.recovery.nextSeq - 1}: the journal lost records it had made durable; restore the data directory from a backup`);
      }
      recoveryLog(`recovery: ${this.recovery.records} commands in ${this.recovery.segments} segment(s), ${this.recovery.nextSeq - 1 - from} replayed after the snapshot, in ${(performance.now() - t0).toFixed(0)} ms; next seq ${this.recovery.nextSeq}`);
      if (store !== undefined) {
        store.flushSync();
        // What the background would do next, done now (bounded): a node that keeps
        // restarting must not pile up the small tables each replay leaves.
        const compactions = store.tree.compactSync();
        recoveryLog(`event store: ${store.appended} events written from the journal, ${store.skipped} already stored; flushed to seq ${store.tree.flushedSeq}; ${compactions} compaction(s) run`);
        store.closeSync();
      }
      firstSeq = this.recovery.nextSeq;
      this.journal.openSlot(0, "gating", true);
      this.control.setDurable(firstSeq - 1);
      const prepCells = o.prepareSegments === false ? undefined : newPrepCells();
      if (prepCells !== undefined) {
        const segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
        this.preparer = { data: { cells: prepCells, dir, segmentBytes, bytesPerSecond: o.prepareBytesPerSecond } };
        if (keepPrepared(prepCells, dir, segmentBytes)) recoveryLog(`journal: a segment prepared before the stop is ready for use (${PREPARED_SEGMENT_NAME})`);
      }
      this.journalData = { dir, ring: this.journal.sab, slot: 0, control: this.control.sab, nextSeq: firstSeq, live: this.recovery.live, segmentBytes: o.segmentBytes, wait, fsModule: o.journalFsModule, slowCommitMs: o.slowCommitMs, prepCells, commitTrace: o.commitTrace };
    }
    const inboundBytes = bytes.inbound ?? 1 << 20;
    const driverRings = Array.from({ length: o.drivers ?? 1 }, (_, i) => Ring.create(inboundBytes, 1, `driver ${i} inbound`));
    const pluginRings = this.pluginSpecs.map((_, i) => Ring.create(inboundBytes, 1, `plugin ${i} inbound`));
    this.gatewayOptions = o.gateway;
    if (o.gateway !== undefined && o.dataDir !== undefined && (o.auditFile ?? true)) {
      this.auditFile = new AuditFile(o.dataDir, { log: (line, level) => this.log(line, "audit", level) });
    }
    this.gatewayRing = o.gateway === undefined ? undefined : Ring.create(inboundBytes, 1, "gateway inbound");
    const scheduleRing = (o.markEveryMs ?? 0) > 0 || o.settleMinute !== undefined ? Ring.create(64 * 1024, 1, "schedule inbound") : undefined;
    this.inboundRings = [...driverRings, ...pluginRings, ...(this.gatewayRing === undefined ? [] : [this.gatewayRing]), ...(scheduleRing === undefined ? [] : [scheduleRing])];
    this.gatewayReady = new Promise((res, rej) => {
      this.gatewayListening = res;
      this.gatewayFailed = rej;
    });
    this.gatewayReady.catch(() => {});
    this.loop = new EngineLoop({
      engine: this.engine,
      control: this.control,
      inbound: this.inboundRings,
      journal: this.journal,
      topics: this.topics,
      wait,
      durableByLoop: o.dataDir === undefined && (o.durableByLoop ?? true),
      cutOffMs: o.cutOffMs ?? 1_000,
      ...(o.journalStallMs ? { journalStallMs: o.journalStallMs } : {}),
      ...(o.clock ? { clock: o.clock } : {}),
      firstSeq,
      onSlice: () => this.plugins.check(),
      afterBatch: (seq) => this.maybeSnapshot(seq),
    });
    // Driver producers live on the main thread here; a driver on another thread makes its own over the same ring.
    this.drivers = driverRings.map((r) => new InboundProducer(r, this.control, { wait }));
    if (scheduleRing !== undefined) {
      const producer = new InboundProducer(scheduleRing, this.control, { wait });
      this.schedule = new TradingSchedule({
        markEveryMs: o.markEveryMs ?? 0,
        settleMinute: o.settleMinute,
        calendar: new TradingCalendar(o.holidays ?? []),
        submit: (write) => {
          producer.submit(write);
          producer.flush();
        },
        free: () => producer.free(),
        log: (line, level) => this.log(line, "node", level),
        ...(o.scheduleNowMs ? { nowMs: o.scheduleNowMs } : {}),
      });
    }
    this.plugins = new PluginSupervisor({
      control: this.control,
      topics: this.topics,
      allocSlot: (t) => this.allocSlot(t),
      inbound: pluginRings,
      instruments: this.engine.instruments.symbols.map((s, i) => [s, i] as [string, number]),
      wait,
      ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
      ...(o.onPluginReport ? { onReport: o.onPluginReport } : {}),
    });
  }

  /** A free slot of a topic ring, for one consumer (`consumer` names it in metrics). */
  allocSlot(topic: Topic, consumer = this.slotOwner): number {
    const s = this.nextSlot[topic]++;
    assert(s < this.topicSlots, `topic ${topic}: all ${this.topicSlots} consumer slots are taken`);
    this.slotConsumers[topic][s] = consumer;
    return s;
  }

  /** Starts the plugins and the engine loop. Resolves when the loop stops. */
  start(): Promise<void> {
    assert(this.started === undefined, "the node is already started");
    const s = this.threadScheduling;
    this.log(`threads: engine loop ${enterThread(planFor("engine", s))}; ${describeScheduling(s)}`, "node");
    if (this.preparer !== undefined) {
      const p = this.preparer;
      const w = new Worker(new URL("../../workers/segments.mjs", import.meta.url), { workerData: { preparer: p.data, thread: this.plan("segments") }, name: "segments" });
      p.worker = w;
      p.exited = new Promise((res) => w.once("exit", () => res()));
      w.on("message", (m: { log?: string }) => {
        if (m.log !== undefined) this.log(m.log, "journal");
      });
      // Not fatal: without it the journal makes its segments itself.
      w.on("error", (err) => this.log(`the segment preparer failed: ${String(err)}; journal segments are made when needed`, "journal", "warn"));
    }
    if (this.journalData !== undefined) {
      const w = new Worker(new URL("../../workers/journal.mjs", import.meta.url), { workerData: { journal: this.journalData, thread: this.plan("journal") }, name: "journal" });
      this.journalWorker = w;
      this.journalExited = new Promise((res) => w.once("exit", () => res()));
      w.on("message", (m: { stats?: { groups: number; records: number; durableSeq: number }; metrics?: JournalMetricsSnapshot }) => {
        if (m.stats !== undefined) this.journalStats = m.stats;
        if (m.metrics !== undefined) this.journalMetrics = m.metrics;
      });
      w.on("error", (err) => {
        const e = err instanceof Error ? err : new Error(String(err));
        this.log(`journal worker failed: ${e.message}`, "journal", "error");
        this.loop.fence(e);
      });
      w.on("exit", (code) => {
        if (code !== 0) this.loop.fence(new VenueError("JOURNAL_WORKER_EXITED", `the journal worker exited with code ${code}`));
      });
    }
    if (this.snapshotDir !== undefined && this.snapshotEvery > 0) {
      const w = new Worker(new URL("../../workers/snapshot.mjs", import.meta.url), { workerData: { snapshot: { dir: this.snapshotDir, journalDir: this.journalData!.dir, pruneJournal: this.pruneJournal, storeDir: this.storeDir, control: this.control.sab }, thread: this.plan("snapshots") }, name: "snapshots" });
      this.snapshotWorker = w;
      w.on("message", (r: SnapshotReply | SnapshotPrefaulted) => {
        if ("prefaulted" in r) {
          this.captureBuffers.add(r.prefaulted);
          const mb = r.prefaulted.reduce((n, b) => n + b.byteLength, 0) / 1e6;
          this.log(`snapshot buffers: ${mb.toFixed(1)} MB (${r.prefaulted.length} buffers) faulted in ahead of the next capture, in ${r.ms.toFixed(0)} ms on the snapshot worker`, "snapshots");
          return;
        }
        this.snapshotInFlight = false;
        this.captureBuffers.give(this.inFlightBuffers);
        this.inFlightBuffers = [];
        this.snapshotWritten();
        if ("done" in r) {
          const reused = this.lastCaptureReusedBytes;
          this.snapshots.push({ seq: r.done, name: r.name, ms: r.ms, bytes: r.bytes, captureMs: this.lastCaptureMs, reusedBytes: reused });
          this.log(`snapshot ${r.name}: ${(r.bytes / 1e6).toFixed(1)} MB, captured in ${this.lastCaptureMs.toFixed(1)} ms on the main thread (${(reused / 1e6).toFixed(1)} MB of it into buffers ready ahead), written in ${r.ms.toFixed(0)} ms${r.pruned.length > 0 ? `; journal segments no longer needed deleted: ${r.pruned.join(", ")}` : ""}`, "snapshots");
        } else {
          this.log(`snapshot of seq ${r.failed} failed: ${r.message} (the journal still holds everything)`, "snapshots", "error");
        }
      });
      w.on("error", (err) => this.log(`snapshot worker failed: ${String(err)}`, "snapshots", "error"));
    }
    if (this.storeDir !== undefined) {
      const topics = {} as StorageWorkerData["topics"];
      for (const t of TOPICS) {
        const slot = this.allocSlot(t, "storage");
        this.topics[t].openSlot(slot, "gating", true);
        topics[t] = { ring: this.topics[t].sab, slot };
      }
      const data: StorageWorkerData = { dir: this.storeDir, control: this.control.sab, topics, fsModule: this.storeFsModule, jobsThread: this.plan("lsm"), tuning: this.storeTuning };
      // With a gateway, the store is first read (market data, then the gateway), then written by this worker.
      if (this.gatewayOptions !== undefined) this.storageWaiting = data;
      else this.startStorage(data);
    }
    if (this.gatewayOptions !== undefined) this.startGateway(this.gatewayOptions);
    this.pluginSpecs.forEach((spec, i) => {
      this.slotOwner = `plugin ${i}`;
      this.plugins.start(spec, i);
    });
    this.slotOwner = "plugin";
    this.schedule?.start();
    this.started = this.loop.start();
    return this.started;
  }

  /** What a worker of `role` applies to its thread as it starts (src/node/threads.ts). */
  private plan(role: ThreadRole, nice?: number): ThreadPlan {
    return planFor(role, this.threadScheduling, nice);
  }

  /** The storage worker (its ring slots are open already: until it runs, they hold the producer back). */
  private startStorage(data: StorageWorkerData): void {
    {
      const w = new Worker(new URL("../../workers/storage.mjs", import.meta.url), { workerData: { storage: data, thread: this.plan("storage") }, name: "storage" });
      this.storageWorker = w;
      this.storageExited = new Promise((res) => w.once("exit", () => res()));
      w.on("message", (m: { stats?: StorageStats; log?: string; metrics?: StorageMetricsSnapshot }) => {
        if (m.stats !== undefined) this.storageStats = m.stats;
        if (m.metrics !== undefined) this.storageMetrics = m.metrics;
        if (m.log !== undefined) this.log(m.log, "storage");
      });
      w.on("error", (err) => {
        this.log(`storage worker failed: ${String(err)}`, "storage", "error");
        this.loop.fence(err instanceof Error ? err : new Error(String(err)));
      });
      w.on("exit", (code) => {
        if (code !== 0) this.loop.fence(new VenueError("STORAGE_WORKER_EXITED", `the storage worker exited with code ${code}`));
      });
    }
  }

  /** Starts the storage worker if it waits for the gateway's history read. */
  private releaseStorage(): void {
    const data = this.storageWaiting;
    this.storageWaiting = undefined;
    if (data !== undefined) this.startStorage(data);
  }

  /**
   * The market-data and gateway workers, started from the engine's state now (before the
   * loop runs, so all of it is durable): instruments and books for market data; account
   * ids, every account and position as events, and resting orders for the gateway. Their
   * ring slots open here, so they read every event after that state. Market data reads
   * its history first; the gateway worker starts when it has (the store has one reader at
   * a time), with its end of the channel between them.
   */
  private startGateway(g: NodeGatewayOptions): void {
    const engine = this.engine;
    const out = new EventBuffer();
    engine.accounts.emitAll(out);
    const symbols = engine.instruments.symbols.slice();
    const params = symbols.map((_, i) => {
      const m = engine.accounts.isMoney(i) ? engine.accounts.moneyParamsOf(i) : undefined;
      const spec = engine.instruments.spec(i);
      return { ...spec, state: spec.state as TradingState, ...(m === undefined ? {} : { currency: m.currency, multiplier: m.multiplier, marginPerLot: m.marginPerLot, marginRateBp: m.marginRateBp, commissionPerLot: m.commissionPerLot, commissionRateBp: m.commissionRateBp, positionLimit: m.positionLimit }) };
    });
    const slot = (t: Topic, owner: string, slots: Array<[Topic, number]>): { ring: SharedArrayBuffer; slot: number } => {
      const n = this.allocSlot(t, owner);
      this.topics[t].openSlot(n, "gating", true);
      slots.push([t, n]);
      return { ring: this.topics[t].sab, slot: n };
    };
    const channel = new MessageChannel();
    const marketData: MarketWorkerData = {
      control: this.control.sab,
      topics: { trades: slot("trades", "market", this.marketSlots), l2: slot("l2", "market", this.marketSlots) },
      catalogDir: g.catalogDir,
      seed: { instruments: params, books: symbols.map((_, i) => ({ bids: engine.depth(i, Side.buy), asks: engine.depth(i, Side.sell) })) },
      ...(this.storeDir === undefined ? {} : { history: { storeDir: this.storeDir }, checkpoint: { dir: join(dirname(this.storeDir), "market"), everyMs: g.marketCheckpointMs ?? MARKET_CHECKPOINT_MS, lastSeq: this.loop.seq - 1 } }),
      port: channel.port1,
    };
    const gatewayData: GatewayWorkerData = {
      control: this.control.sab,
      topics: { accounts: slot("accounts", "gateway", this.gatewaySlots) },
      market: channel.port2,
      inbound: this.gatewayRing!.sab,
      catalogDir: g.catalogDir,
      server: g.server ?? {},
      gateway: g.options ?? {},
      ...(g.admin === undefined ? {} : { admin: g.admin }),
      ...(g.hashThreads === undefined ? {} : { hashThreads: g.hashThreads }),
      ...(g.hashNice === undefined ? {} : { hashNice: g.hashNice }),
      ...(this.storeDir === undefined ? {} : { history: { storeDir: this.storeDir, dayFromSeq: engine.dayFromSeq } }),
      seed: {
        instruments: params,
        accountNames: engine.accountNameList(),
        stateEvents: out.buf.u8.slice(0, out.length),
        orders: engine.liveOrders(),
      },
    };
    const failed = (what: string) => (err: unknown): void => {
      const e = err instanceof Error ? err : new Error(String(err));
      this.log(`${what} worker failed: ${e.message}`, "gateway", "error");
      this.gatewayFailed(e);
      this.loop.fence(e);
    };
    const m = new Worker(new URL("../../workers/market.mjs", import.meta.url), { workerData: { market: marketData, thread: this.plan("market", g.edgeNice) }, transferList: [channel.port1], name: "market data" });
    this.marketWorker = m;
    this.marketExited = new Promise((res) => m.once("exit", () => res()));
    let gatewayStarted = false;
    const startGatewayWorker = (): void => {
      if (gatewayStarted || this.stopping) return;
      gatewayStarted = true;
      this.startGatewayWorker(gatewayData, channel.port2);
    };
    m.on("message", (msg: { log?: string; historyRead?: boolean }) => {
      if (msg.log !== undefined) this.log(msg.log, "market");
      if (msg.historyRead === true) startGatewayWorker();
    });
    m.on("error", failed("market-data"));
    m.on("exit", (code) => {
      if (!gatewayStarted) this.releaseStorage();
      if (code !== 0) {
        const e = new VenueError("MARKET_WORKER_EXITED", `the market-data worker exited with code ${code}`);
        this.log(e.message, "market", "error");
        this.gatewayFailed(e);
        this.loop.fence(e);
      }
    });
  }

  private startGatewayWorker(data: GatewayWorkerData, port: MessagePort): void {
    const w = new Worker(new URL("../../workers/gateway.mjs", import.meta.url), { workerData: { gateway: data, thread: this.plan("gateway", this.gatewayOptions?.edgeNice) }, transferList: [port], name: "gateway" });
    this.gatewayWorker = w;
    this.gatewayExited = new Promise((res) => w.once("exit", () => res()));
    w.on("message", (m: { log?: string; listening?: { host: string; port: number }; historyRead?: boolean; metricsRequest?: number }) => {
      if (m.log !== undefined) {
        const audit = m.log.startsWith("audit:");
        this.log(m.log, audit ? "audit" : "gateway");
        if (audit) this.auditFile?.write(m.log);
      }
      if (m.metricsRequest !== undefined) w.postMessage({ metricsReply: m.metricsRequest, text: this.metricsText() });
      if (m.historyRead === true) this.releaseStorage();
      if (m.listening !== undefined) {
        this.gatewayAddress = m.listening;
        this.gatewayListening(m.listening);
      }
    });
    w.on("error", (err) => {
      const e = err instanceof Error ? err : new Error(String(err));
      this.log(`gateway worker failed: ${e.message}`, "gateway", "error");
      this.gatewayFailed(e);
      this.loop.fence(e);
    });
    w.on("exit", (code) => {
      this.releaseStorage();
      if (code !== 0) {
        const e = new VenueError("GATEWAY_WORKER_EXITED", `the gateway worker exited with code ${code}`);
        this.log(e.message, "gateway", "error");
        this.loop.fence(e);
      }
    });
  }

  /** Stops the gateway (no new commands; its ring slots close), then the plugins, then the loop after it has applied what the inbound rings hold. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.schedule?.stop();
    const stopWorker = async (w: Worker | undefined, exited: Promise<void> | undefined, slots: Array<[Topic, number]>): Promise<void> => {
      if (w !== undefined) {
        w.postMessage({ stop: true });
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, 10_000)))]);
        clearTimeout(timer);
        await w.terminate();
      }
      for (const [t, slot] of slots) this.topics[t].closeSlot(slot);
    };
    if (this.gatewayOptions !== undefined) {
      await stopWorker(this.gatewayWorker, this.gatewayExited, this.gatewaySlots);
      await this.auditFile?.close();
      await stopWorker(this.marketWorker, this.marketExited, this.marketSlots);
      this.releaseStorage();
    }
    await this.plugins.stopAll();
    try {
      await this.loop.stop();
    } finally {
      // The loop has set the status to stopped (or fenced): the journal worker commits what is left and exits.
      await this.journalExited;
      if (this.preparer?.worker !== undefined) {
        closePreparer(this.preparer.data.cells); // it ends after its current chunk, removing a file it had not finished
        await this.preparer.exited;
      }
      // Every durable event is published now: the storage worker drains the rings, flushes and exits.
      // After a clean stop everything applied is durable and published: the store may say it holds it all.
      const clean = this.control.status === NodeStatus.stopped && this.durableSeq === this.loop.seq - 1;
      this.storageWorker?.postMessage(clean ? { stop: true, through: this.durableSeq } : { stop: true });
      await this.storageExited;
      // A snapshot in flight finishes (its seq is durable now). After a clean stop, with
      // everything applied durable, one more of the final state, so the next start replays
      // nothing; then the worker goes.
      if (this.snapshotWorker !== undefined) {
        const idle = async (): Promise<void> => {
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([this.snapshotIdle, new Promise<void>((r) => (timer = setTimeout(r, 30_000)))]);
          clearTimeout(timer);
        };
        await idle();
        const last = this.loop.seq - 1;
        if (this.snapshotOnStop && this.control.status === NodeStatus.stopped && !this.snapshotInFlight && last > this.lastSnapshotSeq && this.durableSeq === last) {
          this.snapshot(last);
          await idle();
        }
        await this.snapshotWorker.terminate();
      }
    }
  }

  /**
   * After a batch: capture the engine's state every `snapshotEvery` commands and hand it to
   * the snapshot worker. A tenth of the way before a capture is due, the worker is asked for
   * faulted-in buffers of the sizes the capture will need that the buffers held lack (all of
   * them before the first snapshot; those that grew since the last one).
   */
  private maybeSnapshot(seq: number): void {
    if (this.snapshotWorker === undefined) return;
    const since = seq - this.lastSnapshotSeq;
    if (since < this.snapshotEvery) {
      if (!this.prefaultAsked && since >= this.snapshotEvery - Math.ceil(this.snapshotEvery / 10)) {
        this.prefaultAsked = true;
        const sizes = this.captureBuffers.missing(stateBufferSizes(this.engine));
        if (sizes.length > 0) this.snapshotWorker.postMessage({ prefault: sizes } satisfies SnapshotPrefault);
      }
      return;
    }
    if (!this.snapshotInFlight) this.snapshot(seq);
  }

  /** Takes a snapshot of the state as of `seq` now (the loop has applied exactly up to it). */
  private snapshot(seq: number): void {
    const t0 = performance.now();
    const state = captureState(this.engine, this.captureBuffers);
    this.lastCaptureMs = performance.now() - t0;
    this.lastCaptureReusedBytes = this.captureBuffers.reusedBytes;
    this.prefaultAsked = false;
    this.snapshotInFlight = true;
    this.snapshotIdle = new Promise((r) => (this.snapshotWritten = r));
    this.lastSnapshotSeq = seq;
    const job: SnapshotJob = { seq, state, createdNs: BigInt(Date.now()) * 1_000_000n };
    // Shared, not transferred (CaptureBuffers says why): the worker reads them, the reply gives them back.
    this.inFlightBuffers = state.blobs.map((b) => b.buffer as SharedArrayBuffer);
    this.snapshotWorker!.postMessage(job);
  }

  /**
   * The node's metrics in the Prometheus text format: status, sequences, the engine loop's
   * counters, ring lag per consumer slot (read from the ring headers now), and the latest
   * journal and storage worker reports. docs/operations.md lists them.
   */
  metricsText(): string {
    const open = (r: Ring, consumer: (slot: number) => string): RingMetrics => {
      const slots: RingMetrics["slots"] = [];
      for (let s = 0; s < r.slots; s++) {
        const state = r.slotState(s);
        if (state !== SlotState.gating && state !== SlotState.lossy && state !== SlotState.cutOff) continue;
        const mode = state === SlotState.gating ? "gating" : state === SlotState.lossy ? "lossy" : "cutOff";
        slots.push({ slot: s, consumer: consumer(s), mode, lagBytes: r.lag(s), overruns: r.overruns(s) });
      }
      return { ring: r.name, capacityBytes: r.capacity, slots };
    };
    const rings = [
      open(this.journal, () => "journal"),
      ...TOPICS.map((t) => open(this.topics[t], (s) => this.slotConsumers[t][s] ?? "unknown")),
      ...this.inboundRings.map((r) => open(r, () => "engine")),
    ];
    const last = this.snapshots[this.snapshots.length - 1];
    return renderNodeMetrics({
      status: nameOf(NodeStatus, this.control.status),
      statuses: Object.keys(NodeStatus),
      nextSeq: this.loop.seq,
      slowCommitMs: this.control.slowCommitMs,
      durableSeq: this.durableSeq,
      commands: this.loop.commands,
      events: this.loop.events,
      malformed: this.loop.malformed,
      slices: this.loop.slices,
      rings,
      producers: this.loop.producerStats(),
      journal: this.journalData === undefined ? undefined : (this.journalMetrics ?? new JournalMetrics().report(0)),
      storage: this.storeDir === undefined ? undefined : (this.storageMetrics ?? emptyStorageMetrics(JOB_SECONDS_BOUNDS)),
      snapshots: this.snapshotDir === undefined || this.snapshotEvery === 0 ? undefined : {
        written: this.snapshots.length,
        lastSeq: last?.seq ?? 0,
        lastBytes: last?.bytes ?? 0,
        lastCaptureSeconds: (last?.captureMs ?? 0) / 1000,
        lastWriteSeconds: (last?.ms ?? 0) / 1000,
      },
    });
  }

  /** The highest sequence the journal has made durable (low 32 bits compared; exact below 2^32). */
  get durableSeq(): number {
    return this.control.durableLo() >>> 0;
  }
}

export { TOPICS };
