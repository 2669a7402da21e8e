/**
 * The event store: every event the engine emitted, kept in an LSM tree under keys that
 * make one instrument's history on one topic one range (src/schema/store.ts), with a time
 * index so a time range can be found as a sequence range.
 *
 * `append` takes events in the order the engine emitted them, each with its topic; the
 * store numbers the events of one command per topic, so a command's events always get the
 * same keys. Consecutive events of one command on one topic and instrument are gathered and
 * put as one entry, under the first one's key (fewer entries: less work per event in the
 * MemTable, the flushes and the filters); reads split entries back into events. Each flush
 * records, per topic, the last seq whose events it holds (the mark); the events of that seq
 * may be only partly stored (a ring can publish a command's events in two parts). After a restart the journal is replayed from `replayFrom`, the
 * smallest mark: events of a seq below its topic's mark are passed over (stored already),
 * and those from the mark on are written again under the same keys with the same bytes,
 * so nothing is lost and nothing is read twice (the entries of a rewritten seq may gather
 * its events differently; a read passes over events an earlier entry of the seq gave).
 */

import { Buf, H_INSTRUMENT, H_SEQ, H_SIZE, H_TIMESTAMP } from "../schema/layout.ts";
import { copyRecord } from "../bus/copy.ts";
import { STORE_KEY_BYTES, STORE_TOPIC, TIME_INDEX_TOPIC, TIME_KEY_BYTES, entryRecordSize, eventKey, getU64BE, timeKey, timeKeyFromRecord } from "../schema/store.ts";
import type { Topic } from "../schema/topics.ts";
import { LsmTree, prefixEnd, type LsmOptions, type StoreCursor } from "../lsm/tree.ts";
import { Manifest } from "../lsm/manifest.ts";
import { VenueError } from "../stdx/errors.ts";
import { assert } from "../stdx/assert.ts";

export class EventStore {
  private readonly key = new Uint8Array(STORE_KEY_BYTES);
  private readonly tkey = new Uint8Array(TIME_KEY_BYTES);
  private readonly index = new Int32Array(4);
  private readonly lastSeq = new Float64Array(4);
  /** Per topic number: events of a seq below this are stored already. */
  private readonly resume = new Float64Array(4);
  /**
   * The time index (see `append`): per topic number, the timestamp of its last event (two
   * u32 halves; -1 before the first), and the entry put last (timestamp halves and seq).
   */
  private readonly topicTsLo = new Float64Array(4).fill(-1);
  private readonly topicTsHi = new Float64Array(4).fill(-1);
  private putTsLo = -1;
  private putTsHi = -1;
  private putSeq = 0;
  /**
   * The group being gathered per topic number (see `append`): its instrument, seq, first
   * index and bytes so far (0: none), in its own buffer.
   */
  private readonly groupInst = new Float64Array(4);
  private readonly groupSeq = new Float64Array(4);
  private readonly groupIndex = new Int32Array(4);
  private readonly groupBytes = new Int32Array(4);
  private readonly groupBuf = [Buf.alloc(0), Buf.alloc(GROUP_BUF_BYTES), Buf.alloc(GROUP_BUF_BYTES), Buf.alloc(GROUP_BUF_BYTES)];
  /** The most bytes of several events one entry holds (a MemTable's quarter at most); one event alone may be larger. */
  private readonly groupMax: number;
  /** Events taken and events passed over as already stored. */
  appended = 0;
  skipped = 0;
  readonly tree: LsmTree;

  private constructor(dir: string, o: LsmOptions) {
    // Tables partitioned by topic and instrument: each one's keys rise with seq, so a
    // flushed table overlaps no older one of its partition and moves down without a rewrite.
    this.tree = LsmTree.open(dir, { partitionBytes: 5, ...o, markOf: () => this.mark() });
    this.groupMax = Math.min(GROUP_BYTES_MAX, this.tree.memtableBytes >> 2);
    const m = (this.tree.flushedMark ?? {}) as Partial<Record<Topic, number>>;
    for (const [topic, t] of Object.entries(STORE_TOPIC) as [Topic, number][]) {
      const s = m[topic] ?? 0;
      this.resume[t] = s;
      this.lastSeq[t] = s;
    }
  }

  static open(dir: string, o: LsmOptions = {}): EventStore {
    return new EventStore(dir, o);
  }

  /** The first seq whose events the store may lack: a restart replays the journal from here. */
  get replayFrom(): number {
    return Math.max(1, Math.min(this.resume[1]!, this.resume[2]!, this.resume[3]!));
  }

  private mark(): Record<Topic, number> {
    // A mark says the events of every lower seq are in: no group still gathered may hold one.
    for (let t = 1; t < 4; t++) assert(this.groupBytes[t] === 0 || this.groupSeq[t]! >= this.lastSeq[t]!, "a mark passes a group of events not yet put");
    return { trades: this.lastSeq[1]!, accounts: this.lastSeq[2]!, l2: this.lastSeq[3]! };
  }

  /** Stores the event record at `offset` of `buf` under `topic`; false if already stored. */
  append(topic: Topic, buf: Buf, offset: number): boolean {
    const dv = buf.dv;
    const seq = dv.getUint32(offset + H_SEQ + 4, true) * 4294967296 + dv.getUint32(offset + H_SEQ, true);
    const t = STORE_TOPIC[topic];
    if (seq < this.resume[t]!) {
      this.skipped++;
      return false;
    }
    const size = dv.getUint16(offset + H_SIZE, true);
    const instrument = dv.getUint32(offset + H_INSTRUMENT, true);
    // The group gathered so far ends at another seq or instrument, or when full; it is put
    // before the topic's last seq moves on, so a mark taken by the put (a MemTable sealed)
    // does not pass a seq whose events are not yet in.
    const gathered = this.groupBytes[t]!;
    if (gathered > 0 && (this.groupSeq[t] !== seq || this.groupInst[t] !== instrument || gathered + size > this.groupMax)) this.putGroup(t);
    if (this.lastSeq[t] !== seq) {
      this.lastSeq[t] = seq;
      this.index[t] = 0;
    }
    const index = this.index[t]!;
    this.index[t] = index + 1;
    const at = this.groupBytes[t]!;
    if (at === 0) {
      this.groupInst[t] = instrument;
      this.groupSeq[t] = seq;
      this.groupIndex[t] = index;
    }
    const g = this.groupBuf[t]!;
    copyRecord(buf.f64, buf.i32, offset, g.f64, g.i32, at, size); // records are 8-aligned, with 8-aligned sizes
    this.groupBytes[t] = at + size;
    // The time index needs, for each timestamp, an entry for the first seq stamped with it
    // (a lookup takes the first key at or after [time, seq 0]); the engine loop stamps runs
    // of commands alike. A seq whose timestamp differs from that of its topic's event before
    // it may be first of its time, unless an entry of the same time and an earlier seq was
    // put last. Topics reach the store in turn, each in seq order, so a seq's first event can
    // come after a later seq's: an entry only for a seq above every seq seen would miss it.
    const tsLo = dv.getUint32(offset + H_TIMESTAMP, true);
    const tsHi = dv.getUint32(offset + H_TIMESTAMP + 4, true);
    if (tsLo !== this.topicTsLo[t] || tsHi !== this.topicTsHi[t]) {
      this.topicTsLo[t] = tsLo;
      this.topicTsHi[t] = tsHi;
      if (tsLo !== this.putTsLo || tsHi !== this.putTsHi || seq < this.putSeq) {
        this.putTsLo = tsLo;
        this.putTsHi = tsHi;
        this.putSeq = seq;
        this.tree.put(timeKeyFromRecord(this.tkey, buf.u8, offset + H_TIMESTAMP, seq), EMPTY, seq);
      }
    }
    this.appended++;
    return true;
  }

  /** Puts the group gathered on topic number `t`, if any, as one entry. */
  private putGroup(t: number): void {
    const bytes = this.groupBytes[t]!;
    if (bytes === 0) return;
    const seq = this.groupSeq[t]!;
    // Still counted as gathered while it is put: a MemTable sealed by this put takes its mark now.
    this.tree.putRange(eventKey(this.key, t, this.groupInst[t]!, seq, this.groupIndex[t]!), this.groupBuf[t]!.u8, 0, bytes, seq);
    this.groupBytes[t] = 0;
  }

  /** Puts every group gathered so far (before a flush or a read). */
  private putGroups(): void {
    for (let t = 1; t < 4; t++) this.putGroup(t);
  }

  /**
   * Every event on `topic` of every seq up to the one whose low 32 bits are `seqLo` has
   * been appended (its ring was drained after the loop had published them all): the topic's
   * mark moves there even when it had no event of its own, so a quiet topic does not hold
   * back the replay point (and the journal pruning that waits on it). `seqLo` is read
   * within 2^31 of the seqs the store has seen.
   */
  quietThrough(topic: Topic, seqLo: number): void {
    const t = STORE_TOPIC[topic];
    this.putGroup(t);
    const near = Math.max(this.lastSeq[1]!, this.lastSeq[2]!, this.lastSeq[3]!);
    const seq = near + ((seqLo - (near | 0)) | 0);
    if (seq > this.lastSeq[t]!) this.lastSeq[t] = seq;
  }

  /**
   * Calls `fn` with each event of `instrument` on `topic` with seq in [fromSeq, toSeq], in
   * order, until it returns false. Returns how many events it passed to `fn`.
   */
  history(topic: Topic, instrument: number, fromSeq: number, toSeq: number, fn: (event: Uint8Array, seq: number) => boolean | void): number {
    const t = STORE_TOPIC[topic];
    const from = eventKey(new Uint8Array(STORE_KEY_BYTES), t, instrument, fromSeq, 0);
    // The end bound: the next seq's first key, or past the instrument's whole range.
    const to = toSeq < Number.MAX_SAFE_INTEGER ? eventKey(new Uint8Array(STORE_KEY_BYTES), t, instrument, toSeq + 1, 0) : prefixEnd(from.subarray(0, 5));
    return this.walk(from, to, (c) => fn(c.event(), c.seq));
  }

  /**
   * Calls `fn` with each event on `topic` (of every instrument, by instrument, each in seq
   * order) with its instrument, seq and index: the store's whole content for a topic, as a
   * check reads it.
   */
  forEachEvent(topic: Topic, fn: (instrument: number, seq: number, index: number, event: Uint8Array) => void): number {
    const prefix = Uint8Array.of(STORE_TOPIC[topic]);
    return this.walk(prefix, prefixEnd(prefix), (c) => fn(c.instrument, c.seq, c.index, c.event()));
  }

  /** Calls `fn` at each event of the keys in [from, to), until it returns false; returns how many it was called for. */
  private walk(from: Uint8Array, to: Uint8Array | undefined, fn: (c: EventCursor) => boolean | void): number {
    this.putGroups(); // a read sees every event appended
    const c = new EventCursor(this.tree.cursor(from, to));
    let n = 0;
    try {
      for (; c.valid; c.next()) {
        n++;
        if (fn(c) === false) break;
      }
    } finally {
      c.close();
    }
    return n;
  }

  /**
   * Calls `fn` with each event on `topic` of any of `instruments` with seq ≥ `fromSeq`, in
   * seq order (events of one seq: by instrument in the order given, each instrument's in
   * the order the engine emitted them). One cursor per instrument, merged through a heap:
   * memory does not grow with the history. Returns how many events it passed to `fn`.
   */
  historyMerged(topic: Topic, instruments: readonly number[], fromSeq: number, fn: (event: Uint8Array, seq: number) => void): number {
    this.putGroups(); // a read sees every event appended
    const t = STORE_TOPIC[topic];
    const cursors: EventCursor[] = [];
    const heap: number[] = [];
    const less = (a: number, b: number): boolean => cursors[a]!.seq < cursors[b]!.seq || (cursors[a]!.seq === cursors[b]!.seq && a < b);
    const down = (at: number): void => {
      for (;;) {
        const l = 2 * at + 1;
        if (l >= heap.length) return;
        const c = l + 1 < heap.length && less(heap[l + 1]!, heap[l]!) ? l + 1 : l;
        if (!less(heap[c]!, heap[at]!)) return;
        [heap[c], heap[at]] = [heap[at]!, heap[c]!];
        at = c;
      }
    };
    let n = 0;
    try {
      for (const instrument of instruments) {
        const from = eventKey(new Uint8Array(STORE_KEY_BYTES), t, instrument, fromSeq, 0);
        const c = new EventCursor(this.tree.cursor(from, prefixEnd(from.subarray(0, 5))));
        const i = cursors.push(c) - 1;
        if (c.valid) heap.push(i);
      }
      for (let at = (heap.length >> 1) - 1; at >= 0; at--) down(at);
      while (heap.length > 0) {
        const i = heap[0]!;
        const c = cursors[i]!;
        fn(c.event(), c.seq);
        n++;
        c.next();
        if (!c.valid) {
          heap[0] = heap[heap.length - 1]!;
          heap.pop();
        }
        down(0);
      }
    } finally {
      for (const c of cursors) c.close();
    }
    return n;
  }

  /**
   * The seq range of commands stamped in [fromNs, toNs): [first, last], or undefined if
   * none. Two seeks in the time index: command times never decrease with seq (the loop's
   * clock is monotonic), so the range is every seq from the first stamped at or after
   * `fromNs` to the one before the first stamped at or after `toNs`.
   */
  seqRangeOfTime(fromNs: bigint, toNs: bigint): [number, number] | undefined {
    if (toNs <= fromNs) return undefined;
    const first = this.firstSeqAtOrAfter(fromNs);
    if (first === undefined) return undefined;
    const end = this.firstSeqAtOrAfter(toNs);
    const last = end === undefined ? Number.MAX_SAFE_INTEGER : end - 1;
    return last < first ? undefined : [first, last];
  }

  private firstSeqAtOrAfter(ns: bigint): number | undefined {
    const c = this.tree.cursor(timeKey(new Uint8Array(TIME_KEY_BYTES), ns, 0), TIME_INDEX_END);
    try {
      return c.valid ? getU64BE(c.key, 9) : undefined;
    } finally {
      c.close();
    }
  }

  /** Events of `instrument` on `topic` from commands stamped in [fromNs, toNs). */
  historyByTime(topic: Topic, instrument: number, fromNs: bigint, toNs: bigint, fn: (event: Uint8Array, seq: number) => boolean | void): number {
    const r = this.seqRangeOfTime(fromNs, toNs);
    return r === undefined ? 0 : this.history(topic, instrument, r[0], r[1], fn);
  }

  flush(): Promise<void> {
    this.putGroups();
    return this.tree.flush();
  }

  /**
   * Every event of every seq up to `through` has been appended (a clean stop: the rings
   * were drained after the engine stopped). Flushes, and moves the recorded mark past
   * `through`, so a restart replays none of it (a snapshot at `through` is enough).
   */
  async completeThrough(through: number): Promise<void> {
    this.putGroups();
    for (let t = 1; t < 4; t++) this.lastSeq[t] = Math.max(this.lastSeq[t]!, through + 1);
    await this.tree.flush();
    await this.tree.idle();
    this.tree.recordMark();
  }

  /** Flushes on this thread (a store opened without background work). */
  flushSync(): void {
    this.putGroups();
    this.tree.flushSync();
  }

  /** Closes, putting what it gathered first unless the store has failed (it takes no writes then). */
  close(): Promise<void> {
    if (this.tree.error === undefined) this.putGroups();
    return this.tree.close();
  }

  closeSync(): void {
    if (this.tree.error === undefined) this.putGroups();
    this.tree.closeSync();
  }
}

const EMPTY = new Uint8Array(0);
/** The most bytes of several events one entry holds: a command's events beyond it take more entries. */
const GROUP_BYTES_MAX = 16384;
/** A group's buffer: room for the largest record (its size is a u16). */
const GROUP_BUF_BYTES = 65536;
const TIME_INDEX_END = Uint8Array.of(TIME_INDEX_TOPIC + 1);

/**
 * The events of a range of store entries, one at a time, in key order. An entry holds one
 * or more consecutive events of one command on one topic and instrument, under the index
 * of its first (src/schema/store.ts); an entry may repeat events an entry before it in the
 * range already holds (a replay after a restart gathers a command's events into entries
 * differently), and those are passed over: each (instrument, seq, index) comes once.
 */
class EventCursor {
  private value: Uint8Array = EMPTY;
  private at = 0;
  /** The size of the record at `at` (read and checked once). */
  private size = 0;
  /** The current event's instrument, seq and index; valid while `valid`. */
  instrument = -1;
  seq = -1;
  index = 0;
  /** The first index of the current (instrument, seq) not yet delivered. */
  private fresh = 0;
  valid = false;

  constructor(private readonly c: StoreCursor) {
    this.enter();
  }

  /** The current event's record (a view, valid until `next`). */
  event(): Uint8Array {
    return this.value.subarray(this.at, this.at + this.size);
  }

  next(): void {
    this.fresh = this.index + 1;
    this.at += this.size;
    this.index++;
    if (this.skip()) return;
    this.c.next();
    this.enter();
  }

  close(): void {
    this.c.close();
  }

  /** From the cursor's entry on, the first entry with an event not yet delivered. */
  private enter(): void {
    for (; this.c.valid; this.c.next()) {
      const k = this.c.key;
      const instrument = ((k[1]! << 24) | (k[2]! << 16) | (k[3]! << 8) | k[4]!) >>> 0;
      const seq = getU64BE(k, 5);
      if (instrument !== this.instrument || seq !== this.seq) {
        this.instrument = instrument;
        this.seq = seq;
        this.fresh = 0;
      }
      this.value = this.c.value;
      this.at = 0;
      this.index = (k[13]! << 8) | k[14]!;
      if (this.skip()) return;
    }
    this.valid = false;
  }

  /** Passes over the entry's events already delivered; true if one is left. */
  private skip(): boolean {
    while (this.at < this.value.length) {
      const size = entryRecordSize(this.value, this.at);
      if (size < 0) throw new VenueError("STORE_ENTRY_CORRUPT", `event store: an entry's record at byte ${this.at} is not whole: ${this.value.length - this.at} bytes left in the entry`);
      if (this.index >= this.fresh) {
        this.size = size;
        return (this.valid = true);
      }
      this.at += size;
      this.index++;
    }
    return false;
  }
}

/**
 * The replay point of the store in `dir`, read from its manifest without opening the
 * store (another thread may be writing it; a torn last edit is passed over): 1 for an
 * empty store, undefined if the manifest cannot be read now.
 */
export function storeReplayFrom(dir: string): number | undefined {
  try {
    const state = Manifest.inspect(dir);
    const m = (state?.mark ?? {}) as Partial<Record<Topic, number>>;
    return Math.max(1, Math.min(m.trades ?? 0, m.accounts ?? 0, m.l2 ?? 0));
  } catch {
    return undefined;
  }
}
