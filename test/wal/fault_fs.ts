/**
 * A fault-injecting file layer for the journal writer (the harness TESTING.md calls H1):
 * real files in a temporary directory, plus a record of every write, truncate and file
 * creation not yet made durable by an fsync. `powerLoss(prng)` then does to the files what
 * a power cut may: each unsynced write is kept, lost, or torn (some 512-byte sectors of it
 * landed, the rest did not, or landed as garbage); an unsynced truncate may be undone; a file
 * created since the directory's last fsync may vanish, and a file removed since then may come
 * back (each on its own, so any subset of a run of removals may be undone; it comes back with
 * what it held when removed). Faults can also be scheduled: the n-th
 * operation fails with an errno (EIO, ENOSPC), or the process "dies" at the n-th operation
 * (SimulatedCrash), optionally after half of a write. Sync batches and write-backs are
 * modelled by what the file layer's contract promises of them and no more (a commit makes
 * the directory's writes since the batch began durable; a write-back makes nothing durable).
 */

import { closeSync, existsSync, ftruncateSync, linkSync, mkdtempSync, openSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { REAL_FS, type JournalFile, type JournalFs, type SyncBatch } from "../../src/wal/file.ts";
import type { Prng } from "../../src/stdx/prng.ts";

export class SimulatedCrash extends Error {
  override readonly name = "SimulatedCrash";
}

interface Pending {
  /** Order of recording, so that a sync batch knows what was written since it began. */
  serial: number;
  path: string;
  kind: "write" | "truncate";
  position: number;
  /** The bytes there before the write (zeros beyond the old end). */
  old: Uint8Array;
  data: Uint8Array;
  oldSize: number;
}

export class FaultFs implements JournalFs {
  private pending: Pending[] = [];
  private serial = 0;
  /** The operation number of each sync batch's commit (see `beginSyncBatch`). */
  batchCommitOps: number[] = [];
  /** Write-backs started (`JournalFile.writeBack`). */
  writeBacks = 0;
  /** The operation number of each write-back. */
  writeBackOps: number[] = [];
  private created: string[] = [];
  private renames: Array<{ from: string; to: string }> = [];
  /** Files removed since their directory's last fsync, each hard-linked into `stash` first. */
  private removed: Array<{ path: string; kept: string }> = [];
  private stash: string | undefined;
  /** The name each open file goes by now (a rename moves it, as an fd follows its file). */
  private names: Array<{ path: string }> = [];
  ops = 0;
  /** The operation number at which the process dies (SimulatedCrash), if any. */
  crashAt = -1;
  /** The operation number that fails with `failCode`, if any. */
  failAt = -1;
  failCode = "EIO";

  create(path: string): JournalFile {
    this.tick(path, undefined);
    const f = REAL_FS.create(path);
    this.created.push(path);
    return this.wrap(path, f);
  }

  open(path: string): JournalFile {
    return this.wrap(path, REAL_FS.open(path));
  }

  fsyncDir(dir: string): void {
    this.tick(dir, undefined);
    REAL_FS.fsyncDir(dir);
    this.created = this.created.filter((p) => dirname(p) !== dir);
    this.renames = this.renames.filter((r) => dirname(r.to) !== dir);
    for (const r of this.removed) if (dirname(r.path) === dir) rmSync(r.kept, { force: true });
    this.removed = this.removed.filter((r) => dirname(r.path) !== dir);
  }

  rename(from: string, to: string): void {
    this.tick(from, undefined);
    REAL_FS.rename(from, to);
    this.renames.push({ from, to });
    // The file is known by its new name now: its pending writes and creation follow it.
    for (const p of this.pending) if (p.path === from) p.path = to;
    for (const n of this.names) if (n.path === from) n.path = to;
    this.created = this.created.map((c) => (c === from ? to : c));
  }

  unlink(path: string): void {
    this.tick(path, undefined);
    if (existsSync(path)) {
      // A link keeps the file's bytes for a power cut that undoes the removal.
      this.stash ??= newStash();
      const kept = join(this.stash, String(this.removed.length));
      linkSync(path, kept);
      this.removed.push({ path, kept });
      this.pending = this.pending.filter((p) => p.path !== path);
    }
    REAL_FS.unlink(path);
  }

  /**
   * A sync batch as the layer's contract promises it and no more (src/wal/file.ts): `commit`
   * makes durable what was written in `dir` since the batch began; new names still need
   * `fsyncDir`. A commit is an operation, where a crash or a fault may be injected.
   */
  beginSyncBatch(dir: string): SyncBatch {
    const from = this.serial;
    let open = true;
    return {
      commit: () => {
        if (!open) throw new Error("sync batch used after close");
        this.batchCommitOps.push(this.ops);
        this.tick(dir, undefined);
        this.pending = this.pending.filter((p) => p.serial < from || dirname(p.path) !== dir);
      },
      close: () => {
        open = false;
      },
    };
  }

  /** Writes and truncates not yet made durable (all files). */
  get unsynced(): number {
    return this.pending.length;
  }

  /** Applies a power cut to everything not yet durable, then forgets it. */
  powerLoss(r: Prng): { kept: number; lost: number; torn: number; vanished: number; returned: number } {
    const counts = { kept: 0, lost: 0, torn: 0, vanished: 0, returned: 0 };
    // Undo in reverse order, so each restore sees the state it was taken from.
    for (const p of [...this.pending].reverse()) {
      if (!existsSync(p.path)) continue;
      const pick = r.nextU32() % 3;
      if (pick === 0) {
        counts.kept++;
        continue;
      }
      if (p.kind === "truncate") {
        counts.lost++;
        // Undone: the old size, and the bytes a shrink cut off, come back.
        const fd = openSync(p.path, "r+");
        ftruncateSync(fd, p.oldSize);
        if (p.old.length > 0) writeSync(fd, p.old, 0, p.old.length, p.position);
        closeSync(fd);
        continue;
      }
      const fd = openSync(p.path, "r+");
      if (pick === 1) {
        counts.lost++;
        writeSync(fd, p.old, 0, p.old.length, p.position);
      } else {
        counts.torn++;
        // Sector by sector: landed, not landed, or garbage.
        for (let s = 0; s < p.data.length; s += 512) {
          const len = Math.min(512, p.data.length - s);
          const what = r.nextU32() % 3;
          if (what === 0) continue;
          const bytes = what === 1 ? p.old.subarray(s, s + len) : garbage(r, len);
          writeSync(fd, bytes, 0, len, p.position + s);
        }
      }
      closeSync(fd);
    }
    // A rename not yet made durable by a directory fsync may be undone.
    for (const { from, to } of [...this.renames].reverse()) {
      if (existsSync(to) && r.nextU32() % 2 === 0) {
        REAL_FS.rename(to, from);
        this.created = this.created.map((c) => (c === to ? from : c));
        counts.lost++;
      }
    }
    for (const path of this.created) {
      if (existsSync(path) && r.nextU32() % 2 === 0) {
        unlinkSync(path);
        counts.vanished++;
      }
    }
    // A removal not yet made durable may be undone, each on its own.
    for (const { path, kept } of [...this.removed].reverse()) {
      if (!existsSync(path) && r.nextU32() % 2 === 0) {
        renameSync(kept, path);
        counts.returned++;
      }
    }
    this.dispose();
    this.pending = [];
    this.created = [];
    this.renames = [];
    return counts;
  }

  /** Drops the links kept for undoing removals (a power cut does it too). */
  dispose(): void {
    if (this.stash !== undefined) rmSync(this.stash, { recursive: true, force: true });
    this.stash = undefined;
    this.removed = [];
  }

  private tick(path: string, half: (() => void) | undefined): void {
    const n = this.ops++;
    if (n === this.failAt) throw Object.assign(new Error(`${this.failCode}: injected fault on ${path}`), { code: this.failCode });
    if (n === this.crashAt) {
      half?.();
      throw new SimulatedCrash(`simulated crash at operation ${n} (${path})`);
    }
  }

  private wrap(openedAs: string, f: JournalFile): JournalFile {
    const fs = this;
    const name = { path: openedAs };
    this.names.push(name);
    const durable = (): void => {
      fs.pending = fs.pending.filter((p) => p.path !== name.path);
    };
    return {
      pwrite(src, offset, len, position) {
        const path = name.path;
        const data = src.slice(offset, offset + len);
        const record = (bytes: Uint8Array): void => {
          fs.pending.push({ serial: fs.serial++, path, kind: "write", position, old: readOld(path, position, bytes.length), data: bytes.slice(), oldSize: statSync(path).size });
        };
        // A crash in the middle of a write leaves its first half written (unsynced).
        fs.tick(path, () => {
          const halfLen = (len >> 1) & ~7;
          record(data.subarray(0, halfLen));
          f.pwrite(data, 0, halfLen, position);
        });
        record(data);
        return f.pwrite(data, 0, len, position);
      },
      fdatasync() {
        fs.tick(name.path, undefined);
        f.fdatasync();
        durable();
      },
      fsync() {
        fs.tick(name.path, undefined);
        f.fsync();
        durable();
      },
      writeBack() {
        // A write-back starts the write-out and makes nothing durable: what was written stays
        // unsynced here until an fsync. An operation, where a crash or a fault may be injected.
        fs.writeBackOps.push(fs.ops);
        fs.tick(name.path, undefined);
        fs.writeBacks++;
        return true;
      },
      ftruncate(size) {
        const path = name.path;
        fs.tick(path, undefined);
        const oldSize = statSync(path).size;
        const cut = size < oldSize ? readOld(path, size, oldSize - size) : new Uint8Array(0);
        fs.pending.push({ serial: fs.serial++, path, kind: "truncate", position: size, old: cut, data: new Uint8Array(0), oldSize });
        f.ftruncate(size);
      },
      close() {
        fs.names = fs.names.filter((n) => n !== name);
        f.close();
      },
    };
  }
}

const stashes: string[] = [];
function newStash(): string {
  const dir = mkdtempSync(join(tmpdir(), "venue-faultfs-removed-"));
  if (stashes.length === 0) process.on("exit", () => stashes.forEach((d) => rmSync(d, { recursive: true, force: true })));
  stashes.push(dir);
  return dir;
}

function readOld(path: string, position: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  const fd = openSync(path, "r");
  try {
    readSync(fd, out, 0, len, position);
  } finally {
    closeSync(fd);
  }
  return out;
}

function garbage(r: Prng, len: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = r.nextU32() & 0xff;
  return b;
}
