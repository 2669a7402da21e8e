/**
 * Reads one SSTable (layout: src/schema/sstable.ts) through a `TableSource`: a mapping of
 * the file (zero copy) or positioned reads. Opening checks the footer (magic, version,
 * checksum, the file's size) and the filter, index and properties blocks; each data
 * block's checksum is checked the first time the block is read. Any mismatch is a
 * `TableCorruptError` naming the file and the offset: a read never returns bytes that
 * failed a check.
 */

import { crc32 } from "node:zlib";
import {
  SF_CRC,
  SF_FILE_SIZE,
  SF_FILTER_LENGTH,
  SF_FILTER_OFFSET,
  SF_INDEX_LENGTH,
  SF_INDEX_OFFSET,
  SF_MAGIC,
  SF_PROPS_LENGTH,
  SF_PROPS_OFFSET,
  SF_VERSION,
  SST_BLOCK_TRAILER,
  SST_ENTRY_HEADER,
  SST_FOOTER_BYTES,
  SST_MAGIC,
  SST_TOMBSTONE,
  SST_VERSION,
  SST_KEY_MAX,
  compareBytes,
  comparePrefixWords,
  compareViews,
  filterHash,
  getU64,
  prefixWords,
} from "../schema/sstable.ts";
import { VenueError } from "../stdx/errors.ts";
import { copyOut } from "../stdx/copy.ts";
import { Filter } from "./bloom.ts";
import type { TableMeta } from "./table_writer.ts";

/** Read access to a file's bytes. The bytes a call returns stay valid until `close`. */
export interface TableSource {
  readonly size: number;
  /** Views of a mapping (stable until close), rather than copies: blocks can be kept. */
  readonly mapped?: boolean;
  bytes(offset: number, length: number): Uint8Array;
  close(): void;
}

export class TableCorruptError extends VenueError {
  override readonly name = "TableCorruptError";
  constructor(readonly path: string, readonly offset: number, what: string) {
    super("SST_CORRUPT", `SSTable ${path} is damaged at offset ${offset}: ${what}. The file cannot be trusted; restore it from a copy or remove it from the store's manifest with the node stopped.`);
  }
}

/** A shared marker: the key was deleted (as opposed to `undefined`, never written here). */
export const DELETED: Uint8Array = new Uint8Array(0);

/** A cursor over sorted entries; the views stay valid until the next move. */
export interface EntryIterator {
  valid: boolean;
  buf: Uint8Array;
  keyOff: number;
  keyLen: number;
  valOff: number;
  /** -1 for a deletion. */
  valLen: number;
  /** Positions at the first entry with a key >= `key`. */
  seek(key: Uint8Array): void;
  seekFirst(): void;
  next(): void;
}

interface Block {
  buf: Uint8Array;
  /** Offset of the entry-offset table and the entry count. */
  table: number;
  count: number;
  dv: DataView;
}

/** Blocks per fence (`TableReader.fenceWords`): 16 entries of 16 bytes, four cache lines. */
const FENCE_STRIDE = 16;

/** The block whose last key fence `f` holds, in a table of `n` blocks. */
function fenceBlock(f: number, n: number): number {
  return Math.min(FENCE_STRIDE * f + FENCE_STRIDE - 1, n - 1);
}

const SLOT_MULTIPLIER = 0x9e3779b1;
/** Blocks longer than a slot's 16-bit entry offset can reach are searched (no index). */
const SLOT_BLOCK_BYTES_MAX = 0xffff;
/** Block states for point reads over a mapping (`TableReader.slotState`). */
const SLOTS_UNREAD = 0;
const SLOTS_INDEXED = 1;
const SLOTS_NONE = 2;

export class TableReader {
  readonly meta: TableMeta;
  readonly blockCount: number;
  private readonly filter: Filter;
  private readonly blockOffsets: Float64Array;
  private readonly blockLengths: Uint32Array;
  private readonly lastKeys: Uint8Array;
  private readonly lastKeysDv: DataView;
  private readonly lastKeyOffsets: Uint32Array;
  private readonly lastKeyLengths: Uint16Array;
  /** The first 16 bytes of each block's last key as four big-endian words, zero-padded (see `findBlock`). */
  private readonly lastKeyWords: Uint32Array;
  /**
   * The same words of every FENCE_STRIDE-th block's last key (blocks FENCE_STRIDE - 1,
   * 2 * FENCE_STRIDE - 1, ..., and the last block): a small array that stays in cache, which
   * `findBlock` searches first, so that its search of `lastKeyWords` stays within a few
   * adjacent cache lines.
   */
  private readonly fenceWords: Uint32Array;
  private readonly verified: Uint8Array;
  private cached: Block | undefined;
  private cachedIndex = -1;
  /** Over a mapping, every block once read (views, no copies); over pread, only the last. */
  private readonly blocks: (Block | undefined)[] | undefined;
  /**
   * Point reads over a mapping: the whole file as one view, and a hash index of each block's
   * keys in one array, `slotsPerBlock` 32-bit slots a block (see `indexBlock`), made when the
   * block is first read and checked. A point read then goes from the block number to its
   * entry through these dense arrays and the mapped bytes, without the block's objects.
   */
  private readonly file: Uint8Array | undefined;
  private readonly fileDv: DataView | undefined;
  private slots: Uint32Array | undefined;
  private readonly slotsPerBlock: number;
  private readonly slotShift: number;
  /** Per block: SLOTS_UNREAD, SLOTS_INDEXED or SLOTS_NONE (more entries than its slots can index, or too long: searched). */
  private readonly slotState: Uint8Array;
  private closed = false;
  /** For an owner that caches readers: when it last read this one, in its own count. */
  lastUse = 0;

  /** Checks and opens a table; on failure the source is closed and the error thrown. */
  static open(path: string, source: TableSource): TableReader {
    try {
      return new TableReader(path, source);
    } catch (e) {
      source.close();
      throw e;
    }
  }

  private constructor(readonly path: string, readonly source: TableSource) {
    const size = source.size;
    if (size < SST_FOOTER_BYTES) throw new TableCorruptError(path, 0, `${size} bytes is shorter than a footer`);
    const f = source.bytes(size - SST_FOOTER_BYTES, SST_FOOTER_BYTES);
    const fv = new DataView(f.buffer, f.byteOffset, f.byteLength);
    const at = size - SST_FOOTER_BYTES;
    if (fv.getUint32(SF_MAGIC, true) !== SST_MAGIC) throw new TableCorruptError(path, at + SF_MAGIC, "not an SSTable (wrong magic)");
    if (crc32(f.subarray(0, SF_CRC)) !== fv.getUint32(SF_CRC, true)) throw new TableCorruptError(path, at, "footer checksum mismatch");
    const version = fv.getUint32(SF_VERSION, true);
    if (version !== SST_VERSION) throw new TableCorruptError(path, at, `format version ${version}, this build reads ${SST_VERSION}`);
    const claimed = getU64(fv, SF_FILE_SIZE);
    if (claimed !== size) throw new TableCorruptError(path, at, `the footer says ${claimed} bytes, the file has ${size}`);
    const filterPayload = this.metaBlock(getU64(fv, SF_FILTER_OFFSET), fv.getUint32(SF_FILTER_LENGTH, true), "filter");
    const index = this.metaBlock(getU64(fv, SF_INDEX_OFFSET), fv.getUint32(SF_INDEX_LENGTH, true), "index");
    const props = this.metaBlock(getU64(fv, SF_PROPS_OFFSET), fv.getUint32(SF_PROPS_LENGTH, true), "properties");
    this.filter = new Filter(filterPayload);
    if (!this.filter.valid) throw new TableCorruptError(path, getU64(fv, SF_FILTER_OFFSET), "malformed filter block");

    const iv = new DataView(index.buffer, index.byteOffset, index.byteLength);
    const n = index.length >= 4 ? iv.getUint32(0, true) : 0;
    const indexAt = getU64(fv, SF_INDEX_OFFSET);
    if (n === 0 || n > index.length / 14) throw new TableCorruptError(path, indexAt, `index block claims ${n} data blocks`);
    this.blockCount = n;
    this.blockOffsets = new Float64Array(n);
    this.blockLengths = new Uint32Array(n);
    this.lastKeyOffsets = new Uint32Array(n);
    this.lastKeyLengths = new Uint16Array(n);
    this.lastKeyWords = new Uint32Array(4 * n);
    this.fenceWords = new Uint32Array(4 * Math.ceil(n / FENCE_STRIDE));
    this.verified = new Uint8Array(n);
    this.blocks = source.mapped === true ? new Array<Block | undefined>(n) : undefined;
    this.lastKeys = index;
    this.lastKeysDv = new DataView(index.buffer, index.byteOffset, index.byteLength);
    const dataEnd = getU64(fv, SF_FILTER_OFFSET);
    let p = 4;
    let expect = 0;
    for (let i = 0; i < n; i++) {
      if (p + 14 > index.length) throw new TableCorruptError(path, indexAt + p, "index block ends inside an entry");
      const off = getU64(iv, p);
      const len = iv.getUint32(p + 8, true);
      const klen = iv.getUint16(p + 12, true);
      if (off !== expect || off + len + SST_BLOCK_TRAILER > dataEnd || len < 4 || p + 14 + klen > index.length) {
        throw new TableCorruptError(path, indexAt + p, `index entry ${i} points outside the data blocks`);
      }
      this.blockOffsets[i] = off;
      this.blockLengths[i] = len;
      this.lastKeyOffsets[i] = p + 14;
      this.lastKeyLengths[i] = klen;
      prefixWords(index, p + 14, klen, this.lastKeyWords, 4 * i);
      if (i > 0 && compareBytes(index, this.lastKeyOffsets[i - 1]!, this.lastKeyLengths[i - 1]!, index, p + 14, klen) >= 0) {
        throw new TableCorruptError(path, indexAt + p, "index keys out of order");
      }
      expect = off + len + SST_BLOCK_TRAILER;
      p += 14 + klen;
    }
    if (expect !== dataEnd) throw new TableCorruptError(path, indexAt, "data blocks and index disagree on the data length");
    for (let f = 0; f < this.fenceWords.length / 4; f++) this.fenceWords.set(this.lastKeyWords.subarray(4 * fenceBlock(f, n), 4 * fenceBlock(f, n) + 4), 4 * f);
    this.meta = { ...parseProps(path, getU64(fv, SF_PROPS_OFFSET), props, n), fileSize: size };
    // Slots for about 1.5 times a block's average entry count, twice over (a probe sequence
    // stays short and always meets an empty slot); a fuller block is searched instead.
    let bits = 3;
    while (1 << bits < 3 * Math.ceil(this.meta.entries / n) && bits < 9) bits++;
    this.slotsPerBlock = 1 << bits;
    this.slotShift = 32 - bits;
    this.slotState = new Uint8Array(n);
    this.file = source.mapped === true ? source.bytes(0, size) : undefined;
    this.fileDv = this.file === undefined ? undefined : new DataView(this.file.buffer, this.file.byteOffset, this.file.byteLength);
  }

  /** Whether the filter admits `key` (false: certainly absent). */
  mayContain(key: Uint8Array): boolean {
    return this.filter.mayContain(key, 0, key.length);
  }

  /**
   * The value of `key` (a view of the table's bytes, or a copy when `copy`: one allocation,
   * not a view and then its copy), `DELETED`, or undefined when the table does not hold the key.
   */
  get(key: Uint8Array, hash = filterHash(key, 0, key.length), copy = false): Uint8Array | undefined {
    if (!this.filter.mayContainHash(hash)) return undefined;
    const klen = loadKey(key);
    const b = this.findBlock(klen);
    if (b < 0) return undefined;
    if (this.fileDv !== undefined && !this.closed) {
      if (this.slotState[b] === SLOTS_UNREAD) this.indexBlock(b);
      if (this.slotState[b] === SLOTS_INDEXED) return this.probe(b, hash, klen, copy);
    }
    const block = this.block(b);
    const dv = block.dv;
    const i = seekInBlock(block, klen);
    if (i >= block.count) return undefined;
    const off = dv.getUint32(block.table + 4 * i, true);
    if (compareViews(dv, off + SST_ENTRY_HEADER, dv.getUint16(off, true), KEY_DV, 0, klen) !== 0) return undefined;
    const vlen = dv.getUint32(off + 2, true);
    if (vlen === SST_TOMBSTONE) return DELETED;
    const v = off + SST_ENTRY_HEADER + dv.getUint16(off, true);
    return copy ? copyOut(block.buf, v, v + vlen) : block.buf.subarray(v, v + vlen);
  }

  /**
   * Gives block `b` its hash index (reading and checking the block first): open addressing
   * with linear probing in its `slotsPerBlock` slots, each 0 (empty) or the entry's offset in
   * the block + 1 in the low 16 bits and 16 bits of its key's `filterHash` in the high ones,
   * so that a probe goes straight to the entry, and most probes of other keys are told apart
   * without reading it. A block with more than half as many entries as slots, or longer than
   * 64 KiB, is left to the search.
   */
  private indexBlock(b: number): void {
    const block = this.block(b);
    if (2 * block.count > this.slotsPerBlock || block.table >= SLOT_BLOCK_BYTES_MAX) {
      this.slotState[b] = SLOTS_NONE;
      return;
    }
    const slots = (this.slots ??= new Uint32Array(this.blockCount * this.slotsPerBlock));
    const dv = block.dv;
    const mask = this.slotsPerBlock - 1;
    const base = b * this.slotsPerBlock;
    for (let e = 0; e < block.count; e++) {
      const off = dv.getUint32(block.table + 4 * e, true);
      const h = filterHash(block.buf, off + SST_ENTRY_HEADER, dv.getUint16(off, true));
      let s = Math.imul(h, SLOT_MULTIPLIER) >>> this.slotShift;
      while (slots[base + s] !== 0) s = (s + 1) & mask;
      slots[base + s] = ((h & 0xffff0000) | (off + 1)) >>> 0;
    }
    this.slotState[b] = SLOTS_INDEXED;
  }

  /** The point read of the loaded key (`loadKey`, `klen` bytes, `filterHash` `hash`) in indexed block `b` (as `get`). */
  private probe(b: number, hash: number, klen: number, copy: boolean): Uint8Array | undefined {
    const slots = this.slots!;
    const dv = this.fileDv!;
    const start = this.blockOffsets[b]!;
    const mask = this.slotsPerBlock - 1;
    const base = b * this.slotsPerBlock;
    const tag = (hash & 0xffff0000) >>> 0;
    for (let s = Math.imul(hash, SLOT_MULTIPLIER) >>> this.slotShift; ; s = (s + 1) & mask) {
      const v = slots[base + s]!;
      if (v === 0) return undefined;
      if (((v & 0xffff0000) >>> 0) !== tag) continue;
      const off = start + (v & 0xffff) - 1;
      const keyLen = dv.getUint16(off, true);
      if (compareViews(dv, off + SST_ENTRY_HEADER, keyLen, KEY_DV, 0, klen) !== 0) continue;
      const vlen = dv.getUint32(off + 2, true);
      if (vlen === SST_TOMBSTONE) return DELETED;
      const at = off + SST_ENTRY_HEADER + keyLen;
      return copy ? copyOut(this.file!, at, at + vlen) : this.file!.subarray(at, at + vlen);
    }
  }

  iterator(): EntryIterator {
    return new TableIterator(this);
  }

  /** True once `close` has run (an owner that caches readers opens the table again). */
  get isClosed(): boolean {
    return this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cached = undefined;
    this.blocks?.fill(undefined);
    this.slots = undefined;
    this.source.close();
  }

  /**
   * The first block whose last key is >= the loaded key (`loadKey`) of `klen` bytes, or -1.
   * Compares the first 16 bytes as words in one dense array (`lastKeyWords`), and the whole
   * keys only where those tie.
   */
  findBlock(klen: number): number {
    const n = this.blockCount;
    // The first fence whose block's last key is >= the key: the block is in its stretch.
    const fences = this.fenceWords;
    let lo = 0;
    let hi = fences.length >>> 2;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let c = comparePrefixWords(fences, 4 * mid, KEY_WORDS);
      if (c === 0) {
        const b = fenceBlock(mid, n);
        c = compareViews(this.lastKeysDv, this.lastKeyOffsets[b]!, this.lastKeyLengths[b]!, KEY_DV, 0, klen);
      }
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo === fences.length >>> 2) return -1;
    // Within the stretch: blocks FENCE_STRIDE * lo up to the fence's own.
    const words = this.lastKeyWords;
    hi = fenceBlock(lo, n);
    lo = FENCE_STRIDE * lo;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      let c = comparePrefixWords(words, 4 * mid, KEY_WORDS);
      if (c === 0) c = compareViews(this.lastKeysDv, this.lastKeyOffsets[mid]!, this.lastKeyLengths[mid]!, KEY_DV, 0, klen);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }


  block(i: number): Block {
    if (i === this.cachedIndex && this.cached !== undefined) return this.cached;
    const kept = this.blocks?.[i];
    if (kept !== undefined) return kept;
    if (this.closed) throw new VenueError("SST_CLOSED", `SSTable ${this.path} is closed`);
    const off = this.blockOffsets[i]!;
    const len = this.blockLengths[i]!;
    const raw = this.source.bytes(off, len + SST_BLOCK_TRAILER);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (this.verified[i] === 0) {
      if (crc32(raw.subarray(0, len)) !== dv.getUint32(len, true)) throw new TableCorruptError(this.path, off, `data block ${i} checksum mismatch`);
      const count = dv.getUint32(len - 4, true);
      if (count === 0 || 4 * count + 4 > len) throw new TableCorruptError(this.path, off, `data block ${i} claims ${count} entries`);
      const table = len - 4 - 4 * count;
      for (let e = 0; e < count; e++) {
        const eo = dv.getUint32(table + 4 * e, true);
        const klen = eo + SST_ENTRY_HEADER <= table ? dv.getUint16(eo, true) : 0;
        const vlen = eo + SST_ENTRY_HEADER <= table ? dv.getUint32(eo + 2, true) : 0;
        const end = eo + SST_ENTRY_HEADER + klen + (vlen === SST_TOMBSTONE ? 0 : vlen);
        if (eo + SST_ENTRY_HEADER > table || end > table) throw new TableCorruptError(this.path, off + eo, `data block ${i} entry ${e} runs past its block`);
      }
      this.verified[i] = 1;
    }
    const count = dv.getUint32(len - 4, true);
    const block: Block = { buf: raw, table: len - 4 - 4 * count, count, dv };
    this.cached = block;
    this.cachedIndex = i;
    if (this.blocks !== undefined) this.blocks[i] = block;
    return block;
  }

  private metaBlock(off: number, len: number, what: string): Uint8Array {
    const end = this.source.size - SST_FOOTER_BYTES;
    if (off + len + SST_BLOCK_TRAILER > end) throw new TableCorruptError(this.path, off, `the ${what} block runs past the footer`);
    const raw = this.source.bytes(off, len + SST_BLOCK_TRAILER);
    const dv = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    if (crc32(raw.subarray(0, len)) !== dv.getUint32(len, true)) throw new TableCorruptError(this.path, off, `${what} block checksum mismatch`);
    return raw.slice(0, len);
  }
}

/** The search key, copied once per search so that comparisons go through DataViews. */
const KEY = new Uint8Array(SST_KEY_MAX);
const KEY_DV = new DataView(KEY.buffer);

/** The first 16 bytes of the search key as big-endian words, zero-padded (see `findBlock`). */
const KEY_WORDS = new Uint32Array(4);

function loadKey(key: Uint8Array): number {
  KEY.set(key);
  prefixWords(key, 0, key.length, KEY_WORDS, 0);
  return key.length;
}

/** The first entry index in `block` whose key is >= the loaded key (count if none). */
function seekInBlock(block: Block, klen: number): number {
  let lo = 0;
  let hi = block.count;
  const dv = block.dv;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const off = dv.getUint32(block.table + 4 * mid, true);
    if (compareViews(dv, off + SST_ENTRY_HEADER, dv.getUint16(off, true), KEY_DV, 0, klen) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function parseProps(path: string, at: number, p: Uint8Array, blocks: number): TableMeta {
  const bad = (): never => {
    throw new TableCorruptError(path, at, "malformed properties block");
  };
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (p.length < 20 + 2) bad();
  const entries = getU64(dv, 0);
  const deletions = getU64(dv, 8);
  if (dv.getUint32(16, true) !== blocks) bad();
  let o = 20;
  const sl = dv.getUint16(o, true);
  if (o + 2 + sl + 2 > p.length) bad();
  const smallest = p.slice(o + 2, o + 2 + sl);
  o += 2 + sl;
  const ll = dv.getUint16(o, true);
  if (o + 2 + ll + 12 > p.length) bad();
  const largest = p.slice(o + 2, o + 2 + ll);
  o += 2 + ll;
  const maxSeq = getU64(dv, o);
  return { fileSize: 0, entries, deletions, smallest, largest, maxSeq };
}

class TableIterator implements EntryIterator {
  valid = false;
  buf: Uint8Array = DELETED;
  keyOff = 0;
  keyLen = 0;
  valOff = 0;
  valLen = 0;
  private blockIndex = -1;
  private entry = 0;
  private current: Block | undefined;

  constructor(private readonly table: TableReader) {}

  seekFirst(): void {
    this.load(0, 0);
  }

  seek(key: Uint8Array): void {
    const klen = loadKey(key);
    const b = this.table.findBlock(klen);
    if (b < 0) {
      this.valid = false;
      return;
    }
    const block = this.table.block(b);
    this.load(b, seekInBlock(block, klen));
  }

  next(): void {
    if (!this.valid) return;
    this.load(this.blockIndex, this.entry + 1);
  }

  private load(b: number, e: number): void {
    let block = this.blockIndex === b && this.current !== undefined ? this.current : this.table.block(b);
    while (e >= block.count) {
      b++;
      e = 0;
      if (b >= this.table.blockCount) {
        this.valid = false;
        this.current = undefined;
        this.blockIndex = -1;
        return;
      }
      block = this.table.block(b);
    }
    this.current = block;
    this.blockIndex = b;
    this.entry = e;
    const dv = block.dv;
    const off = dv.getUint32(block.table + 4 * e, true);
    const klen = dv.getUint16(off, true);
    const vlen = dv.getUint32(off + 2, true);
    this.buf = block.buf;
    this.keyOff = off + SST_ENTRY_HEADER;
    this.keyLen = klen;
    this.valOff = this.keyOff + klen;
    this.valLen = vlen === SST_TOMBSTONE ? -1 : vlen;
    this.valid = true;
  }
}
