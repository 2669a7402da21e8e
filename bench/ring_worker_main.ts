/**
 * The worker side of bench/ring.ts: one task at a time, sent by the main thread, run to the
 * end, answered with its measurements. Loaded by bench/ring_worker.mjs (which registers
 * tsx in the worker). Every role of every measurement runs here, so the main thread only
 * orchestrates and stays idle on its event loop (it owns no core while a task runs).
 *
 * Protocol per task (id): the worker sets up, posts {ready}, then spins on ctl[GO] until the
 * main thread has every party of the run ready; it runs, then posts {done, result} or
 * {error}. Every loop checks ctl[ABORT] and its own deadline every 1024 turns, so a task
 * whose peer died ends with an error instead of waiting for ever (a RingProducer blocked in
 * `claim` with the spin strategy cannot be reached this way: the main thread terminates
 * the worker then).
 *
 * Records are 64 bytes with the schema's 24-byte header: kind 1, version 1, size 64,
 * instrument = seq & 0xff, seq (u64, a running counter from 0), timestamp (u64, a stand-in:
 * the seq again), and a check word at 56 = seq ^ CHECK. Every receiver checks kind, version,
 * size, both seq words and the check word of every record against the seq it expects.
 */

import { parentPort, type MessagePort } from "node:worker_threads";
import { createHistogram, performance } from "node:perf_hooks";
import { RingBuffer } from "ringbuf.js";
import { Ring, RingConsumer, RingProducer } from "../src/bus/ring.ts";
import type { WaitStrategy } from "../src/bus/wait.ts";
import type { Buf } from "../src/schema/layout.ts";
import { percentilesOf, type Percentiles } from "../src/bench/stats.ts";

// ---------------------------------------------------------------------------------------
// Shared with bench/ring.ts (type-only there)

export const REC = 64;
/** Cells of the control Int32Array every party of one run shares. */
export const GO = 0;
export const ABORT = 1;

export type Task =
  | { kind: "venueProduce"; sab: SharedArrayBuffer; n: number; batch: number; wait: WaitStrategy }
  | { kind: "venueConsume"; sab: SharedArrayBuffer; slot: number; n: number; wait: WaitStrategy }
  | { kind: "rbProduce"; sab: SharedArrayBuffer; n: number; batch: number }
  | { kind: "rbConsume"; sab: SharedArrayBuffer; n: number; popBytes: number }
  | { kind: "pmProduce"; port: MessagePort; flow: SharedArrayBuffer; n: number; batch: number; window: number }
  | { kind: "pmConsume"; port: MessagePort; flow: SharedArrayBuffer; n: number }
  | { kind: "venuePing"; a: SharedArrayBuffer; b: SharedArrayBuffer; pings: number; warmup: number; wait: WaitStrategy }
  | { kind: "venueEcho"; a: SharedArrayBuffer; b: SharedArrayBuffer; count: number; wait: WaitStrategy }
  | { kind: "rbPing"; a: SharedArrayBuffer; b: SharedArrayBuffer; pings: number; warmup: number }
  | { kind: "rbEcho"; a: SharedArrayBuffer; b: SharedArrayBuffer; count: number }
  | { kind: "pmPing"; port: MessagePort; pings: number; warmup: number }
  | { kind: "pmEcho"; port: MessagePort; count: number }
  | { kind: "floorPing"; cells: SharedArrayBuffer; pings: number; warmup: number }
  | { kind: "floorEcho"; cells: SharedArrayBuffer; count: number };

export interface Envelope {
  id: number;
  task: Task;
  ctl: SharedArrayBuffer;
  timeoutMs: number;
}

export type Latency = Percentiles;

export interface TaskResult {
  /** From seeing GO to the last record received (consumers) or published (producers), ms. */
  elapsedMs: number;
  /** Records received (consumers, echoes, pingers) or sent (producers). */
  records: number;
  /** Records that failed the check. */
  bad: number;
  /** Seq expected at the first bad record, or -1. */
  firstBad: number;
  /** Producer: claims that waited for a gating consumer; consumer: times it parked. */
  waits: number;
  parks: number;
  /** Pingers: one-way latency (round trip / 2), ns. */
  latency?: Latency;
  /** Pingers: the median back-to-back performance.now() pair, ns (not subtracted). */
  timerNs?: number;
}

export type WorkerReply =
  | { id: -1; type: "hello" }
  | { id: number; type: "ready" }
  | { id: number; type: "done"; result: TaskResult }
  | { id: number; type: "error"; message: string };

// ---------------------------------------------------------------------------------------
// Records

const WORD0 = 1 | (1 << 8) | (REC << 16); // kind 1, version 1, size 64 (little-endian u8, u8, u16)
const CHECK = 0x5eed1234;

/**
 * Records are written and read as 32-bit words through an Int32Array over whatever buffer
 * holds them (the ring's shared memory, or a batch's own buffer), as the engine writes its
 * events: little-endian words, the same bytes a DataView would store on this platform.
 */
function writeRec(w: Int32Array, off: number, seq: number): void {
  const i = off >> 2;
  w[i] = WORD0;
  w[i + 1] = seq & 0xff; // instrument
  w[i + 2] = seq; // seq, low word (the counter stays below 2^32)
  w[i + 3] = 0; // seq, high word
  w[i + 4] = seq; // timestamp stand-in, low word
  w[i + 5] = 0;
  w[i + 14] = seq ^ CHECK;
}

/** Checks each record against the seq it expects; after a bad one it resynchronises on the seq it read. */
class Verifier {
  expect = 0;
  records = 0;
  bad = 0;
  firstBad = -1;

  check(w: Int32Array, off: number): number {
    const i = off >> 2;
    const seq = w[i + 2]! >>> 0;
    const e = this.expect;
    if (seq !== e || w[i] !== WORD0 || w[i + 3] !== 0 || w[i + 14] !== (e ^ CHECK)) {
      this.bad++;
      if (this.firstBad < 0) this.firstBad = e;
      this.expect = (seq + 1) >>> 0;
    } else {
      this.expect = (e + 1) >>> 0;
    }
    this.records++;
    return seq;
  }
}

// ---------------------------------------------------------------------------------------
// Deadlines and the start signal

class Guard {
  private turns = 0;
  private readonly deadline: number;

  constructor(private readonly ctl: Int32Array, timeoutMs: number, private readonly what: string) {
    this.deadline = performance.now() + timeoutMs;
  }

  /** Cheap: a real check every 1024 calls. */
  tick(): void {
    if ((++this.turns & 1023) === 0) this.check();
  }

  check(): void {
    if (Atomics.load(this.ctl, ABORT) !== 0) throw new Error(`${this.what}: aborted by the main thread`);
    if (performance.now() > this.deadline) throw new Error(`${this.what}: timed out`);
  }
}

/** Spins until the main thread says go (every party was ready); returns the time it saw it. */
function awaitGo(ctl: Int32Array, guard: Guard): number {
  while (Atomics.load(ctl, GO) === 0) guard.tick();
  return performance.now();
}

function result(t0: number, v: { records: number; bad: number; firstBad: number }, waits = 0, parks = 0): TaskResult {
  return { elapsedMs: performance.now() - t0, records: v.records, bad: v.bad, firstBad: v.firstBad, waits, parks };
}

const latencyOf = percentilesOf;

function newHistogram(): ReturnType<typeof createHistogram> {
  return createHistogram({ lowest: 1, highest: 60_000_000_000, figures: 3 });
}

function timerNs(): number {
  const xs = new Float64Array(10_001);
  for (let i = 0; i < xs.length; i++) {
    const t0 = performance.now();
    xs[i] = performance.now() - t0;
  }
  xs.sort();
  return xs[xs.length >> 1]! * 1e6;
}

/** Half a round trip in whole ns (the histogram takes integers >= 1). */
const half = (ms: number): number => Math.max(1, Math.round(ms * 5e5));

// ---------------------------------------------------------------------------------------
// Venue ring

function venueProduce(t: Extract<Task, { kind: "venueProduce" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const ring = new Ring(t.sab, "bench");
  const p = new RingProducer(ring, { wait: t.wait, cutOffMs: 60_000, stallMs: 60_000 });
  const dv = ring.data.i32;
  const mask = t.batch - 1;
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 0; i < t.n; i++) {
    writeRec(dv, p.claim(REC), i);
    if ((i & mask) === mask) p.publish();
  }
  p.publish();
  return result(t0, { records: t.n, bad: 0, firstBad: -1 }, p.waits);
}

function venueConsume(t: Extract<Task, { kind: "venueConsume" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const ring = new Ring(t.sab, "bench");
  const c = new RingConsumer(ring, t.slot, { wait: t.wait });
  const v = new Verifier();
  const handler = (buf: Buf, off: number): void => { v.check(buf.i32, off); };
  const n = t.n;
  ready();
  const t0 = awaitGo(ctl, guard);
  while (v.records < n) {
    if (c.poll(handler) === 0) {
      c.await();
      guard.tick();
    }
  }
  // The consumer's Waiter is private; its park count is read here for the report only.
  const parks = (c as unknown as { waiter: { parks: number } }).waiter.parks;
  return result(t0, v, 0, parks);
}

function venuePing(t: Extract<Task, { kind: "venuePing" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const a = new Ring(t.a, "ping");
  const b = new Ring(t.b, "pong");
  const p = new RingProducer(a, { wait: t.wait });
  const c = new RingConsumer(b, 0, { wait: t.wait });
  const adv = a.data.i32;
  const v = new Verifier();
  const handler = (buf: Buf, off: number): void => { v.check(buf.i32, off); };
  const h = newHistogram();
  const total = t.warmup + t.pings;
  const timer = timerNs();
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 0; i < total; i++) {
    const s = performance.now();
    writeRec(adv, p.claim(REC), i);
    p.publish();
    while (c.poll(handler) === 0) {
      c.await();
      guard.tick();
    }
    const e = performance.now();
    if (i >= t.warmup) h.record(half(e - s));
  }
  const r = result(t0, v);
  r.latency = latencyOf(h);
  r.timerNs = timer;
  return r;
}

function venueEcho(t: Extract<Task, { kind: "venueEcho" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const a = new Ring(t.a, "ping");
  const b = new Ring(t.b, "pong");
  const c = new RingConsumer(a, 0, { wait: t.wait });
  const p = new RingProducer(b, { wait: t.wait });
  const bdv = b.data.i32;
  const v = new Verifier();
  const handler = (buf: Buf, off: number): void => { writeRec(bdv, p.claim(REC), v.check(buf.i32, off)); };
  ready();
  const t0 = awaitGo(ctl, guard);
  while (v.records < t.count) {
    if (c.poll(handler) === 0) {
      c.await();
      guard.tick();
    } else {
      p.publish();
    }
  }
  return result(t0, v);
}

// ---------------------------------------------------------------------------------------
// ringbuf.js: RingBuffer over a Uint8Array, whole batches pushed at once

function rbProduce(t: Extract<Task, { kind: "rbProduce" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const rb = new RingBuffer(t.sab, Uint8Array);
  const bytes = t.batch * REC;
  const batch = new Uint8Array(bytes);
  const dv = new Int32Array(batch.buffer);
  let waits = 0;
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 0; i < t.n; ) {
    const k = Math.min(t.batch, t.n - i);
    for (let j = 0; j < k; j++) writeRec(dv, j * REC, i + j);
    // Only whole batches: a consumer then always pops whole records.
    if (rb.availableWrite() < k * REC) {
      waits++;
      while (rb.availableWrite() < k * REC) guard.tick();
    }
    const pushed = rb.push(batch, k * REC);
    if (pushed !== k * REC) throw new Error(`ringbuf.js pushed ${pushed} of ${k * REC} bytes`);
    i += k;
  }
  return result(t0, { records: t.n, bad: 0, firstBad: -1 }, waits);
}

function rbConsume(t: Extract<Task, { kind: "rbConsume" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const rb = new RingBuffer(t.sab, Uint8Array);
  const out = new Uint8Array(t.popBytes);
  const dv = new Int32Array(out.buffer);
  const v = new Verifier();
  ready();
  const t0 = awaitGo(ctl, guard);
  while (v.records < t.n) {
    const got = rb.pop(out);
    if (got === 0) {
      guard.tick();
      continue;
    }
    if (got % REC !== 0) throw new Error(`ringbuf.js popped ${got} bytes: not whole records`);
    for (let off = 0; off < got; off += REC) v.check(dv, off);
  }
  return result(t0, v);
}

function rbPing(t: Extract<Task, { kind: "rbPing" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const a = new RingBuffer(t.a, Uint8Array);
  const b = new RingBuffer(t.b, Uint8Array);
  const rec = new Uint8Array(REC);
  const rdv = new Int32Array(rec.buffer);
  const back = new Uint8Array(REC);
  const bdv = new Int32Array(back.buffer);
  const v = new Verifier();
  const h = newHistogram();
  const total = t.warmup + t.pings;
  const timer = timerNs();
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 0; i < total; i++) {
    const s = performance.now();
    writeRec(rdv, 0, i);
    if (a.push(rec) !== REC) throw new Error("ringbuf.js: the ping ring is full");
    while (b.pop(back) === 0) guard.tick();
    const e = performance.now();
    v.check(bdv, 0);
    if (i >= t.warmup) h.record(half(e - s));
  }
  const r = result(t0, v);
  r.latency = latencyOf(h);
  r.timerNs = timer;
  return r;
}

function rbEcho(t: Extract<Task, { kind: "rbEcho" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const a = new RingBuffer(t.a, Uint8Array);
  const b = new RingBuffer(t.b, Uint8Array);
  const rec = new Uint8Array(REC);
  const dv = new Int32Array(rec.buffer);
  const v = new Verifier();
  ready();
  const t0 = awaitGo(ctl, guard);
  while (v.records < t.count) {
    if (a.pop(rec) === 0) {
      guard.tick();
      continue;
    }
    v.check(dv, 0);
    if (b.push(rec) !== REC) throw new Error("ringbuf.js: the pong ring is full");
  }
  return result(t0, v);
}

// ---------------------------------------------------------------------------------------
// postMessage over a MessageChannel between the two workers

function pmProduce(t: Extract<Task, { kind: "pmProduce" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  // Flow control: the consumer counts batches done in flow[0]; at most `window` in flight.
  const flow = new Int32Array(t.flow);
  let posted = 0;
  let waits = 0;
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 0; i < t.n; ) {
    const k = Math.min(t.batch, t.n - i);
    const ab = new ArrayBuffer(k * REC);
    const dv = new Int32Array(ab);
    for (let j = 0; j < k; j++) writeRec(dv, j * REC, i + j);
    for (;;) {
      const done = Atomics.load(flow, 0);
      if (posted - done < t.window) break;
      waits++;
      Atomics.wait(flow, 0, done, 1);
      guard.check();
    }
    t.port.postMessage(ab, [ab]);
    posted++;
    i += k;
  }
  return result(t0, { records: t.n, bad: 0, firstBad: -1 }, waits);
}

function pmConsume(t: Extract<Task, { kind: "pmConsume" }>, ctl: Int32Array, guard: Guard, ready: () => void): Promise<TaskResult> {
  const flow = new Int32Array(t.flow);
  const v = new Verifier();
  ready();
  const t0 = awaitGo(ctl, guard);
  return new Promise<TaskResult>((resolve, reject) => {
    const finish = (err?: unknown): void => {
      clearInterval(timer);
      t.port.close();
      if (err === undefined) resolve(result(t0, v));
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const timer = setInterval(() => {
      try { guard.check(); } catch (e) { finish(e); }
    }, 50);
    t.port.on("message", (ab: ArrayBuffer) => {
      const dv = new Int32Array(ab);
      for (let off = 0; off < ab.byteLength; off += REC) v.check(dv, off);
      Atomics.add(flow, 0, 1);
      Atomics.notify(flow, 0);
      if (v.records >= t.n) finish();
    });
  });
}

async function pmPing(t: Extract<Task, { kind: "pmPing" }>, ctl: Int32Array, guard: Guard, ready: () => void): Promise<TaskResult> {
  const rec = new Uint8Array(REC);
  const dv = new Int32Array(rec.buffer);
  const v = new Verifier();
  const h = newHistogram();
  let next: { resolve: (m: Uint8Array) => void; reject: (e: Error) => void } | undefined;
  t.port.on("message", (m: Uint8Array) => {
    const r = next;
    next = undefined;
    r?.resolve(m);
  });
  t.port.on("close", () => next?.reject(new Error("postMessage ping: timed out or aborted")));
  const total = t.warmup + t.pings;
  const timer = timerNs();
  const watchdog = setInterval(() => {
    try { guard.check(); } catch { t.port.close(); }
  }, 50);
  ready();
  const t0 = awaitGo(ctl, guard);
  try {
    for (let i = 0; i < total; i++) {
      const s = performance.now();
      writeRec(dv, 0, i);
      const reply = new Promise<Uint8Array>((resolve, reject) => { next = { resolve, reject }; });
      t.port.postMessage(rec); // copied (structured clone of 64 bytes)
      const m = await reply;
      const e = performance.now();
      v.check(new Int32Array(m.buffer, m.byteOffset, m.byteLength >> 2), 0);
      if (i >= t.warmup) h.record(half(e - s));
    }
  } finally {
    clearInterval(watchdog);
    t.port.close();
  }
  const r = result(t0, v);
  r.latency = latencyOf(h);
  r.timerNs = timer;
  return r;
}

function pmEcho(t: Extract<Task, { kind: "pmEcho" }>, ctl: Int32Array, guard: Guard, ready: () => void): Promise<TaskResult> {
  const v = new Verifier();
  ready();
  const t0 = awaitGo(ctl, guard);
  return new Promise<TaskResult>((resolve, reject) => {
    const timer = setInterval(() => {
      try { guard.check(); } catch (e) { clearInterval(timer); t.port.close(); reject(e); }
    }, 50);
    t.port.on("message", (m: Uint8Array) => {
      v.check(new Int32Array(m.buffer, m.byteOffset, m.byteLength >> 2), 0);
      t.port.postMessage(m);
      if (v.records >= t.count) {
        clearInterval(timer);
        resolve(result(t0, v));
      }
    });
  });
}

// ---------------------------------------------------------------------------------------
// The floor: two threads bouncing a counter through two shared cells (128 bytes apart)

const PING_CELL = 0;
const PONG_CELL = 32;

function floorPing(t: Extract<Task, { kind: "floorPing" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const c = new Int32Array(t.cells);
  const h = newHistogram();
  const total = t.warmup + t.pings;
  const timer = timerNs();
  let bad = 0;
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 1; i <= total; i++) {
    const s = performance.now();
    Atomics.store(c, PING_CELL, i);
    while (Atomics.load(c, PONG_CELL) !== i) guard.tick();
    const e = performance.now();
    if (Atomics.load(c, PING_CELL) !== i) bad++;
    if (i > t.warmup) h.record(half(e - s));
  }
  const r = result(t0, { records: total, bad, firstBad: -1 });
  r.latency = latencyOf(h);
  r.timerNs = timer;
  return r;
}

function floorEcho(t: Extract<Task, { kind: "floorEcho" }>, ctl: Int32Array, guard: Guard, ready: () => void): TaskResult {
  const c = new Int32Array(t.cells);
  ready();
  const t0 = awaitGo(ctl, guard);
  for (let i = 1; i <= t.count; i++) {
    while (Atomics.load(c, PING_CELL) !== i) guard.tick();
    Atomics.store(c, PONG_CELL, i);
  }
  return result(t0, { records: t.count, bad: 0, firstBad: -1 });
}

// ---------------------------------------------------------------------------------------
// Dispatch

async function run(env: Envelope, ready: () => void): Promise<TaskResult> {
  const ctl = new Int32Array(env.ctl);
  const t = env.task;
  const guard = new Guard(ctl, env.timeoutMs, t.kind);
  switch (t.kind) {
    case "venueProduce": return venueProduce(t, ctl, guard, ready);
    case "venueConsume": return venueConsume(t, ctl, guard, ready);
    case "venuePing": return venuePing(t, ctl, guard, ready);
    case "venueEcho": return venueEcho(t, ctl, guard, ready);
    case "rbProduce": return rbProduce(t, ctl, guard, ready);
    case "rbConsume": return rbConsume(t, ctl, guard, ready);
    case "rbPing": return rbPing(t, ctl, guard, ready);
    case "rbEcho": return rbEcho(t, ctl, guard, ready);
    case "pmProduce": return pmProduce(t, ctl, guard, ready);
    case "pmConsume": return pmConsume(t, ctl, guard, ready);
    case "pmPing": return pmPing(t, ctl, guard, ready);
    case "pmEcho": return pmEcho(t, ctl, guard, ready);
    case "floorPing": return floorPing(t, ctl, guard, ready);
    case "floorEcho": return floorEcho(t, ctl, guard, ready);
  }
}

const port = parentPort;
if (port === null) throw new Error("bench/ring_worker_main.ts runs in a worker thread (started by bench/ring.ts)");
port.on("message", (env: Envelope) => {
  const reply = (m: WorkerReply): void => port.postMessage(m);
  run(env, () => reply({ id: env.id, type: "ready" })).then(
    (result) => reply({ id: env.id, type: "done", result }),
    (err: unknown) => reply({ id: env.id, type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
});
port.postMessage({ id: -1, type: "hello" } satisfies WorkerReply);
