/**
 * Shared pieces of the event store's fault tests: a deterministic workload whose state
 * at any sequence can be recomputed, and a file layer that, once a simulated crash has
 * happened, fails every later operation (a dead process does nothing more).
 */

import type { JournalFile, JournalFs, SyncBatch } from "../../src/wal/file.ts";
import { SimulatedCrash } from "../wal/fault_fs.ts";
import type { LsmTree } from "../../src/lsm/tree.ts";

/** Write number `seq` (from 1): its key, and its value (undefined: a deletion). */
export function workloadOp(seq: number, keys: number): { key: Uint8Array; value: Uint8Array | undefined } {
  const h = Math.imul(seq, 0x9e3779b1) >>> 0;
  const k = h % keys;
  const key = Uint8Array.of(0x10, (k >>> 16) & 0xff, (k >>> 8) & 0xff, k & 0xff);
  if (h % 11 === 0) return { key, value: undefined };
  const size = 8 + (h % 120);
  const value = new Uint8Array(size);
  const dv = new DataView(value.buffer);
  dv.setUint32(0, seq, true);
  for (let i = 4; i < size; i++) value[i] = (seq + i) & 0xff;
  return { key, value };
}

/** The store's expected content after writes 1..seq, as "key=value" lines in key order. */
export function expectedAt(seq: number, keys: number): string[] {
  const m = new Map<string, string>();
  for (let s = 1; s <= seq; s++) {
    const { key, value } = workloadOp(s, keys);
    const k = Buffer.from(key).toString("hex");
    if (value === undefined) m.delete(k);
    else m.set(k, Buffer.from(value).toString("hex"));
  }
  return [...m].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => `${k}=${v}`);
}

export function contents(t: LsmTree): string[] {
  const out: string[] = [];
  t.scan(new Uint8Array(0), undefined, (k, v) => {
    out.push(`${Buffer.from(k).toString("hex")}=${Buffer.from(v).toString("hex")}`);
  });
  return out;
}

/** Once any operation has thrown SimulatedCrash, every later one throws it too. */
export class DeadAfterCrash implements JournalFs {
  dead = false;
  constructor(private readonly inner: JournalFs) {}

  private guard<T>(f: () => T): T {
    if (this.dead) throw new SimulatedCrash("the process is dead");
    try {
      return f();
    } catch (e) {
      if (e instanceof SimulatedCrash) this.dead = true;
      throw e;
    }
  }

  private wrap(f: JournalFile): JournalFile {
    return {
      pwrite: (src, off, len, pos) => this.guard(() => f.pwrite(src, off, len, pos)),
      fdatasync: () => this.guard(() => f.fdatasync()),
      fsync: () => this.guard(() => f.fsync()),
      ftruncate: (size) => this.guard(() => f.ftruncate(size)),
      ...(f.writeBack === undefined ? {} : { writeBack: (offset: number, length: number) => this.guard(() => f.writeBack!(offset, length)) }),
      close: () => f.close(),
    };
  }

  create(path: string): JournalFile {
    return this.wrap(this.guard(() => this.inner.create(path)));
  }
  open(path: string): JournalFile {
    return this.wrap(this.guard(() => this.inner.open(path)));
  }
  fsyncDir(dir: string): void {
    this.guard(() => this.inner.fsyncDir(dir));
  }
  rename(from: string, to: string): void {
    this.guard(() => this.inner.rename(from, to));
  }
  unlink(path: string): void {
    this.guard(() => this.inner.unlink(path));
  }
  beginSyncBatch(dir: string): SyncBatch | undefined {
    const b = this.guard(() => this.inner.beginSyncBatch?.(dir));
    if (b === undefined) return undefined;
    return { commit: () => this.guard(() => b.commit()), close: () => b.close() };
  }
}
