/**
 * Snapshot files (layout in src/schema/snapshot.ts): `writeSnapshot` writes a captured
 * engine state atomically (temp file, write, fsync, rename, directory fsync), and
 * `readNewestSnapshot` finds the newest snapshot that checks (magic, version, sizes, both
 * CRCs), logging and passing over any that does not. Runs on the snapshot worker (write)
 * and the main thread at start (read).
 */

import { readFileSync, readdirSync, unlinkSync } from "node:fs";
import { REAL_FS, type JournalFs } from "./file.ts";
import { pruneJournal } from "./recover.ts";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { CapturedState, Shape } from "../engine/state.ts";
import {
  SH_BLOBS, SH_CRC, SH_CREATED, SH_FILE_SIZE, SH_HEADER_SIZE, SH_MAGIC, SH_SEQ, SH_SHAPE_BYTES, SH_VERSION,
  SNAP_HEADER_BYTES, SNAP_MAGIC, SNAP_TRAILER_BYTES, SNAP_VERSION, snapshotName, snapshotSeq,
} from "../schema/snapshot.ts";

const align8 = (n: number): number => (n + 7) & ~7;

/**
 * A snapshot (30 MB after 1M commands of the demo flow) written at once and synced reaches
 * the disk as one burst, and a journal fdatasync issued meanwhile waits behind all of it.
 * So it is written in pieces of SNAPSHOT_WRITE_BACK_BYTES, each one's write-out started at
 * once (`JournalFile.writeBack`, sync_file_range through the native addon), and synced
 * once at the end; where the file layer cannot write back, every SNAPSHOT_SYNC_EVERY_BYTES
 * is fdatasynced before the next. Event-store tables are written the same way
 * (TableWriterOptions.writeBackEveryBytes).
 */
export const SNAPSHOT_WRITE_BACK_BYTES = 128 << 10;
export const SNAPSHOT_SYNC_EVERY_BYTES = 1 << 20;

/** Writes `state` as the snapshot of `seq` in `dir`; returns the file name. */
export function writeSnapshot(dir: string, seq: number, state: CapturedState, createdNs: bigint, fs: JournalFs = REAL_FS, syncEveryBytes = SNAPSHOT_SYNC_EVERY_BYTES, writeBackBytes = SNAPSHOT_WRITE_BACK_BYTES): string {
  const shape = Buffer.from(JSON.stringify(state.shape), "utf8");
  const tableBytes = state.blobs.length * 16;
  let at = align8(SNAP_HEADER_BYTES + tableBytes + shape.length);
  const offsets = state.blobs.map((b) => {
    const o = at;
    at = align8(at + b.length);
    return o;
  });
  const size = at + SNAP_TRAILER_BYTES;
  const file = Buffer.alloc(size);
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  dv.setUint32(SH_MAGIC, SNAP_MAGIC, true);
  dv.setUint16(SH_VERSION, SNAP_VERSION, true);
  dv.setUint16(SH_HEADER_SIZE, SNAP_HEADER_BYTES, true);
  dv.setBigUint64(SH_SEQ, BigInt(seq), true);
  dv.setUint32(SH_SHAPE_BYTES, shape.length, true);
  dv.setUint32(SH_BLOBS, state.blobs.length, true);
  dv.setBigUint64(SH_FILE_SIZE, BigInt(size), true);
  dv.setBigUint64(SH_CREATED, createdNs, true);
  dv.setUint32(SH_CRC, crc32(file.subarray(0, SH_CRC)), true);
  state.blobs.forEach((b, i) => {
    dv.setBigUint64(SNAP_HEADER_BYTES + i * 16, BigInt(offsets[i]!), true);
    dv.setBigUint64(SNAP_HEADER_BYTES + i * 16 + 8, BigInt(b.length), true);
    file.set(b, offsets[i]!);
  });
  shape.copy(file, SNAP_HEADER_BYTES + tableBytes);
  dv.setUint32(size - SNAP_TRAILER_BYTES, crc32(file.subarray(0, size - SNAP_TRAILER_BYTES)), true);

  const name = snapshotName(seq);
  const tmp = join(dir, `${name}.tmp`);
  fs.unlink(tmp); // left by an interrupted attempt
  const f = fs.create(tmp);
  try {
    let done = 0;
    let syncedTo = 0;
    let writeBack = writeBackBytes > 0;
    while (done < size) {
      const start = done;
      const end = Math.min(size, done + (writeBack ? writeBackBytes : syncEveryBytes > 0 ? syncEveryBytes : size));
      while (done < end) done += f.pwrite(file, done, end - done, done);
      if (done === size) break;
      // A layer that cannot write back (false) has the rest synced every syncEveryBytes.
      if (writeBack) writeBack = f.writeBack?.(start, end - start) === true;
      if (!writeBack && syncEveryBytes > 0 && done - syncedTo >= syncEveryBytes) {
        f.fdatasync();
        syncedTo = done;
      }
    }
    f.fsync();
  } finally {
    f.close();
  }
  fs.rename(tmp, join(dir, name));
  fs.fsyncDir(dir);
  return name;
}

export interface LoadedSnapshot {
  name: string;
  seq: number;
  state: CapturedState;
}

/** Why a snapshot file is unusable, or undefined if it checks. */
function problem(b: Buffer): string | undefined {
  if (b.length < SNAP_HEADER_BYTES + SNAP_TRAILER_BYTES) return "shorter than a header";
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getUint32(SH_MAGIC, true) !== SNAP_MAGIC) return "wrong magic";
  if (dv.getUint16(SH_VERSION, true) !== SNAP_VERSION) return `version ${dv.getUint16(SH_VERSION, true)}, this build reads ${SNAP_VERSION}`;
  if (crc32(b.subarray(0, SH_CRC)) !== dv.getUint32(SH_CRC, true)) return "header checksum mismatch";
  if (Number(dv.getBigUint64(SH_FILE_SIZE, true)) !== b.length) return "size differs from the header's";
  if (crc32(b.subarray(0, b.length - SNAP_TRAILER_BYTES)) !== dv.getUint32(b.length - SNAP_TRAILER_BYTES, true)) return "checksum mismatch";
  return undefined;
}

export function readSnapshot(dir: string, name: string): LoadedSnapshot | string {
  const b = readFileSync(join(dir, name));
  const bad = problem(b);
  if (bad !== undefined) return bad;
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const seq = Number(dv.getBigUint64(SH_SEQ, true));
  if (seq !== snapshotSeq(name)) return "its name and its header disagree on the seq";
  const count = dv.getUint32(SH_BLOBS, true);
  const shapeAt = SNAP_HEADER_BYTES + count * 16;
  const shape = JSON.parse(b.subarray(shapeAt, shapeAt + dv.getUint32(SH_SHAPE_BYTES, true)).toString("utf8")) as Shape;
  const blobs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const off = Number(dv.getBigUint64(SNAP_HEADER_BYTES + i * 16, true));
    const len = Number(dv.getBigUint64(SNAP_HEADER_BYTES + i * 16 + 8, true));
    if (off + len > b.length - SNAP_TRAILER_BYTES) return `blob ${i} lies outside the file`;
    blobs.push(new Uint8Array(b.subarray(off, off + len)));
  }
  return { name, seq, state: { shape, blobs } };
}

/** Finished snapshots in `dir`, newest first. */
export function listSnapshots(dir: string): string[] {
  return readdirSync(dir).filter((n) => snapshotSeq(n) >= 0).sort((a, b) => snapshotSeq(b) - snapshotSeq(a));
}

/**
 * The newest snapshot that checks (of a seq at most `atMost`), or undefined; bad ones are
 * logged and passed over, temp files removed. `usable` may refuse a sound file as well (a
 * snapshot of an engine whose state has other fields: another build), with the reason.
 */
export function readNewestSnapshot(dir: string, log: (line: string) => void = () => {}, atMost = Number.MAX_SAFE_INTEGER, usable: (s: LoadedSnapshot) => string | undefined = () => undefined): LoadedSnapshot | undefined {
  for (const n of readdirSync(dir)) {
    if (n.startsWith("snapshot-") && n.endsWith(".tmp")) {
      unlinkSync(join(dir, n));
      log(`snapshots: removed ${n}, a snapshot a crash interrupted`);
    }
  }
  for (const name of listSnapshots(dir)) {
    if (snapshotSeq(name) > atMost) continue;
    const r = readSnapshot(dir, name);
    const why = typeof r === "string" ? r : usable(r);
    if (why === undefined) return r as LoadedSnapshot;
    log(`snapshots: passed over ${name}: ${why}`);
  }
  return undefined;
}

/**
 * After a snapshot is written: keeps the newest two snapshots and the newest one at or
 * below the event store's replay point minus one (a start restores that one, so that its
 * replay regenerates what the store lacks); with `prune`, deletes journal segments wholly
 * below the oldest kept snapshot, or none if no snapshot is old enough for the store.
 * Returns the deleted segments.
 */
export function pruneAfterSnapshot(dir: string, journalDir: string, prune: boolean, storeReplayFrom: number | undefined, fs: JournalFs = REAL_FS): string[] {
  pruneSnapshots(dir, 2, storeReplayFrom === undefined ? -1 : storeReplayFrom - 1, fs);
  const oldest = listSnapshots(dir).at(-1);
  const covered = oldest === undefined ? 0 : snapshotSeq(oldest);
  const bound = storeReplayFrom !== undefined && storeReplayFrom - 1 < covered ? 0 : covered;
  return bound === 0 || !prune ? [] : pruneJournal(journalDir, bound, fs);
}

/** Removes all but the newest `keep` snapshots and the newest one at or below `alsoAtMost`. */
export function pruneSnapshots(dir: string, keep: number, alsoAtMost = -1, fs: JournalFs = REAL_FS): void {
  const names = listSnapshots(dir);
  const extra = names.find((n) => snapshotSeq(n) <= alsoAtMost);
  for (const name of names.slice(keep)) if (name !== extra) fs.unlink(join(dir, name));
}
