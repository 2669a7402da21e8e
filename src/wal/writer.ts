/**
 * The journal writer: appends framed commands to the live segment in groups, one write
 * and one fdatasync per group (group commit), and rotates to a new segment when the live
 * one is full. It runs on the journal worker (src/wal/journal_worker.ts), which feeds it
 * from the journal ring and publishes the durable sequence after each `commit`.
 *
 * A failed write or fdatasync is fatal: it throws JournalWriteError and the writer is not
 * used again (no retry: after a failed fsync the page cache may already have dropped the
 * data, so a retry that succeeds proves nothing). Disk full says so.
 *
 * New segments come zero-filled from a SegmentSupply where one is ready (src/wal/prepare.ts:
 * every byte written and synced ahead, so a commit's fdatasync writes data only): the
 * writer writes the header into the prepared file, syncs it, renames it to the segment's
 * name and syncs the directory before the first record goes in. Otherwise a segment is
 * created exclusively, its header written, sized to `segmentBytes` with its blocks allocated
 * (fallocate through the native addon, so a full disk shows when a segment is made rather
 * than in the middle of one; where that cannot be done, ftruncate: a sparse file whose
 * blocks the file system allocates as groups land), synced, and the directory synced.
 *
 * A live segment that was not zero-filled (the first of a new journal, the one a restart
 * appends to, or one made when no prepared file was ready) is left early, between two
 * groups, as soon as a prepared one is ready: the writer rotates to it and cuts the old
 * segment's file at its last record (a sealed segment's records end where its file ends, or
 * at a zero word, both as recovery reads them). Preparation is asked for once the live
 * segment holds `prepareAfterBytes`, so a journal that never grows that far never asks.
 */

import { join } from "node:path";
import { randomInt } from "node:crypto";
import { AssertionError, assert } from "../stdx/assert.ts";
import { VenueError } from "../stdx/errors.ts";
import { Buf } from "../schema/layout.ts";
import { PREPARED_SEGMENT_NAME, WAL_FRAME_OVERHEAD, WAL_GROUP_BYTES_MAX, WAL_HEADER_BYTES, segmentName } from "../schema/wal.ts";
import { writeFrame, writeSegmentHeader } from "./segment.ts";
import { REAL_FS, type JournalFile, type JournalFs } from "./file.ts";
import type { SegmentSupply } from "./prepare.ts";

export class JournalWriteError extends VenueError {
  constructor(what: string, file: string, cause: unknown) {
    const code = (cause as { code?: string } | undefined)?.code;
    const why = code === "ENOSPC" ? "the disk is full" : code === "EIO" ? "the device reported an I/O error" : String((cause as Error)?.message ?? cause);
    super("JOURNAL_WRITE_FAILED", `journal ${what} failed on ${file}: ${why}. The node stops taking commands; restart it to recover from the journal`, { cause });
  }
}

export interface LiveSegment {
  /** File name inside the directory. */
  name: string;
  segment: number;
  salt: number;
  /** Where the next record goes. */
  end: number;
  /** CRC of the last record written (the header's prevCrc when none). */
  lastCrc: number;
}

export interface WriterOptions {
  dir: string;
  segmentBytes?: number;
  /** Bytes one group may hold before it is committed. */
  groupBytes?: number;
  /** The live segment to append to (from recovery), or none for a new journal. */
  live?: LiveSegment;
  /** The seq of the next record. */
  nextSeq: number;
  /** Wall-clock ns for new segment headers. */
  nowNs?: () => bigint;
  /** The file operations (tests put a fault-injecting layer here). */
  fs?: JournalFs;
  /** Zero-filled segments made ahead (the node's preparer thread); none: every segment is made when needed. */
  supply?: SegmentSupply;
  /** Bytes the live segment holds before the next segment is asked of `supply` (default 1 MiB, or segmentBytes / 64 if less). */
  prepareAfterBytes?: number;
}

export const DEFAULT_SEGMENT_BYTES = 1 << 30;

export class JournalWriter {
  private file: JournalFile | undefined;
  private readonly fs: JournalFs;
  private live!: LiveSegment;
  private readonly segmentBytes: number;
  private readonly group: Buf;
  private groupLen = 0;
  private groupLastSeq = -1;
  private groupLastCrc = 0;
  private groupRecords = 0;
  private nextSeq: number;
  private broken: JournalWriteError | undefined;
  private readonly nowNs: () => bigint;
  private readonly supply: SegmentSupply | undefined;
  private readonly prepareAfterBytes: number;
  /** The live segment came zero-filled from the supply. */
  private liveZeroed = false;
  /** The next segment was asked of the supply since the live one began. */
  private requested = false;
  /** Groups committed and records in them, for metrics and tests. */
  groups = 0;
  records = 0;
  /** Segments made (the first included), those of them from prepared (zero-filled) files, and rotations made early to reach one. */
  segmentsMade = 0;
  preparedSegments = 0;
  earlyRotations = 0;
  /** Seq of the last record made durable. */
  durableSeq: number;

  constructor(private readonly o: WriterOptions) {
    this.segmentBytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.group = Buf.alloc(o.groupBytes ?? Math.min(WAL_GROUP_BYTES_MAX, this.segmentBytes >> 2));
    assert(this.group.byteLength <= WAL_GROUP_BYTES_MAX, `a group holds at most ${WAL_GROUP_BYTES_MAX} bytes (recovery reads that far past the last record)`);
    assert(this.segmentBytes >= WAL_HEADER_BYTES + this.group.byteLength, "a segment must hold at least one whole group");
    this.nextSeq = o.nextSeq;
    this.durableSeq = o.nextSeq - 1;
    this.nowNs = o.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n);
    this.fs = o.fs ?? REAL_FS;
    this.supply = o.supply;
    this.prepareAfterBytes = o.prepareAfterBytes ?? Math.min(1 << 20, this.segmentBytes >> 6);
    if (o.live !== undefined) {
      this.live = { ...o.live };
      const path = join(o.dir, o.live.name);
      try {
        this.file = this.fs.open(path);
      } catch (err) {
        throw new JournalWriteError("open", path, err);
      }
    } else {
      this.rotate(0, 0, randomInt(1, 0xffffffff), false);
    }
  }

  /** Room left in the current group for a command of `size` bytes? */
  fits(size: number): boolean {
    return this.groupLen + size + WAL_FRAME_OVERHEAD <= this.group.byteLength;
  }

  /** Frames one command (already stamped with `seq`) into the current group. */
  append(src: Buf, offset: number, size: number, seq: number): void {
    assert(this.broken === undefined, "the journal writer failed before: it must not be used again");
    if (seq !== this.nextSeq) throw new AssertionError(`journal: seq ${seq} where ${this.nextSeq} was expected`); // (not assert: its message would be built every call)
    if (!this.fits(size)) this.commit();
    if (this.live.end + this.groupLen + size + WAL_FRAME_OVERHEAD > this.segmentBytes) {
      this.commit();
      this.rotate(this.live.segment + 1, this.live.lastCrc, this.live.salt, false);
    } else if (this.groupLen === 0 && this.supply !== undefined) {
      this.betweenGroups(this.supply);
    }
    this.groupLastCrc = writeFrame(this.group, this.groupLen, src, offset, size, seq, this.live.salt, this.groupRecords);
    this.groupLen += size + WAL_FRAME_OVERHEAD;
    this.groupLastSeq = seq;
    this.groupRecords++;
    this.nextSeq++;
  }

  /** Writes the group with one write and one fdatasync. Returns the durable seq. */
  commit(): number {
    if (this.groupLen === 0) return this.durableSeq;
    const path = this.live.name;
    try {
      let done = 0;
      while (done < this.groupLen) done += this.file!.pwrite(this.group.u8, done, this.groupLen - done, this.live.end + done);
    } catch (err) {
      throw this.fail("write", path, err);
    }
    try {
      this.file!.fdatasync();
    } catch (err) {
      throw this.fail("fdatasync", path, err);
    }
    this.live.end += this.groupLen;
    this.live.lastCrc = this.groupLastCrc;
    this.records += this.groupRecords;
    this.groups++;
    this.groupLen = 0;
    this.groupRecords = 0;
    this.durableSeq = this.groupLastSeq;
    if (this.supply !== undefined) {
      this.supply.noteCommit();
      this.askWhenDue(this.supply);
    }
    return this.durableSeq;
  }

  /** Between two groups: leave a live segment that is not zero-filled once a prepared one is ready. */
  private betweenGroups(supply: SegmentSupply): void {
    // Never from an empty segment: its successor would have its first seq, and its name.
    if (!this.liveZeroed && this.live.end > WAL_HEADER_BYTES && supply.ready()) {
      this.rotate(this.live.segment + 1, this.live.lastCrc, this.live.salt, true);
    }
  }

  /** After a commit: ask for the next segment once the live one holds `prepareAfterBytes`. */
  private askWhenDue(supply: SegmentSupply): void {
    if (this.requested || this.live.end < this.prepareAfterBytes) return;
    this.requested = true;
    try {
      supply.request(); // the node's supply only signals its thread; one that prepares inline may fail here
    } catch (err) {
      throw this.fail("preparation of the next segment", PREPARED_SEGMENT_NAME, err);
    }
  }

  get liveSegment(): LiveSegment {
    return { ...this.live };
  }

  close(): void {
    this.file?.close();
    this.file = undefined;
  }

  private fail(what: string, file: string, err: unknown): JournalWriteError {
    this.broken = new JournalWriteError(what, join(this.o.dir, file), err);
    return this.broken;
  }

  /**
   * Makes segment `segment` (first seq: the next one) and moves to it. `early`: the live
   * segment is left before it is full, so its file is cut at its last record.
   */
  private rotate(segment: number, prevCrc: number, salt: number, early: boolean): void {
    const name = segmentName(this.nextSeq);
    const path = join(this.o.dir, name);
    const old = this.file;
    const oldLive = early ? this.live : undefined;
    this.file = undefined;
    const header = Buf.alloc(WAL_HEADER_BYTES);
    writeSegmentHeader(header, { segment, salt, prevCrc, firstSeq: this.nextSeq, createdNs: this.nowNs() });
    const prepared = this.supply?.take();
    try {
      if (prepared !== undefined) {
        // Zero-filled and synced by the preparer: the header, then the name.
        const file = this.fs.open(prepared);
        this.file = file;
        file.pwrite(header.u8, 0, WAL_HEADER_BYTES, 0);
        file.fsync(); // not fdatasync: the journal's metrics count each fdatasync as a group commit
        this.fs.rename(prepared, path);
      } else {
        const file = this.fs.create(path);
        this.file = file;
        file.pwrite(header.u8, 0, WAL_HEADER_BYTES, 0);
        if (file.preallocate !== undefined) file.preallocate(this.segmentBytes);
        else file.ftruncate(this.segmentBytes);
        file.fsync();
      }
      this.fs.fsyncDir(this.o.dir);
    } catch (err) {
      old?.close();
      throw this.fail("segment creation", name, err);
    }
    if (oldLive !== undefined && old !== undefined) {
      try {
        old.ftruncate(oldLive.end);
        old.fsync();
      } catch (err) {
        old.close();
        throw this.fail("truncation of a segment left early", oldLive.name, err);
      }
    }
    old?.close();
    this.segmentsMade++;
    if (early) this.earlyRotations++;
    if (prepared !== undefined) this.preparedSegments++;
    this.live = { name, segment, salt, end: WAL_HEADER_BYTES, lastCrc: prevCrc };
    this.liveZeroed = prepared !== undefined;
    this.requested = false;
  }
}
