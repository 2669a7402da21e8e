/**
 * The engine loop: the main thread's only job. It drains the inbound rings in batches,
 * stamps each command with the next sequence number and the time (the clock is read for the
 * first command of each pass, then once per 64 commands), writes it into
 * the journal ring, and applies it to the engine there in place. The engine writes each
 * event in place on its topic ring (its event buffer's sink is `TopicSink`); an event on
 * two topics (trade, instrument) is copied to the second. Then the loop publishes the
 * batch (one store per ring) and, when nothing is waiting, waits with its strategy on the
 * doorbell every inbound producer rings.
 *
 *   inbound rings ──poll──▶ journal ring (stamped copy) ──apply──▶ trades
 *                                                            ├─▶ accounts
 *                                                            └─▶ l2
 *
 * The loop runs in slices of at most `sliceMs` and yields to Node's event loop between
 * them (setImmediate), so worker exit events, timers and the plugin supervisor run on
 * the main thread too; a park lasts at most the strategy's timeout.
 *
 * Durability: consumers other than the journal writer gate on the durable sequence in the
 * control block. With a journal worker (the node's normal set-up) that worker advances it;
 * with `durableByLoop` the loop marks each batch durable itself as soon as it is applied.
 * That mode keeps nothing across a crash and exists for tests, benchmarks and the demo.
 *
 * The engine stays deterministic: the loop, not the engine, reads the clock, and the time
 * it reads is in the journal record the engine applies, so a replay of the journal gives
 * the same events byte for byte.
 */

import { performance } from "node:perf_hooks";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { assert } from "../stdx/assert.ts";
import type { Engine } from "../engine/engine.ts";
import { HEADER_SIZE, H_SEQ, H_TIMESTAMP, type Buf } from "../schema/layout.ts";
import type { EventSink } from "../schema/event.ts";
import { NodeStatus } from "../schema/control.ts";
import { TOPICS, TOPICS_OF_KIND, TopicBit, type Topic } from "../schema/topics.ts";
import { Control, DOORBELL, LOOP_PARKED } from "../bus/control.ts";
import { Ring, RingConsumer, RingProducer } from "../bus/ring.ts";
import { DEFAULT_WAIT, Waiter, type WaitStrategy } from "../bus/wait.ts";
import { MAX_COMMAND_SIZE } from "../schema/command.ts";
import { copyRecord } from "../bus/copy.ts";

export interface EngineLoopOptions {
  engine: Engine;
  control: Control;
  /** Inbound rings; the loop reads slot 0 of each (opened here, gating and critical). */
  inbound: Ring[];
  journal: Ring;
  topics: Record<Topic, Ring>;
  wait?: WaitStrategy;
  /** Commands taken from one inbound ring per poll. */
  batchMax?: number;
  /** Longest run before yielding to the event loop. */
  sliceMs?: number;
  /** The sequence number of the first command. */
  firstSeq?: number;
  durableByLoop?: boolean;
  /** How long a non-critical gating consumer of a topic may hold the loop before it is cut off. */
  cutOffMs?: number;
  /** How long the journal writer (critical) may hold the loop before the node is fenced. */
  journalStallMs?: number;
  /** Nanoseconds since the epoch as [high, low] 32-bit words; default: the wall clock, monotonic. */
  clock?: Clock;
  /** Called on the main thread after every slice (supervision, metrics). */
  onSlice?: () => void;
  /** Called on the main thread after each published batch, with the last seq applied (snapshots). */
  afterBatch?: (lastSeq: number) => void;
}

/** A source of command timestamps. */
export interface Clock {
  /** Reads the time into hi and lo (u32 halves of nanoseconds since the Unix epoch). */
  read(): void;
  hi: number;
  lo: number;
}

/** Wall-clock nanoseconds anchored once, advanced by the monotonic clock, never backwards. */
export class MonotonicClock implements Clock {
  hi = 0;
  lo = 0;
  private readonly baseHi: number;
  private readonly baseLo: number;
  private readonly t0 = performance.now();

  constructor() {
    const base = BigInt(Math.round((performance.timeOrigin + this.t0) * 1000)) * 1000n;
    this.baseHi = Number(base >> 32n);
    this.baseLo = Number(base & 0xffffffffn);
    this.hi = this.baseHi;
    this.lo = this.baseLo;
  }

  read(): void {
    const off = Math.round((performance.now() - this.t0) * 1e6); // ns since start, < 2^53 for 104 days
    const offHi = Math.floor(off / 4294967296);
    let lo = this.baseLo + (off - offHi * 4294967296);
    let hi = this.baseHi + offHi;
    if (lo >= 4294967296) {
      lo -= 4294967296;
      hi++;
    }
    this.hi = hi;
    this.lo = lo;
  }
}

export class EngineLoop {
  private readonly engine: Engine;
  private readonly control: Control;
  private readonly inbound: RingConsumer[];
  private readonly journal: RingProducer;
  private readonly journalBuf: Buf;
  private readonly topicProducers: RingProducer[];
  private readonly sink: TopicSink;
  private readonly waiter: Waiter;
  private readonly batchMax: number;
  private readonly sliceMs: number;
  private readonly durableByLoop: boolean;
  private readonly clock: Clock;
  private readonly onSlice: (() => void) | undefined;
  private readonly afterBatch: ((lastSeq: number) => void) | undefined;
  private nextSeq: number;
  private stopRequested = false;
  private clockStale = true;
  private fault: Error | undefined;
  private running: Promise<void> | undefined;
  /** Commands applied, events published, malformed inbound records dropped, slices run. */
  commands = 0;
  events = 0;
  malformed = 0;
  slices = 0;

  constructor(o: EngineLoopOptions) {
    this.engine = o.engine;
    this.control = o.control;
    this.waiter = new Waiter(o.wait ?? DEFAULT_WAIT);
    this.inbound = o.inbound.map((ring) => {
      ring.openSlot(0, "gating", true);
      return new RingConsumer(ring, 0, { wait: o.wait ?? DEFAULT_WAIT });
    });
    this.journal = new RingProducer(o.journal, { wait: o.wait ?? DEFAULT_WAIT, stallMs: o.journalStallMs ?? 10_000 });
    this.journalBuf = o.journal.data;
    const cut = { wait: o.wait ?? DEFAULT_WAIT, cutOffMs: o.cutOffMs ?? 1_000 };
    this.topicProducers = TOPICS.map((t) => new RingProducer(o.topics[t], cut));
    this.sink = new TopicSink(this.topicProducers);
    // From here on the engine's events are written on the topic rings (recovery, before
    // the loop exists, reads them from the engine's own buffer).
    o.engine.out.writeTo(this.sink);
    this.batchMax = o.batchMax ?? 256;
    this.sliceMs = o.sliceMs ?? 5;
    this.durableByLoop = o.durableByLoop ?? false;
    this.clock = o.clock ?? new MonotonicClock();
    this.onSlice = o.onSlice;
    this.afterBatch = o.afterBatch;
    this.nextSeq = o.firstSeq ?? 1;
    assert(Number.isSafeInteger(this.nextSeq) && this.nextSeq >= 1, "the first sequence number must be a positive safe integer");
    assert(TOPICS.every((t, i) => TopicBit[t] === 1 << i), "topic bits follow TOPICS order");
  }

  /** The sequence number the next command gets. */
  get seq(): number {
    return this.nextSeq;
  }

  /**
   * For metrics, per ring this loop produces to (the journal, then the topics): claims
   * that had to wait for a gating consumer a whole ring behind, and slots cut off.
   */
  producerStats(): Array<{ ring: string; waits: number; cutOffs: number }> {
    return [this.journal, ...this.topicProducers].map((p) => ({ ring: p.ring.name, waits: p.waits, cutOffs: p.cutOffs }));
  }

  /** Starts the loop (async: it yields between slices). Resolves when stopped; rejects on a fault, after fencing. */
  start(): Promise<void> {
    assert(this.running === undefined, "the engine loop is already running");
    this.control.status = NodeStatus.running;
    this.control.setEventsPublished(this.nextSeq - 1);
    this.running = this.loop();
    return this.running;
  }

  /** Stops intake, applies what the inbound rings already hold, publishes, and resolves. */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.running;
  }

  /** Stops the loop at the end of its slice because of `err` (a failed journal, say): the node is fenced. */
  fence(err: Error): void {
    this.fault ??= err;
    this.stopRequested = true;
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopRequested) {
        this.runSlice(this.sliceMs);
        this.onSlice?.();
        await yieldToEventLoop();
      }
      if (this.fault !== undefined) throw this.fault;
      this.control.status = NodeStatus.stopping;
      while (this.drainOnce() > 0);
      this.control.status = NodeStatus.stopped;
    } catch (err) {
      this.control.status = NodeStatus.fenced;
      throw err;
    }
  }

  /**
   * Runs until `budgetMs` has passed or, when idle, until one park has timed out. Returns
   * the commands applied. Exposed for tests and benchmarks that drive the loop themselves.
   */
  runSlice(budgetMs: number): number {
    this.slices++;
    const t0 = performance.now();
    let total = 0;
    let parked = false;
    for (;;) {
      const bell = this.control.doorbell();
      const n = this.drainOnce();
      total += n;
      if (n > 0) {
        this.waiter.reset();
        parked = false;
      } else if (parked) {
        return total; // a park timed out with nothing to do: give the event loop a turn
      } else {
        parked = this.waiter.parking;
        this.waiter.pause(this.control.i32, DOORBELL, bell, LOOP_PARKED);
      }
      if (performance.now() - t0 >= budgetMs) return total;
    }
  }

  /** One pass over the inbound rings; each batch is published as it is done. */
  drainOnce(): number {
    let total = 0;
    this.clockStale = true;
    for (let r = 0; r < this.inbound.length; r++) {
      const n = this.inbound[r]!.poll(this.onCommand, this.batchMax);
      if (n > 0) {
        total += n;
        this.publishBatch();
      }
    }
    return total;
  }

  private publishBatch(): void {
    this.journal.publish();
    for (let t = 0; t < this.topicProducers.length; t++) this.topicProducers[t]!.publish();
    this.control.setEventsPublished(this.nextSeq - 1);
    if (this.durableByLoop) this.control.setDurable(this.nextSeq - 1);
    this.afterBatch?.(this.nextSeq - 1);
  }

  /** One inbound command: sequence it into the journal ring, apply it there, publish its events. */
  private readonly onCommand = (buf: Buf, offset: number): void => {
    const size = buf.dv.getUint16(offset + 2, true);
    if (size < HEADER_SIZE || size > MAX_COMMAND_SIZE || (size & 7) !== 0) {
      this.malformed++; // an in-process source wrote a bad frame: never sequenced
      return;
    }
    // The time is read for the first command of each pass over the inbound rings (so a command
    // after an idle spell is not stamped with an old time) and then every 64 commands.
    if (this.clockStale || (this.commands & 63) === 0) {
      this.clock.read();
      this.clockStale = false;
    }
    const o = this.journal.claim(size);
    const j = this.journalBuf;
    copyRecord(buf.f64, buf.i32, offset, j.f64, j.i32, o, size);
    const seq = this.nextSeq++;
    // Word stores, not DataView ones, into the shared ring (see EventBuffer); little-endian
    // hosts only, as the event buffer checks.
    const w = j.i32;
    w[(o + H_SEQ) >> 2] = seq >>> 0;
    w[(o + H_SEQ + 4) >> 2] = Math.floor(seq / 4294967296);
    w[(o + H_TIMESTAMP) >> 2] = this.clock.lo;
    w[(o + H_TIMESTAMP + 4) >> 2] = this.clock.hi;
    const engine = this.engine;
    engine.apply(this.journalBuf, o);
    this.sink.seal();
    this.events += engine.out.count;
    engine.out.clear();
    this.commands++;
  };

}

/**
 * Claims each event's room on its topic ring, for the engine's event buffer to write it in
 * place (`EventSink`). An event of two topics is written on the first of them (the lower
 * TOPICS index) and copied to the other when it is complete: at the next claim, or at
 * `seal`, which the loop calls after each command.
 */
export class TopicSink implements EventSink {
  buf: Buf;
  i32: Int32Array;
  f64: Float64Array;
  private readonly data: Buf[];
  private readonly i32s: Int32Array[];
  private readonly f64s: Float64Array[];
  /** The last event, while it still has topics to be copied to (bits), else 0. */
  private copyBits = 0;
  private copyTopic = 0;
  private copyFrom = 0;
  private copySize = 0;

  constructor(private readonly producers: RingProducer[]) {
    assert(producers.length === TOPICS.length, "a producer per topic");
    this.data = producers.map((p) => p.ring.data);
    this.i32s = this.data.map((b) => b.i32);
    this.f64s = this.data.map((b) => b.f64);
    this.buf = this.data[0]!;
    this.i32 = this.i32s[0]!;
    this.f64 = this.f64s[0]!;
  }

  claim(kind: number, size: number): number {
    if (this.copyBits !== 0) this.seal();
    const bits = TOPICS_OF_KIND[kind]!;
    assert(bits !== 0, "an event kind without a topic");
    const t = (bits & 1) !== 0 ? 0 : (bits & 2) !== 0 ? 1 : 2;
    const o = this.producers[t]!.claim(size);
    this.buf = this.data[t]!;
    this.i32 = this.i32s[t]!;
    this.f64 = this.f64s[t]!;
    const rest = bits & ~(1 << t);
    if (rest !== 0) {
      this.copyBits = rest;
      this.copyTopic = t;
      this.copyFrom = o;
      this.copySize = size;
    }
    return o;
  }

  /** Copies the last event to its other topics, if it has any; the command's events are then all in place. */
  seal(): void {
    const bits = this.copyBits;
    if (bits === 0) return;
    this.copyBits = 0;
    const from = this.copyTopic;
    const size = this.copySize;
    for (let t = from + 1; t < TOPICS.length; t++) {
      if ((bits & (1 << t)) === 0) continue;
      const o = this.producers[t]!.claim(size);
      copyRecord(this.f64s[from]!, this.i32s[from]!, this.copyFrom, this.f64s[t]!, this.i32s[t]!, o, size);
    }
  }
}
