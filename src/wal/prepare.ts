/**
 * Zero-filled journal segments, made ahead of need.
 *
 * A group commit into blocks that `fallocate` reserved but nothing has written yet costs
 * more than the data: the file system must also record, durably, that those blocks now hold
 * data (ext4 and XFS mark such extents "unwritten" and convert them at the fdatasync). On a
 * file whose every byte was written (zeros) and synced beforehand, the same fdatasync writes
 * the data and nothing else. `bench/journal.ts` measures both kinds of segment: on the
 * reference disk a group commit of 256 commands (24 KiB) took p50 / p99 132 / 230 µs on a
 * zero-filled segment against 248 / 390 µs on a fallocated one (docs/BENCHMARKS.md).
 *
 * Writing a segment's worth of zeros takes seconds, so it is done ahead, on a thread of its own
 * (the preparer, `runPreparer`, started by the node), into `journal/journal-next.tmp`, renamed
 * `journal-next.zero` once whole and synced (PREPARING_ and PREPARED_SEGMENT_NAME): a file by
 * that name is whole, so a node that starts and finds one of its segment size uses it
 * (`keepPrepared`). The journal writer takes the file when it next makes a segment:
 * it writes the header into it, syncs it, renames it and syncs the directory (JournalWriter).
 * When none is ready it makes one as before (fallocate), and moves to a zero-filled one as
 * soon as that is ready (see JournalWriter: an early rotation). The two threads share only
 * the state cell below; the file is the preparer's until it says `ready`, and the writer's
 * from the moment it takes it.
 *
 * Zeros on their way to the disk tax every concurrent group commit (a commit's fdatasync
 * ends with a flush of the device's write cache, which then holds them too): measured in
 * the node at 100k commands/s, a preparer writing throughout took the submit → durable p99
 * from 2.1–2.9 ms to 3.5–4.2 ms even at 16–32 MiB/s in small syncs, and to 15–18.5 ms at
 * 128 MiB/s in 32 MiB syncs (docs/BENCHMARKS.md).
 * So the preparer writes only while the journal is quiet: in chunks of PREPARE_CHUNK_BYTES,
 * each synced at once, and only when no group was committed in the last QUIET_MS (the
 * writer counts its commits in a cell, `noteCommit`). A commit that arrives during a chunk
 * waits for at most that chunk. It also keeps to `bytesPerSecond` (default 128 MiB/s). Under
 * constant load no quiet comes, nothing is prepared, and segments are made when needed.
 */

import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { PREPARED_SEGMENT_NAME, PREPARING_SEGMENT_NAME } from "../schema/wal.ts";
import { existsSync, statSync } from "node:fs";
import { REAL_FS, type JournalFs } from "./file.ts";
import { Cells } from "../bus/cells.ts";

/** States of the preparation cell (cell 0 of the shared Int32Array). */
export const PrepState = {
  /** Nothing prepared and nothing asked for. */
  idle: 0,
  /** The writer asked for a segment. */
  requested: 1,
  /** The preparer is writing it. */
  preparing: 2,
  /** A whole zero-filled segment waits in PREPARED_SEGMENT_NAME, synced. */
  ready: 3,
  /** The last preparation failed (the writer makes its segments itself). */
  failed: 4,
  /** The node is stopping: the preparer ends. */
  closed: 5,
} as const;

const PREP_CELLS = 4;
const STATE = 0;
/** Group commits so far (the writer's `noteCommit`): the preparer writes while it stays put. */
const COMMITS = 1;

/** Bytes the preparer writes and syncs at a time. */
export const PREPARE_CHUNK_BYTES = 256 << 10;
/** How long the journal must have committed nothing before the preparer writes a chunk. */
export const QUIET_MS = 50;

/**
 * Where the writer gets zero-filled segments. `take` returns the path of a ready one
 * (segment-sized, all zeros, synced) and makes it the caller's, or undefined; `request`
 * asks for the next; `ready` says whether `take` would return one; `noteCommit` is called
 * after each group commit (the preparer keeps out of the way of a busy journal).
 */
export interface SegmentSupply {
  ready(): boolean;
  take(): string | undefined;
  request(): void;
  noteCommit(): void;
}

/**
 * Writes `bytes` zero bytes into a new PREPARING_SEGMENT_NAME in `dir` (any old one removed
 * first), a chunk at a time, each synced, syncs the file, and renames it PREPARED_SEGMENT_NAME.
 * `before(written)` is called before each chunk (the preparer waits in it for a quiet
 * journal); false stops it, and the unfinished file is removed. Returns whether the prepared
 * file was made.
 */
export function prepareSegmentFile(fs: JournalFs, dir: string, bytes: number, before?: (written: number) => boolean): boolean {
  const path = join(dir, PREPARING_SEGMENT_NAME);
  fs.unlink(path);
  const file = fs.create(path);
  let stopped = false;
  try {
    const zeros = new Uint8Array(Math.min(PREPARE_CHUNK_BYTES, bytes));
    for (let at = 0; at < bytes; ) {
      if (before !== undefined && !before(at)) {
        stopped = true;
        break;
      }
      const n = Math.min(zeros.length, bytes - at);
      for (let done = 0; done < n; ) done += file.pwrite(zeros, done, n - done, at + done);
      file.fdatasync();
      at += n;
    }
    if (!stopped) file.fsync();
  } finally {
    file.close();
  }
  if (stopped) {
    fs.unlink(path); // nothing half-made is left
    return false;
  }
  // Whole and synced before the rename, so the name is never on a file that is not. (The
  // rename needs no directory sync: lost in a crash, the file is an unfinished one again.)
  fs.rename(path, join(dir, PREPARED_SEGMENT_NAME));
  return true;
}

/**
 * At a node's start, before its preparer and journal worker run: keeps a prepared segment
 * left by the last run if it has this segment size (it is whole: see PREPARED_SEGMENT_NAME)
 * and marks the cell `ready`, or removes it. Returns whether one was kept.
 */
export function keepPrepared(sab: SharedArrayBuffer, dir: string, segmentBytes: number, fs: JournalFs = REAL_FS): boolean {
  const path = join(dir, PREPARED_SEGMENT_NAME);
  if (!existsSync(path)) return false;
  if (statSync(path).size !== segmentBytes) {
    fs.unlink(path);
    return false;
  }
  new Cells(sab).store(STATE, PrepState.ready);
  return true;
}

/**
 * Prepares on the caller's thread, at once, when asked: for tests (under a fault-injecting
 * file layer) and tools. A failed preparation throws from `request`.
 */
export class InlineSegmentSupply implements SegmentSupply {
  private state: number = PrepState.idle;
  readonly path: string;
  prepared = 0;

  constructor(private readonly fs: JournalFs, private readonly dir: string, private readonly bytes: number) {
    this.path = join(dir, PREPARED_SEGMENT_NAME);
  }

  ready(): boolean {
    return this.state === PrepState.ready;
  }

  take(): string | undefined {
    if (this.state !== PrepState.ready) return undefined;
    this.state = PrepState.idle;
    return this.path;
  }

  request(): void {
    if (this.state === PrepState.ready) return;
    this.state = PrepState.failed;
    prepareSegmentFile(this.fs, this.dir, this.bytes);
    this.state = PrepState.ready;
    this.prepared++;
  }

  noteCommit(): void {}
}

/**
 * The writer's side of a preparer thread: the state cell in shared memory (Cells: every
 * access sequentially consistent, so the preparer's writes and sync of the file happen
 * before the `ready` a `take` sees).
 */
export class SharedSegmentSupply implements SegmentSupply {
  private readonly cells: Cells;
  readonly path: string;

  constructor(sab: SharedArrayBuffer, dir: string) {
    this.cells = new Cells(sab);
    this.path = join(dir, PREPARED_SEGMENT_NAME);
  }

  ready(): boolean {
    return this.cells.load(STATE) === PrepState.ready;
  }

  take(): string | undefined {
    // Only the writer moves the cell out of `ready`, so a load then a store is enough.
    if (this.cells.load(STATE) !== PrepState.ready) return undefined;
    this.cells.store(STATE, PrepState.idle);
    return this.path;
  }

  request(): void {
    // From idle or failed only: one that is being made, or waits, is not asked for again.
    if (this.cells.compareExchange(STATE, PrepState.idle, PrepState.requested) === PrepState.idle ||
      this.cells.compareExchange(STATE, PrepState.failed, PrepState.requested) === PrepState.failed) {
      this.cells.notify(STATE);
    }
  }

  noteCommit(): void {
    this.cells.add(COMMITS, 1);
  }
}

export function newPrepCells(): SharedArrayBuffer {
  return Cells.create(PREP_CELLS).sab;
}

/** Asks the preparer to end (after its current chunk); it removes a file it had not finished. */
export function closePreparer(sab: SharedArrayBuffer): void {
  const cells = new Cells(sab);
  cells.store(STATE, PrepState.closed);
  cells.notify(STATE);
}

export interface PreparerOptions {
  dir: string;
  segmentBytes: number;
  /** Pace of the zero writes, at most (default 128 MiB/s: 1 GiB in 8 s of quiet). */
  bytesPerSecond?: number;
  /** How long the journal must have been quiet before a chunk (default QUIET_MS). */
  quietMs?: number;
  fs?: JournalFs;
  log?: (line: string) => void;
}

/**
 * The preparer thread's loop: waits for a request, makes the file, says `ready`; ends when
 * the cell says `closed`. Blocks its thread (Atomics.wait), so it runs on a worker of its own.
 */
export function runPreparer(sab: SharedArrayBuffer, o: PreparerOptions): void {
  const cells = new Cells(sab);
  const fs = o.fs ?? REAL_FS;
  const rate = o.bytesPerSecond ?? 128 << 20;
  const log = o.log ?? (() => {});
  const quietMs = o.quietMs ?? QUIET_MS;
  for (;;) {
    const state = cells.load(STATE);
    if (state === PrepState.closed) return;
    if (state !== PrepState.requested) {
      cells.waitWhile(STATE, state, 1_000);
      continue;
    }
    if (cells.compareExchange(STATE, PrepState.requested, PrepState.preparing) !== PrepState.requested) continue;
    const t0 = performance.now();
    let busyWaits = 0;
    let seen = cells.load(COMMITS);
    let quietSince = t0;
    /** Waits until the journal has been quiet for quietMs and the pace allows the next chunk; false if closed meanwhile. */
    const before = (written: number): boolean => {
      const due = t0 + (written / rate) * 1000;
      for (;;) {
        if (cells.load(STATE) !== PrepState.preparing) return false;
        const now = performance.now();
        const commits = cells.load(COMMITS);
        if (commits !== seen) {
          seen = commits;
          quietSince = now;
          busyWaits++;
        }
        const wait = Math.max(due - now, quietSince + quietMs - now);
        if (wait <= 0) return true;
        cells.waitWhile(STATE, PrepState.preparing, Math.min(wait, quietMs));
      }
    };
    try {
      if (prepareSegmentFile(fs, o.dir, o.segmentBytes, before)) {
        if (cells.compareExchange(STATE, PrepState.preparing, PrepState.ready) === PrepState.preparing) {
          log(`journal: the next segment is ready (${o.segmentBytes} bytes of zeros in ${((performance.now() - t0) / 1000).toFixed(1)} s, ${busyWaits} waits for a quiet journal)`);
        }
      }
      // else: closed half-way; prepareSegmentFile removed what it had written
    } catch (err) {
      try {
        fs.unlink(join(o.dir, PREPARING_SEGMENT_NAME));
      } catch {
        // the directory itself may be what failed; the next start removes the file
      }
      const code = (err as { code?: string }).code;
      log(`journal: could not prepare the next segment (${code === "ENOSPC" ? "the disk is full" : String((err as Error).message ?? err)}); segments are made when needed instead`);
      cells.compareExchange(STATE, PrepState.preparing, PrepState.failed);
    }
  }
}
