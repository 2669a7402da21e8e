/**
 * The MemTable: a skiplist whose nodes live in an Int32Array and whose keys and values
 * live in a byte arena, both over SharedArrayBuffers, so that no entry is a JS object and
 * a flush job on another thread can read a sealed table in place.
 *
 * Node (Int32 words): key offset, key length, value offset, value length (-1: a deletion),
 * height, then `height` next pointers (word indexes; 0 ends a list). The head node sits at
 * word HEAD with the full height. Writing a key that is already present overwrites its
 * value in place (the old value bytes stay in the arena until the table is dropped).
 * Heights are drawn from a fixed-seed generator: the same writes give the same shape.
 *
 * Insert hints: event keys arrive in order within each partition (the first
 * `hintBytes` bytes of a key: topic and instrument), interleaved across partitions. The
 * table keeps, per partition (hashed into a small table of slots), the predecessors at
 * every level of the last key it inserted there, the "splice". A put checks that the
 * splice still brackets its key at each level it needs (predecessor < key <= successor);
 * each level is a sorted list on its own, so a bracketing predecessor is all a level
 * needs. A key in order costs a few comparisons of hot nodes instead of a search from the
 * head; a hint that does not bracket (a collision, a key out of order) falls back to the
 * search. Hints change no result and no shape, only the work.
 *
 * One thread writes; after `seal` the table is read-only and may be read by any thread
 * that attaches to its buffers.
 */

import { SST_KEY_MAX, compareViews } from "../schema/sstable.ts";
import { assert } from "../stdx/assert.ts";
import { ViewCache, copyView } from "../stdx/copy.ts";
import { DELETED, type EntryIterator } from "./table_reader.ts";

const MAX_HEIGHT = 12;
const N_KEY_OFF = 0;
const N_KEY_LEN = 1;
const N_VAL_OFF = 2;
const N_VAL_LEN = 3;
const N_HEIGHT = 4;
const N_NEXT = 5;
const HEAD = 8;
/** Hint slots (a power of two): partitions beyond this share slots and fall back more often. */
const HINT_SLOTS = 256;

/** Meta words (Float64): arena bytes used, node words used, entries, largest seq, partitions. */
const M_ARENA = 0;
const M_NODES = 1;
const M_ENTRIES = 2;
const M_MAX_SEQ = 3;
const M_PARTITIONS = 4;

/** The buffers a sealed MemTable is made of, for a job on another thread. */
export interface MemTableBuffers {
  arena: SharedArrayBuffer;
  nodes: SharedArrayBuffer;
  meta: SharedArrayBuffer;
}

export class MemTable {
  readonly arena: Uint8Array;
  private readonly adv: DataView;
  private readonly scratch = new Uint8Array(SST_KEY_MAX);
  private readonly sdv = new DataView(this.scratch.buffer);
  readonly nodes: Int32Array;
  private readonly meta: Float64Array;
  private arenaUsed: number;
  private nodesUsed: number;
  private entryCount: number;
  private partitionCount = 0;
  private seq: number;
  private rnd = 0x2545f491;
  private readonly prev = new Int32Array(MAX_HEIGHT);
  private level = 1;
  private sealedFlag = false;
  /** Per hint slot, the predecessor at each level of the slot's last insert (HEAD at first). */
  private hints: Int32Array | undefined;
  private hintBytes = 0;
  private readonly keyViews = new ViewCache();
  private readonly valueViews = new ViewCache();

  /**
   * A new, empty table of `bytes` bytes of arena (its size threshold). `hintBytes`: the key
   * prefix that names a partition whose keys mostly arrive in order (see the file comment);
   * negative: no hints, a search from the head for every put.
   */
  static create(bytes: number, hintBytes = 0): MemTable {
    assert(bytes >= 4096, "a MemTable needs at least 4 KiB");
    // Node words: a node averages 6.3 words with p = 1/4; budget for small entries.
    const nodeWords = HEAD + MAX_HEIGHT + N_NEXT + Math.ceil(bytes / 4);
    const t = new MemTable({
      arena: new SharedArrayBuffer(bytes),
      nodes: new SharedArrayBuffer(nodeWords * 4),
      meta: new SharedArrayBuffer(40),
    }, true);
    if (hintBytes >= 0) t.hints = new Int32Array(HINT_SLOTS * MAX_HEIGHT).fill(HEAD);
    t.hintBytes = hintBytes;
    return t;
  }

  /** A view of a table sealed on another thread. */
  static attach(buffers: MemTableBuffers): MemTable {
    return new MemTable(buffers, false);
  }

  private constructor(readonly buffers: MemTableBuffers, fresh: boolean) {
    this.arena = new Uint8Array(buffers.arena);
    this.adv = new DataView(buffers.arena);
    this.nodes = new Int32Array(buffers.nodes);
    this.meta = new Float64Array(buffers.meta);
    if (fresh) {
      this.nodes[HEAD + N_HEIGHT] = MAX_HEIGHT;
      this.arenaUsed = 0;
      this.nodesUsed = HEAD + N_NEXT + MAX_HEIGHT;
      this.entryCount = 0;
      this.seq = 0;
      this.publishMeta();
    } else {
      this.arenaUsed = this.meta[M_ARENA]!;
      this.nodesUsed = this.meta[M_NODES]!;
      this.entryCount = this.meta[M_ENTRIES]!;
      this.seq = this.meta[M_MAX_SEQ]!;
      this.partitionCount = this.meta[M_PARTITIONS]!;
      this.sealedFlag = true;
    }
  }

  get entries(): number {
    return this.entryCount;
  }

  /** Bytes used: the arena plus the nodes. */
  get bytesUsed(): number {
    return this.arenaUsed + this.nodesUsed * 4;
  }

  /**
   * How many partitions (runs of keys sharing their first `hintBytes` bytes; all keys are
   * one when `hintBytes` is not positive) the table holds: a flush writes a table for each.
   */
  get partitions(): number {
    return this.partitionCount;
  }

  /** The largest sequence written with an entry (0 if none was given). */
  get maxSeq(): number {
    return this.seq;
  }

  get sealed(): boolean {
    return this.sealedFlag;
  }

  /** Makes the table read-only and its counters visible to other threads. */
  seal(): void {
    this.sealedFlag = true;
    this.publishMeta();
  }

  /**
   * Writes `key` -> `value` (`value` undefined: a deletion). Returns false, writing
   * nothing, when the table has no room left; the caller seals it and starts another.
   */
  put(key: Uint8Array, keyOff: number, keyLen: number, value: Uint8Array | undefined, valueOff = 0, valueLen = 0, seq = 0): boolean {
    assert(!this.sealedFlag, "a sealed MemTable takes no writes");
    assert(keyLen <= SST_KEY_MAX, "key too long");
    const vlen = value === undefined ? 0 : valueLen;
    const nodes = this.nodes;
    const arena = this.arena;
    const adv = this.adv;
    // The key goes into the arena first (taken back if the key is already present), so the
    // search compares arena bytes with arena bytes through one DataView.
    const k = this.arenaUsed;
    if (k + keyLen + vlen > arena.length) return false;
    copyView(adv, k, this.keyViews.of(key), keyOff, keyLen);
    const hints = this.hints;
    const base = hints === undefined ? 0 : this.hintSlot(k, keyLen) * MAX_HEIGHT;
    // Level 0 from the hint, or a search; either way prev[0] is the predecessor.
    let hinted = hints !== undefined && this.brackets(hints[base]!, 0, k, keyLen);
    if (hinted) this.prev[0] = hints![base]!;
    else this.search(k, keyLen);
    const found = nodes[this.prev[0]! + N_NEXT]!;
    if (found !== 0 && compareViews(adv, nodes[found + N_KEY_OFF]!, nodes[found + N_KEY_LEN]!, adv, k, keyLen) === 0) {
      nodes[found + N_VAL_OFF] = k;
      nodes[found + N_VAL_LEN] = value === undefined ? -1 : vlen;
      if (value !== undefined) copyView(adv, k, this.valueViews.of(value), valueOff, vlen);
      this.arenaUsed = k + vlen;
      if (seq > this.seq) this.seq = seq;
      return true;
    }
    const height = this.randomHeight();
    if (this.nodesUsed + N_NEXT + height > nodes.length) return false;
    if (hinted) {
      // The levels above 0 that the new node joins: each from its hint, else one search.
      for (let l = 1; l < height; l++) {
        const p = l < this.level ? hints![base + l]! : HEAD;
        if (!this.brackets(p, l, k, keyLen)) {
          hinted = false;
          break;
        }
        this.prev[l] = p;
      }
      if (!hinted) this.search(k, keyLen);
    }
    // A new partition when neither neighbour shares the key's prefix (a partition's keys are adjacent).
    const p0 = this.prev[0]!;
    if (this.hintBytes <= 0 ? this.entryCount === 0 : (p0 === HEAD || !this.samePrefix(p0, k, keyLen)) && (found === 0 || !this.samePrefix(found, k, keyLen))) this.partitionCount++;
    const n = this.nodesUsed;
    this.nodesUsed += N_NEXT + height;
    nodes[n + N_KEY_OFF] = k;
    nodes[n + N_KEY_LEN] = keyLen;
    nodes[n + N_VAL_OFF] = k + keyLen;
    nodes[n + N_VAL_LEN] = value === undefined ? -1 : vlen;
    if (value !== undefined) copyView(adv, k + keyLen, this.valueViews.of(value), valueOff, vlen);
    this.arenaUsed = k + keyLen + vlen;
    nodes[n + N_HEIGHT] = height;
    if (height > this.level) {
      for (let l = this.level; l < height; l++) this.prev[l] = HEAD;
      this.level = height;
    }
    for (let l = 0; l < height; l++) {
      const p = this.prev[l]!;
      nodes[n + N_NEXT + l] = nodes[p + N_NEXT + l]!;
      nodes[p + N_NEXT + l] = n;
    }
    if (hints !== undefined) {
      for (let l = 0; l < height; l++) hints[base + l] = n;
      // After a search the levels above the node keep its predecessors there as hints.
      if (!hinted) for (let l = height; l < this.level; l++) hints[base + l] = this.prev[l]!;
    }
    this.entryCount++;
    if (seq > this.seq) this.seq = seq;
    return true;
  }

  /** Whether node `p` (at level `l`) precedes the key at arena `k` and its successor there does not. */
  private brackets(p: number, l: number, k: number, keyLen: number): boolean {
    const nodes = this.nodes;
    const adv = this.adv;
    if (p !== HEAD && compareViews(adv, nodes[p + N_KEY_OFF]!, nodes[p + N_KEY_LEN]!, adv, k, keyLen) >= 0) return false;
    const nx = nodes[p + N_NEXT + l]!;
    return nx === 0 || compareViews(adv, nodes[nx + N_KEY_OFF]!, nodes[nx + N_KEY_LEN]!, adv, k, keyLen) >= 0;
  }

  /** Fills `prev` with the predecessors at every level of the key at arena `k`, from the head. */
  private search(k: number, keyLen: number): void {
    const nodes = this.nodes;
    const adv = this.adv;
    let x = HEAD;
    for (let l = this.level - 1; l >= 0; l--) {
      for (;;) {
        const nx = nodes[x + N_NEXT + l]!;
        if (nx === 0 || compareViews(adv, nodes[nx + N_KEY_OFF]!, nodes[nx + N_KEY_LEN]!, adv, k, keyLen) >= 0) break;
        x = nx;
      }
      this.prev[l] = x;
    }
  }

  /** Whether node `x`'s key and the key at arena `k` share their first `hintBytes` bytes (or are equal, if shorter). */
  private samePrefix(x: number, k: number, keyLen: number): boolean {
    const nodes = this.nodes;
    const arena = this.arena;
    const xo = nodes[x + N_KEY_OFF]!;
    const xl = nodes[x + N_KEY_LEN]!;
    const bytes = this.hintBytes;
    const n = Math.min(bytes, xl, keyLen);
    if (n < bytes && xl !== keyLen) return false;
    for (let i = 0; i < n; i++) if (arena[xo + i] !== arena[k + i]) return false;
    return true;
  }

  /** The hint slot of the key at arena `k`: a hash of its first `hintBytes` bytes. */
  private hintSlot(k: number, keyLen: number): number {
    const n = this.hintBytes < keyLen ? this.hintBytes : keyLen;
    const arena = this.arena;
    let h = 0x811c9dc5;
    for (let i = 0; i < n; i++) h = Math.imul(h ^ arena[k + i]!, 0x01000193);
    return (h ^ (h >>> 16)) & (HINT_SLOTS - 1);
  }

  /** The value of `key`, `DELETED`, or undefined when the table does not hold the key. */
  get(key: Uint8Array): Uint8Array | undefined {
    const n = this.seekNode(key);
    const nodes = this.nodes;
    if (n === 0 || compareViews(this.adv, nodes[n + N_KEY_OFF]!, nodes[n + N_KEY_LEN]!, this.sdv, 0, key.length) !== 0) return undefined;
    const vlen = nodes[n + N_VAL_LEN]!;
    if (vlen < 0) return DELETED;
    const vo = nodes[n + N_VAL_OFF]!;
    return this.arena.subarray(vo, vo + vlen);
  }

  iterator(): EntryIterator {
    return new MemTableIterator(this);
  }

  /** The first node with a key >= `key`, or 0. */
  seekNode(key: Uint8Array): number {
    const nodes = this.nodes;
    const adv = this.adv;
    const sdv = this.sdv;
    const len = key.length;
    this.scratch.set(key);
    let x = HEAD;
    for (let l = MAX_HEIGHT - 1; l >= 0; l--) {
      for (;;) {
        const nx = nodes[x + N_NEXT + l]!;
        if (nx === 0 || compareViews(adv, nodes[nx + N_KEY_OFF]!, nodes[nx + N_KEY_LEN]!, sdv, 0, len) >= 0) break;
        x = nx;
      }
    }
    return nodes[x + N_NEXT]!;
  }

  firstNode(): number {
    return this.nodes[HEAD + N_NEXT]!;
  }

  private publishMeta(): void {
    this.meta[M_ARENA] = this.arenaUsed;
    this.meta[M_NODES] = this.nodesUsed;
    this.meta[M_ENTRIES] = this.entryCount;
    this.meta[M_MAX_SEQ] = this.seq;
    this.meta[M_PARTITIONS] = this.partitionCount;
  }

  private randomHeight(): number {
    let h = 1;
    let r = this.rnd;
    r ^= r << 13;
    r ^= r >>> 17;
    r ^= r << 5;
    this.rnd = r;
    while (h < MAX_HEIGHT && (r & 3) === 0) {
      h++;
      r >>>= 2;
    }
    return h;
  }
}

class MemTableIterator implements EntryIterator {
  valid = false;
  buf: Uint8Array;
  keyOff = 0;
  keyLen = 0;
  valOff = 0;
  valLen = 0;
  private node = 0;

  constructor(private readonly table: MemTable) {
    this.buf = table.arena;
  }

  seekFirst(): void {
    this.at(this.table.firstNode());
  }

  seek(key: Uint8Array): void {
    this.at(this.table.seekNode(key));
  }

  next(): void {
    if (this.valid) this.at(this.table.nodes[this.node + N_NEXT]!);
  }

  private at(n: number): void {
    this.node = n;
    if (n === 0) {
      this.valid = false;
      return;
    }
    const nodes = this.table.nodes;
    this.keyOff = nodes[n + N_KEY_OFF]!;
    this.keyLen = nodes[n + N_KEY_LEN]!;
    this.valOff = nodes[n + N_VAL_OFF]!;
    this.valLen = nodes[n + N_VAL_LEN]!;
    this.valid = true;
  }
}
