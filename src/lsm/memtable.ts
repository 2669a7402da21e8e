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
/** A node's first four words, for a flush that reads nodes by `PartitionPlan.nodeAt`. */
export const NODE_KEY_OFF = N_KEY_OFF;
export const NODE_KEY_LEN = N_KEY_LEN;
export const NODE_VAL_OFF = N_VAL_OFF;
export const NODE_VAL_LEN = N_VAL_LEN;
const N_HEIGHT = 4;
const N_NEXT = 5;
const HEAD = 8;
/** Hint slots (a power of two): partitions that share a slot fall back to a search more often. 256 slots had a venue of 500 instruments insert at ~1M entries/s, 4,096 at ~3.2M/s (bench/lsm.ts --instruments 500). */
const HINT_SLOTS = 4096;

/** The height generator's seed: every table starts from it, a reused one too. */
const RND_SEED = 0x2545f491;

/** Meta words (Float64): arena bytes used, node words used, entries, largest seq, partitions. */
const M_ARENA = 0;
const M_NODES = 1;
const M_ENTRIES = 2;
const M_MAX_SEQ = 3;
const M_PARTITIONS = 4;

/** A sealed table's partitions in key order and its entries by partition (`MemTable.partitionPlan`). */
export interface PartitionPlan {
  /** Each entry's node (word index), in insertion order. */
  nodeAt: Int32Array;
  /** Each entry's partition, as its rank in key order (0: the partition with the smallest keys). */
  rankOf: Int32Array;
  /** Entries per partition, by rank. */
  sizes: Int32Array;
}

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
  private rnd = RND_SEED;
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

  private constructor(readonly buffers: MemTableBuffers, private readonly owned: boolean) {
    this.arena = new Uint8Array(buffers.arena);
    this.adv = new DataView(buffers.arena);
    this.nodes = new Int32Array(buffers.nodes);
    this.meta = new Float64Array(buffers.meta);
    if (owned) {
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

  /** Bytes of the arena used (keys and values). */
  get arenaBytesUsed(): number {
    return this.arenaUsed;
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

  /**
   * Empties a sealed table for reuse, keeping its buffers: their pages are already mapped,
   * where a fresh table's first write to each 4 KiB page faults it in (the kernel zeroes
   * it; ~2 µs a page on the VMs measured, ~20 ms for a 32 MiB arena). The caller must know
   * that no thread still reads the table (its flush has finished, no cursor holds it): the
   * entries are overwritten in place. The same writes then give the same shape as in a
   * fresh table.
   */
  reset(): void {
    assert(this.sealedFlag && this.owned, "only a sealed table made by this thread is reset");
    const nodes = this.nodes;
    for (let l = 0; l < MAX_HEIGHT; l++) nodes[HEAD + N_NEXT + l] = 0;
    nodes[HEAD + N_HEIGHT] = MAX_HEIGHT;
    this.arenaUsed = 0;
    this.nodesUsed = HEAD + N_NEXT + MAX_HEIGHT;
    this.entryCount = 0;
    this.partitionCount = 0;
    this.seq = 0;
    this.rnd = RND_SEED;
    this.level = 1;
    this.prev.fill(0);
    this.hints?.fill(HEAD);
    this.sealedFlag = false;
    this.publishMeta();
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
    return prefixHash(this.arena, k, this.hintBytes < keyLen ? this.hintBytes : keyLen) & (HINT_SLOTS - 1);
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

  /**
   * An iterator in key order for a flush that splits tables at `partitionBytes`: when every
   * partition's keys were inserted in increasing order (the event store's case), the order
   * is found by two sequential passes over the nodes (`insertionOrder`), and the entries are
   * then read without following the list, whose each step is a cache miss that waits for
   * the one before (a sealed table is tens of MiB, written by another thread). Otherwise
   * the list's own iterator. Either gives the same entries in the same order.
   */
  flushIterator(partitionBytes: number, plan: PartitionPlan | null = partitionBytes > 0 ? this.partitionPlan(partitionBytes) : null): EntryIterator {
    return plan === null ? this.iterator() : new OrderedEntryIterator(this, this.orderOf(plan));
  }

  /**
   * Each entry's key offset, key length, value offset and value length (four words an
   * entry) in key order, or null unless each run of keys sharing their first
   * `partitionBytes` bytes (a partition: a key shorter than that is its own) was inserted
   * in strictly increasing order. Partitions are contiguous in key order, so key order is
   * the partitions by their first key, each in insertion order. Nodes sit in the node
   * array in insertion order; the passes read it and the keys' prefixes front to back.
   */
  insertionOrder(partitionBytes: number): Int32Array | null {
    const plan = this.partitionPlan(partitionBytes);
    return plan === null ? null : this.orderOf(plan);
  }

  /** Each entry's four words in key order, from a plan `partitionPlan` made of this table. */
  private orderOf(plan: PartitionPlan): Int32Array {
    const { nodeAt, rankOf, sizes } = plan;
    const nodes = this.nodes;
    const count = nodeAt.length;
    const start = new Int32Array(sizes.length);
    for (let q = 1; q < sizes.length; q++) start[q] = start[q - 1]! + sizes[q - 1]!;
    // Each entry's four words (key offset and length, value offset and length) in key order.
    const order = new Int32Array(count * 4);
    for (let i = 0; i < count; i++) {
      const n = nodeAt[i]!;
      const j = start[rankOf[i]!]!++ * 4;
      order[j] = nodes[n + N_KEY_OFF]!;
      order[j + 1] = nodes[n + N_KEY_LEN]!;
      order[j + 2] = nodes[n + N_VAL_OFF]!;
      order[j + 3] = nodes[n + N_VAL_LEN]!;
    }
    return order;
  }

  /**
   * The table's partitions (runs of keys sharing their first `partitionBytes` bytes; a key
   * shorter than that is its own), ranked by their first key, with each entry's node and
   * partition rank in insertion order; or null unless each partition's keys were inserted
   * in strictly increasing order (then a partition's entries in insertion order are its
   * entries in key order). One pass over the nodes and the keys' prefixes, front to back.
   */
  partitionPlan(partitionBytes: number): PartitionPlan | null {
    const nodes = this.nodes;
    const arena = this.arena;
    const adv = this.adv;
    const count = this.entryCount;
    const nodeAt = new Int32Array(count);
    const partOf = new Int32Array(count);
    // Partitions: an open-addressing table of their first nodes (a partition's key is its
    // first node's prefix), and per partition its entry count and last node.
    let slots = new Int32Array(64).fill(-1);
    const first: number[] = [];
    const sizes: number[] = [];
    const lastNode: number[] = [];
    let n = HEAD + N_NEXT + MAX_HEIGHT;
    for (let i = 0; i < count; i++) {
      nodeAt[i] = n;
      const ko = nodes[n + N_KEY_OFF]!;
      const kl = nodes[n + N_KEY_LEN]!;
      const pl = kl < partitionBytes ? kl : partitionBytes;
      const mask = slots.length - 1;
      let s = prefixHash(arena, ko, pl) & mask;
      let part = -1;
      for (;;) {
        const q = slots[s]!;
        if (q < 0) break;
        const f = first[q]!;
        const fo = nodes[f + N_KEY_OFF]!;
        const fl = nodes[f + N_KEY_LEN]!;
        if ((fl < partitionBytes ? fl : partitionBytes) === pl && samePrefixBytes(arena, fo, ko, pl)) {
          part = q;
          break;
        }
        s = (s + 1) & mask;
      }
      if (part < 0) {
        part = first.length;
        first.push(n);
        sizes.push(0);
        lastNode.push(0);
        if (first.length * 2 > slots.length) slots = rehashPartitions(slots.length * 2, first, nodes, arena, partitionBytes);
        else slots[s] = part;
      } else {
        const p = lastNode[part]!;
        if (compareViews(adv, nodes[p + N_KEY_OFF]!, nodes[p + N_KEY_LEN]!, adv, ko, kl) >= 0) return null;
      }
      lastNode[part] = n;
      sizes[part]!++;
      partOf[i] = part;
      n += N_NEXT + nodes[n + N_HEIGHT]!;
    }
    // Partitions by their first (smallest) key.
    const byKey = first.map((_, q) => q).sort((x, y) => {
      const a = first[x]!;
      const b = first[y]!;
      return compareViews(adv, nodes[a + N_KEY_OFF]!, nodes[a + N_KEY_LEN]!, adv, nodes[b + N_KEY_OFF]!, nodes[b + N_KEY_LEN]!);
    });
    const rank = new Int32Array(first.length);
    const rankedSizes = new Int32Array(first.length);
    for (const [r, q] of byKey.entries()) {
      rank[q] = r;
      rankedSizes[r] = sizes[q]!;
    }
    for (let i = 0; i < count; i++) partOf[i] = rank[partOf[i]!]!;
    return { nodeAt, rankOf: partOf, sizes: rankedSizes };
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

/** A hash of the `len` bytes at `at` and of `len` (a short key's partition is itself). */
function prefixHash(arena: Uint8Array, at: number, len: number): number {
  let h = 0x811c9dc5 ^ len;
  for (let b = 0; b < len; b++) h = Math.imul(h ^ arena[at + b]!, 0x01000193);
  return h ^ (h >>> 16);
}

function samePrefixBytes(arena: Uint8Array, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (arena[a + i] !== arena[b + i]) return false;
  return true;
}

/** A partition table of `size` slots (a power of two) holding partitions 0 .. first.length - 1. */
function rehashPartitions(size: number, first: number[], nodes: Int32Array, arena: Uint8Array, partitionBytes: number): Int32Array<ArrayBuffer> {
  const slots = new Int32Array(size).fill(-1);
  const mask = size - 1;
  for (let q = 0; q < first.length; q++) {
    const f = first[q]!;
    const ko = nodes[f + N_KEY_OFF]!;
    const kl = nodes[f + N_KEY_LEN]!;
    let s = prefixHash(arena, ko, kl < partitionBytes ? kl : partitionBytes) & mask;
    while (slots[s]! >= 0) s = (s + 1) & mask;
    slots[s] = q;
  }
  return slots;
}

/** Entries whose arena lines `OrderedEntryIterator` touches together, one batch ahead. */
const TOUCH_BATCH = 16;

/** The entries of a sealed table as `insertionOrder` lists them. */
class OrderedEntryIterator implements EntryIterator {
  valid = false;
  buf: Uint8Array;
  keyOff = 0;
  keyLen = 0;
  valOff = 0;
  valLen = 0;
  private i = 0;
  private readonly count: number;
  /** What the touches read; never used. */
  private touched = 0;

  constructor(table: MemTable, private readonly order: Int32Array) {
    this.buf = table.arena;
    this.count = order.length >> 2;
  }

  seekFirst(): void {
    this.touch(0);
    this.at(0);
  }

  seek(key: Uint8Array): void {
    // The first entry with a key >= `key`: a binary search of the order.
    const o = this.order;
    const kv = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const adv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareViews(adv, o[mid * 4]!, o[mid * 4 + 1]!, kv, 0, key.length) < 0) lo = mid + 1;
      else hi = mid;
    }
    this.touch(lo);
    this.at(lo);
  }

  next(): void {
    if (!this.valid) return;
    const i = this.i + 1;
    if (i % TOUCH_BATCH === 0) this.touch(i + TOUCH_BATCH);
    this.at(i);
  }

  /**
   * Reads one byte of each 64-byte line of the next TOUCH_BATCH entries from `from`: the
   * loads are independent, so their cache misses overlap (a software prefetch), where the
   * copies would take them one entry after another.
   */
  private touch(from: number): void {
    const o = this.order;
    const a = this.buf;
    const end = Math.min(this.count, from + TOUCH_BATCH);
    let t = this.touched;
    for (let j = from; j < end; j++) {
      const k = o[j * 4]!;
      const e = o[j * 4 + 2]! + (o[j * 4 + 3]! > 0 ? o[j * 4 + 3]! : 0);
      for (let x = k; x < e; x += 64) t ^= a[x]!;
      t ^= a[e - 1]!;
    }
    this.touched = t;
  }

  private at(i: number): void {
    this.i = i;
    if (i >= this.count) {
      this.valid = false;
      return;
    }
    const o = this.order;
    this.keyOff = o[i * 4]!;
    this.keyLen = o[i * 4 + 1]!;
    this.valOff = o[i * 4 + 2]!;
    this.valLen = o[i * 4 + 3]!;
    this.valid = true;
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
