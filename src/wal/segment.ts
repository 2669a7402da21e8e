/**
 * Journal segments on disk: writing a segment header, framing records, and scanning a
 * segment back with every check the layout allows (src/schema/wal.ts). Scanning tells a
 * torn tail (damage at the very end of the live segment, nothing valid after it) from
 * corruption (anything else), and never skips a record.
 *
 * Any thread may call these; each call works on the file it is given.
 */

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { crc32 } from "node:zlib";
import { CrcShift, crc32Range, crc32Residue } from "../stdx/crc32.ts";
import { Buf } from "../schema/layout.ts";
import { MAX_COMMAND_SIZE } from "../schema/command.ts";
import { VenueError } from "../stdx/errors.ts";
import {
  WAL_FRAME_OVERHEAD,
  WAL_GROUP_BYTES_MAX,
  WAL_HEADER_BYTES,
  WAL_MAGIC,
  WAL_TYPE_COMMAND,
  WAL_VERSION,
  WF_LENGTH,
  WF_PAYLOAD,
  WF_SEQ,
  WF_TYPE,
  WF_GROUP_INDEX_SHIFT,
  WH_CREATED,
  WH_CRC,
  WH_FIRST_SEQ,
  WH_HEADER_SIZE,
  WH_MAGIC,
  WH_PREV_CRC,
  WH_SALT,
  WH_SEGMENT,
  WH_VERSION,
} from "../schema/wal.ts";

/** The journal is damaged in a way recovery must not guess about. */
export class JournalCorruptError extends VenueError {
  constructor(readonly file: string, readonly offset: number, what: string) {
    super(
      "JOURNAL_CORRUPT",
      `journal ${file}, offset ${offset}: ${what}. Recovery stops here rather than skip a record: ` +
        `restore the data directory from a backup or a standby (venue verify DIR lists every problem)`,
    );
  }
}

export interface SegmentHeader {
  segment: number;
  salt: number;
  prevCrc: number;
  firstSeq: number;
  createdNs: bigint;
}

export function writeSegmentHeader(buf: Buf, h: SegmentHeader): void {
  const dv = buf.dv;
  buf.u8.fill(0, 0, WAL_HEADER_BYTES);
  dv.setUint32(WH_MAGIC, WAL_MAGIC, true);
  dv.setUint16(WH_VERSION, WAL_VERSION, true);
  dv.setUint16(WH_HEADER_SIZE, WAL_HEADER_BYTES, true);
  dv.setBigUint64(WH_SEGMENT, BigInt(h.segment), true);
  dv.setUint32(WH_SALT, h.salt, true);
  dv.setUint32(WH_PREV_CRC, h.prevCrc, true);
  dv.setBigUint64(WH_FIRST_SEQ, BigInt(h.firstSeq), true);
  dv.setBigUint64(WH_CREATED, h.createdNs, true);
  dv.setUint32(WH_CRC, crc32(buf.u8.subarray(0, WH_CRC)), true);
}

/** Reads and checks a segment header; throws JournalCorruptError naming what is wrong. */
export function readSegmentHeader(buf: Buf, file: string): SegmentHeader {
  const dv = buf.dv;
  if (buf.byteLength < WAL_HEADER_BYTES) throw new JournalCorruptError(file, 0, "shorter than a segment header");
  if (dv.getUint32(WH_MAGIC, true) !== WAL_MAGIC) throw new JournalCorruptError(file, 0, "not a journal segment (wrong magic)");
  const version = dv.getUint16(WH_VERSION, true);
  if (version !== WAL_VERSION) throw new JournalCorruptError(file, WH_VERSION, `segment version ${version}, this build reads version ${WAL_VERSION}`);
  if (dv.getUint16(WH_HEADER_SIZE, true) !== WAL_HEADER_BYTES) throw new JournalCorruptError(file, WH_HEADER_SIZE, "wrong header size");
  if (crc32(buf.u8.subarray(0, WH_CRC)) !== dv.getUint32(WH_CRC, true)) throw new JournalCorruptError(file, WH_CRC, "segment header checksum mismatch");
  return {
    segment: Number(dv.getBigUint64(WH_SEGMENT, true)),
    salt: dv.getUint32(WH_SALT, true),
    prevCrc: dv.getUint32(WH_PREV_CRC, true),
    firstSeq: Number(dv.getBigUint64(WH_FIRST_SEQ, true)),
    createdNs: dv.getBigUint64(WH_CREATED, true),
  };
}

/**
 * Frames the `size`-byte command at `offset` of `src` into `dst` at `at`, as the record
 * `before` records into its group; returns its CRC.
 */
export function writeFrame(dst: Buf, at: number, src: Buf, offset: number, size: number, seq: number, salt: number, before: number): number {
  const dv = dst.dv;
  dv.setUint32(at + WF_LENGTH, size, true);
  dv.setUint32(at + WF_TYPE, WAL_TYPE_COMMAND | (before << WF_GROUP_INDEX_SHIFT), true);
  dv.setUint32(at + WF_SEQ, seq >>> 0, true);
  dv.setUint32(at + WF_SEQ + 4, Math.floor(seq / 4294967296), true);
  dst.u8.set(src.u8.subarray(offset, offset + size), at + WF_PAYLOAD);
  const crc = crc32Range(dst.u8, at, at + WF_PAYLOAD + size, salt);
  dv.setUint32(at + WF_PAYLOAD + size, crc, true);
  dv.setUint32(at + WF_PAYLOAD + size + 4, 0, true);
  return crc;
}

export interface ScanExpect {
  /** The seq the first record must have (the header's first seq). */
  firstSeq: number;
  /** True for the newest segment: only there can damage be a torn tail. */
  live: boolean;
}

export interface ScanResult {
  header: SegmentHeader;
  records: number;
  /** Seq of the last valid record (firstSeq - 1 when it holds none). */
  lastSeq: number;
  /** CRC of the last valid record (the header's prevCrc when none). */
  lastCrc: number;
  /** Byte offset just after the last valid record: where the next one goes. */
  end: number;
  /** Where a torn tail starts and why, or undefined when the segment ends cleanly. */
  torn: { offset: number; reason: string } | undefined;
  /** File size in bytes. */
  size: number;
}

/** Called for each valid record, in order: the command record is at `offset` of `buf`, valid during the call. */
export type OnRecord = (buf: Buf, offset: number, size: number, seq: number) => void;

const CHUNK = 4 << 20;
const MAX_FRAME = MAX_COMMAND_SIZE + WAL_FRAME_OVERHEAD;
/** Bytes of frames checked together by one CRC pass (see `validRun`): small enough to stay in the L2 cache for the pass that hands them out. */
const RUN_BYTES = 128 << 10;
/** The running CRC after a valid frame, from the one before it (see `validRun`). */
const SHIFT = new CrcShift(MAX_FRAME);
/** A valid frame's CRC followed by its 4 zero bytes leaves the running CRC at this constant. */
const FRAME_RESIDUE = crc32Residue(WAL_FRAME_OVERHEAD - WF_PAYLOAD - 4);

/**
 * Reads a segment from its start, checks every record (length, type, seq continuity, CRC)
 * and hands each valid one to `onRecord`. Stops at the first zero length word (the end of
 * what was written) or at damage: in a sealed segment, or with a valid record after it,
 * damage is corruption (throws); at the end of the live segment it is a torn tail
 * (returned, for the caller to truncate).
 */
export function scanSegment(path: string, expect: ScanExpect, onRecord?: OnRecord): ScanResult {
  const fd = openSync(path, "r");
  try {
    const size = fstatSync(fd).size;
    const buf = Buf.alloc(CHUNK + MAX_FRAME);
    let base = 0; // file offset of buf[0]
    let filled = readSync(fd, buf.u8, 0, Math.min(buf.byteLength, size), 0);
    const header = readSegmentHeader(new Buf(buf.buffer, 0, Math.min(filled, WAL_HEADER_BYTES)), path);
    if (header.firstSeq !== expect.firstSeq) throw new JournalCorruptError(path, WH_FIRST_SEQ, `first seq ${header.firstSeq}, expected ${expect.firstSeq}`);
    let at = WAL_HEADER_BYTES; // file offset of the next frame
    let seq = expect.firstSeq;
    let lastCrc = header.prevCrc;
    let records = 0;
    const dv = buf.dv;
    // Frames before this file offset are checked one by one: a run that failed its joint check.
    let slowUntil = 0;
    for (;;) {
      // Keep at least one whole frame in the buffer.
      if (at - base + MAX_FRAME > filled && base + filled < size) {
        const keep = filled - (at - base);
        buf.u8.copyWithin(0, at - base, filled);
        base = at;
        filled = keep + readSync(fd, buf.u8, keep, Math.min(buf.byteLength - keep, size - (base + keep)), base + keep);
      }
      const o = at - base;
      if (o + 8 > filled) break; // end of file
      if (at >= slowUntil) {
        // The common case: a run of valid frames, checked with one CRC pass, then handed out.
        const end = validRun(buf, o, filled, seq, header.salt);
        if (end > 0) {
          for (let p = o; p < end; ) {
            const length = dv.getUint32(p + WF_LENGTH, true);
            onRecord?.(buf, p + WF_PAYLOAD, length, seq);
            records++;
            seq++;
            p += length + WAL_FRAME_OVERHEAD;
            if (p === end) lastCrc = dv.getUint32(p - WAL_FRAME_OVERHEAD + WF_PAYLOAD, true);
          }
          at += end - o;
          continue;
        }
        // No run here (damage or the end at this frame), or one with a bad frame in it: find
        // which, one frame at a time, up to the run's end.
        slowUntil = at + (end < 0 ? -end - o : 0);
      }
      const length = dv.getUint32(o + WF_LENGTH, true);
      const typeWord = dv.getUint32(o + WF_TYPE, true);
      if (length === 0 && typeWord === 0) break; // end of what was written
      const bad = frameProblem(buf, o, filled, length, typeWord, seq, header.salt);
      if (bad !== undefined) {
        const damage = { offset: at, reason: bad };
        if (!expect.live) throw new JournalCorruptError(path, at, `${bad} in a sealed segment`);
        // Valid records after the damage may belong to the same group (written together,
        // never synced: a power cut may land its sectors in any order). One from a later
        // group means a synced group was damaged: corruption.
        const after = scanTail(fd, size, at + 8, header.salt, seq);
        if (after.later !== undefined) throw new JournalCorruptError(path, at, `${bad}, followed by a valid record of a later group (seq ${after.later.seq}) at offset ${after.later.offset}`);
        return { header, records, lastSeq: seq - 1, lastCrc, end: at, torn: damage, size };
      }
      onRecord?.(buf, o + WF_PAYLOAD, length, seq);
      lastCrc = dv.getUint32(o + WF_PAYLOAD + length, true);
      records++;
      seq++;
      at += length + WAL_FRAME_OVERHEAD;
    }
    // A zero word ends the records. Nothing of a later group may follow (that would be a
    // lost middle write); bytes of the last group's own (a power cut that lost its first
    // sector but landed later ones) are a torn tail: left in place, a later append could
    // line up with them and bring records back that were never acknowledged.
    const after = scanTail(fd, size, at, header.salt, seq);
    if (after.later !== undefined) throw new JournalCorruptError(path, at, `the records end here but a valid record of a later group (seq ${after.later.seq}) follows at offset ${after.later.offset}`);
    if (after.nonZero >= 0) {
      const torn = { offset: at, reason: `bytes of an unfinished write after the last record (first at offset ${after.nonZero})` };
      if (!expect.live) throw new JournalCorruptError(path, at, `${torn.reason} in a sealed segment`);
      return { header, records, lastSeq: seq - 1, lastCrc, end: at, torn, size };
    }
    return { header, records, lastSeq: seq - 1, lastCrc, end: at, torn: undefined, size };
  } finally {
    closeSync(fd);
  }
}

/**
 * The frames from buffer offset `o`, up to RUN_BYTES of them, that pass every check of
 * `frameProblem` but the CRC (length, type, whole in the buffer, seq from `seq` on), with
 * their CRCs checked together: one CRC pass over all their bytes, against the running CRC
 * that valid frames of those lengths must give (FRAME_RESIDUE, SHIFT). Returns the offset
 * after the run when they are all valid, minus that offset when the joint check fails (some
 * frame's CRC is wrong: `frameProblem` finds which), and 0 when the frame at `o` fails a
 * check other than its CRC (or the records end there).
 *
 * A frame whose CRC fails alone fails the joint check (the shift is invertible); two bad
 * frames whose errors cancel would pass it, with a chance of 2^-32 for random damage, the
 * same as one bad frame passing its own CRC.
 */
function validRun(buf: Buf, o: number, filled: number, seq: number, salt: number): number {
  const dv = buf.dv;
  const stop = Math.min(filled, o + RUN_BYTES);
  let p = o;
  let running = salt;
  while (p + WF_PAYLOAD <= stop) {
    const length = dv.getUint32(p + WF_LENGTH, true);
    if (length < 24 || length > MAX_COMMAND_SIZE || (length & 7) !== 0) break;
    if ((dv.getUint32(p + WF_TYPE, true) & 0xff) !== WAL_TYPE_COMMAND) break;
    const size = length + WAL_FRAME_OVERHEAD;
    if (p + size > stop) break;
    if (dv.getUint32(p + WF_SEQ, true) + dv.getUint32(p + WF_SEQ + 4, true) * 4294967296 !== seq) break;
    running = FRAME_RESIDUE ^ SHIFT.shift(size, (running ^ salt) >>> 0);
    seq++;
    p += size;
  }
  if (p === o) return 0;
  return (crc32(buf.u8.subarray(o, p), salt) ^ running) >>> 0 === 0 ? p : -p;
}

function frameProblem(buf: Buf, o: number, filled: number, length: number, typeWord: number, seq: number, salt: number): string | undefined {
  const dv = buf.dv;
  if (length < 24 || length > MAX_COMMAND_SIZE || (length & 7) !== 0) return `bad record length ${length}`;
  if ((typeWord & 0xff) !== WAL_TYPE_COMMAND) return `bad record type ${typeWord & 0xff}`;
  if (o + length + WAL_FRAME_OVERHEAD > filled) return "record cut short by the end of the file";
  const got = dv.getUint32(o + WF_SEQ + 4, true) * 4294967296 + dv.getUint32(o + WF_SEQ, true);
  const crc = crc32Range(buf.u8, o, o + WF_PAYLOAD + length, salt);
  if (crc !== dv.getUint32(o + WF_PAYLOAD + length, true)) return `checksum mismatch (record seq ${got}?)`;
  if (got !== seq) return `seq ${got} where ${seq} was expected`;
  return undefined;
}

/**
 * Reads the file from `from` to its end: the first valid frame (right type, plausible
 * length, CRC with this salt) whose group starts after `damagedSeq` (the seq expected where
 * the records stopped), if any, and the offset of the first non-zero byte (-1 if none). A
 * valid frame of the stopped record's own group belongs to the torn group: not corruption.
 */
function scanTail(fd: number, size: number, from: number, salt: number, damagedSeq: number): { later: { offset: number; seq: number } | undefined; nonZero: number } {
  const buf = Buf.alloc(CHUNK + MAX_FRAME);
  const dv = buf.dv;
  const words = buf.f64;
  let nonZero = -1;
  // Two groups' length past the stop is as far as a crash can leave bytes or a later group
  // can start (WAL_GROUP_BYTES_MAX); reading a 1 GiB segment to its end would take seconds.
  const limit = Math.min(size, from + 2 * WAL_GROUP_BYTES_MAX + MAX_FRAME);
  for (let base = from & ~7; base < limit; base += CHUNK) {
    const filled = readSync(fd, buf.u8, 0, Math.min(buf.byteLength, limit - base), base);
    const stop = Math.min(CHUNK, filled - 8);
    for (let o = 0; o < stop; o += 8) {
      if (words[o >> 3] === 0 && dv.getUint32(o, true) === 0 && dv.getUint32(o + 4, true) === 0) continue; // 8 zero bytes (-0 is not all zero)
      if (nonZero < 0) nonZero = base + o;
      const typeWord = dv.getUint32(o + WF_TYPE, true);
      if ((typeWord & 0xff) !== WAL_TYPE_COMMAND) continue;
      const length = dv.getUint32(o, true);
      if (length < 24 || length > MAX_COMMAND_SIZE || (length & 7) !== 0 || o + length + WAL_FRAME_OVERHEAD > filled) continue;
      if (crc32Range(buf.u8, o, o + WF_PAYLOAD + length, salt) !== dv.getUint32(o + WF_PAYLOAD + length, true)) continue;
      const seq = dv.getUint32(o + WF_SEQ + 4, true) * 4294967296 + dv.getUint32(o + WF_SEQ, true);
      const groupFirst = seq - (typeWord >>> WF_GROUP_INDEX_SHIFT);
      if (groupFirst > damagedSeq) return { later: { offset: base + o, seq }, nonZero };
    }
  }
  return { later: undefined, nonZero };
}
