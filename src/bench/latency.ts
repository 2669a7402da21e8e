/**
 * `venue bench latency`: where every microsecond of an order goes, through the whole node,
 * next to the disk's own fdatasync floor measured in the same run.
 *
 * The node is the real one, in this process: VenueNode with a data directory (recovery,
 * the journal worker with group commit, snapshots, the event store unless --no-store), the
 * engine loop on the main thread. Around it, on worker threads (src/bench/latency_worker.ts):
 * an open-loop driver that owns driver ring 0, a probe consumer of the accounts topic, and
 * (unless --no-plugin) a plugin (src/bench/latency_plugin.ts) reading the same topic. The
 * main thread only sets steps up between steps; while a step runs it is the engine's. Each
 * step starts from empty books (every account's resting orders are cancelled before it,
 * untimed) and from a node that has applied, made durable and released everything before.
 *
 * Each step sends N orders of a pre-generated realistic flow at a fixed rate, order i due
 * at t0 + i / rate, and every order is timed from its scheduled time through the stages:
 *
 *   submitted   the driver published it to the inbound ring (its own lateness: it sleeps
 *               between bursts, ~0.1 ms at best on Linux, unless --driver-spin)
 *   sequenced   the engine loop's stamp in the record header: the loop reads its clock at
 *               the first command of each pass and then every 64 commands, and applies
 *               (matches) each command right after stamping it
 *   durable     the durable seq covers it: the first time a thread saw it, the driver
 *               (parked on the durable cell between bursts) or the probe (released by it)
 *   released    the probe, gated on durability, read its first event (accepted for a new
 *               order; updated or rejected for a cancel or an amend)
 *   plugin      the plugin's onEvent saw it
 *   gateway     (--gateway, a separate node and a lower rate) a DIFF client saw it ALIVE
 *
 * Rates: the given ones in order, then `max`: the highest rate found sustained, searched
 * from the steps so far: x1.5 above the best sustained rate while no higher rate has
 * failed, then the geometric mean of the best sustained and the lowest failed rate, until
 * they are within 12% or --search-steps have run. A step is
 * sustained when every order was released and the median latency (schedule -> released)
 * of its last fifth of orders is at most --sustain-ms: above the node's capacity the
 * backlog, and so that latency, grows for as long as the step runs. Such a step gives up
 * once an order is --give-up-ms late and still not durable, and reports the orders it sent.
 *
 * Times: src/bench/clock.ts on every thread (CLOCK_MONOTONIC). Histograms: Node's own HDR
 * histogram (perf_hooks.createHistogram, 3 significant digits), so the command needs no
 * dependency beyond the node's. Output: a table on standard output, progress on standard
 * error, a JSON result and an SVG percentile plot in --out.
 */

import { Worker } from "node:worker_threads";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { VenueNode } from "../node/node.ts";
import { Cells } from "../bus/cells.ts";
import { DEFAULT_WAIT, describeWait, type WaitStrategy } from "../bus/wait.ts";
import type { Buf } from "../schema/layout.ts";
import { CommitTraceReader, createCommitTrace, type CommitEntry } from "../wal/commit_trace.ts";
import { stampAnchor } from "./clock.ts";
import {
  ACCOUNTS,
  C_DONE,
  C_GO,
  C_PLUGIN_OVERRUNS,
  C_PLUGIN_SEEN,
  C_PROBE_OVERRUNS,
  C_PROBE_SEEN,
  C_PUSHED,
  C_READY,
  C_STOP,
  CYCLES_MAX,
  INSTRUMENTS,
  STAGES,
  S_BASE,
  S_BURSTS,
  S_COUNT,
  S_CYCLE,
  S_DURABLE_CHANGES,
  S_LATE_MAX_NS,
  S_PERIOD_NS,
  S_GIVE_UP_NS,
  S_SENT,
  S_STEP,
  S_T0_NS,
  buildChunk,
  clearBookCommands,
  createShared,
  setupCommands,
  type FlowChunk,
  type Shared,
  type Stage,
} from "./latency_flow.ts";
import type { DriverData, ProbeData } from "./latency_worker.ts";
import { measureFdatasync } from "./fsync_floor.ts";
import { cpuSample, cpuUse, threadCpuSample, threadCpuUse, diskInfo, machineInfo, sourceInfo, type CpuUse, type DiskInfo, type MachineInfo, type SourceInfo } from "./machine.ts";
import { Progress } from "./progress.ts";
import { runGatewayPhase } from "./latency_gateway.ts";
import { percentileSvg, plotPercentiles, type PlotLine, type PlotPanel } from "./latency_svg.ts";
import { planFor, type ThreadScheduling } from "../node/threads.ts";

/** The wait strategies by the names `venue start --wait` takes. */
export type WaitName = "spin-park" | "spin" | "park";

export interface LatencyOptions {
  quick: boolean;
  /** Rates to run, orders/s, in order; "max" searches for the sustainable maximum. */
  rates: Array<number | "max">;
  /** Seconds per fixed-rate step, per search step, and of the warm-up. */
  seconds: number;
  searchSeconds: number;
  warmupSeconds: number;
  /** Steps the max search may take, and the highest rate it tries. */
  searchSteps: number;
  searchRateMax: number;
  sustainMs: number;
  /** A step stops sending once an order is this late and not yet durable (the node is not keeping up). */
  giveUpMs: number;
  /** Commands in the generated flow chunk, and its seed. */
  chunk: number;
  seed: number;
  /** Raw fdatasync samples, half before the node runs and half after. */
  fsyncs: number;
  /** Where the node's data and the floor's file go (removed afterwards unless --keep). */
  dataDir: string;
  keep: boolean;
  outDir: string;
  wait: WaitName;
  driverSpin: boolean;
  /** The node's thread scheduling (src/node/threads.ts); the driver and the probe take the critical slice too. */
  threads: ThreadScheduling;
  plugin: boolean;
  store: boolean;
  gateway: boolean;
  gatewayRate: number;
  gatewaySeconds: number;
  /** The command line as run (for the report). */
  command: string;
}

/** Percentiles of one stage, in ns. */
export interface Pct {
  count: number;
  /** Orders of the step that never reached this stage (should be 0). */
  missing: number;
  p50: number;
  p99: number;
  p999: number;
  p9999: number;
  max: number;
  mean: number;
}

export interface StepResult {
  label: string;
  kind: "warm-up" | "fixed" | "search";
  ratePerS: number;
  seconds: number;
  /** Orders the step was to send, and those it sent (fewer when it gave up). */
  planned: number;
  orders: number;
  gaveUp: boolean;
  /** Orders released per second, first scheduled to last released. */
  releasedPerS: number;
  sustained: boolean;
  /** Median schedule -> released latency of the last fifth of the orders, ns. */
  lastFifthReleasedP50Ns: number;
  stages: Record<Stage, Pct>;
  /** Per order, released minus submitted: the node's part of the time (the driver's lateness taken out). */
  releasedFromSubmit: Pct;
  driver: { bursts: number; lateMaxNs: number; durableAdvances: number; ordersPerAdvance: number };
  cpu: CpuUse;
  /** Cores each of the process's threads used in the step, by name, busiest first (Linux; empty elsewhere). */
  threads: Array<{ name: string; cores: number }>;
  /** What the event store wrote in the step, MB (from the storage worker's reports, which are up to a second old); null without a store. */
  store: { flushedMB: number; compactionWrittenMB: number; compactionReadMB: number; flushes: number; compactions: number; moves: number } | null;
  snapshots: Array<{ seq: number; captureMs: number }>;
  producerWaits: number;
  cutOffs: number;
  /** [percentile, ns] per stage, for plots. */
  curves: Partial<Record<Stage | "releasedFromSubmit", Array<[number, number]>>>;
  /** The journal worker's group commits during the step (src/wal/commit_trace.ts), or null without a journal. */
  journal: StepJournal | null;
}

/**
 * The durable stage taken apart with the journal's record of its group commits. Per commit:
 * its write (first write started to fdatasync started) and its fdatasync. Per order, the
 * commit that made it durable splits sequenced -> durable into four parts that add up to it:
 * waiting for its group's write (the commit before it still running, the journal worker's
 * wake-up and the framing), that group's write, its fdatasync, and seen (the durable seq
 * published and the first observer woken).
 */
export interface StepJournal {
  commits: number;
  commandsPerCommit: number;
  write: Pct;
  fdatasync: Pct;
  perOrder: { toWrite: Pct; write: Pct; fdatasync: Pct; seen: Pct };
  /** Durable orders no recorded commit covered (none, unless the record overflowed). */
  unmatched: number;
}

export interface ThreadNote {
  thread: string;
  wait: string;
  spins: boolean;
  /** Its scheduling (src/node/threads.ts): a scheduler slice, a nice value, or the default. */
  scheduling: string;
}

export interface LatencyResult {
  benchmark: "latency";
  version: 1;
  date: string;
  quick: boolean;
  command: string;
  machine: MachineInfo;
  disk: DiskInfo;
  source: SourceInfo;
  wait: { strategy: WaitName; description: string };
  threads: ThreadNote[];
  spinningThreads: number;
  cores: number;
  params: Omit<LatencyOptions, "command" | "quick"> & { instruments: number; accounts: number; chunkMix: FlowChunk["mix"] };
  fdatasync: { samples: number; perS: number; all: Pct; before: Pct; after: Pct; curve: Array<[number, number]> };
  steps: StepResult[];
  max: { ratePerS: number; step: string } | null;
  gateway: { ratePerS: number; seconds: number; sent: number; acknowledged: number; fromSchedule: Pct; fromSend: Pct; sendLateMaxNs: number; loginMs: number; curve: Array<[number, number]> } | null;
  journal: { groups: number; records: number; commandsPerFdatasync: number } | null;
  target: {
    text: string;
    ratePerS: number;
    fdatasyncP99Ns: number;
    boundNs: number;
    releasedP99FromScheduleNs: number | null;
    releasedP99FromSubmitNs: number | null;
    metFromSchedule: boolean | null;
    metFromSubmit: boolean | null;
  };
  nodeLog: string[];
  wallSeconds: number;
  files: { json: string; svg: string };
}

export interface LatencyIo {
  /** A line of results (standard output). */
  out: (line: string) => void;
  progress: Progress;
}

const PLUGIN_MODULE = fileURLToPath(new URL("./latency_plugin.ts", import.meta.url));
const WORKER = new URL("../../workers/bench_latency.mjs", import.meta.url);
const TARGET_RATE = 100_000;
/** The warm-up's rate (JIT, first segment blocks, rings touched): not recorded. */
const WARMUP_RATE = 100_000;
const TARGET_PLUS_NS = 100_000;
/** Group commits the journal's record keeps (48 bytes each): a step reads its own after it ends. */
const COMMIT_TRACE_CAPACITY = 1 << 18;
const STAGE_TEXT: Record<Stage, string> = {
  submitted: "submitted: the driver published it to the inbound ring",
  sequenced: "sequenced: the engine loop's stamp (applied right after)",
  durable: "durable: the durable seq covers it (first seen)",
  released: "released: the probe consumer read its first event",
  plugin: "plugin: the plugin's onEvent saw it",
};
const COLORS: Record<Stage | "releasedFromSubmit" | "gateway" | "fdatasync", string> = {
  submitted: "#868e96",
  sequenced: "#1b6ac9",
  durable: "#2b8a3e",
  released: "#d9480f",
  plugin: "#862e9c",
  releasedFromSubmit: "#e8590c",
  gateway: "#c2255c",
  fdatasync: "#000000",
};

export function waitStrategy(name: WaitName): WaitStrategy {
  if (name === "spin") return { kind: "spin" };
  if (name === "park") return { kind: "park", parkMs: 1 };
  return DEFAULT_WAIT;
}

const newHist = (): RecordableHistogram => createHistogram({ lowest: 1, highest: 3_600_000_000_000, figures: 3 });
const recordNs = (h: RecordableHistogram, ns: number): void => h.record(Math.max(1, Math.min(3_600_000_000_000, Math.round(ns))));

function pctOf(h: RecordableHistogram, missing = 0): Pct {
  if (h.count === 0) return { count: 0, missing, p50: NaN, p99: NaN, p999: NaN, p9999: NaN, max: NaN, mean: NaN };
  // A percentile is its bucket's highest equivalent value: never above the recorded max.
  const at = (p: number): number => Math.min(h.percentile(p), h.max);
  return { count: h.count, missing, p50: at(50), p99: at(99), p999: at(99.9), p9999: at(99.99), max: h.max, mean: h.mean };
}

function curveOf(h: RecordableHistogram): Array<[number, number]> {
  if (h.count === 0) return [];
  const ps = plotPercentiles(h.count);
  const pts = ps.map((p) => [p, p === 0 ? h.min : Math.min(h.percentile(p), h.max)] as [number, number]);
  // The max, where the sample count stops resolving percentiles (1 / (1 - p) = count), at most p99.999.
  pts.push([Math.min(99.999, Math.max(ps[ps.length - 1] ?? 0, 100 * (1 - 1 / h.count))), h.max]);
  return pts;
}

export const fmtNs = (ns: number): string =>
  !Number.isFinite(ns) ? "-" : ns >= 1e9 ? `${(ns / 1e9).toFixed(2)} s` : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(ns >= 1e5 ? 0 : 1)} µs` : `${Math.round(ns)} ns`;
export const fmtRate = (r: number): string => (r >= 1e6 ? `${+(r / 1e6).toFixed(2)}M/s` : r >= 1e3 ? `${+(r / 1e3).toFixed(1)}k/s` : `${Math.round(r)}/s`);
const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Rounds a rate to two significant digits. */
const round2 = (r: number): number => {
  const p = Math.pow(10, Math.floor(Math.log10(r)) - 1);
  return Math.round(r / p) * p;
};

interface WorkerHandle {
  worker: Worker;
  /** Resolves when the worker reports done; rejects on its error or exit. */
  finished: Promise<void>;
}

function startWorker(data: DriverData | ProbeData, name: string): WorkerHandle {
  const worker = new Worker(WORKER, { workerData: data, name });
  const finished = new Promise<void>((res, rej) => {
    worker.on("message", (m: { done?: boolean; error?: string }) => {
      if (m.error !== undefined) rej(new Error(`${name}: ${m.error}`));
      else if (m.done === true) res();
    });
    worker.on("error", (e) => rej(e));
    worker.on("exit", (code) => rej(new Error(`${name} exited with code ${code}`)));
  });
  finished.catch(() => {});
  return { worker, finished };
}

/** The node, its observers and the shared buffers of one run. */
class Rig {
  readonly cells: Cells;
  readonly step: Float64Array;
  readonly lat: Record<Stage, Float32Array>;
  private stepNo = 0;
  private cycle = 0;
  fault: unknown;
  readonly loopDone: Promise<void>;

  constructor(
    readonly node: VenueNode,
    readonly shared: Shared,
    readonly chunk: FlowChunk,
    readonly probeSlot: number,
    readonly driver: WorkerHandle,
    readonly probe: WorkerHandle,
    readonly plugin: boolean,
    private readonly io: LatencyIo,
    private readonly trace: CommitTraceReader | undefined,
  ) {
    this.cells = new Cells(shared.cells);
    this.step = new Float64Array(shared.step);
    this.lat = {} as Record<Stage, Float32Array>;
    for (const s of STAGES) this.lat[s] = new Float32Array(shared.lat[s]);
    this.loopDone = node.start().catch((e: unknown) => {
      this.fault = e;
    });
    for (const w of [driver, probe]) w.finished.catch((e: unknown) => (this.fault ??= e));
  }

  private check(): void {
    if (this.fault !== undefined) throw this.fault instanceof Error ? this.fault : new Error(String(this.fault));
  }

  /** Waits (yielding to the event loop, so the engine loop runs) until `cond`, or throws after `ms`. */
  async until(cond: () => boolean, ms: number, what: string, tick?: () => void): Promise<void> {
    const t0 = performance.now();
    let lastTick = 0;
    while (!cond()) {
      this.check();
      const now = performance.now();
      if (now - t0 > ms) throw new Error(`${what}: not done within ${(ms / 1000).toFixed(0)} s`);
      if (tick !== undefined && now - lastTick >= 200) {
        lastTick = now;
        tick();
      }
      await pause(2);
    }
    this.check();
  }

  /** Sends commands through the main thread's driver ring (ring 1) and waits until they are durable and read by the probe. */
  async send(commands: Array<(buf: Buf, offset: number) => number>, what: string): Promise<void> {
    const d = this.node.drivers[1]!;
    const target = this.node.loop.seq + commands.length;
    for (let k = 0; k < commands.length; k++) {
      d.submit(commands[k]!);
      if ((k & 255) === 255) {
        d.flush();
        await pause(0);
      }
    }
    d.flush();
    await this.quiesce(target, what);
  }

  /** Waits until every command before `nextSeq` is applied and durable and the probe has read its events. */
  async quiesce(nextSeq: number, what: string): Promise<void> {
    const accounts = this.node.topics.accounts;
    await this.until(() => this.node.loop.seq >= nextSeq && this.node.durableSeq >= nextSeq - 1 && accounts.lag(this.probeSlot) === 0, 60_000, what);
  }

  /** Runs one step: `ratePerS` for `seconds` (fewer orders if the node falls behind); returns its figures. */
  async run(label: string, kind: StepResult["kind"], ratePerS: number, seconds: number, sustainMs: number, giveUpMs: number): Promise<StepResult> {
    const planned = Math.max(1, Math.min(this.shared.capacity, Math.round(ratePerS * seconds)));
    const node = this.node;
    await this.send(clearBookCommands(), "cancelling the resting orders between steps");
    await pause(20); // the storage worker and the plugin catch up too
    const base = node.loop.seq;
    for (const s of STAGES) this.lat[s].fill(NaN, 0, planned);
    const cycles = Math.ceil(planned / this.chunk.count);
    if (this.cycle + cycles > CYCLES_MAX) throw new Error(`this run would send the flow chunk more than ${CYCLES_MAX} times: use a larger --chunk`);
    const n = ++this.stepNo;
    const st = this.step;
    st[S_STEP] = n;
    st[S_BASE] = base;
    st[S_COUNT] = planned;
    st[S_PERIOD_NS] = 1e9 / ratePerS;
    st[S_T0_NS] = NaN;
    st[S_CYCLE] = this.cycle;
    st[S_GIVE_UP_NS] = giveUpMs * 1e6;
    st[S_SENT] = NaN;
    this.cycle += cycles;
    const cells = this.cells;
    cells.store(C_PUSHED, 0);
    cells.store(C_PROBE_SEEN, 0);
    cells.store(C_PLUGIN_SEEN, 0);
    const snaps0 = node.snapshots.length;
    const prod0 = node.loop.producerStats();
    const cpu0 = cpuSample();
    const threads0 = threadCpuSample();
    const store0 = node.storageMetrics;
    const commits0 = this.trace?.count ?? 0;
    const t0 = performance.now();
    cells.store(C_GO, n);
    cells.notify(C_GO);
    const show = (): void => {
      const el = (performance.now() - t0) / 1000;
      this.io.progress.update(
        `${label}: ${fmtRate(ratePerS)}, ${el.toFixed(1)}/${seconds} s, ${fmtInt(cells.load(C_PUSHED))} of ${fmtInt(planned)} sent, ${fmtInt(cells.load(C_PROBE_SEEN))} released, durable seq ${fmtInt(node.durableSeq)}`,
      );
    };
    // The driver's done comes first (it stores the orders it sent before it, and it waits
    // until they are all durable); then the readers finish. A reader that was cut off never
    // sees every order: it is done once it has read the whole ring (the probe: its slot's
    // lag is 0; the plugin: its count has not moved for a second after the probe was done).
    const probeOverruns0 = cells.load(C_PROBE_OVERRUNS);
    const pluginOverruns0 = cells.load(C_PLUGIN_OVERRUNS);
    let pluginCount = -1;
    let pluginStillSince = 0;
    const done = (): boolean => {
      if (cells.load(C_DONE) !== n) return false;
      const sent = st[S_SENT]!;
      const probeDone = cells.load(C_PROBE_SEEN) === sent || (cells.load(C_PROBE_OVERRUNS) !== probeOverruns0 && node.topics.accounts.lag(this.probeSlot) === 0);
      if (!probeDone || !this.plugin) return probeDone;
      const seen = cells.load(C_PLUGIN_SEEN);
      if (seen === sent) return true;
      if (cells.load(C_PLUGIN_OVERRUNS) === pluginOverruns0) return false;
      if (seen !== pluginCount) {
        pluginCount = seen;
        pluginStillSince = performance.now();
      }
      return performance.now() - pluginStillSince > 1_000;
    };
    await this.until(done, seconds * 1000 + giveUpMs + 90_000, `${label} at ${fmtRate(ratePerS)}`, show);
    const orders = st[S_SENT]!;
    const cpu1 = cpuSample();
    const cpu = cpuUse(cpu0, cpu1);
    const threads = threadCpuUse(threads0, threadCpuSample(), cpu1.wallMs - cpu0.wallMs);
    const store1 = node.storageMetrics;
    if (node.loop.seq !== base + orders) throw new Error(`${label}: ${node.loop.seq - base} commands were sequenced for ${orders} orders: another source sent commands during the step`);
    const prod1 = node.loop.producerStats();
    const result = this.figures(label, kind, ratePerS, planned, orders, sustainMs);
    result.cpu = cpu;
    result.threads = threads;
    result.store =
      store0 === undefined || store1 === undefined
        ? null
        : {
            flushedMB: (store1.flushBytes - store0.flushBytes) / 1e6,
            compactionWrittenMB: (store1.compactionBytesWritten - store0.compactionBytesWritten) / 1e6,
            compactionReadMB: (store1.compactionBytesRead - store0.compactionBytesRead) / 1e6,
            flushes: store1.flushes - store0.flushes,
            compactions: store1.compactions - store0.compactions,
            moves: store1.moves - store0.moves,
          };
    result.snapshots = node.snapshots.slice(snaps0).map((s) => ({ seq: s.seq, captureMs: s.captureMs }));
    result.producerWaits = prod1.reduce((a, p) => a + p.waits, 0) - prod0.reduce((a, p) => a + p.waits, 0);
    result.cutOffs = prod1.reduce((a, p) => a + p.cutOffs, 0) - prod0.reduce((a, p) => a + p.cutOffs, 0);
    if (this.trace !== undefined) result.journal = this.journalFigures(this.trace.read(commits0, this.trace.count), base, orders);
    return result;
  }

  /** StepJournal of the step just run, from its commits and the orders' stage times. */
  private journalFigures(commits: CommitEntry[], base: number, orders: number): StepJournal {
    const write = newHist();
    const sync = newHist();
    let commands = 0;
    for (const c of commits) {
      recordNs(write, c.syncStartNs - c.groupStartNs);
      recordNs(sync, c.syncEndNs - c.syncStartNs);
      commands += c.commands;
    }
    const toWrite = newHist();
    const oWrite = newHist();
    const oSync = newHist();
    const seen = newHist();
    const t0 = this.step[S_T0_NS]!;
    const period = this.step[S_PERIOD_NS]!;
    const seqd = this.lat.sequenced;
    const dur = this.lat.durable;
    let unmatched = 0;
    let k = 0;
    for (let i = 0; i < orders; i++) {
      if (Number.isNaN(seqd[i]!) || Number.isNaN(dur[i]!)) continue;
      const seq = base + i;
      while (k < commits.length && commits[k]!.lastSeq < seq) k++;
      if (k === commits.length) {
        unmatched++;
        continue;
      }
      const c = commits[k]!;
      const sched = t0 + i * period;
      recordNs(toWrite, c.groupStartNs - (sched + seqd[i]! * 1e3));
      recordNs(oWrite, c.syncStartNs - c.groupStartNs);
      recordNs(oSync, c.syncEndNs - c.syncStartNs);
      recordNs(seen, sched + dur[i]! * 1e3 - c.syncEndNs);
    }
    return {
      commits: commits.length,
      commandsPerCommit: commits.length > 0 ? commands / commits.length : NaN,
      write: pctOf(write),
      fdatasync: pctOf(sync),
      perOrder: { toWrite: pctOf(toWrite), write: pctOf(oWrite), fdatasync: pctOf(oSync), seen: pctOf(seen) },
      unmatched,
    };
  }

  /** Histograms and verdict of the step just run (main thread, after the step: the node is idle). */
  private figures(label: string, kind: StepResult["kind"], ratePerS: number, planned: number, orders: number, sustainMs: number): StepResult {
    const st = this.step;
    // Durable: the first thread to see the durable seq cover the order. Both the driver
    // (parked on the durable cell) and the probe (released by it) are woken by the
    // journal's notify; whichever ran first saw it first.
    const dur = this.lat.durable;
    const relAll = this.lat.released;
    for (let i = 0; i < orders; i++) if (relAll[i]! < dur[i]! || Number.isNaN(dur[i]!)) dur[i] = relAll[i]!;
    const stages = {} as Record<Stage, Pct>;
    const curves: StepResult["curves"] = {};
    for (const s of STAGES) {
      if (s === "plugin" && !this.plugin) continue;
      const h = newHist();
      const a = this.lat[s];
      let missing = 0;
      for (let i = 0; i < orders; i++) {
        const us = a[i]!;
        if (Number.isNaN(us)) missing++;
        else recordNs(h, us * 1e3);
      }
      stages[s] = pctOf(h, missing);
      curves[s] = curveOf(h);
    }
    const fromSubmit = newHist();
    const rel = this.lat.released;
    const sub = this.lat.submitted;
    let lastRelease = 0;
    const period = st[S_PERIOD_NS]!;
    for (let i = 0; i < orders; i++) {
      const r = rel[i]!;
      if (Number.isNaN(r)) continue;
      recordNs(fromSubmit, (r - sub[i]!) * 1e3);
      lastRelease = Math.max(lastRelease, i * period + r * 1e3);
    }
    curves.releasedFromSubmit = curveOf(fromSubmit);
    const tail = Float32Array.from(rel.subarray(Math.floor(orders * 0.8), orders)).sort();
    const lastFifthP50 = tail.length === 0 ? NaN : tail[Math.floor(tail.length / 2)]! * 1e3;
    const released = stages.released;
    const gaveUp = orders < planned;
    const sustained = !gaveUp && released.missing === 0 && lastFifthP50 <= sustainMs * 1e6;
    const advances = st[S_DURABLE_CHANGES]!;
    return {
      label, kind, ratePerS, seconds: orders / ratePerS, planned, orders, gaveUp,
      releasedPerS: lastRelease > 0 ? orders / (lastRelease / 1e9) : NaN,
      sustained,
      lastFifthReleasedP50Ns: lastFifthP50,
      stages,
      releasedFromSubmit: pctOf(fromSubmit),
      driver: { bursts: st[S_BURSTS]!, lateMaxNs: st[S_LATE_MAX_NS]!, durableAdvances: advances, ordersPerAdvance: advances > 0 ? orders / advances : NaN },
      cpu: { ownCores: NaN, otherCores: NaN, stealCores: NaN },
      threads: [],
      store: null,
      snapshots: [],
      producerWaits: 0,
      cutOffs: 0,
      curves,
      journal: null,
    };
  }

  /** Stops the observers and the node. */
  async stop(): Promise<void> {
    this.cells.store(C_STOP, 1);
    this.cells.notify(C_GO);
    const settle = (p: Promise<void>): Promise<void> => Promise.race([p.catch(() => {}), pause(5_000)]);
    await Promise.all([settle(this.driver.finished), settle(this.probe.finished)]);
    await Promise.all([this.driver.worker.terminate(), this.probe.worker.terminate()]);
    await this.node.stop();
    await this.loopDone;
  }
}

/** The threads of the run and how each waits. */
function threadNotes(o: LatencyOptions): ThreadNote[] {
  const w = waitStrategy(o.wait);
  const desc = describeWait(w);
  const spins = w.kind !== "park";
  const s = o.threads;
  const critical = s.criticalSliceUs > 0 ? `slice ${s.criticalSliceUs} µs` : "default";
  const bulk = s.bulkNice > 0 ? `nice ${s.bulkNice}` : "default";
  const notes: ThreadNote[] = [
    { thread: "engine loop (main thread)", wait: desc, spins, scheduling: critical },
    { thread: "journal worker", wait: desc, spins, scheduling: critical },
    { thread: "probe consumer (accounts topic)", wait: desc, spins, scheduling: critical },
  ];
  if (o.plugin) notes.push({ thread: "plugin host (accounts topic)", wait: desc, spins, scheduling: "default" });
  notes.push({ thread: "driver", wait: o.driverSpin ? "busy-spin between bursts (owns a core)" : "parks until the next order is due or the durable seq moves", spins: o.driverSpin, scheduling: critical });
  if (o.store) {
    notes.push({ thread: "storage worker (event store)", wait: "polls, sleeps 0-1 ms when idle", spins: false, scheduling: bulk });
    notes.push({ thread: "event store job thread (flushes, compactions)", wait: "idle between jobs", spins: false, scheduling: bulk });
  }
  notes.push({ thread: "snapshot worker", wait: "idle between snapshots", spins: false, scheduling: bulk });
  if (o.gateway) notes.push({ thread: "gateway phase: market-data and gateway workers and a DIFF client (a second node, run after the others)", wait: "timers and parks", spins: false, scheduling: `gateway ${critical}, market data default` });
  return notes;
}

export async function runLatency(o: LatencyOptions, io: LatencyIo): Promise<LatencyResult> {
  const wall0 = performance.now();
  const out = io.out;
  mkdirSync(o.dataDir, { recursive: true });
  mkdirSync(o.outDir, { recursive: true });
  const machine = machineInfo();
  const disk = diskInfo(o.dataDir);
  const source = sourceInfo(fileURLToPath(new URL("../..", import.meta.url)));
  const wait = waitStrategy(o.wait);
  const threads = threadNotes(o);
  const spinning = threads.filter((t) => t.spins).length;
  const cores = machine.availableParallelism;
  const fixed = o.rates.filter((r): r is number => r !== "max");
  out(`venue bench latency${o.quick ? " --quick (a short run that proves the harness works; not a measurement)" : ""}`);
  out(`  command: ${o.command}`);
  out(`  machine: ${machine.cpu}, ${machine.logicalCpus} logical CPUs (${cores} available), ${machine.memoryGiB} GiB, ${machine.platform}, Node ${machine.node}; load average at start ${machine.loadAverage.join(" ")}`);
  out(`  disk: ${disk.device} (${disk.fsType}, ${disk.mountOptions}) at ${disk.mountPoint}; write cache ${disk.writeCache}, rotational ${disk.rotational}; data in ${disk.path}`);
  out(`  source: ${source.commit}${source.dirty.length > 0 ? ` + uncommitted changes in ${source.dirty.length} file(s) under src/` : ""}`);
  out(`  wait strategy: ${o.wait} = ${describeWait(wait)}; ${spinning} thread(s) spin${wait.kind === "spinPark" ? " (then park)" : ""} on ${cores} core(s)${spinning > cores ? ": more spinning threads than cores, so they take turns, and the figures show it" : ""}`);
  for (const t of threads) out(`    ${t.thread}: ${t.wait}; scheduling ${t.scheduling}`);
  out(`  flow: ${fmtInt(o.chunk)} generated commands (seed ${o.seed}; ${INSTRUMENTS} instruments, ${ACCOUNTS} accounts, margin accounts on), sent over and over; rates ${o.rates.map((r) => (r === "max" ? "max" : fmtRate(r))).join(", ")}; ${o.seconds} s a step (search steps ${o.searchSeconds} s), warm-up ${o.warmupSeconds} s`);
  out("");

  // The floor, first half.
  const floorDir = join(o.dataDir, "floor");
  const floorAll = newHist();
  const floorBefore = newHist();
  const floorAfter = newHist();
  const half = Math.max(1, Math.floor(o.fsyncs / 2));
  io.progress.update(`raw fdatasync: ${fmtInt(half)} samples`);
  const perS0 = measureFdatasync(floorDir, half, floorBefore);
  floorAll.add(floorBefore);

  io.progress.update(`generating the order flow: ${fmtInt(o.chunk)} commands`);
  const tGen = performance.now();
  const chunk = buildChunk(o.seed, o.chunk);
  const genMs = performance.now() - tGen;
  io.progress.note(`order flow: ${fmtInt(chunk.count)} commands (${chunk.mix.new} new, ${chunk.mix.cancel} cancel, ${chunk.mix.amend} amend) generated in ${(genMs / 1000).toFixed(1)} s`);

  const searchTop = o.rates.includes("max") ? o.searchRateMax * o.searchSeconds : 0;
  const capacity = Math.ceil(Math.max(WARMUP_RATE * o.warmupSeconds, ...fixed.map((r) => r * o.seconds), searchTop)) + 1;
  const shared = createShared(capacity);
  const nodeLog: string[] = [];
  const commitTrace = createCommitTrace(COMMIT_TRACE_CAPACITY);
  const node = new VenueNode({
    dataDir: join(o.dataDir, "node"),
    commitTrace,
    drivers: 2,
    wait,
    threads: o.threads,
    eventStore: o.store,
    log: (line, component = "node", level = "info") => {
      if (nodeLog.length < 500) nodeLog.push(`${component}${level === "info" ? "" : ` ${level}`}: ${line}`);
    },
    ...(o.plugin ? { plugins: [{ module: PLUGIN_MODULE, name: "latency", topics: ["accounts" as const], delivery: "gating" as const, options: { step: shared.step, cells: shared.cells, lat: shared.lat.plugin } }] } : {}),
  });
  const probeSlot = node.allocSlot("accounts", "latency probe");
  node.topics.accounts.openSlot(probeSlot, "gating");
  const anchor = stampAnchor();
  const driver = startWorker({ role: "driver", shared, chunk, ring: node.drivers[0]!.ring.sab, control: node.control.sab, wait, spin: o.driverSpin, thread: { ...planFor("bench", o.threads), name: "bench-driver" } }, "latency driver");
  const probe = startWorker({ role: "probe", shared, ring: node.topics.accounts.sab, slot: probeSlot, control: node.control.sab, wait, anchor, thread: { ...planFor("bench", o.threads), name: "bench-probe" } }, "latency probe");
  const rig = new Rig(node, shared, chunk, probeSlot, driver, probe, o.plugin, io, new CommitTraceReader(commitTrace));
  const steps: StepResult[] = [];
  let maxStep: StepResult | undefined;
  try {
    io.progress.update("starting the node and its observers");
    await rig.until(() => rig.cells.load(C_READY) === 2, 60_000, "starting the driver and probe threads");
    await rig.send(setupCommands(), "setting up instruments and accounts");
    const report = (s: StepResult): void => {
      const r = s.stages.released;
      io.progress.note(
        `  ${s.label.padEnd(10)} ${fmtRate(s.ratePerS).padStart(9)}: released p50 ${fmtNs(r.p50)}, p99 ${fmtNs(r.p99)}, max ${fmtNs(r.max)}; ${s.kind === "warm-up" ? "warm-up, not recorded" : s.sustained ? "sustained" : `NOT sustained (${notSustained(s)})`}`,
      );
    };
    report(await rig.run("warm-up", "warm-up", WARMUP_RATE, o.warmupSeconds, o.sustainMs, o.giveUpMs));
    let lo = 0;
    let hi = Infinity;
    const consider = (s: StepResult): void => {
      if (s.sustained && s.ratePerS > lo) {
        lo = s.ratePerS;
        maxStep = s;
      }
      if (!s.sustained) hi = Math.min(hi, s.ratePerS);
    };
    for (const r of o.rates) {
      if (r === "max") {
        for (let k = 0; k < o.searchSteps; k++) {
          let next: number;
          if (hi === Infinity) next = lo > 0 ? lo * 1.5 : 50_000;
          else if (lo === 0) next = hi / 2;
          else {
            if (hi / lo < 1.12) break;
            next = Math.sqrt(lo * hi);
          }
          next = Math.min(o.searchRateMax, round2(next));
          if (next <= lo || next >= hi) break;
          const s = await rig.run(`search ${k + 1}`, "search", next, o.searchSeconds, o.sustainMs, o.giveUpMs);
          steps.push(s);
          report(s);
          consider(s);
        }
        continue;
      }
      const s = await rig.run("rate", "fixed", r, o.seconds, o.sustainMs, o.giveUpMs);
      steps.push(s);
      report(s);
      consider(s);
    }
  } finally {
    io.progress.update("stopping the node");
    await rig.stop();
  }
  const journalStats = node.journalStats;

  // The floor, second half, on the same disk after the node has run.
  io.progress.update(`raw fdatasync: ${fmtInt(half)} more samples`);
  const perS1 = measureFdatasync(floorDir, half, floorAfter);
  floorAll.add(floorAfter);

  let gateway: LatencyResult["gateway"] = null;
  if (o.gateway) {
    io.progress.update(`gateway phase: a second node with the DIFF gateway, ${fmtRate(o.gatewayRate)} for ${o.gatewaySeconds} s`);
    const warmupMs = Math.min(2_000, o.gatewaySeconds * 250);
    const g = await runGatewayPhase({
      dir: join(o.dataDir, "gateway"), wait, threads: o.threads, ratePerS: o.gatewayRate, warmupMs, measureMs: o.gatewaySeconds * 1000,
      log: (line, component = "node", level = "info") => {
        if (nodeLog.length < 500) nodeLog.push(`gateway node ${component}${level === "info" ? "" : ` ${level}`}: ${line}`);
      },
      workerUrl: WORKER,
    });
    const hs = newHist();
    const hd = newHist();
    for (const x of g.fromSchedule) recordNs(hs, x);
    for (const x of g.fromSend) recordNs(hd, x);
    gateway = { ratePerS: o.gatewayRate, seconds: o.gatewaySeconds, sent: g.sent, acknowledged: g.acknowledged, fromSchedule: pctOf(hs), fromSend: pctOf(hd), sendLateMaxNs: g.sendLateMaxNs, loginMs: g.loginMs, curve: curveOf(hs) };
    io.progress.note(`  gateway    ${fmtRate(o.gatewayRate).padStart(9)}: ALIVE p50 ${fmtNs(gateway.fromSchedule.p50)}, p99 ${fmtNs(gateway.fromSchedule.p99)}, max ${fmtNs(gateway.fromSchedule.max)}`);
  }
  io.progress.clear();

  const floor = pctOf(floorAll);
  const at100k = steps.find((s) => s.kind === "fixed" && s.ratePerS === TARGET_RATE);
  const bound = floor.p99 + TARGET_PLUS_NS;
  const result: LatencyResult = {
    benchmark: "latency",
    version: 1,
    date: new Date().toISOString(),
    quick: o.quick,
    command: o.command,
    machine,
    disk,
    source,
    wait: { strategy: o.wait, description: describeWait(wait) },
    threads,
    spinningThreads: spinning,
    cores,
    params: {
      rates: o.rates, seconds: o.seconds, searchSeconds: o.searchSeconds, warmupSeconds: o.warmupSeconds, searchSteps: o.searchSteps, searchRateMax: o.searchRateMax,
      sustainMs: o.sustainMs, giveUpMs: o.giveUpMs, chunk: o.chunk, seed: o.seed, fsyncs: o.fsyncs, dataDir: o.dataDir, keep: o.keep, outDir: o.outDir, wait: o.wait, driverSpin: o.driverSpin, threads: o.threads,
      plugin: o.plugin, store: o.store, gateway: o.gateway, gatewayRate: o.gatewayRate, gatewaySeconds: o.gatewaySeconds,
      instruments: INSTRUMENTS, accounts: ACCOUNTS, chunkMix: chunk.mix,
    },
    fdatasync: { samples: floorAll.count, perS: (perS0 + perS1) / 2, all: floor, before: pctOf(floorBefore), after: pctOf(floorAfter), curve: curveOf(floorAll) },
    steps,
    max: maxStep === undefined ? null : { ratePerS: maxStep.ratePerS, step: `${maxStep.label} ${fmtRate(maxStep.ratePerS)}` },
    gateway,
    journal: journalStats === undefined ? null : { groups: journalStats.groups, records: journalStats.records, commandsPerFdatasync: journalStats.records / Math.max(1, journalStats.groups) },
    target: {
      text: "order in -> durable acknowledgement out: p99 <= raw fdatasync p99 + 100 µs at 100k orders/s",
      ratePerS: TARGET_RATE,
      fdatasyncP99Ns: floor.p99,
      boundNs: bound,
      releasedP99FromScheduleNs: at100k?.stages.released.p99 ?? null,
      releasedP99FromSubmitNs: at100k?.releasedFromSubmit.p99 ?? null,
      metFromSchedule: at100k === undefined ? null : at100k.stages.released.p99 <= bound,
      metFromSubmit: at100k === undefined ? null : at100k.releasedFromSubmit.p99 <= bound,
    },
    nodeLog,
    wallSeconds: (performance.now() - wall0) / 1000,
    files: { json: join(o.outDir, "latency.json"), svg: join(o.outDir, "latency.svg") },
  };
  printReport(result, out);
  writeFileSync(result.files.svg, plot(result));
  writeFileSync(result.files.json, JSON.stringify(result, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v), 2) + "\n");
  out(`wrote ${result.files.json} and ${result.files.svg}`);
  if (!o.keep) rmSync(o.dataDir, { recursive: true, force: true });
  return result;
}

function notSustained(s: StepResult): string {
  const parts: string[] = [];
  if (s.gaveUp) parts.push(`gave up after ${fmtInt(s.orders)} of ${fmtInt(s.planned)} orders: the node fell behind`);
  parts.push(`median of the last fifth ${fmtNs(s.lastFifthReleasedP50Ns)}`);
  if (s.stages.released.missing > 0) parts.push(`${fmtInt(s.stages.released.missing)} never released`);
  return parts.join("; ");
}

const pctCols = (p: Pct): string => [p.p50, p.p99, p.p999, p.p9999, p.max].map((v) => fmtNs(v).padStart(10)).join("");

function printReport(r: LatencyResult, out: (line: string) => void): void {
  const head = `${"".padEnd(62)}${["p50", "p99", "p99.9", "p99.99", "max"].map((h) => h.padStart(10)).join("")}`;
  out("");
  out(`results: latency of each order from its scheduled time (open loop), per stage; HDR percentiles`);
  for (const s of r.steps) {
    out("");
    out(
      `${s.kind === "search" ? `${s.label} (max search)` : "rate"} ${fmtRate(s.ratePerS)}: ${fmtInt(s.orders)} orders in ${s.seconds.toFixed(1)} s, released at ${fmtRate(s.releasedPerS)}; ` +
        `${s.sustained ? "sustained" : `NOT sustained (${notSustained(s)})`}${r.max !== null && r.max.ratePerS === s.ratePerS ? "  <- max" : ""}`,
    );
    out(head);
    for (const st of STAGES) {
      const p = s.stages[st];
      if (p === undefined) continue;
      out(`  ${STAGE_TEXT[st].padEnd(60)}${pctCols(p)}${p.missing > 0 ? `  (${fmtInt(p.missing)} missing)` : ""}`);
    }
    out(`  ${"released minus submitted (the node's part)".padEnd(60)}${pctCols(s.releasedFromSubmit)}`);
    const j = s.journal;
    if (j !== null) {
      out(`  the durable stage, per order, by the group commit that made it durable (the four add up to durable minus sequenced):`);
      out(`    ${"waiting for its group's write to start".padEnd(58)}${pctCols(j.perOrder.toWrite)}`);
      out(`    ${"its group's write".padEnd(58)}${pctCols(j.perOrder.write)}`);
      out(`    ${"its group's fdatasync".padEnd(58)}${pctCols(j.perOrder.fdatasync)}`);
      out(`    ${"seen: the durable seq published, an observer woken".padEnd(58)}${pctCols(j.perOrder.seen)}`);
      out(`  journal: ${fmtInt(j.commits)} group commits (${j.commandsPerCommit.toFixed(1)} commands each)${j.unmatched > 0 ? `; ${fmtInt(j.unmatched)} durable orders matched no recorded commit` : ""}; per commit:`);
      out(`    ${"write".padEnd(58)}${pctCols(j.write)}`);
      out(`    ${"fdatasync (compare the raw fdatasync below)".padEnd(58)}${pctCols(j.fdatasync)}`);
    }
    const snaps = s.snapshots.length === 0 ? "no engine snapshot" : `engine snapshot(s): ${s.snapshots.map((x) => `seq ${fmtInt(x.seq)} (capture ${x.captureMs.toFixed(1)} ms on the main thread)`).join(", ")}`;
    out(
      `  driver: ${fmtInt(s.driver.bursts)} bursts, worst lateness ${fmtNs(s.driver.lateMaxNs)}; ${fmtInt(s.driver.durableAdvances)} durable advances seen (${s.driver.ordersPerAdvance.toFixed(1)} orders each); ` +
        `cores: this process ${s.cpu.ownCores.toFixed(2)}, other processes ${s.cpu.otherCores.toFixed(2)}, steal ${s.cpu.stealCores.toFixed(2)}; ${snaps}` +
        `${s.producerWaits > 0 ? `; the loop waited ${s.producerWaits} time(s) for a gating consumer` : ""}${s.cutOffs > 0 ? `; ${s.cutOffs} consumer(s) cut off` : ""}`,
    );
    if (s.threads.length > 0) out(`  cores by thread: ${s.threads.map((t) => `${t.name === "main" ? "main (engine loop)" : t.name} ${t.cores.toFixed(2)}`).join(", ")}`);
    const w = s.store;
    if (w !== null) {
      const mbps = (mb: number): string => `${(mb / s.seconds).toFixed(1)} MB/s`;
      out(`  event store: flushes wrote ${mbps(w.flushedMB)} (${w.flushes} flushes), compactions wrote ${mbps(w.compactionWrittenMB)} and read ${mbps(w.compactionReadMB)} (${w.compactions} merges, ${w.moves} moves)`);
    }
  }
  out("");
  const f = r.fdatasync;
  out(`raw fdatasync, same disk, same run (64-byte appended write + fdatasync, ${fmtInt(f.samples)} samples, ${fmtInt(f.perS)}/s):`);
  out(head);
  out(`  ${"all".padEnd(60)}${pctCols(f.all)}`);
  out(`  ${"before the node ran".padEnd(60)}${pctCols(f.before)}`);
  out(`  ${"after".padEnd(60)}${pctCols(f.after)}`);
  if (r.journal !== null) out(`  journal: ${fmtInt(r.journal.records)} commands in ${fmtInt(r.journal.groups)} group commits (${r.journal.commandsPerFdatasync.toFixed(1)} per fdatasync) over the whole run`);
  if (r.gateway !== null) {
    const g = r.gateway;
    out("");
    out(`gateway (a second node with the DIFF gateway; one WebSocket client on a worker thread; ${fmtRate(g.ratePerS)} for ${g.seconds} s; ${fmtInt(g.acknowledged)} of ${fmtInt(g.sent)} acknowledged; login ${g.loginMs.toFixed(0)} ms):`);
    out(head);
    out(`  ${"ALIVE in rtn_data, from the scheduled time".padEnd(60)}${pctCols(g.fromSchedule)}`);
    out(`  ${"ALIVE in rtn_data, from the send".padEnd(60)}${pctCols(g.fromSend)}`);
    out(`  worst send behind schedule ${fmtNs(g.sendLateMaxNs)} (the client's timers)`);
  }
  out("");
  out(`max: ${r.max === null ? "no rate was sustained" : `${fmtRate(r.max.ratePerS)} sustained (${r.max.step})`}`);
  const t = r.target;
  out(`target (BENCH.md): ${t.text}`);
  if (t.metFromSchedule === null) {
    out(`  not measured: the run had no ${fmtRate(t.ratePerS)} step`);
  } else {
    out(`  raw fdatasync p99 ${fmtNs(t.fdatasyncP99Ns)} + 100 µs = ${fmtNs(t.boundNs)}`);
    out(`  released p99 from the scheduled time  ${fmtNs(t.releasedP99FromScheduleNs!).padStart(10)}  ${t.metFromSchedule ? "met" : "NOT met"}`);
    out(`  released p99 from the submit          ${fmtNs(t.releasedP99FromSubmitNs!).padStart(10)}  ${t.metFromSubmit ? "met" : "NOT met"}  (order in = published to the node's inbound ring)`);
  }
  out(`wall time ${r.wallSeconds.toFixed(1)} s; load average at end ${machineInfo().loadAverage.join(" ")}`);
}

function plot(r: LatencyResult): string {
  const shown = r.steps.filter((s) => s.kind === "fixed" || (r.max !== null && s.ratePerS === r.max.ratePerS && s.kind === "search"));
  const floorLine: PlotLine = { name: "raw fdatasync (same disk)", color: COLORS.fdatasync, dashed: true, points: r.fdatasync.curve };
  const panels: PlotPanel[] = shown.map((s) => {
    const lines: PlotLine[] = [];
    for (const st of STAGES) {
      const c = s.curves[st];
      if (c !== undefined && c.length > 0) lines.push({ name: st, color: COLORS[st], points: c });
    }
    lines.push({ name: "released minus submitted", color: COLORS.releasedFromSubmit, dashed: true, points: s.curves.releasedFromSubmit ?? [] });
    lines.push(floorLine);
    return { title: `${fmtRate(s.ratePerS)}${r.max !== null && r.max.ratePerS === s.ratePerS ? " (max sustained)" : ""}${s.sustained ? "" : " (not sustained)"}`, lines };
  });
  if (r.gateway !== null) panels.push({ title: `gateway: ${fmtRate(r.gateway.ratePerS)} (a second node)`, lines: [{ name: "gateway ALIVE", color: COLORS.gateway, points: r.gateway.curve }, floorLine] });
  const m = r.machine;
  return percentileSvg(
    `venue bench latency${r.quick ? " --quick" : ""}: latency from the scheduled time, per stage`,
    `${r.date.slice(0, 10)}, ${r.source.commit}; ${m.cpu} x ${m.availableParallelism}, Node ${m.node}; disk ${r.disk.device} (${r.disk.fsType}); wait ${r.wait.strategy}, ${r.spinningThreads} spinning thread(s)`,
    panels,
  );
}
