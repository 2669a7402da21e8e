/**
 * The SSTable layout: an immutable sorted file of (key, value) entries. Owned here;
 * src/lsm/ reads and writes it; docs/formats/sstable.md is its grammar.
 *
 * A table is named `<file number, 8 digits>.sst`:
 *
 *   data block*  filter block  index block  properties block  footer (64 bytes)
 *
 * Every block is a payload followed by the CRC32 of that payload (4 bytes), so that a
 * reader can check each block it reads and nothing else. Integers are little-endian; keys
 * are byte strings ordered by unsigned byte comparison (a shorter key sorts before any key
 * it is a prefix of).
 *
 * Data block payload (about `blockBytes` long, one entry at least):
 *
 *   entry*  entry offsets (u32 each, from the block start)  entry count (u32)
 *   entry:  key length (u16)  value length (u32; 0xffffffff = a deletion, no value bytes)
 *           key bytes  value bytes
 *
 * Filter block payload: hash count (u32, low 8 bits; FILTER_BLOCKED in the rest for a
 * blocked filter), bit count (u32), the bits (bytes, rounded up). A key's probes are h,
 * h + d, h + 2d, ... with h = filterHash(key) and d = h rotated right by 17 bits, modulo
 * 512 inside the key's 512-bit block (blocked) or modulo the bit count (not); a clear bit
 * proves the key is absent. docs/formats/sstable.md has the block choice.
 *
 * Index block payload: block count (u32), then per data block: the block's offset (u64),
 * its payload length (u32), its last key's length (u16) and that key.
 *
 * Properties block payload: entries (u64), deletions (u64), data blocks (u32), the
 * smallest key (u16 length, bytes), the largest key (u16 length, bytes), the largest
 * sequence the table's writer was told it covers (u64, 0 when unused), then user bytes
 * (u32 length, bytes) the writer was given.
 *
 * Footer (64 bytes, the last bytes of the file):
 *
 *   offset  size  field
 *   0       4     version (1)
 *   4       4     zero
 *   8       8     filter block offset
 *   16      8     index block offset
 *   24      8     properties block offset
 *   32      4     filter block payload length
 *   36      4     index block payload length
 *   40      4     properties block payload length
 *   44      4     zero
 *   48      8     file size (the footer's end)
 *   56      4     CRC32 of bytes 0..55
 *   60      4     magic "VSST"
 */

export const SST_MAGIC = 0x54535356; // "VSST"
export const SST_VERSION = 1;
export const SST_FOOTER_BYTES = 64;
export const SST_BLOCK_TRAILER = 4;
export const SST_TOMBSTONE = 0xffffffff;
export const SST_KEY_MAX = 0xffff;
export const SST_ENTRY_HEADER = 6;

export const SF_VERSION = 0;
export const SF_FILTER_OFFSET = 8;
export const SF_INDEX_OFFSET = 16;
export const SF_PROPS_OFFSET = 24;
export const SF_FILTER_LENGTH = 32;
export const SF_INDEX_LENGTH = 36;
export const SF_PROPS_LENGTH = 40;
export const SF_FILE_SIZE = 48;
export const SF_CRC = 56;
export const SF_MAGIC = 60;

export function tableName(fileNumber: number): string {
  return `${String(fileNumber).padStart(8, "0")}.sst`;
}

/** The file number in a table's name, or -1 if the name is not a table's. */
export function tableNumber(name: string): number {
  const m = /^(\d{8,})\.sst$/.exec(name);
  return m === null ? -1 : Number(m[1]);
}

/** Reads a u64 written as two u32 halves (values up to 2^53). */
export function getU64(dv: DataView, at: number): number {
  return dv.getUint32(at + 4, true) * 4294967296 + dv.getUint32(at, true);
}

export function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v >>> 0, true);
  dv.setUint32(at + 4, Math.floor(v / 4294967296), true);
}

/** Unsigned byte comparison of a[ao, ao+al) and b[bo, bo+bl): negative, 0 or positive. */
export function compareBytes(a: Uint8Array, ao: number, al: number, b: Uint8Array, bo: number, bl: number): number {
  const n = al < bl ? al : bl;
  for (let i = 0; i < n; i++) {
    const d = a[ao + i]! - b[bo + i]!;
    if (d !== 0) return d;
  }
  return al - bl;
}

/** As compareBytes, through DataViews, four bytes at a time (big-endian words compare as the bytes do). */
export function compareViews(a: DataView, ao: number, al: number, b: DataView, bo: number, bl: number): number {
  const n = al < bl ? al : bl;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const x = a.getUint32(ao + i, false);
    const y = b.getUint32(bo + i, false);
    if (x !== y) return x < y ? -1 : 1;
  }
  for (; i < n; i++) {
    const d = a.getUint8(ao + i) - b.getUint8(bo + i);
    if (d !== 0) return d;
  }
  return al - bl;
}

/**
 * The first 16 bytes of the key `src[off, off + len)` as four big-endian words, zero-padded,
 * into `out` from `at`. Key prefixes as words compare in key order (`comparePrefixWords`),
 * so searches over many keys keep these in dense arrays and compare whole keys only on a tie.
 */
export function prefixWords(src: Uint8Array, off: number, len: number, out: Uint32Array, at: number): void {
  if (len >= 16) {
    // Point reads load every key they search for: no loop, no per-byte bound check.
    out[at] = ((src[off]! << 24) | (src[off + 1]! << 16) | (src[off + 2]! << 8) | src[off + 3]!) >>> 0;
    out[at + 1] = ((src[off + 4]! << 24) | (src[off + 5]! << 16) | (src[off + 6]! << 8) | src[off + 7]!) >>> 0;
    out[at + 2] = ((src[off + 8]! << 24) | (src[off + 9]! << 16) | (src[off + 10]! << 8) | src[off + 11]!) >>> 0;
    out[at + 3] = ((src[off + 12]! << 24) | (src[off + 13]! << 16) | (src[off + 14]! << 8) | src[off + 15]!) >>> 0;
    return;
  }
  for (let w = 0; w < 4; w++) {
    let x = 0;
    for (let b = 4 * w; b < 4 * w + 4; b++) x = (x << 8) | (b < len ? src[off + b]! : 0);
    out[at + w] = x >>> 0;
  }
}

/**
 * Compares the prefix words at `a[ai..ai+4)` with `b[0..4)`: negative, 0 or positive as the
 * keys' first 16 bytes compare (0 also when one key is the other zero-padded: compare the
 * whole keys then).
 */
export function comparePrefixWords(a: Uint32Array, ai: number, b: Uint32Array): number {
  return a[ai]! - b[0]! || a[ai + 1]! - b[1]! || a[ai + 2]! - b[2]! || a[ai + 3]! - b[3]!;
}

export function compareKeys(a: Uint8Array, b: Uint8Array): number {
  return compareBytes(a, 0, a.length, b, 0, b.length);
}

/**
 * The filter's hash of a key: 32-bit, seeded, the same on every platform (it is stored in
 * files). Four bytes at a time with the FxHash step, MurmurHash3's finalizer.
 */
export function filterHash(key: Uint8Array, off: number, len: number): number {
  let h = Math.imul(0x5bd1e995 ^ len, 0x9e3779b1);
  let i = off;
  const wordsEnd = off + (len & ~3);
  for (; i < wordsEnd; i += 4) {
    const w = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    h = Math.imul(((h << 5) | (h >>> 27)) ^ w, 0x9e3779b1);
  }
  for (; i < off + len; i++) h = Math.imul(((h << 5) | (h >>> 27)) ^ key[i]!, 0x9e3779b1);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Bits per key and probes: about 1% false positives. */
export const FILTER_BITS_PER_KEY = 10;
export const FILTER_PROBES = 7;
/**
 * Set in the filter's probes word: the filter is blocked, every key's probes falling in one
 * 512-bit (64-byte) block of it, so a read touches one cache line of the filter instead of
 * one per probe. Tables are written with blocked filters; filters without the flag (spread
 * probes) are still read.
 */
export const FILTER_BLOCKED = 0x100;
export const FILTER_BLOCK_BITS = 512;
