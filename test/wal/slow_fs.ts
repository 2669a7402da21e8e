/**
 * Loaded by the journal worker of a node under test (NodeOptions.journalFsModule): the real
 * file layer with every fdatasync held back by the number of milliseconds written in the
 * file VENUE_SLOW_FSYNC_FILE (read at each fdatasync, so a test can slow the disk down and
 * bring it back while the node runs). A gray failure: slow, never failing.
 */

import { readFileSync } from "node:fs";
import { REAL_FS, type JournalFile, type JournalFs } from "../../src/wal/file.ts";

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function delayMs(): number {
  const file = process.env["VENUE_SLOW_FSYNC_FILE"];
  if (file === undefined) return 0;
  try {
    return Number(readFileSync(file, "utf8")) || 0;
  } catch {
    return 0;
  }
}

class SlowFile implements JournalFile {
  constructor(private readonly file: JournalFile) {}
  pwrite(src: Uint8Array, offset: number, len: number, position: number): number {
    return this.file.pwrite(src, offset, len, position);
  }
  fdatasync(): void {
    const ms = delayMs();
    if (ms > 0) Atomics.wait(sleeper, 0, 0, ms);
    this.file.fdatasync();
  }
  fsync(): void {
    this.file.fsync();
  }
  ftruncate(size: number): void {
    this.file.ftruncate(size);
  }
  close(): void {
    this.file.close();
  }
}

export function createJournalFs(): JournalFs {
  return {
    create: (path) => new SlowFile(REAL_FS.create(path)),
    open: (path) => new SlowFile(REAL_FS.open(path)),
    fsyncDir: (dir) => REAL_FS.fsyncDir(dir),
    rename: (from, to) => REAL_FS.rename(from, to),
    unlink: (path) => REAL_FS.unlink(path),
  };
}
