/**
 * The journal worker: the journal ring's critical consumer. It frames each sequenced
 * command into the current group, and after each poll commits the group (one write, one
 * fdatasync) and publishes the durable sequence in the control block, which releases
 * every other consumer up to it. While one fdatasync runs, the next group gathers in the
 * ring: group commit without a timer.
 *
 * It exits when the node is stopped and the ring is drained. A failed write or fdatasync
 * fences the node (control status) and ends the worker with the error: nothing after the
 * last durable sequence is ever acknowledged.
 *
 * Metrics: the file layer is wrapped in a timing layer that measures each group commit
 * (from its first write to the end of its fdatasync) and each fdatasync alone, and the
 * group's size in commands and bytes, into fixed-bucket histograms (JournalMetrics). That
 * path allocates nothing but what the clock reads themselves cost (see JournalMetrics);
 * about once a second, and only when a group was committed since, a copy goes to the main
 * thread (postMessage `{ metrics }`), which renders it for Prometheus (src/node/metrics.ts).
 *
 * `runJournal` takes its ring and control block by argument, so tests run it on one thread;
 * `JournalLoop` is its body, one group per `step`, for probes that drive it themselves.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer } from "../bus/ring.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { NodeStatus } from "../schema/control.ts";
import type { Buf } from "../schema/layout.ts";
import { JournalWriter, type LiveSegment } from "./writer.ts";
import { REAL_FS, type JournalFile, type JournalFs } from "./file.ts";
import { SharedSegmentSupply } from "./prepare.ts";
import { pathToFileURL } from "node:url";
import { performance } from "node:perf_hooks";
import { Histogram, exponentialBounds, type HistogramSnapshot } from "../stdx/histogram.ts";
import { CommitTraceWriter, type CommitTraceBuffers } from "./commit_trace.ts";

export interface JournalWorkerData {
  dir: string;
  ring: SharedArrayBuffer;
  slot: number;
  control: SharedArrayBuffer;
  nextSeq: number;
  live: LiveSegment | undefined;
  segmentBytes: number | undefined;
  wait: WaitStrategy;
  /**
   * A module whose `createJournalFs()` returns the file layer to use instead of the real
   * one: how the crash tests inject faults into a running node's journal worker.
   */
  fsModule?: string | undefined;
  /** A group commit this slow (ms) or slower marks the journal degraded (default SLOW_COMMIT_MS). */
  slowCommitMs?: number | undefined;
  /** The state cell of the segment preparer's thread (src/wal/prepare.ts), if the node runs one. */
  prepCells?: SharedArrayBuffer | undefined;
  /** Where to record every group commit (src/wal/commit_trace.ts), for the latency harness. */
  commitTrace?: CommitTraceBuffers | undefined;
}

/** Default threshold of a slow group commit: 100 ms, about 50 times a healthy NVMe fdatasync. */
export const SLOW_COMMIT_MS = 100;

/** Group commit latency buckets, in seconds: 25 µs to 1 s. */
export const COMMIT_SECONDS_BOUNDS: readonly number[] = [25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1];
/** Commands per group: 1 to 65,536, powers of two. */
export const GROUP_COMMANDS_BOUNDS: readonly number[] = exponentialBounds(1, 2, 17);
/** Bytes per group (framing included): 64 B to 1 MiB, the largest group, powers of two. */
export const GROUP_BYTES_BOUNDS: readonly number[] = exponentialBounds(64, 2, 15);
/** How often, at most, a metrics snapshot goes to the main thread. */
export const METRICS_REPORT_MS = 1_000;

/** The journal worker's metrics at one moment (what it posts to the main thread). */
export interface JournalMetricsSnapshot {
  groups: number;
  commands: number;
  bytes: number;
  /** Per group: from its first write to the end of its fdatasync. */
  commitSeconds: HistogramSnapshot;
  /** Each fdatasync alone. */
  fdatasyncSeconds: HistogramSnapshot;
  groupCommands: HistogramSnapshot;
  groupBytes: HistogramSnapshot;
  /** Segments this worker made: all, those from prepared (zero-filled) files, and how many it left early for one. */
  segments?: { made: number; prepared: number; leftEarly: number };
}

// Cells of JournalMetrics.cells: kept in a Float64Array so that updating them never boxes a number.
const GROUP_START_MS = 0; // -1: no group being written
const PENDING_COMMANDS = 1;
const PENDING_BYTES = 2;
const GROUPS = 3;
const COMMANDS = 4;
const BYTES = 5;
const REPORTED_AT_MS = 6;
const REPORTED_GROUPS = 7;
const SYNC_START_MS = 8;
const LAST_SYNC_END_MS = 9;
const LAST_COMMIT_MS = 10;
const LAST_SEQ = 11; // the last command appended: a group's last seq when it is synced
const CELLS = 12;

/** Milliseconds from a monotonic origin. */
export type MetricsClock = () => number;
const monotonicMs: MetricsClock = () => performance.now();

/**
 * Group commit metrics, fed by the timing file layer (`wrap`) and by `appended` for each
 * command framed. A group is what one fdatasync makes durable: the writes since the last
 * one. A segment's creation (header write, fsync) is not a group and is not counted.
 *
 * The clock is read three times per group: at its first write, and around its fdatasync.
 * Nothing else on this path allocates; on Node 20 each clock read itself returns a new
 * heap number (16 bytes), which no JavaScript clock there avoids (docs/operations.md).
 */
export class JournalMetrics {
  readonly commitSeconds = new Histogram(COMMIT_SECONDS_BOUNDS);
  readonly fdatasyncSeconds = new Histogram(COMMIT_SECONDS_BOUNDS);
  readonly groupCommands = new Histogram(GROUP_COMMANDS_BOUNDS);
  readonly groupBytes = new Histogram(GROUP_BYTES_BOUNDS);
  private readonly cells = new Float64Array(CELLS);

  /** `trace`: every group commit is also recorded there (for the latency harness). */
  constructor(readonly clock: MetricsClock = monotonicMs, private readonly trace?: CommitTraceWriter) {
    this.cells[GROUP_START_MS] = -1;
    this.cells[REPORTED_AT_MS] = clock();
  }

  /**
   * Command `seq` was framed into the current group (after the writer took it: a group the
   * writer committed to make room for it was synced before this call, without it).
   */
  appended(seq = 0): void {
    this.cells[PENDING_COMMANDS] = this.cells[PENDING_COMMANDS]! + 1;
    this.cells[LAST_SEQ] = seq;
  }

  /** The file layer with every file timed into these metrics. */
  wrap(fs: JournalFs): JournalFs {
    return {
      create: (path) => new TimedFile(fs.create(path), this),
      open: (path) => new TimedFile(fs.open(path), this),
      fsyncDir: (dir) => fs.fsyncDir(dir),
      rename: (from, to) => fs.rename(from, to),
      unlink: (path) => fs.unlink(path),
    };
  }

  /** @internal TimedFile: a write is about to start (the group's first starts its clock). */
  writing(): void {
    const c = this.cells;
    if (c[GROUP_START_MS]! < 0) c[GROUP_START_MS] = this.clock();
  }

  /** @internal TimedFile: a write of `bytes` is done. */
  wrote(bytes: number): void {
    this.cells[PENDING_BYTES] = this.cells[PENDING_BYTES]! + bytes;
  }

  /** @internal TimedFile: an fdatasync is about to start. */
  syncing(): void {
    this.cells[SYNC_START_MS] = this.clock();
  }

  /** @internal TimedFile: the fdatasync is done: the group is durable. */
  synced(): void {
    const c = this.cells;
    c[LAST_SYNC_END_MS] = this.clock();
    this.fdatasyncSeconds.record((c[LAST_SYNC_END_MS]! - c[SYNC_START_MS]!) / 1000);
    if (c[GROUP_START_MS]! < 0) return; // nothing was written since the last one
    c[LAST_COMMIT_MS] = c[LAST_SYNC_END_MS]! - c[GROUP_START_MS]!;
    this.trace?.record(c[GROUP_START_MS]!, c[SYNC_START_MS]!, c[LAST_SYNC_END_MS]!, c[PENDING_COMMANDS]!, c[PENDING_BYTES]!, c[LAST_SEQ]!);
    this.commitSeconds.record(c[LAST_COMMIT_MS]! / 1000);
    this.groupCommands.record(c[PENDING_COMMANDS]!);
    this.groupBytes.record(c[PENDING_BYTES]!);
    c[GROUPS] = c[GROUPS]! + 1;
    c[COMMANDS] = c[COMMANDS]! + c[PENDING_COMMANDS]!;
    c[BYTES] = c[BYTES]! + c[PENDING_BYTES]!;
    c[GROUP_START_MS] = -1;
    c[PENDING_COMMANDS] = 0;
    c[PENDING_BYTES] = 0;
  }

  /** @internal TimedFile: a full fsync (a new segment's header): what was written is not a group. */
  notAGroup(): void {
    this.cells[GROUP_START_MS] = -1;
    this.cells[PENDING_BYTES] = 0;
  }

  get groups(): number {
    return this.cells[GROUPS]!;
  }

  /** The last group's commit time (first write to the end of its fdatasync), ms. */
  get lastCommitMs(): number {
    return this.cells[LAST_COMMIT_MS]!;
  }

  /** A group was committed since the last report. */
  get unreported(): boolean {
    return this.cells[GROUPS] !== this.cells[REPORTED_GROUPS];
  }

  /** A group was committed since the last report, and the last report is `METRICS_REPORT_MS` old. */
  due(nowMs: number): boolean {
    return this.unreported && nowMs - this.cells[REPORTED_AT_MS]! >= METRICS_REPORT_MS;
  }

  /** `due` as of the end of the last fdatasync (no clock read: right after a commit). */
  dueAfterCommit(): boolean {
    return this.due(this.cells[LAST_SYNC_END_MS]!);
  }

  /** A copy for the main thread, marked as reported (allocates: once a second at most). */
  report(nowMs: number): JournalMetricsSnapshot {
    const c = this.cells;
    c[REPORTED_AT_MS] = nowMs;
    c[REPORTED_GROUPS] = c[GROUPS]!;
    return {
      groups: c[GROUPS]!,
      commands: c[COMMANDS]!,
      bytes: c[BYTES]!,
      commitSeconds: this.commitSeconds.snapshot(),
      fdatasyncSeconds: this.fdatasyncSeconds.snapshot(),
      groupCommands: this.groupCommands.snapshot(),
      groupBytes: this.groupBytes.snapshot(),
    };
  }
}

/** A journal file whose writes and syncs are timed into JournalMetrics. */
class TimedFile implements JournalFile {
  constructor(private readonly file: JournalFile, private readonly metrics: JournalMetrics) {}

  pwrite(src: Uint8Array, offset: number, len: number, position: number): number {
    this.metrics.writing();
    const n = this.file.pwrite(src, offset, len, position);
    this.metrics.wrote(n);
    return n;
  }

  fdatasync(): void {
    this.metrics.syncing();
    this.file.fdatasync();
    this.metrics.synced();
  }

  fsync(): void {
    this.file.fsync();
    this.metrics.notAGroup();
  }

  ftruncate(size: number): void {
    this.file.ftruncate(size);
  }

  preallocate(size: number): void {
    if (this.file.preallocate !== undefined) this.file.preallocate(size);
    else this.file.ftruncate(size);
  }

  close(): void {
    this.file.close();
  }
}

/**
 * The journal worker's body: `step` polls the ring once and commits what it took as one
 * group (the writer may commit earlier ones itself when a group fills or a segment rotates).
 */
export class JournalLoop {
  readonly control: Control;
  readonly consumer: RingConsumer;
  readonly writer: JournalWriter;
  readonly metrics: JournalMetrics;
  private readonly append: (buf: Buf, offset: number) => void;
  /** A group commit this slow or slower marks the journal degraded (JournalWorkerData.slowCommitMs). */
  private readonly slowCommitMs: number;

  private readonly onReport: ((m: JournalMetricsSnapshot) => void) | undefined;

  constructor(d: JournalWorkerData, fs: JournalFs = REAL_FS, onReport?: (m: JournalMetricsSnapshot) => void, clock?: MetricsClock) {
    this.metrics = new JournalMetrics(clock, d.commitTrace === undefined ? undefined : new CommitTraceWriter(d.commitTrace));
    this.slowCommitMs = d.slowCommitMs ?? SLOW_COMMIT_MS;
    this.control = new Control(d.control);
    this.consumer = new RingConsumer(new Ring(d.ring, "journal"), d.slot, { wait: d.wait });
    const writer = new JournalWriter({
      dir: d.dir,
      nextSeq: d.nextSeq,
      fs: this.metrics.wrap(fs),
      ...(d.live ? { live: d.live } : {}),
      ...(d.segmentBytes ? { segmentBytes: d.segmentBytes } : {}),
      ...(d.prepCells ? { supply: new SharedSegmentSupply(d.prepCells, d.dir) } : {}),
    });
    this.writer = writer;
    // Each report carries the writer's segment counts (a report allocates anyway: once a second at most).
    this.onReport = onReport === undefined ? undefined : (m) => {
      m.segments = { made: writer.segmentsMade, prepared: writer.preparedSegments, leftEarly: writer.earlyRotations };
      onReport(m);
    };
    const metrics = this.metrics;
    this.append = (buf: Buf, offset: number): void => {
      const size = buf.dv.getUint16(offset + 2, true);
      const seq = buf.dv.getUint32(offset + 12, true) * 4294967296 + buf.dv.getUint32(offset + 8, true);
      writer.append(buf, offset, size, seq);
      metrics.appended(seq);
    };
  }

  /** Takes up to `max` commands from the ring and commits them. Returns how many it took. */
  step(max = 4096): number {
    const n = this.consumer.poll(this.append, max);
    if (n > 0) {
      this.control.setDurable(this.writer.commit());
      // A slow disk is reported (degraded), not hidden: raised by a slow commit, cleared by a fast one.
      const ms = this.metrics.lastCommitMs;
      if (ms >= this.slowCommitMs) this.control.slowCommitMs = Math.ceil(ms);
      else if (this.control.slowCommitMs !== 0) this.control.slowCommitMs = 0;
      if (this.onReport !== undefined && this.metrics.dueAfterCommit()) this.onReport(this.metrics.report(this.metrics.clock()));
    }
    return n;
  }

  /** Waits with the strategy for more (at most one park), reporting metrics that are due. */
  idle(): void {
    if (this.onReport !== undefined && this.metrics.unreported) {
      const now = this.metrics.clock();
      if (this.metrics.due(now)) this.onReport(this.metrics.report(now));
    }
    this.consumer.await();
  }

  /** Sends the metrics now if any group was committed since they last went. */
  reportFinal(): void {
    if (this.onReport !== undefined && this.metrics.unreported) this.onReport(this.metrics.report(this.metrics.clock()));
  }
}

export function runJournal(d: JournalWorkerData, fs?: JournalFs, onReport?: (m: JournalMetricsSnapshot) => void): { groups: number; records: number; durableSeq: number } {
  const j = new JournalLoop(d, fs, onReport);
  const { control, writer } = j;
  try {
    for (;;) {
      if (j.step() > 0) continue;
      const status = control.status;
      if (status === NodeStatus.stopped || status === NodeStatus.fenced) {
        j.step(1 << 30); // what came in meanwhile
        break;
      }
      j.idle();
    }
  } catch (err) {
    control.status = NodeStatus.fenced;
    throw err;
  } finally {
    writer.close();
  }
  j.reportFinal();
  return { groups: writer.groups, records: writer.records, durableSeq: writer.durableSeq };
}

const data = (workerData as { journal?: JournalWorkerData } | undefined)?.journal;
if (parentPort !== null && data !== undefined) {
  let fs: JournalFs | undefined;
  if (data.fsModule !== undefined) fs = ((await import(pathToFileURL(data.fsModule).href)) as { createJournalFs: () => JournalFs }).createJournalFs();
  const port = parentPort;
  const stats = runJournal(data, fs, (metrics) => port.postMessage({ metrics }));
  port.postMessage({ stats });
}
