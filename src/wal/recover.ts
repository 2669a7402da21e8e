/**
 * Recovery from the journal: reads every segment of a data directory in order, checks the
 * links between them (first seq, previous CRC, segment number, salt), and hands every
 * record to `apply`, which replays it through the engine. A torn tail of the live segment
 * is cut off physically (zeroed and fsynced) and logged; anything else that is wrong stops
 * recovery with JournalCorruptError naming the file and offset. Main thread, at start.
 */

import { closeSync, existsSync, mkdirSync, openSync, readdirSync, statSync } from "node:fs";
import { REAL_FS, type JournalFs } from "./file.ts";
import { join } from "node:path";
import { PREPARING_SEGMENT_NAME, segmentFirstSeq } from "../schema/wal.ts";
import { JournalCorruptError, readSegmentHeader, scanSegment, type OnRecord } from "./segment.ts";
import type { LiveSegment } from "./writer.ts";
import { Buf } from "../schema/layout.ts";
import { readSync } from "node:fs";
import { WAL_HEADER_BYTES } from "../schema/wal.ts";

export interface Recovery {
  /** The seq the next command gets. */
  nextSeq: number;
  /** The seq of the journal's first record (1 unless segments below a snapshot were deleted). */
  firstSeq: number;
  /** The segment to append to, or undefined for a new journal. */
  live: LiveSegment | undefined;
  segments: number;
  records: number;
  /** Bytes of records read (frames, headers excluded). */
  bytes: number;
  /** What was cut off the live segment's tail, if anything. */
  truncated: { file: string; offset: number; reason: string } | undefined;
}

export interface RecoverOptions {
  log?: (line: string) => void;
  /** Check only: report a torn tail or a headerless newest segment, change nothing (venue verify). */
  readOnly?: boolean;
  /**
   * The seq the journal must start at. By default, the first segment's own: segments below
   * the snapshots may have been deleted (`pruneJournal`), and the caller checks that a
   * snapshot covers what is gone.
   */
  firstSeq?: number;
  /** The file operations recovery's own repairs use (tests put a fault-injecting layer here). */
  fs?: JournalFs;
  /** Called after each segment with the records so far and the segments done / total. */
  progress?: (records: number, done: number, total: number) => void;
}

/** Segment file names of a directory, oldest first. */
export function listSegments(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => segmentFirstSeq(n) >= 0)
    .sort((a, b) => segmentFirstSeq(a) - segmentFirstSeq(b));
}

export function recoverJournal(dir: string, apply: OnRecord, o: RecoverOptions = {}): Recovery {
  if (!o.readOnly) mkdirSync(dir, { recursive: true });
  const log = o.log ?? (() => {});
  const fs = o.fs ?? REAL_FS;
  let names = listSegments(dir);
  // A segment being prepared when the node stopped: not part of the journal, made again when
  // needed. (A finished one, PREPARED_SEGMENT_NAME, is whole: the node may use it.)
  if (!o.readOnly && existsSync(join(dir, PREPARING_SEGMENT_NAME))) {
    fs.unlink(join(dir, PREPARING_SEGMENT_NAME));
    log(`journal: removed ${PREPARING_SEGMENT_NAME}, a segment whose preparation a stop interrupted`);
  }
  // A segment whose header never made it to disk (a crash while rotating) and that holds
  // nothing is the tail of the journal, torn: remove it.
  const newest = names[names.length - 1];
  if (newest !== undefined && !headerValid(join(dir, newest))) {
    // Records are written only after the header is fsynced, so a segment with a bad header
    // and any byte written after it is damage, not a crash artifact: that is corruption.
    if (!zeroAfterHeader(join(dir, newest))) throw new JournalCorruptError(join(dir, newest), 0, "the newest segment's header is damaged but records follow it");
    {
      if (o.readOnly) {
        log(`journal: ${newest} has no valid header (a crash while the segment was made); recovery will remove it`);
      } else {
        log(`journal: removed ${newest}: its header never reached the disk (a crash while the segment was made)`);
        fs.unlink(join(dir, newest));
        fs.fsyncDir(dir);
      }
      names = names.slice(0, -1);
    }
  }
  const firstSeq = o.firstSeq ?? (names.length > 0 ? segmentFirstSeq(names[0]!) : 1);
  let nextSeq = firstSeq;
  let firstNumber = 0;
  let prevCrc = 0;
  let bytes = 0;
  let salt = -1;
  let records = 0;
  let live: LiveSegment | undefined;
  let truncated: Recovery["truncated"];
  names.forEach((name, i) => {
    const path = join(dir, name);
    const isLive = i === names.length - 1;
    const r = scanSegment(path, { firstSeq: nextSeq, live: isLive }, apply);
    if (i === 0) firstNumber = r.header.segment;
    if (r.header.segment !== firstNumber + i) throw new JournalCorruptError(path, 8, `segment number ${r.header.segment} where ${firstNumber + i} was expected (a segment is missing?)`);
    if (i > 0 && r.header.prevCrc !== prevCrc) throw new JournalCorruptError(path, 20, "its link to the previous segment (last CRC) does not match");
    if (salt >= 0 && r.header.salt !== salt) throw new JournalCorruptError(path, 16, "it belongs to another journal (salt differs)");
    if (segmentFirstSeq(name) !== r.header.firstSeq) throw new JournalCorruptError(path, 24, "its name and its header disagree on the first seq");
    salt = r.header.salt;
    if (r.torn !== undefined) {
      truncated = { file: name, offset: r.torn.offset, reason: r.torn.reason };
      if (o.readOnly) {
        log(`journal: ${name} has a torn tail at offset ${r.torn.offset} (${r.torn.reason}); recovery will cut it, keeping ${r.records} records`);
      } else {
        cutTail(fs, path, r.end, r.size);
        log(`journal: cut a torn tail off ${name} at offset ${r.torn.offset} (${r.torn.reason}); ${r.records} records kept in it`);
      }
    }
    records += r.records;
    bytes += r.end - WAL_HEADER_BYTES;
    nextSeq = r.lastSeq + 1;
    prevCrc = r.lastCrc;
    if (isLive) live = { name, segment: r.header.segment, salt: r.header.salt, end: r.end, lastCrc: r.lastCrc };
    o.progress?.(records, i + 1, names.length);
  });
  return { nextSeq, firstSeq, live, segments: names.length, records, bytes, truncated };
}

/** True if every byte after the header is zero (nothing was written there). */
function zeroAfterHeader(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const size = statSync(path).size;
    const chunk = new Uint8Array(1 << 20);
    for (let at = WAL_HEADER_BYTES; at < size; at += chunk.length) {
      const n = readSync(fd, chunk, 0, Math.min(chunk.length, size - at), at);
      for (let i = 0; i < n; i++) if (chunk[i] !== 0) return false;
    }
    return true;
  } finally {
    closeSync(fd);
  }
}

function headerValid(path: string): boolean {
  const fd = openSync(path, "r");
  try {
    const b = Buf.alloc(WAL_HEADER_BYTES);
    if (readSync(fd, b.u8, 0, WAL_HEADER_BYTES, 0) < WAL_HEADER_BYTES) return false;
    readSegmentHeader(b, path);
    return true;
  } catch (err) {
    if (err instanceof JournalCorruptError) return false;
    throw err;
  } finally {
    closeSync(fd);
  }
}

/** Zeroes everything from `end` on (cut, then extend back to the segment's size) and fsyncs. */
function cutTail(fs: JournalFs, path: string, end: number, size: number): void {
  const f = fs.open(path);
  try {
    f.ftruncate(end);
    f.ftruncate(size);
    f.fsync();
  } finally {
    f.close();
  }
}

/**
 * Deletes sealed segments every record of which is at or below `coveredSeq` (a snapshot
 * holds their effect); never the newest segment. Returns the names deleted. The journal
 * worker holds only the newest segment open, so this may run on another thread.
 *
 * Oldest first, with a directory fsync after each: a power cut may undo any removal not yet
 * made durable, and undoing one of several would leave a segment after a hole, which
 * recovery rightly calls corruption. One at a time, what a cut leaves is the journal less
 * its oldest segments: whole, and still reaching back to the snapshot.
 */
export function pruneJournal(dir: string, coveredSeq: number, fs: JournalFs = REAL_FS): string[] {
  const names = listSegments(dir);
  const gone: string[] = [];
  for (let i = 0; i + 1 < names.length; i++) {
    const lastSeq = segmentFirstSeq(names[i + 1]!) - 1;
    if (lastSeq > coveredSeq) break;
    fs.unlink(join(dir, names[i]!));
    fs.fsyncDir(dir);
    gone.push(names[i]!);
  }
  return gone;
}
