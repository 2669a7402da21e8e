/**
 * The broadcast ring: one producer, many consumers, over one SharedArrayBuffer laid out by
 * src/schema/ring.ts (drawn there and in docs/formats/ring.md).
 *
 * The producer claims room for a record, writes it in place through the schema's writers,
 * and later publishes everything written since the last publish with one Atomics.store of
 * the `published` position; it calls Atomics.notify only when a consumer is parked.
 * Consumers read records in place between their cursor and `published`, then store their
 * cursor once per batch.
 *
 *   data area (capacity bytes, positions modulo capacity)
 *
 *      slowest gating cursor        cursor of a faster one       published     claimed
 *            |                             |                         |            |
 *   ... free | records being read .........|........ readable .......| writing .. | free ...
 *
 * Gating consumers hold the producer back: it never claims past (slowest gating cursor +
 * capacity). It waits with its strategy; a non-critical gating consumer that holds it
 * longer than `cutOffMs` is cut off (its slot becomes cutOff and stops gating); a critical
 * one (the journal) that holds it longer than `stallMs` makes `claim` throw RingStallError,
 * so the caller can stop taking commands instead of waiting forever on a dead thread.
 *
 * Lossy consumers never hold the producer back. They copy a batch out of the ring, then
 * check `claimed`: if the producer may have written over any byte of the batch while it
 * was copied, the batch is dropped and the consumer is told the position where loss
 * started (an overrun) and rejoins at the live position. So a lossy consumer never sees a
 * torn record.
 *
 * Threads: a RingProducer belongs to the one thread that writes the ring; a RingConsumer to
 * the thread that reads its slot. Raw Atomics appear only in src/bus/, each naming the
 * ordering it relies on (all JS Atomics are sequentially consistent).
 */

import { performance } from "node:perf_hooks";
import { assert } from "../stdx/assert.ts";
import { VenueError } from "../stdx/errors.ts";
import { Buf } from "../schema/layout.ts";
import {
  RING_CAPACITY_MAX,
  RING_CAPACITY_MIN,
  RING_MAGIC,
  RING_PADDING_KIND,
  RING_RECORD_MAX,
  RING_SLOTS_MAX,
  RING_VERSION,
  R_CAPACITY,
  R_CLAIMED,
  R_MAGIC,
  R_PARKED_CONSUMERS,
  R_PRODUCER_PARKED,
  R_PUBLISHED,
  R_SLOTS,
  R_VERSION,
  S_CRITICAL,
  S_CURSOR,
  S_OVERRUNS,
  S_STATE,
  SlotState,
  paddingWord,
  ringHeaderBytes,
  slotCell,
} from "../schema/ring.ts";
import { DEFAULT_WAIT, Waiter, type WaitStrategy } from "./wait.ts";
import { copyRecord } from "./copy.ts";

export class RingStallError extends VenueError {
  constructor(ring: string, slot: number, waitedMs: number) {
    super("RING_STALLED", `ring "${ring}": critical consumer in slot ${slot} held the producer for ${waitedMs.toFixed(0)} ms`);
  }
}

/** A ring's shared memory and views: made once by the owner, then sent to worker threads. */
export class Ring {
  readonly header: Int32Array;
  readonly data: Buf;
  readonly capacity: number;
  readonly slots: number;

  constructor(readonly sab: SharedArrayBuffer, readonly name = "ring") {
    const head = new Int32Array(sab, 0, 8);
    assert(head[R_MAGIC] === RING_MAGIC && head[R_VERSION] === RING_VERSION, `"${name}" is not a version ${RING_VERSION} ring`);
    this.capacity = head[R_CAPACITY]!;
    this.slots = head[R_SLOTS]!;
    const headerBytes = ringHeaderBytes(this.slots);
    assert(sab.byteLength === headerBytes + this.capacity, `ring "${name}": size does not match its header`);
    this.header = new Int32Array(sab, 0, headerBytes / 4);
    this.data = new Buf(sab, headerBytes, this.capacity);
  }

  /**
   * A new ring of `capacityBytes` (a power of two in [4 KiB, 1 GiB]) with `slots` consumer
   * slots, every position starting at `startPosition` (tests start it near the wrap of 2^31
   * and of 2^32).
   */
  static create(capacityBytes: number, slots: number, name = "ring", startPosition = 0): Ring {
    assert(
      Number.isInteger(capacityBytes) && capacityBytes >= RING_CAPACITY_MIN && capacityBytes <= RING_CAPACITY_MAX && (capacityBytes & (capacityBytes - 1)) === 0,
      `ring "${name}": capacity must be a power of two between ${RING_CAPACITY_MIN} and ${RING_CAPACITY_MAX} bytes`,
    );
    assert(Number.isInteger(slots) && slots >= 1 && slots <= RING_SLOTS_MAX, `ring "${name}": 1 to ${RING_SLOTS_MAX} consumer slots`);
    assert((startPosition & 7) === 0, "the start position must be 8-aligned");
    const sab = new SharedArrayBuffer(ringHeaderBytes(slots) + capacityBytes);
    const h = new Int32Array(sab, 0, ringHeaderBytes(slots) / 4);
    h[R_MAGIC] = RING_MAGIC;
    h[R_VERSION] = RING_VERSION;
    h[R_CAPACITY] = capacityBytes;
    h[R_SLOTS] = slots;
    h[R_PUBLISHED] = startPosition | 0;
    h[R_CLAIMED] = startPosition | 0;
    for (let s = 0; s < slots; s++) h[slotCell(s) + S_CURSOR] = startPosition | 0;
    return new Ring(sab, name);
  }

  /** The owner opens slot `s` for a consumer (before handing it to the consumer's thread). */
  openSlot(s: number, mode: "gating" | "lossy", critical = false): void {
    assert(s >= 0 && s < this.slots, `ring "${this.name}": no slot ${s}`);
    const c = slotCell(s);
    const state = Atomics.load(this.header, c + S_STATE);
    assert(state === SlotState.free || state === SlotState.closed, `ring "${this.name}": slot ${s} is in use`);
    // The cursor is set before the state: the producer reads the state first, then the
    // cursor (both seq-cst), so it never gates on a stale cursor.
    Atomics.store(this.header, c + S_CURSOR, Atomics.load(this.header, R_PUBLISHED));
    Atomics.store(this.header, c + S_CRITICAL, critical ? 1 : 0);
    Atomics.store(this.header, c + S_STATE, mode === "gating" ? SlotState.gating : SlotState.lossy);
  }

  /** Closes slot `s` (its consumer is gone): it stops gating at once. */
  closeSlot(s: number): void {
    Atomics.store(this.header, slotCell(s) + S_STATE, SlotState.closed);
    this.wakeProducer(slotCell(s) + S_CURSOR);
  }

  slotState(s: number): SlotState {
    return Atomics.load(this.header, slotCell(s) + S_STATE) as SlotState;
  }

  /** Bytes published and not yet read by slot `s` (its lag). */
  lag(s: number): number {
    return (Atomics.load(this.header, R_PUBLISHED) - Atomics.load(this.header, slotCell(s) + S_CURSOR)) | 0;
  }

  overruns(s: number): number {
    return Atomics.load(this.header, slotCell(s) + S_OVERRUNS);
  }

  published(): number {
    return Atomics.load(this.header, R_PUBLISHED);
  }

  /** Wakes the producer if it is parked waiting for the cursor at `cell` to move. */
  wakeProducer(cell: number): void {
    if (Atomics.load(this.header, R_PRODUCER_PARKED) !== 0) Atomics.notify(this.header, cell);
  }
}

export interface ProducerOptions {
  wait?: WaitStrategy;
  /** How long a non-critical gating consumer may hold the producer before it is cut off. */
  cutOffMs?: number;
  /** How long a critical gating consumer may hold the producer before `claim` throws. */
  stallMs?: number;
  /** Called (on the producer's thread) when a slot is cut off. */
  onCutOff?: (slot: number) => void;
}

export class RingProducer {
  private readonly h: Int32Array;
  private readonly dv: DataView;
  private readonly mask: number;
  private readonly capacity: number;
  /** End of the records written so far (published or not). */
  private pending: number;
  private published: number;
  /** The `claimed` value last stored: claims move it ahead in steps, not per record. */
  private claimedLimit: number;
  private readonly claimStep: number;
  /** Slowest gating cursor seen; claims below gateCache + capacity need no scan. */
  private gateCache: number;
  private readonly waiter: Waiter;
  private readonly cutOffMs: number;
  private readonly stallMs: number;
  private readonly onCutOff: ((slot: number) => void) | undefined;
  /** Times claim had to wait for a gating consumer (backpressure), and slots cut off. */
  waits = 0;
  cutOffs = 0;

  constructor(readonly ring: Ring, options: ProducerOptions = {}) {
    this.h = ring.header;
    this.dv = ring.data.dv;
    this.capacity = ring.capacity;
    this.mask = ring.capacity - 1;
    this.pending = this.published = Atomics.load(this.h, R_PUBLISHED);
    this.claimedLimit = Atomics.load(this.h, R_CLAIMED);
    this.claimStep = Math.min(1 << 16, ring.capacity >> 3);
    this.gateCache = this.pending;
    this.waiter = new Waiter(options.wait ?? DEFAULT_WAIT);
    this.cutOffMs = options.cutOffMs ?? 1_000;
    this.stallMs = options.stallMs ?? 10_000;
    this.onCutOff = options.onCutOff;
    assert(this.cutOffMs > 0 && this.stallMs > 0, "ring producer timeouts must be above 0");
  }

  /**
   * Room for one record of `size` bytes (8-aligned, at most RING_RECORD_MAX and an eighth
   * of the ring): returns its offset in `ring.data`, where the caller writes it now. Waits
   * while gating consumers lag a whole ring. The record is published by `publish`.
   */
  claim(size: number): number {
    assert((size & 7) === 0 && size >= 8 && size <= RING_RECORD_MAX && size <= this.capacity >> 3, "ring record size must be 8-aligned, at most 65528 bytes and an eighth of the ring");
    let pos = this.pending;
    const offset = pos & this.mask;
    const pad = offset + size > this.capacity ? this.capacity - offset : 0;
    const end = (pos + pad + size) | 0;
    if (((end - this.gateCache) | 0) > this.capacity) this.awaitGate(end);
    if (((end - this.claimedLimit) | 0) > 0) {
      // Lossy consumers must learn of a write before it happens: seq-cst store, then the
      // plain writes of the record bytes after it.
      this.claimedLimit = (end + this.claimStep) | 0;
      Atomics.store(this.h, R_CLAIMED, this.claimedLimit);
    }
    if (pad !== 0) {
      this.dv.setUint32(offset, paddingWord(pad), true);
      pos = (pos + pad) | 0;
    }
    this.pending = (pos + size) | 0;
    return pos & this.mask;
  }

  /** Makes every record claimed so far visible to consumers (one store), waking parked ones. */
  publish(): void {
    if (this.pending === this.published) return;
    this.published = this.pending;
    // seq-cst store: every record byte written before it is visible to a consumer that
    // loads this value. Then the parked count, which a parking consumer raised before it
    // re-checked `published`: either it saw this store, or we see its count and notify.
    Atomics.store(this.h, R_PUBLISHED, this.pending);
    if (Atomics.load(this.h, R_PARKED_CONSUMERS) !== 0) Atomics.notify(this.h, R_PUBLISHED);
  }

  /** Bytes that can be claimed now without waiting (scans the gating cursors; allocates). */
  free(): number {
    const { cursor } = this.scanGate();
    this.gateCache = cursor;
    return this.capacity - ((this.pending - cursor) | 0);
  }

  /** Bytes claimed and not yet published. */
  get unpublished(): number {
    return (this.pending - this.published) | 0;
  }

  /**
   * The slowest gating cursor now, or `published` when no consumer gates. Not `pending`: a
   * slot opened (or rejoining after a cut-off) starts at `published`, and the cached gate
   * must never be ahead of a cursor that may appear.
   */
  private scanGate(): { cursor: number; slot: number } {
    let slowest = this.published;
    let slot = -1;
    for (let s = 0; s < this.ring.slots; s++) {
      const c = slotCell(s);
      if (Atomics.load(this.h, c + S_STATE) !== SlotState.gating) continue;
      const cursor = Atomics.load(this.h, c + S_CURSOR);
      if (((this.pending - cursor) | 0) > ((this.pending - slowest) | 0)) {
        slowest = cursor;
        slot = s;
      }
    }
    return { cursor: slowest, slot };
  }

  private awaitGate(end: number): void {
    // Consumers can only free room by reading what they can see: publish what is written.
    if (this.pending !== this.published) this.publish();
    this.waiter.reset();
    let since = -1;
    for (let round = 0; ; round++) {
      const { cursor, slot } = this.scanGate();
      this.gateCache = cursor;
      if (((end - cursor) | 0) <= this.capacity) return;
      assert(slot >= 0, `ring "${this.ring.name}": a whole ring claimed without a publish`);
      if (round === 0) this.waits++; // the cached gate was stale and the fresh one blocks: a real wait
      const cell = slotCell(slot);
      // Time is checked on every park, and every 1,024 rounds of a spin (which never parks).
      if (this.waiter.parking || (round & 1023) === 0) {
        const now = performance.now();
        if (since < 0) since = now;
        const waited = now - since;
        if (Atomics.load(this.h, cell + S_CRITICAL) !== 0) {
          if (waited > this.stallMs) throw new RingStallError(this.ring.name, slot, waited);
        } else if (waited > this.cutOffMs) {
          // Only a slot still gating is cut off; one closed meanwhile stays closed.
          if (Atomics.compareExchange(this.h, cell + S_STATE, SlotState.gating, SlotState.cutOff) === SlotState.gating) {
            this.cutOffs++;
            this.onCutOff?.(slot);
          }
          since = -1;
          continue;
        }
      }
      this.waiter.pause(this.h, cell + S_CURSOR, cursor, R_PRODUCER_PARKED);
    }
  }
}

/** What a lossy or cut-off consumer missed: positions in bytes, and the last sequence it did get. */
export interface Overrun {
  /** The ring position where the records it will never see start. */
  fromPosition: number;
  /** The live position it rejoined at. */
  toPosition: number;
  /** The seq (header) of the last record delivered before the gap, or -1 if none yet. */
  lastSeq: number;
}

/** Called once per record, in place: the record starts at `offset` of `buf`. */
export type RecordHandler = (buf: Buf, offset: number) => void;

export interface ConsumerOptions {
  wait?: WaitStrategy;
  /**
   * Release only records whose seq is at most the durable sequence: `i32[index]` holds its
   * low 32 bits (compared wrap-safe with the record's). Parked waits announce themselves in
   * `i32[index + 1]`; the writer of the cell notifies when that count is non-zero.
   */
  durable?: { i32: Int32Array; index: number };
  /** Bytes a lossy consumer copies out per batch (default 256 KiB, at most the ring). */
  copyBytes?: number;
}

export class RingConsumer {
  private readonly h: Int32Array;
  private readonly cell: number;
  private readonly mask: number;
  private readonly capacity: number;
  private cursor: number;
  private readonly lossy: boolean;
  private readonly waiter: Waiter;
  private readonly durable: { i32: Int32Array; index: number } | undefined;
  /** Lossy consumers read a private copy of each batch. */
  private readonly copy: Buf | undefined;
  private lastSeq = -1;
  /** Records delivered; overruns seen. */
  delivered = 0;
  overruns = 0;
  onOverrun: ((o: Overrun) => void) | undefined;

  constructor(readonly ring: Ring, readonly slot: number, options: ConsumerOptions = {}) {
    this.h = ring.header;
    this.cell = slotCell(slot);
    this.mask = ring.capacity - 1;
    this.capacity = ring.capacity;
    const state = Atomics.load(this.h, this.cell + S_STATE);
    assert(state === SlotState.gating || state === SlotState.lossy, `ring "${ring.name}": slot ${slot} was not opened`);
    this.lossy = state === SlotState.lossy;
    this.cursor = Atomics.load(this.h, this.cell + S_CURSOR);
    this.waiter = new Waiter(options.wait ?? DEFAULT_WAIT);
    this.durable = options.durable;
    if (this.lossy) {
      const bytes = Math.min(options.copyBytes ?? 1 << 18, ring.capacity);
      assert(bytes >= RING_RECORD_MAX + 8 || bytes === ring.capacity, "a lossy consumer's copy must hold the largest record");
      this.copy = Buf.alloc(bytes);
    }
  }

  /** The ring position this consumer has read up to. */
  get position(): number {
    return this.cursor;
  }

  /**
   * Delivers up to `max` available records to `handler`, in order, then stores the cursor
   * once. Returns how many it delivered (0: nothing available, or nothing yet durable).
   */
  poll(handler: RecordHandler, max = 1 << 30): number {
    const h = this.h;
    const state = Atomics.load(h, this.cell + S_STATE);
    if (state === SlotState.cutOff) return this.rejoinAfterCutOff();
    const published = Atomics.load(h, R_PUBLISHED); // seq-cst: the records before it are visible
    if (published === this.cursor) return 0;
    return this.lossy ? this.pollCopy(handler, max, published) : this.pollInPlace(handler, max, published);
  }

  private pollInPlace(handler: RecordHandler, max: number, published: number): number {
    const buf = this.ring.data;
    const dv = buf.dv;
    const durableLo = this.durable === undefined ? 0 : Atomics.load(this.durable.i32, this.durable.index);
    let pos = this.cursor;
    let n = 0;
    let last = -1;
    while (pos !== published && n < max) {
      const offset = pos & this.mask;
      const word = dv.getUint32(offset, true);
      const size = word >>> 16;
      if ((word & 0xff) !== RING_PADDING_KIND) {
        if (this.durable !== undefined && ((dv.getUint32(offset + 8, true) - durableLo) | 0) > 0) break;
        handler(buf, offset);
        last = offset;
        n++;
      }
      pos = (pos + size) | 0;
    }
    if (last >= 0) this.lastSeq = dv.getUint32(last + 12, true) * 4294967296 + dv.getUint32(last + 8, true);
    this.advance(pos, n);
    return n;
  }

  private pollCopy(handler: RecordHandler, max: number, published: number): number {
    const copy = this.copy!;
    const data = this.ring.data;
    const start = this.cursor;
    if (((Atomics.load(this.h, R_CLAIMED) - start) | 0) > this.capacity) return this.overrun(start);
    // Copy [start, start + len) in ring order: at most two runs.
    const len = Math.min((published - start) | 0, copy.byteLength);
    const first = Math.min(len, this.capacity - (start & this.mask));
    copyRecord(data.f64, data.i32, start & this.mask, copy.f64, copy.i32, 0, first);
    copyRecord(data.f64, data.i32, 0, copy.f64, copy.i32, first, len - first);
    // Valid only if the producer could not have written over any of it meanwhile.
    if (((Atomics.load(this.h, R_CLAIMED) - start) | 0) > this.capacity) return this.overrun(start);
    const dv = copy.dv;
    const durableLo = this.durable === undefined ? 0 : Atomics.load(this.durable.i32, this.durable.index);
    let at = 0;
    let n = 0;
    while (at + 4 <= len && n < max) {
      const word = dv.getUint32(at, true);
      const size = word >>> 16;
      if (at + size > len) break; // the rest of this record is beyond the copy
      if ((word & 0xff) !== RING_PADDING_KIND) {
        if (this.durable !== undefined && ((dv.getUint32(at + 8, true) - durableLo) | 0) > 0) break;
        handler(copy, at);
        this.lastSeq = dv.getUint32(at + 12, true) * 4294967296 + dv.getUint32(at + 8, true);
        n++;
      }
      at += size;
    }
    this.advance((start + at) | 0, n);
    return n;
  }

  private advance(pos: number, n: number): void {
    if (pos === this.cursor) return;
    this.cursor = pos;
    this.delivered += n;
    // seq-cst store after the reads of the records: the producer may reuse their bytes once
    // it loads this value.
    Atomics.store(this.h, this.cell + S_CURSOR, pos);
    this.ring.wakeProducer(this.cell + S_CURSOR);
    this.waiter.reset();
  }

  /** Skips to the live position and reports what was lost. */
  private overrun(from: number): number {
    const to = Atomics.load(this.h, R_PUBLISHED);
    this.cursor = to;
    Atomics.store(this.h, this.cell + S_CURSOR, to);
    this.overruns++;
    Atomics.add(this.h, this.cell + S_OVERRUNS, 1);
    this.onOverrun?.({ fromPosition: from, toPosition: to, lastSeq: this.lastSeq });
    return 0;
  }

  /** A cut-off gating consumer rejoins at the live position, gating again, and is told what it missed. */
  private rejoinAfterCutOff(): number {
    const from = this.cursor;
    const to = Atomics.load(this.h, R_PUBLISHED);
    this.cursor = to;
    Atomics.store(this.h, this.cell + S_CURSOR, to);
    // Only if the owner has not closed the slot meanwhile.
    if (Atomics.compareExchange(this.h, this.cell + S_STATE, SlotState.cutOff, SlotState.gating) !== SlotState.cutOff) return 0;
    this.overruns++;
    Atomics.add(this.h, this.cell + S_OVERRUNS, 1);
    this.onOverrun?.({ fromPosition: from, toPosition: to, lastSeq: this.lastSeq });
    return 0;
  }

  /**
   * Waits (with the strategy) until something may be readable: a new publish, or, with a
   * durable gate, a new durable sequence. Returns after at most one park timeout either way.
   */
  await(): void {
    if (Atomics.load(this.h, R_PUBLISHED) !== this.cursor) {
      const d = this.durable;
      if (d === undefined) return;
      // Published but not durable: wait on the durable cell instead.
      const durableLo = Atomics.load(d.i32, d.index);
      const dv = this.ring.data.dv;
      const offset = this.cursor & this.mask;
      if ((dv.getUint32(offset, true) & 0xff) === RING_PADDING_KIND) return; // poll steps over it
      if (((dv.getUint32(offset + 8, true) - durableLo) | 0) <= 0) return;
      this.waiter.pause(d.i32, d.index, durableLo, d.index + 1);
      return;
    }
    this.waiter.pause(this.h, R_PUBLISHED, this.cursor, R_PARKED_CONSUMERS);
  }

  /** Records read in place by a gating consumer stay valid until its next poll; the slot is released by the owner. */
  get isLossy(): boolean {
    return this.lossy;
  }
}
