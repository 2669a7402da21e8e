/**
 * The worker side of bench/journal.ts, loaded by bench/journal_worker.mjs (which registers
 * tsx in the worker). One task at a time, sent by the main thread, answered with
 * {ready}, then {done, result} or {error}. Two roles:
 *
 *   watch   sits parked on the node's durable sequence (the control block's protocol: raise
 *           the parked count, re-check, Atomics.wait with a 1 ms timeout; the journal
 *           worker's setDurable then notifies), and on each change stamps the time into
 *           `durableAt` for every newly durable seq and logs (time, durable seq). It never
 *           spins: the main thread (engine loop) and the journal worker keep the 2 cores.
 *   drive   an open-loop driver for the paced run: its own InboundProducer over the node's
 *           driver ring (the main thread's producer is idle by then), pushes command i at
 *           its scheduled time start + i / rate, flushing after each burst, and sleeps
 *           (Atomics.wait, ~0.1 ms) in between; records each command's scheduled time and
 *           its submit time (the flush that made it visible to the loop).
 *
 * Times are process.hrtime (CLOCK_MONOTONIC) in ns, as on the main thread: one clock for
 * every thread. Every loop checks ctl[STOP] and its deadline, so nothing waits for ever.
 */

import { readlinkSync } from "node:fs";
import { parentPort } from "node:worker_threads";
import { Control } from "../src/bus/control.ts";
import { InboundProducer } from "../src/bus/inbound.ts";
import { Ring } from "../src/bus/ring.ts";
import { copyRecord } from "../src/bus/copy.ts";
import { DEFAULT_WAIT, Waiter } from "../src/bus/wait.ts";
import { C_DURABLE_LO, C_DURABLE_PARKED } from "../src/schema/control.ts";
import { Buf } from "../src/schema/layout.ts";

/** Cells of the ctl Int32Array main and worker share for one task. */
export const GO = 0;
export const STOP = 1;
/** Watcher: durable changes logged so far. Driver: commands pushed so far. */
export const PROGRESS = 2;
export const CTL_CELLS = 4;

export type JournalTask =
  | {
      kind: "watch";
      control: SharedArrayBuffer;
      /** Seq of index 0 of durableAt. */
      baseSeq: number;
      /** Durable seq when the watch starts; it ends once `last` is durable. */
      from: number;
      last: number;
      /** Float64Array: ns at which each seq was seen durable. */
      durableAt: SharedArrayBuffer;
      /** Float64Array of (ns, durable seq) pairs, one per change seen. */
      events: SharedArrayBuffer;
    }
  | {
      kind: "drive";
      ring: SharedArrayBuffer;
      control: SharedArrayBuffer;
      /** Pre-encoded commands, `size` bytes each; the driver pushes [first, first + count). */
      cmds: SharedArrayBuffer;
      size: number;
      first: number;
      count: number;
      ratePerS: number;
      /** Float64Arrays indexed like cmds: scheduled and submitted ns. */
      schedAt: SharedArrayBuffer;
      submitAt: SharedArrayBuffer;
    };

export interface Envelope {
  task: JournalTask;
  ctl: SharedArrayBuffer;
  timeoutMs: number;
}

export interface WatchResult {
  changes: number;
  lastSeen: number;
  parks: number;
  timedOut: boolean;
}

export interface DriveResult {
  pushed: number;
  bursts: number;
  /** ns from the first scheduled time to the last submit. */
  elapsedNs: number;
  /** Worst lateness of a burst's first command (submit minus schedule), ns. */
  maxLateNs: number;
  timedOut: boolean;
}

export type WorkerReply =
  | { type: "hello"; tid: number }
  | { type: "ready" }
  | { type: "done"; result: WatchResult | DriveResult }
  | { type: "error"; message: string };

/** The driver's sleep between bursts. */
const SLEEP_MS = 0.1;

const nowNs = (): number => Number(process.hrtime.bigint());

/** This thread's Linux thread id (for per-thread CPU in /proc), or -1. */
function threadId(): number {
  try {
    return Number(readlinkSync("/proc/thread-self").split("/").pop());
  } catch {
    return -1;
  }
}

function watch(t: Extract<JournalTask, { kind: "watch" }>, ctl: Int32Array, deadline: number, port: NonNullable<typeof parentPort>): WatchResult {
  const control = new Control(t.control);
  const i32 = control.i32;
  const at = new Float64Array(t.durableAt);
  const ev = new Float64Array(t.events);
  const cap = ev.length >> 1;
  const waiter = new Waiter({ kind: "park", parkMs: 1 });
  let seen = t.from;
  let changes = 0;
  let timedOut = false;
  port.postMessage({ type: "ready" } satisfies WorkerReply);
  for (;;) {
    const d = Atomics.load(i32, C_DURABLE_LO) >>> 0; // seqs here stay far below 2^32
    if (d !== seen) {
      const ts = nowNs();
      const lo = Math.max(0, seen + 1 - t.baseSeq);
      const hi = Math.min(at.length, d + 1 - t.baseSeq);
      if (hi > lo) at.fill(ts, lo, hi);
      if (changes < cap) {
        ev[2 * changes] = ts;
        ev[2 * changes + 1] = d;
      }
      changes++;
      Atomics.store(ctl, PROGRESS, Math.min(changes, cap));
      seen = d;
      if (d >= t.last) break;
      continue;
    }
    if (Atomics.load(ctl, STOP) !== 0) break;
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    waiter.pause(i32, C_DURABLE_LO, d | 0, C_DURABLE_PARKED);
  }
  return { changes, lastSeen: seen, parks: waiter.parks, timedOut };
}

function drive(t: Extract<JournalTask, { kind: "drive" }>, ctl: Int32Array, deadline: number, port: NonNullable<typeof parentPort>): DriveResult {
  const producer = new InboundProducer(new Ring(t.ring, "bench paced driver"), new Control(t.control), { wait: DEFAULT_WAIT });
  const cmds = new Buf(t.cmds);
  const src64 = cmds.f64;
  const src32 = cmds.i32;
  const scratch = producer.scratch;
  const sched = new Float64Array(t.schedAt);
  const submit = new Float64Array(t.submitAt);
  const sleepCell = new Int32Array(new SharedArrayBuffer(4));
  const periodNs = 1e9 / t.ratePerS;
  port.postMessage({ type: "ready" } satisfies WorkerReply);
  while (Atomics.load(ctl, GO) === 0) {
    if (Atomics.load(ctl, STOP) !== 0 || Date.now() > deadline) return { pushed: 0, bursts: 0, elapsedNs: 0, maxLateNs: 0, timedOut: true };
    Atomics.wait(sleepCell, 0, 0, 0.2);
  }
  const t0 = nowNs() + 100_000;
  let i = 0;
  let bursts = 0;
  let maxLate = 0;
  let lastSubmit = t0;
  let timedOut = false;
  while (i < t.count) {
    const now = nowNs();
    const due = Math.min(t.count, Math.floor((now - t0) / periodNs) + 1);
    if (due > i) {
      const from = i;
      for (; i < due && i - from < 1024; i++) {
        const k = t.first + i;
        copyRecord(src64, src32, k * t.size, scratch.f64, scratch.i32, 0, t.size);
        producer.push(t.size);
        sched[k] = t0 + i * periodNs;
      }
      producer.flush();
      const ts = nowNs();
      submit.fill(ts, t.first + from, t.first + i);
      lastSubmit = ts;
      maxLate = Math.max(maxLate, ts - (t0 + from * periodNs));
      bursts++;
      Atomics.store(ctl, PROGRESS, i);
      continue;
    }
    if (Atomics.load(ctl, STOP) !== 0) break;
    if (Date.now() > deadline) {
      timedOut = true;
      break;
    }
    // Nothing due: sleep one short timed wait (~0.1 ms asked, more in practice), then send
    // everything that fell due meanwhile as one burst. The lateness shows in the latency
    // measured from the scheduled time.
    Atomics.wait(sleepCell, 0, 0, SLEEP_MS);
  }
  return { pushed: i, bursts, elapsedNs: lastSubmit - t0, maxLateNs: maxLate, timedOut };
}

if (parentPort !== null) {
  const port = parentPort;
  port.on("message", (m: Envelope) => {
    try {
      const ctl = new Int32Array(m.ctl);
      const deadline = Date.now() + m.timeoutMs;
      const result = m.task.kind === "watch" ? watch(m.task, ctl, deadline, port) : drive(m.task, ctl, deadline, port);
      port.postMessage({ type: "done", result } satisfies WorkerReply);
    } catch (err) {
      port.postMessage({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) } satisfies WorkerReply);
    }
  });
  port.postMessage({ type: "hello", tid: threadId() } satisfies WorkerReply);
}
