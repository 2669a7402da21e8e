/**
 * The control block (layout in src/schema/control.ts): the durable sequence consumers gate
 * on, the doorbell that wakes the engine loop, the node status, and worker heartbeats. Any
 * thread may hold a Control over the same SharedArrayBuffer.
 */

import { assert } from "../stdx/assert.ts";
import { CONTROL_BYTES, CONTROL_WORKERS_MAX, C_DOORBELL, C_DURABLE_LO, C_DURABLE_PARKED, C_EVENTS_SEQ_LO, C_LOOP_PARKED, C_SLOW_COMMIT_MS, C_STATUS, NodeStatus, heartbeatCell } from "../schema/control.ts";

export class Control {
  readonly i32: Int32Array;

  constructor(readonly sab: SharedArrayBuffer = new SharedArrayBuffer(CONTROL_BYTES)) {
    assert(sab.byteLength === CONTROL_BYTES, "not a control block");
    this.i32 = new Int32Array(sab);
  }

  /** Where consumers with a durable gate read the durable sequence (see RingConsumer). */
  get durableGate(): { i32: Int32Array; index: number } {
    return { i32: this.i32, index: C_DURABLE_LO };
  }

  /** Publishes the durable sequence (its low 32 bits) and wakes threads parked on it. */
  setDurable(seq: number): void {
    // seq-cst store, then the parked count (raised by a waiter before its re-check).
    Atomics.store(this.i32, C_DURABLE_LO, seq | 0);
    if (Atomics.load(this.i32, C_DURABLE_PARKED) !== 0) Atomics.notify(this.i32, C_DURABLE_LO);
  }

  durableLo(): number {
    return Atomics.load(this.i32, C_DURABLE_LO);
  }

  /**
   * Blocks (a worker only) until the durable seq reaches `seq` (low 32 bits, wrap-safe) or
   * `timeoutMs` passes; returns whether it did.
   */
  awaitDurable(seq: number, timeoutMs: number): boolean {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const d = Atomics.load(this.i32, C_DURABLE_LO);
      if (((d - (seq | 0)) | 0) >= 0) return true;
      const left = deadline - Date.now();
      if (left <= 0) return false;
      Atomics.add(this.i32, C_DURABLE_PARKED, 1); // seq-cst, before the re-check inside wait
      Atomics.wait(this.i32, C_DURABLE_LO, d, Math.min(left, 50));
      Atomics.sub(this.i32, C_DURABLE_PARKED, 1);
    }
  }

  /**
   * Blocks (a worker only) while the durable seq's low 32 bits still equal `lo`, for at most
   * `timeoutMs` (fractions allowed): returns at once if it has moved, and wakes when
   * `setDurable` stores a new one. For observers that time durability.
   */
  parkWhileDurable(lo: number, timeoutMs: number): void {
    Atomics.add(this.i32, C_DURABLE_PARKED, 1); // seq-cst, before the re-check inside wait
    Atomics.wait(this.i32, C_DURABLE_LO, lo | 0, timeoutMs);
    Atomics.sub(this.i32, C_DURABLE_PARKED, 1);
  }

  /**
   * The journal is degraded: its last group commit took `ms` (rounded up; 0: healthy).
   * A plain report, read by health checks; relaxed ordering is enough (no data rides on it).
   */
  set slowCommitMs(ms: number) {
    Atomics.store(this.i32, C_SLOW_COMMIT_MS, ms | 0);
  }

  get slowCommitMs(): number {
    return Atomics.load(this.i32, C_SLOW_COMMIT_MS);
  }

  /**
   * Resolves once the durable seq is no longer `seen`, or after `timeoutMs`, without blocking
   * the calling thread's event loop (Atomics.waitAsync): for a worker that also serves
   * sockets, so it hears of durable events at once instead of at its next poll.
   */
  async durableMoved(seen: number, timeoutMs: number): Promise<void> {
    Atomics.add(this.i32, C_DURABLE_PARKED, 1); // seq-cst: before waitAsync's own check of the cell
    try {
      // In lib.es2024.sharedmemory, not in this project's ES2022 lib.
      const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, t: number): { async: boolean; value: Promise<string> | string } }).waitAsync;
      const r = waitAsync(this.i32, C_DURABLE_LO, seen | 0, timeoutMs);
      if (r.async) await r.value;
    } finally {
      Atomics.sub(this.i32, C_DURABLE_PARKED, 1);
    }
  }

  /**
   * The engine loop published every event of every seq up to `seq` (low 32 bits) on its
   * topic ring. A seq-cst store after the rings' publish stores: a thread that reads it and
   * then drains a topic ring has seen every event of those seqs on that topic.
   */
  setEventsPublished(seq: number): void {
    Atomics.store(this.i32, C_EVENTS_SEQ_LO, seq | 0);
  }

  eventsPublishedLo(): number {
    return Atomics.load(this.i32, C_EVENTS_SEQ_LO);
  }

  /** An inbound producer published: bump the doorbell, wake the loop if it is parked. */
  ring(): void {
    Atomics.add(this.i32, C_DOORBELL, 1); // seq-cst: after the ring's publish store
    if (Atomics.load(this.i32, C_LOOP_PARKED) !== 0) Atomics.notify(this.i32, C_DOORBELL);
  }

  doorbell(): number {
    return Atomics.load(this.i32, C_DOORBELL);
  }

  get status(): NodeStatus {
    return Atomics.load(this.i32, C_STATUS) as NodeStatus;
  }

  set status(s: NodeStatus) {
    Atomics.store(this.i32, C_STATUS, s);
  }

  beat(worker: number): void {
    Atomics.add(this.i32, heartbeatCell(worker), 1);
  }

  heartbeat(worker: number): number {
    assert(worker >= 0 && worker < CONTROL_WORKERS_MAX, "no such worker heartbeat");
    return Atomics.load(this.i32, heartbeatCell(worker));
  }
}

export const DOORBELL = C_DOORBELL;
export const LOOP_PARKED = C_LOOP_PARKED;
