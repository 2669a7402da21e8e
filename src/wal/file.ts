/**
 * The file operations the journal writer and the snapshot writer make, as one small
 * interface, so that a test can put a fault-injecting layer under them (lost, torn or
 * failing writes) without touching them. `REAL_FS` is the one the node uses: plain synchronous syscalls.
 */

import { closeSync, fdatasyncSync, fsyncSync, ftruncateSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { assertNotMapped, canSyncFileSystem, preallocate, syncFileSystem, writeBack } from "../native/mmap.ts";

export interface JournalFile {
  /** Writes `len` bytes of `src` from `offset` at file position `position`; returns bytes written. */
  pwrite(src: Uint8Array, offset: number, len: number, position: number): number;
  fdatasync(): void;
  fsync(): void;
  ftruncate(size: number): void;
  /**
   * Makes the file `size` bytes long with its blocks allocated (fallocate), where the file
   * system can; layers that lack it get `ftruncate` (a sparse file) from the caller.
   */
  preallocate?(size: number): void;
  /**
   * Starts the write-out of bytes [offset, offset + length) to the disk without waiting
   * for it, after waiting for the write-out of the range the previous call started: the
   * caller stays about two ranges ahead of the disk, and no flush of the device's cache is
   * issued. Makes nothing durable (see `writeBack` in src/native/mmap.ts). Returns false
   * where it cannot (no native addon, a layer without it): a caller that wanted the bytes
   * on their way syncs instead.
   */
  writeBack?(offset: number, length: number): boolean;
  close(): void;
}

/**
 * Files written in one directory made durable together, with one call (see
 * `JournalFs.beginSyncBatch`).
 */
export interface SyncBatch {
  /**
   * Makes every file written in the directory since the batch began durable, data and
   * metadata (new names still need `fsyncDir`). Throws the I/O error if any write-out
   * since then failed.
   */
  commit(): void;
  close(): void;
}

export interface JournalFs {
  /** Creates a new file; fails if it exists. */
  create(path: string): JournalFile;
  /** Opens an existing file for reading and writing. */
  open(path: string): JournalFile;
  /** Makes the directory's entries (a new file) durable. */
  fsyncDir(dir: string): void;
  /** Renames a file (durable once its directory is fsynced). */
  rename(from: string, to: string): void;
  /** Removes a file if it exists. */
  unlink(path: string): void;
  /**
   * Begins a batch of files in `dir` to be made durable together by `commit`, instead of an
   * fsync each (which flushes the device's cache once per file), or returns undefined where
   * this layer cannot (then fsync each file). Begin it before the first of the files is
   * written: the commit reports the errors met since.
   */
  beginSyncBatch?(dir: string): SyncBatch | undefined;
}

class RealFile implements JournalFile {
  /** The range the last `writeBack` started, which the next one waits for. */
  private backOffset = 0;
  private backLength = 0;
  constructor(private fd: number, private readonly path: string) {}
  pwrite(src: Uint8Array, offset: number, len: number, position: number): number {
    return writeSync(this.fd, src, offset, len, position);
  }
  fdatasync(): void {
    fdatasyncSync(this.fd);
  }
  fsync(): void {
    fsyncSync(this.fd);
  }
  ftruncate(size: number): void {
    // A mapped file must never shrink under its mapping (a read of a cut page is SIGBUS).
    assertNotMapped(this.path);
    ftruncateSync(this.fd, size);
  }
  preallocate(size: number): void {
    if (!preallocate(this.fd, 0, size)) this.ftruncate(size);
  }
  writeBack(offset: number, length: number): boolean {
    if (!writeBack(this.fd, offset, length, this.backOffset, this.backLength)) return false;
    this.backOffset = offset;
    this.backLength = length;
    return true;
  }
  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

export const REAL_FS: JournalFs = {
  create: (path) => new RealFile(openSync(path, "wx+"), path),
  open: (path) => new RealFile(openSync(path, "r+"), path),
  fsyncDir: (dir) => {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  },
  rename: (from, to) => renameSync(from, to),
  unlink: (path) => rmSync(path, { force: true }),
  beginSyncBatch: (dir) => {
    if (!canSyncFileSystem()) return undefined;
    const fd = openSync(dir, "r");
    return {
      // syncfs of the directory's file system: every file on it, one flush of the device's cache.
      commit: () => {
        if (!syncFileSystem(fd)) throw new Error("syncfs: the native addon is not loaded");
      },
      close: () => closeSync(fd),
    };
  },
};
