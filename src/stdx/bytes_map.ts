/**
 * A hash map from (tag, byte string) to a 32-bit value, in typed arrays: no object per key,
 * no allocation per lookup. Used for account ids and client order ids, whose bytes are read
 * in place from command records (through a DataView, four bytes at a time).
 *
 * Laid out for few cache misses per lookup, because the order-id map holds a whole trading
 * day of ids and lookups miss the cache:
 *
 *   slots    Int32Array, 2 per slot: [hash, entry + 1]   open addressing, linear probing;
 *                                                        0 marks an empty slot; a probe
 *                                                        compares hashes in one line
 *   records  64 KiB chunks of records, appended:         a key's fields and bytes together
 *            [value: i32, tag: i32, key length: u8, key bytes], padded to 4 bytes
 *
 * An entry is the position of its record (chunk and 4-byte word), stable until `retain`.
 * A hit costs about two cache lines (slot, record); a miss usually one.
 *
 * Growth never stops the caller for long. Records go into a new chunk when the last one is
 * full, so they are never copied. Slots double at three-quarters load (LOAD_MAX_NUM), but
 * incrementally: the new slots take every insert, and each insert also moves a few of the
 * old slots across, in order, until none are left; meanwhile a lookup that misses in the
 * new slots also probes the old ones, unless its key's old home lies in the part already
 * moved. So the pause of a stop-the-world rehash is spread over many inserts (see
 * MIGRATE_STEP). The next doubling's slots are allocated as soon as the last doubling's
 * move is done (the map is then just past 3/8 load; the slots double at 3/4) and written
 * one 4 KiB page every PREFAULT_EVERY inserts, so their page faults are spread over those
 * inserts rather than met all at once when the move starts: its first few thousand inserts touch nearly every page of the new slots
 * (each moves 16 keys to random homes), and on a 2-core KVM guest under load that cost a
 * 25-70 ms stop of the engine loop at 0.5M ids (~8,000 faults). The price: between
 * doublings the map holds those slots too (twice its own slots' memory, zero until written).
 * Allocation happens only while the map grows, never in steady state; the memory a map
 * is constructed with is touched at once (so that page faults happen then, not during the
 * first lookups). `maxEntries` bounds it. There is no single-key removal: an owner that
 * forgets keys rebuilds the map from the keys it keeps (`retain`).
 *
 * The hash is `hashKey` (stdx/hash.ts) with the seed given to the constructor, kept with the
 * owner's state (the engine's `idSeed`, in its snapshots), so the same seed and keys give the
 * same map in every run, as the engine's replay needs.
 */

import { assert } from "./assert.ts";
import { HASH_SEED, hashKey } from "./hash.ts";

/** Records are addressed in 4-byte words; a chunk holds 2^14 words (64 KiB). */
const CHUNK_SHIFT = 14;
const CHUNK_WORDS = 1 << CHUNK_SHIFT;
const CHUNK_BYTES = CHUNK_WORDS * 4;
const WORD_MASK = CHUNK_WORDS - 1;
/** Entries must stay below 2^31 (slots hold entry + 1 in an int32). */
const MAX_CHUNKS = (1 << (31 - CHUNK_SHIFT)) - 1;
/** Record fields: words 0 and 1, then bytes from 8. */
const R_VALUE = 0;
const R_TAG = 1;
const R_LENGTH = 8;
const R_KEY = 9;
const MAX_KEY = 255;
/** Bytes a record of a short key takes; turns `initialEntries` into chunks. */
const TYPICAL_RECORD = 16;
/**
 * Slots double when an insert would fill more than LOAD_MAX_NUM / LOAD_MAX_DEN of them.
 * Three quarters, not half: a day of order ids then takes half the slots' memory (8 MiB
 * rather than 16 at 600k ids), and a table half the size misses the cache less; the longer
 * probe runs stay mostly within the one 64-byte line (8 slots) a probe reads first. Measured
 * (`docs/BENCHMARKS.md`, matching): 2–6% less time a command.
 */
const LOAD_MAX_NUM = 3;
const LOAD_MAX_DEN = 4;
/**
 * Old slots moved per insert while the slots double. The move starts at 3/4 load (3S/4
 * keys in S old slots) and must end before the 2S new slots reach 3/4 load (3S/2 keys), so
 * it needs at least 4/3 per insert. Measured (1.1M keys, 2-core KVM guest, where a fresh page
 * faults in at ~2 µs): an insert during the move costs ~0.35 µs more with 8, ~0.6 µs with
 * 16, ~0.8 µs with 32, ~2.6 µs with 128; the more per insert, the fewer inserts during
 * which a missing key is looked up in both slot arrays. With 16 the move ends after S/16
 * inserts; the slowest insert (the one that starts a doubling) takes 0.3–0.7 ms instead
 * of the 16 ms (0.5M keys) to 34 ms (1M keys) of a stop-the-world rehash.
 */
const MIGRATE_STEP = 16;
/**
 * Inserts per page of the next slots written ahead. The next slots (2S slots of 8 bytes:
 * S/256 pages) are made at 3/8 load, when 3S/8 inserts remain before the doubling, so one
 * page every 32 inserts (S/8 inserts) is done with two thirds of the time to spare.
 */
const PREFAULT_EVERY = 32;
/** Int32 words per 4 KiB page. */
const PAGE_WORDS = 1024;

export class BytesMap {
  private slots: Int32Array;
  private mask: number;
  /** While the slots double: the old slots and how many of them have moved; otherwise null. */
  private old: Int32Array | null = null;
  private oldMask = 0;
  private moved = 0;
  private readonly chunkWords: Int32Array[] = [];
  private readonly chunkBytes: Uint8Array[] = [];
  private readonly chunkViews: DataView[] = [];
  /** Bytes used in each chunk; a record never straddles two. */
  private readonly chunkUsed: number[] = [];
  /** The chunk records are appended to. */
  private chunk = 0;
  size = 0;
  /** The hash computed by the last `find`, so that an insert after a miss need not hash again. */
  lastHash = 0;
  /**
   * The next doubling's slots, being faulted in ahead, and the words of them written so far.
   * Private fields: not state (a snapshot neither holds nor restores them; a restored map
   * makes its own), and no result depends on them.
   */
  #next: Int32Array | null = null;
  #nextTouched = 0;

  constructor(initialEntries = 1024, readonly maxEntries = 1 << 24, readonly seed = HASH_SEED) {
    const entries = Math.max(16, Math.min(initialEntries, maxEntries));
    // Slots for `entries` keys below the doubling load; 2 ints per slot; fill: fault pages in now.
    const slotCount = nextPow2(Math.ceil((entries * LOAD_MAX_DEN) / LOAD_MAX_NUM));
    this.slots = new Int32Array(slotCount * 2).fill(0);
    this.mask = slotCount - 1;
    const chunks = Math.ceil((nextPow2(entries) * TYPICAL_RECORD) / CHUNK_BYTES);
    for (let c = 0; c < chunks; c++) this.addChunk().fill(0);
  }

  /**
   * The longest run of occupied slots: the most slots a lookup may read (of the current
   * slots; while they double, the old ones too). For tests and tools: it reads every slot.
   */
  longestRun(): number {
    const slots = this.slots;
    const count = this.mask + 1;
    // Start just after an empty slot, so that a run across the end is counted whole.
    let start = 0;
    while (start < count && slots[2 * start + 1] !== 0) start++;
    if (start === count) return count;
    let longest = 0;
    let run = 0;
    for (let i = 1; i <= count; i++) {
      if (slots[2 * ((start + i) & this.mask) + 1] !== 0) longest = Math.max(longest, ++run);
      else run = 0;
    }
    return longest;
  }

  get full(): boolean {
    return this.size >= this.maxEntries;
  }

  hash(tag: number, src: DataView, offset: number, length: number): number {
    return hashKey(this.seed, tag, src, offset, length);
  }

  /** The entry of the key, or -1. */
  find(tag: number, src: DataView, offset: number, length: number): number {
    const h = this.hash(tag, src, offset, length);
    this.lastHash = h;
    const e = this.probe(this.slots, this.mask, h, tag, src, offset, length);
    // While the slots double, a key whose old home is below `moved` is in the new slots (see `migrate`).
    if (e >= 0 || this.old === null || (h & this.oldMask) < this.moved) return e;
    return this.probe(this.old, this.oldMask, h, tag, src, offset, length);
  }

  /**
   * Adds a key that is not present (callers `find` first) and returns its entry.
   * `h` is the key's hash: pass `lastHash` when a `find` of this very key just missed.
   */
  insert(tag: number, src: DataView, offset: number, length: number, value: number, h = this.hash(tag, src, offset, length)): number {
    assert(length <= MAX_KEY, "key longer than 255 bytes");
    assert(!this.full, "bytes map full");
    const slotCount = this.mask + 1;
    if ((this.size + 1) * LOAD_MAX_DEN > slotCount * LOAD_MAX_NUM) this.startDoubling();
    else if ((this.size + 1) * 2 * LOAD_MAX_DEN > slotCount * LOAD_MAX_NUM && this.old === null && this.maxEntries * LOAD_MAX_DEN > slotCount * LOAD_MAX_NUM) this.prefaultNext();
    const e = this.append(tag, src, offset, length, value);
    this.place(this.slots, this.mask, e, h);
    this.size++;
    if (this.old !== null) this.migrate();
    return e;
  }

  value(entry: number): number {
    return this.chunkWords[entry >>> CHUNK_SHIFT]![(entry & WORD_MASK) + R_VALUE]!;
  }

  setValue(entry: number, value: number): void {
    this.chunkWords[entry >>> CHUNK_SHIFT]![(entry & WORD_MASK) + R_VALUE] = value;
  }

  tag(entry: number): number {
    return this.chunkWords[entry >>> CHUNK_SHIFT]![(entry & WORD_MASK) + R_TAG]!;
  }

  /** The key bytes of an entry (a view into its chunk; copy before `retain`). For tests and tools. */
  keyBytes(entry: number): Uint8Array {
    const at = (entry & WORD_MASK) * 4;
    const bytes = this.chunkBytes[entry >>> CHUNK_SHIFT]!;
    return bytes.subarray(at + R_KEY, at + R_KEY + bytes[at + R_LENGTH]!);
  }

  /**
   * Keeps only the entries for which `keep(value)` is true, compacting the records in
   * order. Entry indexes change: `moved(value, newEntry)` is called for each kept entry.
   * Not for hot paths (it is the day-roll of order ids): it rebuilds the slots at once.
   */
  retain(keep: (value: number) => boolean, moved: (value: number, entry: number) => void): void {
    this.old = null; // the slots are rebuilt from the records below
    this.moved = 0;
    this.slots.fill(0);
    let wc = 0;
    let wAt = 0;
    let kept = 0;
    for (let rc = 0; rc <= this.chunk; rc++) {
      const used = this.chunkUsed[rc]!;
      const view = this.chunkViews[rc]!;
      for (let at = 0; at < used; ) {
        const length = view.getUint8(at + R_LENGTH);
        const bytes = recordBytes(length);
        const v = view.getInt32(at + R_VALUE * 4, true);
        if (keep(v)) {
          if (wAt + bytes > CHUNK_BYTES) {
            this.chunkUsed[wc] = wAt;
            wc++;
            wAt = 0;
          }
          // The write position never passes the read position: same chunk and not later, or an earlier chunk.
          if (wc === rc) this.chunkBytes[rc]!.copyWithin(wAt, at, at + bytes);
          else this.chunkBytes[wc]!.set(this.chunkBytes[rc]!.subarray(at, at + bytes), wAt);
          const e = (wc << CHUNK_SHIFT) | (wAt >> 2);
          const h = this.hash(this.tag(e), this.chunkViews[wc]!, wAt + R_KEY, length);
          this.place(this.slots, this.mask, e, h);
          moved(v, e);
          wAt += bytes;
          kept++;
        }
        at += bytes;
      }
    }
    this.chunkUsed[wc] = wAt;
    for (let c = wc + 1; c <= this.chunk; c++) this.chunkUsed[c] = 0;
    this.chunk = wc;
    this.size = kept;
  }

  private probe(slots: Int32Array, mask: number, h: number, tag: number, src: DataView, offset: number, length: number): number {
    let s = h & mask;
    for (;;) {
      const v = slots[2 * s + 1]!;
      if (v === 0) return -1;
      if (slots[2 * s] === h && this.sameKey(v - 1, tag, src, offset, length)) return v - 1;
      s = (s + 1) & mask;
    }
  }

  private sameKey(e: number, tag: number, src: DataView, offset: number, length: number): boolean {
    const c = e >>> CHUNK_SHIFT;
    const w = e & WORD_MASK;
    if (this.chunkWords[c]![w + R_TAG] !== tag) return false;
    const view = this.chunkViews[c]!;
    const at = w * 4;
    if (view.getUint8(at + R_LENGTH) !== length) return false;
    const key = at + R_KEY;
    const words = length & ~3;
    let i = 0;
    for (; i < words; i += 4) if (view.getInt32(key + i, true) !== src.getInt32(offset + i, true)) return false;
    for (; i < length; i++) if (view.getUint8(key + i) !== src.getUint8(offset + i)) return false;
    return true;
  }

  /** Appends a record (in a new chunk if the current one cannot hold it) and returns its entry. */
  private append(tag: number, src: DataView, offset: number, length: number, value: number): number {
    const bytes = recordBytes(length);
    let c = this.chunk;
    if (this.chunkUsed[c]! + bytes > CHUNK_BYTES) {
      c = ++this.chunk;
      if (c === this.chunkWords.length) this.addChunk();
    }
    const at = this.chunkUsed[c]!;
    this.chunkUsed[c] = at + bytes;
    const words = this.chunkWords[c]!;
    words[(at >> 2) + R_VALUE] = value;
    words[(at >> 2) + R_TAG] = tag;
    const view = this.chunkViews[c]!;
    view.setUint8(at + R_LENGTH, length);
    const key = at + R_KEY;
    const whole = length & ~3;
    let i = 0;
    for (; i < whole; i += 4) view.setInt32(key + i, src.getInt32(offset + i, true), true);
    for (; i < length; i++) view.setUint8(key + i, src.getUint8(offset + i));
    return (c << CHUNK_SHIFT) | (at >> 2);
  }

  private addChunk(): Int32Array {
    assert(this.chunkWords.length < MAX_CHUNKS, "bytes map records past 8 GiB");
    const buffer = new ArrayBuffer(CHUNK_BYTES);
    const words = new Int32Array(buffer);
    this.chunkWords.push(words);
    this.chunkBytes.push(new Uint8Array(buffer));
    this.chunkViews.push(new DataView(buffer));
    this.chunkUsed.push(0);
    return words;
  }

  private place(slots: Int32Array, mask: number, e: number, h: number): void {
    let s = h & mask;
    while (slots[2 * s + 1] !== 0) s = (s + 1) & mask;
    slots[2 * s] = h;
    slots[2 * s + 1] = e + 1;
  }

  /** Starts doubling the slots: new, empty slots take the inserts; `migrate` moves the old ones. */
  private startDoubling(): void {
    assert(this.old === null, "slots reached the doubling load again before the last doubling ended");
    this.old = this.slots;
    this.oldMask = this.mask;
    this.moved = 0;
    const next = this.#next;
    // Zeroed (empty) pages; those not written ahead are faulted in as they are used.
    this.slots = next !== null && next.length === this.old.length * 2 ? next : new Int32Array(this.old.length * 2);
    this.#next = null;
    this.mask = this.old.length - 1; // old.length / 2 slots before, twice that now
  }

  /**
   * Between 3/8 and 3/4 load, when `maxEntries` lets the map reach 3/4 load (and so
   * double): makes the next doubling's slots and writes one more page of them every
   * PREFAULT_EVERY inserts.
   */
  private prefaultNext(): void {
    let next = this.#next;
    if (next === null || next.length !== this.slots.length * 2) {
      next = this.#next = new Int32Array(this.slots.length * 2);
      this.#nextTouched = 0;
    }
    if (this.size % PREFAULT_EVERY !== 0 || this.#nextTouched >= next.length) return;
    next[this.#nextTouched] = 0;
    this.#nextTouched += PAGE_WORDS;
  }

  /**
   * Moves at least MIGRATE_STEP old slots into the new ones, and goes on to just past an
   * empty slot: so no probe run straddles the boundary, and a key whose old home is below
   * it has moved (`find` relies on that).
   */
  private migrate(): void {
    const old = this.old!;
    const count = old.length >> 1;
    let s = this.moved;
    let n = 0;
    while (s < count && (n < MIGRATE_STEP || old[2 * s - 1] !== 0)) {
      const v = old[2 * s + 1]!;
      if (v !== 0) this.place(this.slots, this.mask, v - 1, old[2 * s]!);
      s++;
      n++;
    }
    if (s < count) {
      this.moved = s;
    } else {
      this.old = null;
      this.moved = 0;
    }
  }
}

function recordBytes(keyLength: number): number {
  return (R_KEY + keyLength + 3) & ~3;
}

export function nextPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
