/**
 * The record header and the primitives every layout is built from.
 *
 * All layouts are little-endian. A record is a multiple of 8 bytes long and starts with
 * this 24-byte header:
 *
 *   offset  size  field
 *   0       1     kind          record kind (command or event table, per stream)
 *   1       1     version       layout version of that kind
 *   2       2     size          total record size in bytes, header included, multiple of 8
 *   4       4     instrument    instrument index, or NO_INSTRUMENT
 *   8       8     seq           u64 sequence number stamped by the sequencer
 *   16      8     timestampNs   u64 nanoseconds since the Unix epoch, stamped by the sequencer
 *
 * 64-bit integers are read as two 32-bit halves. Sequence numbers, prices, quantities and
 * order numbers are read as JS numbers and must stay within ±2^53; timestamps (~1.7e18)
 * do not fit a double, so code copies them as raw halves and only the edges turn them into
 * BigInt.
 */

import { assert } from "../stdx/assert.ts";

export const HEADER_SIZE = 24;
/** In a command: "no instrument" (mass cancel and expiry: every instrument). */
export const NO_INSTRUMENT = 0xffffffff;
/** In a command: a symbol the edge could not resolve. No instrument has it; the engine rejects it. */
export const UNKNOWN_INSTRUMENT = 0xfffffffe;
export const TWO_32 = 4294967296;

/** True on a little-endian host: the byte order of every layout here, and of typed-array word stores. */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Word-sized typed-array stores (EventBuffer.claim, .account, .position) use the host's
 * byte order; every platform Node runs on here is little-endian, and this is checked once
 * at load.
 */
export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
assert(LITTLE_ENDIAN_HOST, "this host is big-endian; the record layouts assume little-endian word stores");

export const H_KIND = 0;
export const H_VERSION = 1;
export const H_SIZE = 2;
export const H_INSTRUMENT = 4;
export const H_SEQ = 8;
export const H_TIMESTAMP = 16;

/** A byte buffer with the two views the flyweights need, made once per underlying buffer. */
export class Buf {
  readonly dv: DataView;
  readonly u8: Uint8Array;

  constructor(readonly buffer: ArrayBufferLike, byteOffset = 0, byteLength = buffer.byteLength - byteOffset) {
    this.dv = new DataView(buffer, byteOffset, byteLength);
    this.u8 = new Uint8Array(buffer, byteOffset, byteLength);
  }

  private words: Int32Array | undefined;

  /** The same bytes as 32-bit words (for word copies of 8-aligned records); made on first use. */
  get i32(): Int32Array {
    if (this.words === undefined) {
      assert((this.dv.byteOffset & 3) === 0 && (this.dv.byteLength & 3) === 0, "a word view needs a 4-aligned buffer");
      this.words = new Int32Array(this.dv.buffer, this.dv.byteOffset, this.dv.byteLength >> 2);
    }
    return this.words;
  }

  private doubles: Float64Array | undefined;

  /** The same bytes as 8-byte words (for copies of 8-aligned records); made on first use. */
  get f64(): Float64Array {
    if (this.doubles === undefined) {
      assert((this.dv.byteOffset & 7) === 0 && (this.dv.byteLength & 7) === 0, "an 8-byte word view needs an 8-aligned buffer");
      this.doubles = new Float64Array(this.dv.buffer, this.dv.byteOffset, this.dv.byteLength >> 3);
    }
    return this.doubles;
  }

  static alloc(byteLength: number): Buf {
    return new Buf(new ArrayBuffer(byteLength));
  }

  get byteLength(): number {
    return this.dv.byteLength;
  }
}

export function align8(n: number): number {
  return (n + 7) & ~7;
}

export function readI64(dv: DataView, offset: number): number {
  return dv.getInt32(offset + 4, true) * TWO_32 + dv.getUint32(offset, true);
}

export function readU64(dv: DataView, offset: number): number {
  return dv.getUint32(offset + 4, true) * TWO_32 + dv.getUint32(offset, true);
}

/**
 * As `writeI64`, as two stores into 32-bit words (word index `k`, 8-byte aligned: k even),
 * in the host's byte order. The engine's event writers use it: a typed array's stores
 * compile to plain moves on a SharedArrayBuffer as on an ArrayBuffer, where DataView
 * stores into shared memory take a slower path. Events are written on little-endian hosts
 * only (`EventBuffer` checks `HOST_LITTLE_ENDIAN`).
 */
export function writeI64Words(w: Int32Array, k: number, value: number): void {
  if ((value | 0) === value) {
    w[k] = value;
    w[k + 1] = value >> 31;
    return;
  }
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  if (!(hi >= -0x200000 && hi < 0x200000) || lo !== Math.floor(lo)) assert(false, "int64 field outside the safe integer range");
  w[k] = lo | 0;
  w[k + 1] = hi;
}

/** Writes a safe integer as int64. Callers validate range; this asserts it. */
export function writeI64(dv: DataView, offset: number, value: number): void {
  if ((value | 0) === value) {
    // An int32 (most prices, quantities and counts): low word as is, high word its sign.
    dv.setInt32(offset, value, true);
    dv.setInt32(offset + 4, value >> 31, true);
    return;
  }
  // Larger: the high word is floor(value / 2^32). A safe integer has |hi| < 2^21 and no
  // fraction; checked with comparisons, which cost less than a call on this hot path.
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  if (!(hi >= -0x200000 && hi < 0x200000) || lo !== Math.floor(lo)) assert(false, "int64 field outside the safe integer range");
  dv.setUint32(offset, lo, true);
  dv.setInt32(offset + 4, hi, true);
}

export function writeU64(dv: DataView, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, "uint64 field outside the safe integer range");
  const hi = Math.floor(value / TWO_32);
  dv.setUint32(offset, value - hi * TWO_32, true);
  dv.setUint32(offset + 4, hi, true);
}

/** True when the int64 at `offset` is a safe integer (|x| < 2^53), so readI64 is exact. */
export function isSafeI64(dv: DataView, offset: number): boolean {
  const hi = dv.getInt32(offset + 4, true);
  return hi >= -0x200000 && hi < 0x200000;
}

export function readBigU64(dv: DataView, offset: number): bigint {
  return dv.getBigUint64(offset, true);
}

export function writeBigU64(dv: DataView, offset: number, value: bigint): void {
  dv.setBigUint64(offset, value, true);
}

export function writeHeader(dv: DataView, offset: number, kind: number, version: number, size: number, instrument: number): void {
  assert((size & 7) === 0 && size >= HEADER_SIZE && size <= 0xffff, "record size must be a multiple of 8 in [24, 65535]");
  dv.setUint8(offset + H_KIND, kind);
  dv.setUint8(offset + H_VERSION, version);
  dv.setUint16(offset + H_SIZE, size, true);
  dv.setUint32(offset + H_INSTRUMENT, instrument, true);
}

export function recordKind(dv: DataView, offset: number): number {
  return dv.getUint8(offset + H_KIND);
}

export function recordVersion(dv: DataView, offset: number): number {
  return dv.getUint8(offset + H_VERSION);
}

export function recordSize(dv: DataView, offset: number): number {
  return dv.getUint16(offset + H_SIZE, true);
}

export function recordInstrument(dv: DataView, offset: number): number {
  return dv.getUint32(offset + H_INSTRUMENT, true);
}

export function recordSeq(dv: DataView, offset: number): number {
  return readU64(dv, offset + H_SEQ);
}

/** Stamps sequence and time into a record in place (the sequencer's only write). */
export function stamp(dv: DataView, offset: number, seq: number, timestampNs: bigint): void {
  writeU64(dv, offset + H_SEQ, seq);
  dv.setBigUint64(offset + H_TIMESTAMP, timestampNs, true);
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false });

/** Encodes a string as UTF-8 into `u8` at `offset`; returns the byte length. Edge code only. */
export function writeUtf8(u8: Uint8Array, offset: number, text: string, maxBytes: number): number {
  const { read, written } = utf8.encodeInto(text, u8.subarray(offset, offset + maxBytes));
  assert(read === text.length, "string longer than its field");
  return written;
}

export function utf8Length(text: string): number {
  return Buffer.byteLength(text, "utf8");
}

export function readUtf8(u8: Uint8Array, offset: number, length: number): string {
  return utf8Decoder.decode(u8.subarray(offset, offset + length));
}
