/**
 * The storage worker: a gating consumer of the trades, accounts and l2 rings (released
 * up to the durable sequence) that writes every event into the event store, with its
 * flushes and compactions on a job pool. When the store's flushes fall behind it stops
 * reading, so the rings hold the engine back (the consumer is critical: a store that
 * stays stuck fences the node rather than lose events). It ends when the node tells it
 * the journal worker is done (every durable event is published by then), after draining
 * the rings and flushing the MemTable.
 *
 * Metrics: about once a second, when anything changed, it posts its state to the main
 * thread (`{ metrics }`, a StorageMetricsSnapshot): events written, the flushed sequence,
 * whether the store takes writes, flushes and compactions done and running (counted around
 * the job pool) with their durations, and tables and bytes per level.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer } from "../bus/ring.ts";
import type { Buf } from "../schema/layout.ts";
import { NodeStatus } from "../schema/control.ts";
import { TOPICS, type Topic } from "../schema/topics.ts";
import { poolJobs } from "../lsm/pool.ts";
import type { ThreadPlan } from "../node/threads.ts";
import { inlineJobs, type LsmJobs, type LsmOptions } from "../lsm/tree.ts";
import { Histogram, type HistogramSnapshot } from "../stdx/histogram.ts";
import type { JournalFs } from "../wal/file.ts";
import { pathToFileURL } from "node:url";
import { EventStore } from "./event_store.ts";

/** What the node's configuration sets of the event store (the rest is the store's own). */
export type StoreTuning = Pick<LsmOptions, "memtableBytes" | "maxOpenTables">;

export interface StorageWorkerData {
  dir: string;
  control: SharedArrayBuffer;
  topics: Record<Topic, { ring: SharedArrayBuffer; slot: number }>;
  /** The store's settings from the node's configuration (`VenueNode`'s `storeTuning`). */
  tuning: StoreTuning;
  /**
   * A module whose `createJournalFs()` returns the file layer to write the store with, in
   * place of the real one (fault tests); its flushes and compactions then run on this thread.
   */
  fsModule?: string | undefined;
  /** What the event store's job threads (flushes, compactions) apply to themselves (src/node/threads.ts). */
  jobsThread?: ThreadPlan;
}

export interface StorageStats {
  appended: number;
  skipped: number;
  flushedSeq: number;
  flushes: number;
  compactions: number;
}

/** The storage worker's state at one moment (what it posts to the main thread). */
export interface StorageMetricsSnapshot {
  /** Events written to the store, and events passed over as stored already (after a restart). */
  appended: number;
  skipped: number;
  /** Every event up to this seq is in a table. */
  flushedSeq: number;
  /** False while sealed MemTables wait for flushes: the worker stops reading its rings. */
  writable: boolean;
  /** Times the worker stopped reading its rings to wait for a flush, and for how long in all (backpressure on the engine loop). */
  stalls: number;
  stalledSeconds: number;
  /** Arena bytes in the active MemTable, and sealed MemTables waiting for their flush. */
  memtableBytes: number;
  sealedMemtables: number;
  /** The store failed and takes no writes (the node is fenced). */
  failed: boolean;
  flushes: number;
  flushBytes: number;
  flushesRunning: number;
  /** Merges (tables rewritten) and moves (tables only relabelled a level down). */
  compactions: number;
  moves: number;
  compactionsRunning: number;
  compactionBytesRead: number;
  compactionBytesWritten: number;
  /** Tables open for reads, and those closed to keep under the cap (LsmOptions.maxOpenTables). */
  tablesOpen: number;
  tablesEvicted: number;
  levels: { tables: number; bytes: number }[];
  flushSeconds: HistogramSnapshot;
  compactionSeconds: HistogramSnapshot;
}

/** Flush and compaction duration buckets, in seconds. */
export const JOB_SECONDS_BOUNDS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];
const REPORT_MS = 1_000;
/** Records taken from one ring per poll. */
const POLL_MAX = 256;

/** The job pool with its jobs counted (running) and timed, for metrics. */
function countedJobs(jobs: LsmJobs): { jobs: LsmJobs; running: { flushes: number; compactions: number }; flushSeconds: Histogram; compactionSeconds: Histogram } {
  const running = { flushes: 0, compactions: 0 };
  const flushSeconds = new Histogram(JOB_SECONDS_BOUNDS);
  const compactionSeconds = new Histogram(JOB_SECONDS_BOUNDS);
  return {
    running,
    flushSeconds,
    compactionSeconds,
    jobs: {
      flush: async (req) => {
        const t0 = performance.now();
        running.flushes++;
        try {
          return await jobs.flush(req);
        } finally {
          running.flushes--;
          flushSeconds.record((performance.now() - t0) / 1000);
        }
      },
      compact: async (req) => {
        const t0 = performance.now();
        running.compactions++;
        try {
          return await jobs.compact(req);
        } finally {
          running.compactions--;
          compactionSeconds.record((performance.now() - t0) / 1000);
        }
      },
      close: () => jobs.close(),
    },
  };
}

/**
 * Runs until `stopped()` (the node's journal worker has exited, so every durable event is
 * published) or the node is fenced, then drains, flushes and closes.
 */
export async function runStorage(d: StorageWorkerData, log: (line: string) => void, stopped: () => boolean, onReport?: (m: StorageMetricsSnapshot) => void, completeThrough: () => number | undefined = () => undefined): Promise<StorageStats> {
  const control = new Control(d.control);
  const fs = d.fsModule === undefined ? undefined : ((await import(pathToFileURL(d.fsModule).href)) as { createJournalFs: () => JournalFs }).createJournalFs();
  const counted = countedJobs(fs === undefined ? poolJobs(1, d.jobsThread) : inlineJobs(fs));
  const jobs = counted.jobs;
  const store = EventStore.open(d.dir, { ...d.tuning, jobs, log, ...(fs ? { fs } : {}) });
  let stalls = 0;
  let stalledMs = 0;
  // For a store that takes no writes now: waits until it does, counting the stall.
  const whenWritable = async (): Promise<void> => {
    const t0 = performance.now();
    stalls++;
    await store.tree.whenWritable();
    stalledMs += performance.now() - t0;
  };
  const metrics = (): StorageMetricsSnapshot => {
    const t = store.tree;
    return {
      appended: store.appended,
      skipped: store.skipped,
      flushedSeq: t.flushedSeq,
      writable: t.writable,
      stalls,
      stalledSeconds: stalledMs / 1000,
      memtableBytes: t.memtableBytesUsed,
      sealedMemtables: t.sealedMemtables,
      failed: t.error !== undefined,
      flushes: t.stats.flushes,
      flushBytes: t.stats.flushBytes,
      flushesRunning: counted.running.flushes,
      compactions: t.stats.compactions,
      moves: t.stats.moves,
      compactionsRunning: counted.running.compactions,
      compactionBytesRead: t.stats.compactionBytesRead,
      compactionBytesWritten: t.stats.compactionBytesWritten,
      tablesOpen: t.openTables,
      tablesEvicted: t.stats.tablesEvicted,
      levels: t.stats.levels.map((l) => ({ tables: l.tables, bytes: l.bytes })),
      flushSeconds: counted.flushSeconds.snapshot(),
      compactionSeconds: counted.compactionSeconds.snapshot(),
    };
  };
  let reported = "";
  const report = (): void => {
    if (onReport === undefined) return;
    const m = metrics();
    const key = JSON.stringify(m, (_k, v: unknown) => (v instanceof Float64Array ? Array.from(v) : v));
    if (key === reported) return;
    reported = key;
    onReport(m);
  };
  const consumers = TOPICS.map((t) => {
    const c = new RingConsumer(new Ring(d.topics[t].ring, t), d.topics[t].slot, { durable: control.durableGate });
    const handler = (buf: Buf, offset: number): void => {
      store.append(t, buf, offset);
    };
    return { t, c, handler };
  });
  // Small polls, and none while the store is not writable: a MemTable fills between them.
  // A ring drained after the loop had published every event through seq v (and v is
  // durable) holds nothing more of those seqs: its topic's mark may move to v.
  const pollAll = (): number => {
    let n = 0;
    for (const { t, c, handler } of consumers) {
      if (!store.tree.writable) break;
      const e = control.eventsPublishedLo();
      const d = control.durableLo();
      const k = c.poll(handler, POLL_MAX);
      n += k;
      if (k < POLL_MAX) store.quietThrough(t, ((e - d) | 0) <= 0 ? e : d);
    }
    return n;
  };
  report();
  const reporter = onReport === undefined ? undefined : setInterval(report, REPORT_MS);
  try {
    let idle = 0;
    for (;;) {
      if (store.tree.error !== undefined) throw store.tree.error;
      if (!store.tree.writable) await whenWritable();
      const n = pollAll();
      if (n > 0) {
        idle = 0;
        // Let job results (flushes, compactions) be installed now and then.
        if ((store.appended & 0xffff) < n) await new Promise((r) => setImmediate(r));
        continue;
      }
      if (stopped() || control.status === NodeStatus.fenced) {
        const drain = async (): Promise<void> => {
          for (;;) {
            if (!store.tree.writable) await whenWritable();
            if (store.tree.error !== undefined) throw store.tree.error;
            if (pollAll() === 0 && store.tree.writable) return;
          }
        };
        await drain();
        // A clean stop: every event through the last durable seq is in; the mark says so.
        const through = control.status === NodeStatus.fenced ? undefined : completeThrough();
        if (through !== undefined) await store.completeThrough(through);
        break;
      }
      // Idle: a short sleep (this consumer has no latency target; it must not spin a core).
      await new Promise((r) => setTimeout(r, idle++ < 100 ? 0 : 1));
    }
    await store.flush();
    await store.tree.idle();
  } finally {
    clearInterval(reporter);
    await store.close();
    await jobs.close();
  }
  report();
  return { appended: store.appended, skipped: store.skipped, flushedSeq: store.tree.flushedSeq, flushes: store.tree.stats.flushes, compactions: store.tree.stats.compactions };
}

const data = (workerData as { storage?: StorageWorkerData } | undefined)?.storage;
if (parentPort !== null && data !== undefined) {
  let stop = false;
  let through: number | undefined;
  const onMessage = (m: { stop?: true; through?: number }): void => {
    if (m.stop) stop = true;
    if (m.through !== undefined) through = m.through;
  };
  parentPort.on("message", onMessage);
  const port = parentPort;
  const stats = await runStorage(data, (line) => port.postMessage({ log: line }), () => stop, (metrics) => port.postMessage({ metrics }), () => through);
  parentPort.off("message", onMessage); // so the thread can end
  parentPort.postMessage({ stats });
}
