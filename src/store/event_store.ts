/**
 * The event store: every event the engine emitted, kept in an LSM tree under keys that
 * make one instrument's history on one topic one range (src/schema/store.ts), with a time
 * index so a time range can be found as a sequence range.
 *
 * `append` takes events in the order the engine emitted them, each with its topic; the
 * store numbers the events of one command per topic, so a command's events always get the
 * same keys. Each flush records, per topic, the last seq whose events it holds (the
 * mark); the events of that seq may be only partly stored (a ring can publish a command's
 * events in two parts). After a restart the journal is replayed from `replayFrom`, the
 * smallest mark: events of a seq below its topic's mark are passed over (stored already),
 * and those from the mark on are written again under the same keys with the same bytes,
 * so nothing is lost and nothing is stored twice.
 */

import { H_SEQ, H_TIMESTAMP, type Buf } from "../schema/layout.ts";
import { STORE_KEY_BYTES, STORE_TOPIC, TIME_INDEX_TOPIC, TIME_KEY_BYTES, eventKey, getU64BE, timeKey, timeKeyFromRecord } from "../schema/store.ts";
import type { Topic } from "../schema/topics.ts";
import { LsmTree, prefixEnd, type LsmOptions, type StoreCursor } from "../lsm/tree.ts";
import { Manifest } from "../lsm/manifest.ts";

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
  /** Events taken and events passed over as already stored. */
  appended = 0;
  skipped = 0;
  readonly tree: LsmTree;

  private constructor(dir: string, o: LsmOptions) {
    // Tables partitioned by topic and instrument: each one's keys rise with seq, so a
    // flushed table overlaps no older one of its partition and moves down without a rewrite.
    this.tree = LsmTree.open(dir, { partitionBytes: 5, ...o, markOf: () => this.mark() });
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
    if (this.lastSeq[t] !== seq) {
      this.lastSeq[t] = seq;
      this.index[t] = 0;
    }
    const size = dv.getUint16(offset + 2, true);
    const instrument = dv.getUint32(offset + 4, true);
    const index = this.index[t]!;
    this.index[t] = index + 1;
    this.tree.putRange(eventKey(this.key, t, instrument, seq, index), buf.u8, offset, size, seq);
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

  /**
   * Every event on `topic` of every seq up to the one whose low 32 bits are `seqLo` has
   * been appended (its ring was drained after the loop had published them all): the topic's
   * mark moves there even when it had no event of its own, so a quiet topic does not hold
   * back the replay point (and the journal pruning that waits on it). `seqLo` is read
   * within 2^31 of the seqs the store has seen.
   */
  quietThrough(topic: Topic, seqLo: number): void {
    const t = STORE_TOPIC[topic];
    const near = Math.max(this.lastSeq[1]!, this.lastSeq[2]!, this.lastSeq[3]!);
    const seq = near + ((seqLo - (near | 0)) | 0);
    if (seq > this.lastSeq[t]!) this.lastSeq[t] = seq;
  }

  /** Calls `fn` with each event of `instrument` on `topic` with seq in [fromSeq, toSeq], in order, until it returns false. */
  history(topic: Topic, instrument: number, fromSeq: number, toSeq: number, fn: (event: Uint8Array, seq: number) => boolean | void): number {
    const t = STORE_TOPIC[topic];
    const from = eventKey(new Uint8Array(STORE_KEY_BYTES), t, instrument, fromSeq, 0);
    // The end bound: the next seq's first key, or past the instrument's whole range.
    const to = toSeq < Number.MAX_SAFE_INTEGER ? eventKey(new Uint8Array(STORE_KEY_BYTES), t, instrument, toSeq + 1, 0) : prefixEnd(from.subarray(0, 5));
    return this.tree.scan(from, to, (k, v) => fn(v, getU64BE(k, 5)));
  }

  /**
   * Calls `fn` with each event on `topic` of any of `instruments` with seq ≥ `fromSeq`, in
   * seq order (events of one seq: by instrument in the order given, each instrument's in
   * the order the engine emitted them). One cursor per instrument, merged through a heap:
   * memory does not grow with the history. Returns how many events it passed to `fn`.
   */
  historyMerged(topic: Topic, instruments: readonly number[], fromSeq: number, fn: (event: Uint8Array, seq: number) => void): number {
    const t = STORE_TOPIC[topic];
    const cursors: StoreCursor[] = [];
    const seqs: number[] = [];
    const heap: number[] = [];
    const less = (a: number, b: number): boolean => seqs[a]! < seqs[b]! || (seqs[a] === seqs[b] && a < b);
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
        const c = this.tree.cursor(from, prefixEnd(from.subarray(0, 5)));
        const i = cursors.push(c) - 1;
        seqs.push(c.valid ? getU64BE(c.key, 5) : 0);
        if (c.valid) heap.push(i);
      }
      for (let at = (heap.length >> 1) - 1; at >= 0; at--) down(at);
      while (heap.length > 0) {
        const i = heap[0]!;
        const c = cursors[i]!;
        fn(c.value, seqs[i]!);
        n++;
        c.next();
        if (c.valid) {
          seqs[i] = getU64BE(c.key, 5);
        } else {
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
    return this.tree.flush();
  }

  /**
   * Every event of every seq up to `through` has been appended (a clean stop: the rings
   * were drained after the engine stopped). Flushes, and moves the recorded mark past
   * `through`, so a restart replays none of it (a snapshot at `through` is enough).
   */
  async completeThrough(through: number): Promise<void> {
    for (let t = 1; t < 4; t++) this.lastSeq[t] = Math.max(this.lastSeq[t]!, through + 1);
    await this.tree.flush();
    await this.tree.idle();
    this.tree.recordMark();
  }

  close(): Promise<void> {
    return this.tree.close();
  }
}

const EMPTY = new Uint8Array(0);
const TIME_INDEX_END = Uint8Array.of(TIME_INDEX_TOPIC + 1);

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
