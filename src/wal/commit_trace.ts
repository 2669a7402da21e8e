/**
 * A record of every group commit, for the latency harness (`venue bench latency`): when the
 * group's first write started, when its fdatasync started and ended, how many commands and
 * bytes it held, and the last seq it made durable. The journal worker writes it (only when
 * the node is given one: the node itself never reads it); another thread reads it once the
 * commits it wants are done, and maps each order to the commit that made it durable.
 *
 * Layout: `cells` (Int32, src/bus/cells.ts) [0] entries written so far, [1] capacity;
 * `entries` (Float64) capacity x ENTRY_FIELDS, entry k at (k % capacity) x ENTRY_FIELDS: a
 * ring, so a long run keeps its last `capacity` commits. Times are monotonic ns, comparable
 * across threads (src/stdx/mono_clock.ts). The writer stores the entry, then the count (a
 * release); a reader that loads the count (an acquire) may read every entry below it that
 * has not been overwritten since.
 */

import { Cells } from "../bus/cells.ts";
import { assert } from "../stdx/assert.ts";
import { monoOriginNs } from "../stdx/mono_clock.ts";

export interface CommitTraceBuffers {
  cells: SharedArrayBuffer;
  entries: SharedArrayBuffer;
}

const C_COUNT = 0;
const C_CAPACITY = 1;
const F_GROUP_START = 0;
const F_SYNC_START = 1;
const F_SYNC_END = 2;
const F_COMMANDS = 3;
const F_BYTES = 4;
const F_LAST_SEQ = 5;
const ENTRY_FIELDS = 6;

/** One group commit, as read back. Times in monotonic ns. */
export interface CommitEntry {
  groupStartNs: number;
  syncStartNs: number;
  syncEndNs: number;
  commands: number;
  bytes: number;
  lastSeq: number;
}

/** Buffers for `capacity` commits (48 bytes each). */
export function createCommitTrace(capacity: number): CommitTraceBuffers {
  assert(Number.isInteger(capacity) && capacity >= 1 && capacity <= 1 << 24, "commit trace capacity: 1 to 2^24 entries");
  const cells = Cells.create(2);
  cells.store(C_CAPACITY, capacity);
  return { cells: cells.sab, entries: new SharedArrayBuffer(capacity * ENTRY_FIELDS * 8) };
}

/** The journal worker's side. Recording allocates nothing. */
export class CommitTraceWriter {
  private readonly cells: Cells;
  private readonly f: Float64Array;
  private readonly capacity: number;
  private count = 0;
  /** This thread's `performance.now()` origin in monotonic ns: ms readings map onto it. */
  private readonly originNs = monoOriginNs();

  constructor(b: CommitTraceBuffers) {
    this.cells = new Cells(b.cells);
    this.f = new Float64Array(b.entries);
    this.capacity = this.cells.load(C_CAPACITY);
    this.count = this.cells.load(C_COUNT);
  }

  /** A commit, its times as `performance.now()` readings of this thread (ms). */
  record(groupStartMs: number, syncStartMs: number, syncEndMs: number, commands: number, bytes: number, lastSeq: number): void {
    const at = (this.count % this.capacity) * ENTRY_FIELDS;
    const f = this.f;
    f[at + F_GROUP_START] = groupStartMs * 1e6 + this.originNs;
    f[at + F_SYNC_START] = syncStartMs * 1e6 + this.originNs;
    f[at + F_SYNC_END] = syncEndMs * 1e6 + this.originNs;
    f[at + F_COMMANDS] = commands;
    f[at + F_BYTES] = bytes;
    f[at + F_LAST_SEQ] = lastSeq;
    this.count++;
    this.cells.store(C_COUNT, this.count);
  }
}

/** The reading side. */
export class CommitTraceReader {
  private readonly cells: Cells;
  private readonly f: Float64Array;
  readonly capacity: number;

  constructor(b: CommitTraceBuffers) {
    this.cells = new Cells(b.cells);
    this.f = new Float64Array(b.entries);
    this.capacity = this.cells.load(C_CAPACITY);
  }

  /** Commits recorded so far. */
  get count(): number {
    return this.cells.load(C_COUNT);
  }

  /**
   * Commits `from` (inclusive) to `to` (exclusive), `to` at most `count`. Throws if the
   * oldest of them has been overwritten (more than `capacity` commits since).
   */
  read(from: number, to: number): CommitEntry[] {
    const count = this.count;
    assert(from >= 0 && from <= to && to <= count, "commit trace: a range of recorded commits");
    if (count - from > this.capacity) throw new Error(`commit trace: commits from ${from} were overwritten (${count} recorded, room for the last ${this.capacity})`);
    const out: CommitEntry[] = [];
    const f = this.f;
    for (let k = from; k < to; k++) {
      const at = (k % this.capacity) * ENTRY_FIELDS;
      out.push({ groupStartNs: f[at + F_GROUP_START]!, syncStartNs: f[at + F_SYNC_START]!, syncEndNs: f[at + F_SYNC_END]!, commands: f[at + F_COMMANDS]!, bytes: f[at + F_BYTES]!, lastSeq: f[at + F_LAST_SEQ]! });
    }
    return out;
  }
}
