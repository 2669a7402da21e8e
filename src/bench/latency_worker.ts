/**
 * The worker threads of `venue bench latency` (entry: workers/bench_latency.mjs), one role
 * each, all driven by the step block and cells of src/bench/latency_flow.ts:
 *
 *   driver  the open-loop source. It owns the node's driver ring 0 (its own InboundProducer
 *           over the ring's buffer). For each step it sends order i at t0 + i * period:
 *           whatever has fallen due is copied from the encoded chunk (marker bytes set for
 *           the cycle), pushed and published in one burst (at most 1,024), and stamped
 *           `submitted`. Once an order is more than the step's give-up time past its
 *           schedule and still not durable, the node is not keeping up: it sends no more
 *           (the step ends with the orders sent so far, and says so). When nothing is due it parks on the control block's durable cell
 *           until the next order is due, so it also times durability: each time the durable
 *           seq moves, the orders it newly covers are stamped `durable` (the journal
 *           worker's setDurable wakes it). It never spins unless asked to (`spin`).
 *   probe   a consumer of the accounts topic, gated on durability like every consumer
 *           other than the journal: its own ring slot, the node's wait strategy. At the
 *           first event of each order (accepted, or updated / rejected for cancels and
 *           amends) it stamps `released` with the time of the poll that delivered it, and
 *           `sequenced` with the loop's stamp in the record header (mapped onto this
 *           thread's clock by the StampAnchor).
 *   gateway the DIFF client of the gateway phase: src/bench/latency_gateway.ts.
 *
 * Every thread checks the stop cell and its deadline, so none waits for ever.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Cells } from "../bus/cells.ts";
import { Control } from "../bus/control.ts";
import { InboundProducer } from "../bus/inbound.ts";
import { Ring, RingConsumer } from "../bus/ring.ts";
import { copyRecord } from "../bus/copy.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { Buf, H_SEQ, H_TIMESTAMP } from "../schema/layout.ts";
import { nowNs, stampToNs, type StampAnchor } from "./clock.ts";
import {
  C_DONE,
  C_GO,
  C_PROBE_OVERRUNS,
  C_PROBE_SEEN,
  C_PUSHED,
  C_READY,
  C_STOP,
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
  writeMarker,
  type FlowChunk,
  type Shared,
} from "./latency_flow.ts";
import { runGatewayClient, type GatewayClientData } from "./latency_gateway_client.ts";
import type { ThreadPlan } from "../node/threads.ts";

export interface DriverData {
  role: "driver";
  shared: Shared;
  chunk: FlowChunk;
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  /** The node's wait strategy (for a full inbound ring). */
  wait: WaitStrategy;
  /** Busy-spin between bursts instead of parking (a core of its own). */
  spin: boolean;
  /** The thread's name and scheduling (src/node/threads.ts). */
  thread?: ThreadPlan;
}

export interface ProbeData {
  role: "probe";
  shared: Shared;
  ring: SharedArrayBuffer;
  slot: number;
  control: SharedArrayBuffer;
  wait: WaitStrategy;
  anchor: StampAnchor;
  thread?: ThreadPlan;
}

export type LatencyWorkerData = DriverData | ProbeData | GatewayClientData;

/** The longest one burst may be: a late driver catches up in bursts of this many. */
const BURST_MAX = 1024;
/** How far ahead of the first order's schedule the driver starts a step. */
const LEAD_NS = 200_000;
/** Longest a step may wait for its last orders to become durable. */
const DRAIN_MS = 60_000;

function drive(d: DriverData): void {
  const cells = new Cells(d.shared.cells);
  const step = new Float64Array(d.shared.step);
  const control = new Control(d.control);
  const producer = new InboundProducer(new Ring(d.ring, "latency driver"), control, { wait: d.wait });
  const scratch = producer.scratch;
  const src = new Buf(d.chunk.records);
  const offsets = new Int32Array(d.chunk.offsets);
  const markers = new Int32Array(d.chunk.markers);
  const chunkCount = d.chunk.count;
  const submitted = new Float32Array(d.shared.lat.submitted);
  const durable = new Float32Array(d.shared.lat.durable);
  cells.add(C_READY, 1);
  let last = 0;
  for (;;) {
    // Wait for the next step (or the stop).
    const go = cells.load(C_GO);
    if (cells.load(C_STOP) !== 0) return;
    if (go === last) {
      cells.waitWhile(C_GO, go, 50);
      continue;
    }
    last = go;
    const base = step[S_BASE]!;
    let count = step[S_COUNT]!;
    const giveUpNs = step[S_GIVE_UP_NS]!;
    const period = step[S_PERIOD_NS]!;
    const cycle0 = step[S_CYCLE]!;
    const t0 = nowNs() + LEAD_NS;
    step[S_T0_NS] = t0;
    let i = 0;
    let bursts = 0;
    let lateMax = 0;
    let changes = 0;
    let seenDurable = control.durableLo() >>> 0;
    let drainDeadline = Infinity;
    // Orders newly covered by the durable seq are stamped with the time it was seen.
    const observeDurable = (now: number): boolean => {
      const dur = control.durableLo() >>> 0;
      if (dur === seenDurable) return false;
      changes++;
      const lo = Math.max(seenDurable + 1, base) - base;
      const hi = Math.min(dur, base + count - 1) - base;
      for (let k = lo; k <= hi; k++) durable[k] = (now - (t0 + k * period)) / 1e3;
      seenDurable = dur;
      return true;
    };
    for (;;) {
      const now = nowNs();
      if (i < count) {
        const oldest = Math.max(0, seenDurable + 1 - base); // the oldest order not yet durable
        if (oldest < i && now - (t0 + oldest * period) > giveUpNs) count = i; // send no more
      }
      const due = Math.min(count, Math.floor((now - t0) / period) + 1);
      if (due > i) {
        const from = i;
        const end = Math.min(due, i + BURST_MAX);
        for (; i < end; i++) {
          const k = i % chunkCount;
          const at = offsets[k]!;
          const size = src.dv.getUint16(at + 2, true);
          copyRecord(src.f64, src.i32, at, scratch.f64, scratch.i32, 0, size);
          writeMarker(scratch.u8, markers[k]! - at, cycle0 + Math.floor(i / chunkCount));
          producer.push(size);
        }
        producer.flush();
        const ts = nowNs();
        for (let k = from; k < i; k++) submitted[k] = (ts - (t0 + k * period)) / 1e3;
        lateMax = Math.max(lateMax, ts - (t0 + from * period));
        bursts++;
        cells.store(C_PUSHED, i);
        observeDurable(ts);
        continue;
      }
      observeDurable(now);
      if (i >= count) {
        if (seenDurable >= base + count - 1) break;
        if (drainDeadline === Infinity) drainDeadline = Date.now() + DRAIN_MS;
        if (cells.load(C_STOP) !== 0 || Date.now() > drainDeadline) break;
        control.parkWhileDurable(seenDurable, 1);
        continue;
      }
      if (d.spin) continue;
      // Nothing due: park until the next order is due, or until the durable seq moves.
      control.parkWhileDurable(seenDurable, Math.max(0.001, (t0 + i * period - now) / 1e6));
      if (cells.load(C_STOP) !== 0) break;
    }
    step[S_BURSTS] = bursts;
    step[S_LATE_MAX_NS] = lateMax;
    step[S_DURABLE_CHANGES] = changes;
    step[S_SENT] = i;
    cells.store(C_DONE, last); // after the plain writes above: the main thread loads it first
  }
}

function probe(p: ProbeData): void {
  const cells = new Cells(p.shared.cells);
  const step = new Float64Array(p.shared.step);
  const control = new Control(p.control);
  const consumer = new RingConsumer(new Ring(p.ring, "accounts"), p.slot, { wait: p.wait, durable: control.durableGate });
  // Cut off (the engine loop waited on this slot longer than its cut-off time): the events
  // it skipped are missing from this step's figures, and the main thread is told so.
  consumer.onOverrun = () => cells.add(C_PROBE_OVERRUNS, 1);
  const released = new Float32Array(p.shared.lat.released);
  const sequenced = new Float32Array(p.shared.lat.sequenced);
  const anchor = p.anchor;
  let lastSeq = -1;
  let curStep = -1;
  let seen = 0;
  let inRange = 0;
  let pollNs = -1;
  const handler = (buf: Buf, offset: number): void => {
    const dv = buf.dv;
    const seq = dv.getUint32(offset + H_SEQ + 4, true) * 4294967296 + dv.getUint32(offset + H_SEQ, true);
    if (seq === lastSeq) return; // a later event of the same command
    lastSeq = seq;
    const i = seq - step[S_BASE]!;
    if (i < 0 || i >= step[S_COUNT]!) return;
    if (step[S_STEP] !== curStep) {
      curStep = step[S_STEP]!;
      seen = 0;
    }
    // The poll's time is read once, at its first order: after the load that made it visible.
    if (pollNs < 0) pollNs = nowNs();
    const sched = step[S_T0_NS]! + i * step[S_PERIOD_NS]!;
    released[i] = (pollNs - sched) / 1e3;
    sequenced[i] = (stampToNs(anchor, dv.getUint32(offset + H_TIMESTAMP + 4, true), dv.getUint32(offset + H_TIMESTAMP, true)) - sched) / 1e3;
    seen++;
    inRange++;
  };
  cells.add(C_READY, 1);
  for (let round = 0; ; round++) {
    if ((round & 255) === 0 && cells.load(C_STOP) !== 0) return;
    pollNs = -1;
    inRange = 0;
    const n = consumer.poll(handler, 4096);
    if (inRange > 0) cells.store(C_PROBE_SEEN, seen);
    if (n === 0) {
      if (cells.load(C_STOP) !== 0) return;
      consumer.await();
    }
  }
}

if (parentPort !== null) {
  const data = workerData as LatencyWorkerData;
  const port = parentPort;
  try {
    if (data.role === "driver") drive(data);
    else if (data.role === "probe") probe(data);
    else await runGatewayClient(data, port);
    port.postMessage({ done: true });
  } catch (err) {
    port.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  }
}
