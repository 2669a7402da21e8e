/**
 * Journal benchmark: how fast commands become durable, against the physical floor of the
 * same disk, in one run (temp files under .bench-out/journal-tmp, deleted at the end).
 *
 *   npx tsx bench/journal.ts [--quick] [--commands N] [--rounds R] [--seed S]
 *                            [--fsyncs F] [--rate PER_S] [--paced P] [--bulk-nice N]
 *
 *   --bulk-nice N  the nodes' bulkNice (the event store's, snapshot and segment threads'
 *                  nice value; default 10, as venue start; 0: unchanged, the capacity setting)
 *
 *   1 floor      a raw loop of fs.writeSync (a 64-byte record, appended) + fs.fdatasyncSync,
 *                F times: on a preallocated file (zeros written and fsynced first) and on a
 *                sparse one (ftruncate, as the journal sizes its segments). fdatasync
 *                latency (perf_hooks histogram, ns) and fsyncs/s.
 *   2 writer     src/wal/writer.ts alone on this thread: groups of G = 1, 16, 256, 4096
 *                new-order commands (72 bytes, 96 framed; written with writeNewOrder,
 *                stamped with layout.stamp before each append), one commit (one write, one
 *                fdatasync) per group: commands/s and commit latency. The group-commit curve.
 *                Each G on a zero-filled segment (written with zeros and synced first, as
 *                the node's segment preparer makes them) and on a fallocated one (as a
 *                segment made when needed), each sized to hold the whole run.
 *                Floor and writer chunks alternate in R rounds (default 3); histograms
 *                gather every round, rates are the median of rounds.
 *   3 node       the whole path as the node runs it: VenueNode({ dataDir, drivers: 1 })
 *                (recovery, then the journal worker thread, group commit without a timer),
 *                the engine loop on this thread, 4 pure-matching instruments, new orders in
 *                crossing buy/sell pairs (the books stay near empty; every pair trades).
 *                Saturated: N commands (after a warm-up) pushed from this thread's
 *                setImmediate turns between the loop's slices, as many as the 1 MiB driver
 *                ring takes, flushed every 256; sustained durable commands/s (first submit
 *                to the last seq published durable), commands per fdatasync (the journal
 *                worker's own counts, read off its exit message, plus every durable-seq
 *                change seen), and the latency from a command's submit (the flush that made
 *                it visible) to its seq being published durable. Durable changes are timed
 *                by a watcher thread parked on the control block's durable cell (never
 *                spinning; bench/journal_worker.ts). Beside it, the same flow through a node
 *                without a data directory (the loop marks each batch durable itself): what
 *                the main thread does without the journal, on the same machine, same run.
 *   4 paced      the same two nodes, open loop: P commands at a fixed rate (default 100k/s)
 *                from a driver thread that sleeps ~0.1 ms between bursts; latency from the
 *                scheduled time (coordinated omission shows) and from the submit.
 *
 * Threads: the engine loop (main thread) and the journal worker use the node's default wait,
 * spinPark (2,000 spins, then park 1 ms): two spinning-then-parking threads on this
 * machine's cores (2 on the reference VM). The watcher and the paced driver only park.
 * Each node run reports the cores each thread kept busy (/proc/self/task; the node's own
 * threads by the names it gives them), the CPU other processes used meanwhile (/proc/stat)
 * and the block device's writes and flushes (/proc/diskstats): the machine is shared, so
 * read the figures beside those. The node with the event store also reports its flushes
 * and compactions and how long its storage worker waited for flushes (its metrics).
 * Times: process.hrtime (CLOCK_MONOTONIC) on every thread. Targets from ../shared/BENCH.md:
 * >= 1M commands/s sustained with group commit; commit p99 <= 1.2x raw fdatasync p99 + 50 µs.
 * Results go to stdout and .bench-out/journal.json.
 */

import { Worker } from "node:worker_threads";
import { createHistogram, performance, type RecordableHistogram } from "node:perf_hooks";
import { closeSync, existsSync, fdatasyncSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { basename, join } from "node:path";
import { execFileSync } from "node:child_process";
import os from "node:os";
import { Engine } from "../src/engine/engine.ts";
import { VenueNode } from "../src/node/node.ts";
import { DEFAULT_THREAD_SCHEDULING } from "../src/node/threads.ts";
import { JournalWriter } from "../src/wal/writer.ts";
import { InlineSegmentSupply, prepareSegmentFile } from "../src/wal/prepare.ts";
import { REAL_FS } from "../src/wal/file.ts";
import { copyRecord } from "../src/bus/copy.ts";
import { DEFAULT_WAIT, describeWait, type WaitStrategy } from "../src/bus/wait.ts";
import { Buf, stamp } from "../src/schema/layout.ts";
import { writeNewOrder } from "../src/schema/command.ts";
import { Side } from "../src/schema/codes.ts";
import { PREPARED_SEGMENT_NAME, WAL_FRAME_OVERHEAD } from "../src/schema/wal.ts";
import { defineInstruments, instrumentCommands, referencePrice } from "../src/sim/order_flow.ts";
import { Prng } from "../src/stdx/prng.ts";
import { benchArgs } from "./args.ts";
import { cpuSample, threadTimes, diskInfo as machineDiskInfo, sourceInfo, type CpuSample, type DiskInfo as MachineDiskInfo, type SourceInfo } from "../src/bench/machine.ts";
import { median, percentilesOf, type Percentiles } from "../src/bench/stats.ts";
import type { DriveResult, Envelope, JournalTask, WatchResult, WorkerReply } from "./journal_worker.ts";

// Cells of the ctl array (the same values as in journal_worker.ts, imported here as types only
// so as not to run the worker's top level on this thread).
const GO = 0;
const STOP = 1;
const CTL_CELLS = 4;

// ---------------------------------------------------------------------------------------
// Parameters

const args = benchArgs({ commands: 1_000_000, quickCommands: 20_000 }, ["fsyncs", "rate", "paced", { name: "bulk-nice", min: 0 }]);
const quick = args.quick;
const COMMANDS = args.commands;
const ROUNDS = args.rounds;
const FSYNCS = args.extra["fsyncs"] ?? (quick ? 1_500 : 30_000);
const RATE = args.extra["rate"] ?? 100_000;
const PACED = args.extra["paced"] ?? (quick ? 30_000 : 300_000);
const BULK_NICE = args.extra["bulk-nice"] ?? DEFAULT_THREAD_SCHEDULING.bulkNice;
if (BULK_NICE > 19) throw new RangeError(`--bulk-nice: expected a nice value from 0 to 19, got ${BULK_NICE}`);
const WARM = quick ? 2_000 : 20_000;
/** Commands through a throwaway node before the measured ones (JIT). */
const JIT_WARM = quick ? 20_000 : 200_000;
const GROUPS = [1, 16, 256, 4096] as const;
const REC = 64;
const CMD = 72;
const INSTRUMENTS = 4;
const ACCOUNTS = 1000;
/** Longest a floor or writer chunk runs in one round. */
const CHUNK_MS = quick ? 400 : 4_000;
/** Commits per G over all rounds: fewer as groups grow (G = 4096 writes 393 KB per commit). */
const COMMITS: Record<number, number> = { 1: FSYNCS, 16: FSYNCS, 256: Math.ceil(FSYNCS / 3), 4096: Math.ceil(FSYNCS / 15) };
/** Records one writer may take: stays inside its first 1 GiB segment (no rotation in the figures). */
const WRITER_RECORDS_MAX = 10_000_000;
const NODE_TIMEOUT_MS = quick ? 30_000 : 120_000;
const START_TIMEOUT_MS = 30_000;
const TS = 1_700_000_000_000_000_000n;

const ROOT = join(import.meta.dirname, "..");
const OUT = join(ROOT, ".bench-out");
const TMP = join(OUT, "journal-tmp");

/** The block device under TMP (set in main), for its counters. */
let device = "";

const TARGET_RATE = 1_000_000;
const TARGET_FACTOR = 1.2;
const TARGET_PLUS_NS = 50_000;

const log = (line = ""): void => {
  process.stdout.write(line + "\n");
};
const nowNs = (): number => Number(process.hrtime.bigint());

// ---------------------------------------------------------------------------------------
// Helpers

type Pct = Percentiles;

const hist = (): RecordableHistogram => createHistogram();
const rec = (h: RecordableHistogram, ns: number): void => h.record(Math.max(1, Math.round(ns)));
const pct = percentilesOf;

const fmtNs = (ns: number): string =>
  !Number.isFinite(ns) ? "-" : ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(1)} µs` : `${Math.round(ns)} ns`;
const fmtRate = (r: number): string => (r >= 1e6 ? `${(r / 1e6).toFixed(2)}M/s` : r >= 1e3 ? `${(r / 1e3).toFixed(1)}k/s` : `${r.toFixed(0)}/s`);
const fmtInt = (n: number): string => Math.round(n).toLocaleString("en-US");
const pad = (s: string, n: number): string => s.padStart(n);
const padR = (s: string, n: number): string => s.padEnd(n);
const met = (ok: boolean): string => (ok ? "met" : "NOT met");
const pctCols = (p: Pct): string => [p.p50, p.p99, p.p999, p.max].map((v) => pad(fmtNs(v), 10)).join("");

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

/** The commit and the files under src/ and bench/ that differ from it (src/bench/machine.ts). */
const gitInfo = (): SourceInfo => sourceInfo(join(import.meta.dirname, ".."), ["src", "bench"]);

type DiskInfo = MachineDiskInfo & { df: string };

/** The disk under `path` (src/bench/machine.ts, as venue bench latency reports it) and `df -h` of it. */
function diskInfo(path: string): DiskInfo {
  const d = machineDiskInfo(path);
  let df = "";
  try {
    df = execFileSync("df", ["-h", d.path], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    df = "(df failed)";
  }
  return { ...d, df };
}

/** A 72-byte new order (8-byte account, 16-byte order id) at `offset`; crossing buy/sell pairs. */
function writeCommand(buf: Buf, offset: number, i: number, prng: Prng): void {
  const instrument = (i >> 1) % INSTRUMENTS;
  const size = writeNewOrder(buf, offset, {
    instrument,
    account: `acct${String(prng.int(1, ACCOUNTS) % 10_000).padStart(4, "0")}`,
    orderId: `o${String(i).padStart(15, "0")}`,
    side: (i & 1) === 0 ? Side.buy : Side.sell,
    price: referencePrice(instrument),
    qty: 1,
  });
  if (size !== CMD) throw new Error(`a new order of ${size} bytes where ${CMD} were expected`);
}

/** `count` commands in a SharedArrayBuffer (the paced driver thread reads them too). */
function encodeCommands(count: number, seed: number): Buf {
  const buf = new Buf(new SharedArrayBuffer(count * CMD));
  const prng = new Prng(seed);
  for (let i = 0; i < count; i++) writeCommand(buf, i * CMD, i, prng);
  return buf;
}

// ---------------------------------------------------------------------------------------
// 1 + 2: floor and writer, alternating chunks per round

interface FloorFile {
  name: string;
  fd: number;
  pos: number;
  h: RecordableHistogram;
  fsyncs: number;
  ns: number;
  rates: number[];
}

function openFloor(name: string, bytes: number, preallocate: boolean): FloorFile {
  const path = join(TMP, `floor-${name}`);
  const fd = openSync(path, "w+");
  if (preallocate) {
    const zeros = new Uint8Array(1 << 20);
    for (let at = 0; at < bytes; at += zeros.byteLength) writeSync(fd, zeros, 0, Math.min(zeros.byteLength, bytes - at), at);
  } else {
    ftruncateSync(fd, bytes);
  }
  fsyncSync(fd);
  const dirFd = openSync(TMP, "r");
  fsyncSync(dirFd);
  closeSync(dirFd);
  return { name, fd, pos: 0, h: hist(), fsyncs: 0, ns: 0, rates: [] };
}

function floorChunk(f: FloorFile, n: number): void {
  const record = new Uint8Array(REC).fill(0x5a);
  const t0 = nowNs();
  const stop = t0 + CHUNK_MS * 1e6;
  let done = 0;
  for (; done < n; done++) {
    writeSync(f.fd, record, 0, REC, f.pos);
    f.pos += REC;
    const a = nowNs();
    fdatasyncSync(f.fd);
    const b = nowNs();
    rec(f.h, b - a);
    if (b > stop) {
      done++;
      break;
    }
  }
  const ns = nowNs() - t0;
  f.fsyncs += done;
  f.ns += ns;
  f.rates.push(done / (ns / 1e9));
}

/** How a writer's segment was made: zero-filled ahead (as the node's are once its preparer has run) or fallocated when needed. */
type SegmentKind = "zero-filled" | "fallocated";

interface WriterRun {
  g: number;
  kind: SegmentKind;
  writer: JournalWriter;
  seq: number;
  h: RecordableHistogram;
  commits: number;
  commands: number;
  ns: number;
  appendNs: number;
  rates: number[];
}

function writerChunk(w: WriterRun, pool: Buf, commits: number): void {
  const { g, writer } = w;
  const dv = pool.dv;
  const t0 = nowNs();
  const stop = t0 + CHUNK_MS * 1e6;
  let done = 0;
  let appendNs = 0;
  for (; done < commits; ) {
    const a = nowNs();
    for (let k = 0; k < g; k++) {
      const at = (k & 4095) * CMD;
      stamp(dv, at, w.seq, TS);
      writer.append(pool, at, CMD, w.seq);
      w.seq++;
    }
    const b = nowNs();
    const durable = writer.commit();
    const c = nowNs();
    if (durable !== w.seq - 1) throw new Error(`writer G=${g}: commit returned durable seq ${durable}, expected ${w.seq - 1}`);
    rec(w.h, c - b);
    appendNs += b - a;
    done++;
    if (c > stop) break;
  }
  const ns = nowNs() - t0;
  w.commits += done;
  w.commands += done * g;
  w.ns += ns;
  w.appendNs += appendNs;
  w.rates.push((done * g) / (ns / 1e9));
}

// ---------------------------------------------------------------------------------------
// 3 + 4: the node

class BenchWorker {
  readonly worker: Worker;
  readonly hello: Promise<void>;
  /** The worker's Linux thread id (-1 if unknown). */
  tid = -1;
  private helloResolve: (() => void) | undefined;
  private onReply: ((m: WorkerReply) => void) | undefined;
  private dead: Error | undefined;

  constructor(readonly name: string) {
    this.hello = new Promise<void>((resolve) => {
      this.helloResolve = resolve;
    });
    this.worker = new Worker(new URL("./journal_worker.mjs", import.meta.url), { name });
    this.worker.on("message", (m: WorkerReply) => {
      if (m.type === "hello") {
        this.tid = m.tid;
        this.helloResolve?.();
      } else this.onReply?.(m);
    });
    const die = (e: Error): void => {
      this.dead ??= e;
      this.onReply?.({ type: "error", message: e.message });
    };
    this.worker.on("error", die);
    this.worker.on("exit", (code) => die(new Error(`${name} exited with code ${code}`)));
  }

  /** Sends a task; `ready` resolves when the worker has set up, `done` with its result. */
  run<R>(task: JournalTask, ctl: SharedArrayBuffer, timeoutMs: number): { ready: Promise<void>; done: Promise<R> } {
    if (this.dead !== undefined) throw this.dead;
    let readyRes!: () => void;
    let readyRej!: (e: Error) => void;
    let doneRes!: (r: R) => void;
    let doneRej!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyRes = res;
      readyRej = rej;
    });
    const done = new Promise<R>((res, rej) => {
      doneRes = res;
      doneRej = rej;
    });
    ready.catch(() => {});
    done.catch(() => {});
    this.onReply = (m) => {
      if (m.type === "ready") readyRes();
      else if (m.type === "done") {
        readyRes();
        doneRes(m.result as R);
      } else if (m.type === "error") {
        const e = new Error(`${this.name}: ${m.message}`);
        readyRej(e);
        doneRej(e);
      }
    };
    this.worker.postMessage({ task, ctl, timeoutMs } satisfies Envelope);
    return { ready, done };
  }

  async stop(): Promise<void> {
    await this.worker.terminate();
  }
}

/** CPU time of the whole machine (busy, steal) and of this process, ms, for disturbance. */
type SysSample = CpuSample;
/** /proc/stat and this process's CPU now (src/bench/machine.ts). */
const sysSample = cpuSample;

/** Cores other processes kept busy, and cores stolen by the hypervisor, between two samples. */
function disturbance(a: SysSample, b: SysSample): { otherCores: number; stealCores: number } {
  const wall = b.wallMs - a.wallMs;
  return { otherCores: Math.max(0, (b.busyMs - a.busyMs - (b.ownMs - a.ownMs)) / wall), stealCores: (b.stealMs - a.stealMs) / wall };
}

/** Writes, MB written and flushes the block device completed so far (/proc/diskstats), or undefined. */
function diskSample(device: string): { writes: number; mb: number; flushes: number } | undefined {
  try {
    const name = basename(device);
    for (const line of readFileSync("/proc/diskstats", "utf8").split("\n")) {
      const f = line.trim().split(/\s+/);
      if (f[2] !== name) continue;
      return { writes: Number(f[7]), mb: (Number(f[9]) * 512) / 1048576, flushes: Number(f[18] ?? NaN) };
    }
  } catch {
    /* not Linux */
  }
  return undefined;
}

const fmtDisk = (a: ReturnType<typeof diskSample>, b: ReturnType<typeof diskSample>): string =>
  a === undefined || b === undefined ? "device counters unavailable" : `device ${fmtInt(b.writes - a.writes)} writes, ${(b.mb - a.mb).toFixed(0)} MB, ${fmtInt(b.flushes - a.flushes)} flushes`;

const fmtDisturb = (d: { otherCores: number; stealCores: number }): string => `other processes ${d.otherCores.toFixed(2)} cores, steal ${d.stealCores.toFixed(2)}`;

/** CPU ms per thread of this process, by thread id (Linux /proc; empty elsewhere). */
const threadCpuMs = (): Map<number, number> => new Map([...threadTimes()].map(([tid, t]) => [tid, t.ms]));

/** Cores each thread kept busy over a window (CPU time / wall time). */
interface ThreadUse {
  main: number;
  /** Threads the node started (those new at its start, and any it named "venue-..."): its workers and the event store's job thread. */
  journal: number;
  watcher: number;
  driver: number;
  /** V8 helper threads (GC, compiler), libuv. */
  other: number;
  total: number;
  /** The node's threads (those in `journal`) by the name the node gave them (venue-journal, venue-storage, venue-lsm, ...), summed per name. */
  byName: Record<string, number>;
}

function threadUse(a: Map<number, number>, b: Map<number, { name: string; ms: number }>, wallMs: number, known: { journal: Set<number>; watcher: number; driver: number }): ThreadUse {
  const use: ThreadUse = { main: 0, journal: 0, watcher: 0, driver: 0, other: 0, total: 0, byName: {} };
  for (const [tid, { name, ms }] of b) {
    const c = (ms - (a.get(tid) ?? 0)) / wallMs;
    use.total += c;
    if (tid === process.pid) {
      use.main += c;
    } else if (known.journal.has(tid) || name.startsWith("venue-")) {
      use.journal += c;
      use.byName[name] = (use.byName[name] ?? 0) + c;
    } else if (tid === known.watcher) use.watcher += c;
    else if (tid === known.driver) use.driver += c;
    else use.other += c;
  }
  return use;
}

interface WriterStats {
  groups: number;
  records: number;
  durableSeq: number;
}

/**
 * memory: no data directory (the loop marks batches durable); journal: with one and no event
 * store, the node's default wait; journal-spin: the same, every thread of the node
 * busy-spinning (wait "spin"); journal-store: with one and the event store (as `venue
 * start` runs it: a storage worker writing every event, flushes and compactions on piscina);
 * journal-zero: as journal, on a zero-filled segment (one prepared before the node starts, as
 * the node's preparer leaves one after a quiet spell; ZERO_SEGMENT_BYTES, the run fits in it).
 */
type Mode = "memory" | "journal" | "journal-zero" | "journal-spin" | "journal-store";
/** The journal-zero node's segment size: room for the whole run (~100 bytes a command). */
const ZERO_SEGMENT_BYTES = quick ? 32 << 20 : 256 << 20;
const SPIN: WaitStrategy = { kind: "spin" };

interface RunningNode {
  mode: Mode;
  node: VenueNode;
  firstSeq: number;
  fault: () => Error | undefined;
  stats: () => WriterStats | undefined;
  statsReachable: boolean;
  /** Threads that appeared when the node started: its journal worker (and snapshot worker, where the node has one). */
  newThreads: () => Set<number>;
}

function startNode(mode: Mode, dir: string): RunningNode {
  const engine = new Engine();
  defineInstruments(engine, instrumentCommands(INSTRUMENTS));
  if (mode === "journal-zero") {
    // The node's start finds it whole and ready, and its journal's first segment is made from it.
    mkdirSync(join(dir, "journal"), { recursive: true });
    prepareSegmentFile(REAL_FS, join(dir, "journal"), ZERO_SEGMENT_BYTES);
  }
  const node = new VenueNode({ engine, drivers: 1, threads: { bulkNice: BULK_NICE }, ...(mode !== "memory" ? { dataDir: dir, eventStore: mode === "journal-store" } : {}), ...(mode === "journal-spin" ? { wait: SPIN } : {}), ...(mode === "journal-zero" ? { segmentBytes: ZERO_SEGMENT_BYTES } : {}) });
  if (mode === "journal-zero" && existsSync(join(dir, "journal", PREPARED_SEGMENT_NAME)) === false) throw new Error("journal-zero: the prepared segment was not kept");
  const firstSeq = node.loop.seq;
  const before = new Set(threadCpuMs().keys());
  let fault: Error | undefined;
  node.start().catch((e: unknown) => {
    fault = e instanceof Error ? e : new Error(String(e));
  });
  // The journal writer's counts arrive when its worker exits (node.journalStats).
  const stats = (): WriterStats | undefined => node.journalStats;
  const newThreads = (): Set<number> => new Set([...threadCpuMs().keys()].filter((t) => !before.has(t)));
  return { mode, node, firstSeq, fault: () => fault, stats, statsReachable: mode !== "memory", newThreads };
}

/**
 * Pushes commands [from, from + count) through the node's driver 0 from setImmediate turns
 * of this thread (the loop runs its slices in between), as many per turn as the driver ring
 * takes without waiting, flushing every 256; stamps each command's submit time (after its
 * flush) into `submitAt` when given. Resolves when the last one is durable.
 */
function saturate(rn: RunningNode, cmds: Buf, from: number, count: number, submitAt: Float64Array | undefined, timeoutMs: number): Promise<{ turns: number }> {
  const { node } = rn;
  const d = node.drivers[0]!;
  const inflightMax = Math.floor((d.ring.capacity * 0.75) / CMD);
  const base = node.loop.commands - from; // loop.commands when command `from` is next
  const lastSeq = rn.firstSeq + from + count - 1;
  const src64 = cmds.f64;
  const src32 = cmds.i32;
  const scratch = d.scratch;
  const deadline = Date.now() + timeoutMs;
  let i = from;
  let turns = 0;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      try {
        turns++;
        const fault = rn.fault();
        if (fault !== undefined) throw fault;
        let room = inflightMax - (i - (node.loop.commands - base));
        const end = from + count;
        while (room > 0 && i < end) {
          const k = Math.min(room, 256, end - i);
          const start = i;
          for (const stop = i + k; i < stop; i++) {
            copyRecord(src64, src32, i * CMD, scratch.f64, scratch.i32, 0, CMD);
            d.push(CMD);
          }
          d.flush();
          if (submitAt !== undefined) submitAt.fill(nowNs(), start, i);
          room -= k;
        }
        if (i === end && node.durableSeq >= lastSeq) {
          resolve({ turns });
          return;
        }
        if (Date.now() > deadline) throw new Error(`${rn.mode} node: seq ${lastSeq} not durable within ${timeoutMs} ms (durable ${node.durableSeq}, pushed ${i - from} of ${count})`);
        setImmediate(tick);
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
    setImmediate(tick);
  });
}

async function stopNode(rn: RunningNode): Promise<void> {
  await withTimeout(rn.node.stop(), 15_000, "node.stop()");
  // The journal worker's stats message comes before its exit event; give it a turn anyway.
  await new Promise((r) => setImmediate(r));
}

/** What the node reports of each engine snapshot it took (node.snapshots, where it exists). */
interface SnapshotNote {
  seq: number;
  /** Capture on the main thread (the loop stands still meanwhile). */
  captureMs: number;
  /** Capture to file renamed, on the snapshot worker. */
  ms: number;
  bytes: number;
}

interface NodeResult {
  mode: Mode;
  commands: number;
  rate: number;
  elapsedNs: number;
  latency: Pct;
  latencyFromSchedule?: Pct;
  /** Durable-seq changes the watcher saw. */
  publications: number;
  groupSize: Pct;
  interval: Pct;
  writer: WriterStats | undefined;
  statsReachable: boolean;
  threads: ThreadUse;
  disturbed: { otherCores: number; stealCores: number };
  diskNote: string;
  /** Engine snapshots the node took during its life (warm-up included), when this version of the node takes them. */
  snapshots: SnapshotNote[] | undefined;
  rssMB: number;
  heapMB: number;
  turns?: number;
  drive?: DriveResult;
  /** The event store's figures over the node's life (warm-up included), where it has one. */
  store?: { stalls: number; stalledSeconds: number; flushes: number; flushSeconds: number; flushBytes: number; compactions: number };
}

/** Group sizes and intervals from the watcher's (ns, durable seq) log, from `fromSeq`. */
function publications(events: Float64Array, n: number, fromSeq: number): { groups: RecordableHistogram; intervals: RecordableHistogram } {
  const groups = hist();
  const intervals = hist();
  let prevSeq = fromSeq;
  let prevT = -1;
  for (let k = 0; k < n; k++) {
    const t = events[2 * k]!;
    const s = events[2 * k + 1]!;
    rec(groups, s - prevSeq);
    if (prevT >= 0) rec(intervals, t - prevT);
    prevSeq = s;
    prevT = t;
  }
  return { groups, intervals };
}

/**
 * One node run: warm-up from this thread, then `count` commands either saturated (pushed
 * from this thread) or paced (from the driver thread at RATE), timed by the watcher.
 */
async function nodeRun(mode: Mode, how: "saturated" | "paced", ws: { watcher: BenchWorker; driver: BenchWorker }, cmds: Buf, count: number): Promise<NodeResult> {
  const rn = startNode(mode, join(TMP, `node-${mode}-${how}`));
  const wctl = new SharedArrayBuffer(CTL_CELLS * 4);
  const dctl = new SharedArrayBuffer(CTL_CELLS * 4);
  const abort = (): void => {
    Atomics.store(new Int32Array(wctl), STOP, 1);
    Atomics.store(new Int32Array(dctl), STOP, 1);
  };
  try {
    // Warm-up; with a journal it also waits for the journal worker thread to start.
    await saturate(rn, cmds, 0, WARM, undefined, START_TIMEOUT_MS);
    const total = WARM + count;
    const durableAt = new Float64Array(new SharedArrayBuffer(total * 8));
    const submitAt = new Float64Array(new SharedArrayBuffer(total * 8));
    const schedAt = new Float64Array(new SharedArrayBuffer(total * 8));
    const events = new Float64Array(new SharedArrayBuffer(Math.min(total, 1 << 20) * 16));
    const from = rn.node.durableSeq;
    const last = rn.firstSeq + total - 1;
    const timeout = how === "paced" ? Math.ceil((count / RATE) * 1000) + NODE_TIMEOUT_MS : NODE_TIMEOUT_MS;
    const w = ws.watcher.run<WatchResult>({ kind: "watch", control: rn.node.control.sab, baseSeq: rn.firstSeq, from, last, durableAt: durableAt.buffer as SharedArrayBuffer, events: events.buffer as SharedArrayBuffer }, wctl, timeout);
    // Paced: from here on only the driver thread writes the driver ring (its producer starts at the ring's published position).
    const d =
      how === "paced"
        ? ws.driver.run<DriveResult>(
            { kind: "drive", ring: rn.node.drivers[0]!.ring.sab, control: rn.node.control.sab, cmds: cmds.buffer as SharedArrayBuffer, size: CMD, first: WARM, count, ratePerS: RATE, schedAt: schedAt.buffer as SharedArrayBuffer, submitAt: submitAt.buffer as SharedArrayBuffer },
            dctl,
            timeout,
          )
        : undefined;
    await withTimeout(Promise.all([w.ready, d?.ready]), 10_000, "watcher and driver ready");
    const journalThreads = rn.newThreads();
    const cpu0 = threadCpuMs();
    const s0 = sysSample();
    const dk0 = diskSample(device);
    const wall0 = performance.now();
    let turns: number | undefined;
    let drive: DriveResult | undefined;
    if (d === undefined) {
      turns = (await saturate(rn, cmds, WARM, count, submitAt, timeout)).turns;
    } else {
      Atomics.store(new Int32Array(dctl), GO, 1);
      drive = await withTimeout(d.done, timeout, "paced driver");
      if (drive.timedOut || drive.pushed !== count) throw new Error(`paced driver pushed ${drive.pushed} of ${count}`);
    }
    const watch = await withTimeout(w.done, 15_000, "watcher done");
    const threads = threadUse(cpu0, threadTimes(), performance.now() - wall0, { journal: journalThreads, watcher: ws.watcher.tid, driver: ws.driver.tid });
    const disturbed = disturbance(s0, sysSample());
    const diskNote = fmtDisk(dk0, diskSample(device));
    if (watch.timedOut || watch.lastSeen < last) throw new Error(`watcher saw durable ${watch.lastSeen}, expected ${last}`);
    const lat = hist();
    const latSched = hist();
    for (let i = WARM; i < total; i++) {
      rec(lat, durableAt[i]! - submitAt[i]!);
      if (drive !== undefined) rec(latSched, durableAt[i]! - schedAt[i]!);
    }
    const start = drive !== undefined ? schedAt[WARM]! : submitAt[WARM]!;
    const elapsedNs = durableAt[total - 1]! - start;
    const pub = publications(events, Math.min(watch.changes, events.length >> 1), from);
    const mem = process.memoryUsage();
    await stopNode(rn);
    const sm = rn.node.storageMetrics; // the storage worker's last report, made as it ended
    const store = sm === undefined ? undefined : { stalls: sm.stalls, stalledSeconds: sm.stalledSeconds, flushes: sm.flushes, flushSeconds: sm.flushSeconds.sum, flushBytes: sm.flushBytes, compactions: sm.compactions };
    if (rn.node.loop.commands !== total) throw new Error(`${mode} node: the loop applied ${rn.node.loop.commands} commands, ${total} were pushed`);
    if (rn.node.loop.malformed !== 0) throw new Error(`${mode} node: the loop dropped ${rn.node.loop.malformed} malformed commands`);
    return {
      mode,
      commands: count,
      rate: count / (elapsedNs / 1e9),
      elapsedNs,
      latency: pct(lat),
      ...(drive !== undefined ? { latencyFromSchedule: pct(latSched), drive } : {}),
      ...(turns !== undefined ? { turns } : {}),
      ...(store !== undefined ? { store } : {}),
      publications: watch.changes,
      groupSize: pct(pub.groups),
      interval: pct(pub.intervals),
      writer: rn.stats(),
      statsReachable: rn.statsReachable,
      threads,
      disturbed,
      diskNote,
      snapshots: (rn.node as unknown as { snapshots?: SnapshotNote[] }).snapshots?.map((x) => ({ seq: x.seq, captureMs: x.captureMs, ms: x.ms, bytes: x.bytes })),
      rssMB: mem.rss / 1048576,
      heapMB: mem.heapUsed / 1048576,
    };
  } catch (e) {
    abort();
    throw e;
  } finally {
    await stopNode(rn).catch(() => {});
  }
}

// ---------------------------------------------------------------------------------------
// Main

async function main(): Promise<number> {
  const wall0 = performance.now();
  rmSync(TMP, { recursive: true, force: true });
  mkdirSync(TMP, { recursive: true });
  const cpus = os.cpus();
  const cores = os.availableParallelism();
  const disk = diskInfo(TMP);
  device = disk.device;
  const git = gitInfo();
  const loadStart = os.loadavg();
  const machine = { cpu: cpus[0]?.model ?? "unknown", logicalCpus: cpus.length, availableParallelism: cores, platform: `${os.platform()} ${os.release()} ${os.arch()}`, node: process.version };
  log(`journal benchmark${quick ? " (--quick: proves it runs, not a measurement)" : ""}: ${fmtInt(FSYNCS)} floor fsyncs, writer G = ${GROUPS.join(", ")}, node ${fmtInt(COMMANDS)} saturated + ${fmtInt(PACED)} paced at ${fmtRate(RATE)}; ${ROUNDS} rounds, seed ${args.seed}`);
  log(`machine: ${machine.cpu} x ${machine.logicalCpus} (${cores} available), ${machine.platform}, Node ${machine.node}; load average at start ${loadStart.map((x) => x.toFixed(2)).join(" ")}`);
  log(`disk: ${disk.device} (${disk.fsType}, ${disk.mountOptions}) mounted at ${disk.mountPoint}; write cache: ${disk.writeCache}; rotational: ${disk.rotational}; files in ${disk.path}`);
  for (const line of disk.df.split("\n")) log(`  ${line}`);
  log(`threads: engine loop (main thread) and journal worker wait with ${describeWait(DEFAULT_WAIT)} -> 2 spin-then-park threads on ${cores} cores; watcher and paced driver only park; floor and writer runs are single-threaded; bulk threads (event store, snapshots, segments) at nice ${BULK_NICE}${BULK_NICE === DEFAULT_THREAD_SCHEDULING.bulkNice ? " (the default)" : ""}`);
  log(`source: commit ${git.commit}${git.dirty.length > 0 ? ` + uncommitted changes in ${git.dirty.join(", ")}` : ""}`);
  log("");

  // --- 1 + 2
  const floorBytes = Math.ceil((FSYNCS * REC) / 4096) * 4096 + 4096;
  const floors = [openFloor("preallocated", floorBytes, true), openFloor("sparse", floorBytes, false)];
  const pool = Buf.alloc(4096 * CMD);
  const prng = new Prng(args.seed);
  for (let i = 0; i < 4096; i++) writeCommand(pool, i * CMD, i, prng);
  const commitsFor = (g: number): number => Math.max(1, Math.min(COMMITS[g] ?? FSYNCS, Math.floor(WRITER_RECORDS_MAX / g)));
  // Each G twice: on a zero-filled segment (made by the same code as the node's preparer, on
  // this thread before the writer starts) and on a fallocated one. One segment each, sized to
  // hold the warm-up and every commit (no rotation in the figures).
  const writers: WriterRun[] = [];
  for (const g of GROUPS) {
    for (const kind of ["zero-filled", "fallocated"] as const) {
      const dir = join(TMP, `writer-g${g}-${kind}`);
      mkdirSync(dir, { recursive: true });
      const segmentBytes = Math.ceil(((commitsFor(g) + 2) * g * (CMD + WAL_FRAME_OVERHEAD) + (8 << 20)) / (1 << 20)) * (1 << 20);
      let supply: InlineSegmentSupply | undefined;
      if (kind === "zero-filled") {
        supply = new InlineSegmentSupply(REAL_FS, dir, segmentBytes);
        supply.request();
      }
      const writer = new JournalWriter({ dir, nextSeq: 1, segmentBytes, ...(supply ? { supply, prepareAfterBytes: 1 << 40 } : {}) });
      if ((writer.preparedSegments === 1) !== (kind === "zero-filled")) throw new Error(`writer G=${g}: its segment is not ${kind}`);
      writers.push({ g, kind, writer, seq: 1, h: hist(), commits: 0, commands: 0, ns: 0, appendNs: 0, rates: [] });
    }
  }
  // Warm-up (JIT, first blocks of each file), not recorded.
  for (const w of writers) {
    for (let k = 0; k < Math.min(w.g, 4096) * 2; k++) {
      stamp(pool.dv, (k & 4095) * CMD, w.seq, TS);
      w.writer.append(pool, (k & 4095) * CMD, CMD, w.seq++);
      if ((k + 1) % w.g === 0) w.writer.commit();
    }
    w.writer.commit();
  }
  try {
    for (let r = 0; r < ROUNDS; r++) {
      const t0 = performance.now();
      const s0 = sysSample();
      const d0 = diskSample(disk.device);
      for (const f of floors) floorChunk(f, Math.ceil(FSYNCS / ROUNDS));
      for (const w of writers) writerChunk(w, pool, Math.ceil(commitsFor(w.g) / ROUNDS));
      log(`  round ${r + 1}/${ROUNDS}: floor ${floors.map((f) => `${f.name} ${fmtRate(f.rates[r]!)}`).join(", ")}; writer ${writers.map((w) => `G=${w.g}${w.kind === "zero-filled" ? "z" : "f"} ${fmtRate(w.rates[r]!)}`).join(", ")} (${((performance.now() - t0) / 1000).toFixed(1)} s; ${fmtDisturb(disturbance(s0, sysSample()))}; ${fmtDisk(d0, diskSample(disk.device))})`);
    }
  } finally {
    for (const f of floors) closeSync(f.fd);
    for (const w of writers) w.writer.close();
  }
  const floorRes = floors.map((f) => ({ name: f.name, fsyncs: f.fsyncs, fsyncsPerS: median(f.rates), fdatasync: pct(f.h) }));
  const writerRes = writers.map((w) => ({
    g: w.g,
    segment: w.kind,
    commits: w.commits,
    commands: w.commands,
    commandsPerS: median(w.rates),
    appendNsPerCommand: w.appendNs / w.commands,
    commitsPerS: w.commits / (w.ns / 1e9),
    commit: pct(w.h),
    bytesPerCommit: w.g * (CMD + WAL_FRAME_OVERHEAD),
  }));
  const floorP99 = floorRes[0]!.fdatasync.p99;
  const sparseP99 = floorRes[1]!.fdatasync.p99;
  const commitBound = TARGET_FACTOR * floorP99 + TARGET_PLUS_NS;

  log("");
  log(`1. floor: fs.writeSync ${REC} B appended + fs.fdatasyncSync, one thread (fsyncs/s: median of rounds; latency: fdatasync only)`);
  log(`   ${padR("file", 34)}${pad("fsyncs", 9)}${pad("fsyncs/s", 11)}${pad("p50", 10)}${pad("p99", 10)}${pad("p99.9", 10)}${pad("max", 10)}`);
  for (const f of floorRes) log(`   ${padR(f.name === "sparse" ? "sparse (ftruncate, like a segment)" : "preallocated (zeros, fsynced)", 34)}${pad(fmtInt(f.fsyncs), 9)}${pad(fmtInt(f.fsyncsPerS), 11)}${pctCols(f.fdatasync)}`);
  log("");
  log(`2. JournalWriter alone, one thread: G new orders (${CMD} B, ${CMD + WAL_FRAME_OVERHEAD} B framed) appended, then commit() = one write + one fdatasync`);
  log(`   commit target: p99 <= ${TARGET_FACTOR} x floor p99 (${fmtNs(floorP99)}) + 50 µs = ${fmtNs(commitBound)}`);
  log(`   segments: zero-filled (written with zeros and synced ahead, as the node's preparer makes them) or fallocated (blocks reserved, unwritten: a commit also converts them)`);
  log(`   ${padR("segment", 13)}${pad("G", 5)}${pad("commits", 9)}${pad("commands/s", 12)}${pad("append/cmd", 12)}${pad("commit p50", 11)}${pad("p99", 10)}${pad("p99.9", 10)}${pad("max", 10)}${pad("p99/floor", 11)}${pad("p99/sparse", 12)}  target`);
  for (const w of writerRes) {
    const c = w.commit;
    log(
      `   ${padR(w.segment, 13)}${pad(String(w.g), 5)}${pad(fmtInt(w.commits), 9)}${pad(fmtRate(w.commandsPerS), 12)}${pad(fmtNs(w.appendNsPerCommand), 12)}${pad(fmtNs(c.p50), 11)}${pad(fmtNs(c.p99), 10)}${pad(fmtNs(c.p999), 10)}${pad(fmtNs(c.max), 10)}` +
        `${pad((c.p99 / floorP99).toFixed(2) + "x", 11)}${pad((c.p99 / sparseP99).toFixed(2) + "x", 12)}  ${met(c.p99 <= commitBound)}`,
    );
  }
  log("");

  // --- 3 + 4
  const cmds = encodeCommands(WARM + Math.max(COMMANDS, PACED), args.seed);
  const watcher = new BenchWorker("journal-bench watcher");
  const driver = new BenchWorker("journal-bench paced driver");
  const ws = { watcher, driver };
  const MODES: Mode[] = ["memory", "journal", "journal-zero", "journal-spin", "journal-store"];
  const satRuns = new Map<Mode, NodeResult>();
  const pacedRuns = new Map<Mode, NodeResult>();
  try {
    await withTimeout(Promise.all([watcher.hello, driver.hello]), START_TIMEOUT_MS, "starting the bench worker threads");
    // JIT warm-up for the loop and the engine, untimed, so the first measured run does not pay for it.
    await nodeRun("memory", "saturated", ws, cmds, Math.min(COMMANDS, JIT_WARM));
    for (const m of MODES) satRuns.set(m, await nodeRun(m, "saturated", ws, cmds, COMMANDS));
    for (const m of MODES) pacedRuns.set(m, await nodeRun(m, "paced", ws, cmds, PACED));
  } finally {
    await Promise.all([watcher.stop(), driver.stop()]);
  }
  const memSat = satRuns.get("memory")!;
  const sat = satRuns.get("journal")!;
  const spinSat = satRuns.get("journal-spin")!;
  const paced = pacedRuns.get("journal")!;
  const spinPaced = pacedRuns.get("journal-spin")!;
  const LABEL: Record<Mode, string> = { memory: "in memory", journal: "journal", "journal-zero": "journal, zeroed", "journal-spin": "journal, spin", "journal-store": "journal + store" };

  const perSync = (r: NodeResult): string => (r.writer !== undefined ? (r.writer.records / r.writer.groups).toFixed(0) : r.mode === "memory" ? "-" : "?");
  const header = `   ${padR("node", 16)}${pad("durable/s", 10)}${pad("per sync", 9)}${pad("changes", 9)}${pad("gap p50", 10)}${pad("gap p99", 10)}  ${padR("latency", 10)}${pad("p50", 10)}${pad("p99", 10)}${pad("p99.9", 10)}${pad("max", 10)}`;
  const row = (r: NodeResult, what: "submit" | "sched" = "submit"): string => {
    const l = what === "sched" ? r.latencyFromSchedule! : r.latency;
    const first = what === "submit";
    return (
      `   ${padR(first ? LABEL[r.mode] : "", 16)}${pad(first ? fmtRate(r.rate) : "", 10)}${pad(first ? perSync(r) : "", 9)}${pad(first ? fmtInt(r.publications) : "", 9)}` +
      `${pad(first ? fmtNs(r.interval.p50) : "", 10)}${pad(first ? fmtNs(r.interval.p99) : "", 10)}  ${padR(what === "sched" ? "from sched" : "submit", 10)}${pctCols(l)}`
    );
  };
  const threadsLine = (r: NodeResult): string => {
    const t = r.threads;
    // The node's threads by the names the node gave them ("venue-journal" shown as "journal"; none without the native addon).
    const named = Object.entries(t.byName).filter(([n]) => n.startsWith("venue-")).sort((x, y) => y[1] - x[1]);
    const unnamed = t.journal - named.reduce((sum, [, c]) => sum + c, 0);
    const workers = named.length === 0 ? [`node workers ${t.journal.toFixed(2)}`] : [...named.map(([n, c]) => `${n.slice("venue-".length)} ${c.toFixed(2)}`), ...(unnamed >= 0.005 ? [`other node threads ${unnamed.toFixed(2)}`] : [])];
    const parts = [`main ${t.main.toFixed(2)}`, ...(r.mode !== "memory" ? workers : []), `watcher ${t.watcher.toFixed(2)}`, ...(r.drive !== undefined ? [`driver ${t.driver.toFixed(2)}`] : []), `V8/libuv ${t.other.toFixed(2)}`];
    const snaps =
      r.snapshots === undefined ? "" : r.snapshots.length === 0 ? "; no engine snapshot" : `; engine snapshot(s) at seq ${r.snapshots.map((x) => `${fmtInt(x.seq)} (capture on the main thread ${x.captureMs.toFixed(1)} ms, written in ${x.ms.toFixed(0)} ms, ${(x.bytes / 1048576).toFixed(1)} MB)`).join(", ")}`;
    return `   ${padR(LABEL[r.mode] + ":", 15)} cores busy ${parts.join(", ")} = ${t.total.toFixed(2)} of ${cores}; ${fmtDisturb(r.disturbed)}; ${r.diskNote}${snaps}`;
  };
  log(`3. node, saturated: ${fmtInt(COMMANDS)} new orders after ${fmtInt(WARM)} warm-up, pushed from the main thread between the loop's slices (<= ${fmtInt(Math.floor(((1 << 20) * 0.75) / CMD))} in the 1 MiB driver ring)`);
  log(`   in memory:     VenueNode({ drivers: 1 }), no dataDir: the loop marks each batch durable itself (the same flow without the journal)`);
  log(`   journal:       VenueNode({ dataDir, eventStore: false, drivers: 1 }): recovery, journal worker thread, group commit; default wait (${describeWait(DEFAULT_WAIT)})`);
  log(`   journal, zeroed: the same on a zero-filled segment (${ZERO_SEGMENT_BYTES >> 20} MiB, prepared before the start, as the node's preparer leaves one after a quiet spell); the journal's first segment is fallocated`);
  log(`   journal, spin: the same with wait "spin": the loop and the journal worker busy-spin (two spinning threads on ${cores} cores)`);
  log(`   journal + store: VenueNode({ dataDir, drivers: 1 }), the journal and the event store as venue start has them (a storage worker writing every event; flushes and compactions on piscina); venue start's wait "auto" parks at once on 2 cores or fewer, these nodes spin first`);
  log(`   per sync = commands per fdatasync (the journal worker's own counts, warm-up included); changes = durable-seq changes the watcher saw;`);
  log(`   gap = time between changes; latency = submit (the flush that made it visible) -> its seq published durable;`);
  log(`   cores busy per thread from /proc; the node's threads by the names it gives them (journal, storage, lsm = the event store's flush and compaction thread,`);
  log(`   snapshots, segments = the segment preparer; without the native addon they are unnamed and summed as node workers); V8/libuv = the runtime's own threads`);
  log(header);
  for (const m of MODES) log(row(satRuns.get(m)!));
  for (const m of MODES) log(threadsLine(satRuns.get(m)!));
  for (const m of MODES) {
    const r = satRuns.get(m)!;
    const st = r.store;
    if (st === undefined) continue;
    const runS = r.elapsedNs / 1e9;
    log(
      `   ${padR(LABEL[r.mode] + ":", 15)} the event store over the node's life (warm-up included): ${fmtInt(st.flushes)} flushes (${(st.flushBytes / 1e6).toFixed(0)} MB, ${st.flushes === 0 ? "-" : `${((st.flushSeconds / st.flushes) * 1000).toFixed(0)} ms`} each), ${fmtInt(st.compactions)} compactions; ` +
        `the storage worker waited for flushes ${fmtInt(st.stalls)} times, ${st.stalledSeconds.toFixed(2)} s in all (the measured run took ${runS.toFixed(2)} s)`,
    );
  }
  log(`   journal / in memory: ${((sat.rate / memSat.rate) * 100).toFixed(0)}% of the throughput (spin: ${((spinSat.rate / memSat.rate) * 100).toFixed(0)}%); RSS ${sat.rssMB.toFixed(0)} MB, heap ${sat.heapMB.toFixed(0)} MB after the journal run`);
  log("");
  log(`4. node, paced open loop: ${fmtInt(PACED)} new orders at ${fmtRate(RATE)} from a driver thread (sleeps ~0.1 ms, then sends what fell due), after ${fmtInt(WARM)} warm-up`);
  log(`   latency from submit and from each command's scheduled time; worst burst lateness ${MODES.map((m) => `${LABEL[m]} ${fmtNs(pacedRuns.get(m)!.drive?.maxLateNs ?? NaN)}`).join(", ")}`);
  log(header);
  for (const m of MODES) {
    log(row(pacedRuns.get(m)!));
    log(row(pacedRuns.get(m)!, "sched"));
  }
  for (const m of MODES) log(threadsLine(pacedRuns.get(m)!));
  log("");

  const g4096 = writerRes.find((w) => w.g === 4096 && w.segment === "zero-filled")!;
  log(`targets (../shared/BENCH.md, journal)`);
  log(`   >= 1M commands/s sustained with group commit:`);
  log(`     node with journal, saturated  ${pad(fmtRate(sat.rate), 10)} -> ${met(sat.rate >= TARGET_RATE)}   (wait spin: ${fmtRate(spinSat.rate)} -> ${met(spinSat.rate >= TARGET_RATE)}; the same node without a journal: ${fmtRate(memSat.rate)})`);
  const storeSat = satRuns.get("journal-store")!;
  log(`     node with journal and event store, saturated  ${fmtRate(storeSat.rate)} -> ${met(storeSat.rate >= TARGET_RATE)}   (the journal and the store, as venue start has them)`);
  log(`     writer alone, G=${g4096.g}        ${pad(fmtRate(g4096.commandsPerS), 10)} -> ${met(g4096.commandsPerS >= TARGET_RATE)}`);
  log(`   commit p99 <= 1.2 x raw fdatasync p99 + 50 µs = ${fmtNs(commitBound)} (raw p99 ${fmtNs(floorP99)} preallocated; ${fmtNs(sparseP99)} sparse):`);
  const targetRow = (what: string, p99: number): string => `     ${padR(what, 36)}${pad(fmtNs(p99), 10)}${pad((p99 / floorP99).toFixed(2) + "x", 9)}  ${met(p99 <= commitBound)}`;
  log(`     ${padR("what", 36)}${pad("p99", 10)}${pad("/ raw", 9)}`);
  for (const w of writerRes) log(targetRow(`writer alone, G=${w.g}, ${w.segment}, commit`, w.commit.p99));
  log(`     (the node's segments are zero-filled once its preparer has made the first; until then, and with prepareSegments: false, fallocated)`);
  log(targetRow("node journal, saturated, gap", sat.interval.p99));
  log(targetRow("node journal, paced, gap", paced.interval.p99));
  log(targetRow("node journal+spin, saturated, gap", spinSat.interval.p99));
  log(targetRow("node journal+spin, paced, gap", spinPaced.interval.p99));
  log(`     (gap: time between durable publications, which bounds the node's commit from above; the commit itself runs inside the journal worker)`);
  log(`   for reference, paced submit -> durable p99: journal ${fmtNs(paced.latency.p99)} (${(paced.latency.p99 / floorP99).toFixed(1)}x raw p99), journal+spin ${fmtNs(spinPaced.latency.p99)} (${(spinPaced.latency.p99 / floorP99).toFixed(1)}x)`);
  const loadEnd = os.loadavg();
  const wallS = (performance.now() - wall0) / 1000;
  log(`wall time ${wallS.toFixed(1)} s; load average at end ${loadEnd.map((x) => x.toFixed(2)).join(" ")}`);

  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, "journal.json");
  writeFileSync(
    file,
    JSON.stringify(
      {
        benchmark: "journal",
        date: new Date().toISOString(),
        quick,
        params: { commands: COMMANDS, rounds: ROUNDS, seed: args.seed, fsyncs: FSYNCS, rate: RATE, paced: PACED, warm: WARM, groups: GROUPS, recordBytes: REC, commandBytes: CMD, bulkNice: BULK_NICE },
        machine,
        disk,
        git,
        wait: describeWait(DEFAULT_WAIT),
        loadAverage: { start: loadStart, end: loadEnd },
        floor: floorRes,
        writer: writerRes,
        node: { saturated: Object.fromEntries(satRuns), paced: Object.fromEntries(pacedRuns) },
        targets: {
          rate: { target: TARGET_RATE, node: sat.rate, met: sat.rate >= TARGET_RATE },
          commitP99: {
            boundNs: commitBound,
            floorP99Ns: floorP99,
            writer: writerRes.map((w) => ({ g: w.g, segment: w.segment, p99Ns: w.commit.p99, ratio: w.commit.p99 / floorP99, met: w.commit.p99 <= commitBound })),
            nodeGapP99Ns: { saturated: sat.interval.p99, paced: paced.interval.p99, spinSaturated: spinSat.interval.p99, spinPaced: spinPaced.interval.p99 },
          },
        },
        wallSeconds: wallS,
      },
      null,
      2,
    ),
  );
  log(`wrote ${file}`);
  return 0;
}

let code = 1;
try {
  code = await main();
} catch (e) {
  process.stderr.write(`journal benchmark failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  code = 1;
} finally {
  rmSync(TMP, { recursive: true, force: true });
}
// Exit explicitly: a node or worker left behind by a failure must not keep the process alive.
process.exit(code);
