/**
 * Merging iteration: many sorted sources (MemTables, tables, levels) read as one sorted
 * stream in which, for a key held by several sources, only the newest source's entry is
 * seen. Sources are given newest first. Deletions pass through (a compaction needs them);
 * `LiveIterator` hides them for readers.
 */

import { compareBytes } from "../schema/sstable.ts";
import { DELETED, type EntryIterator } from "./table_reader.ts";

/** An iterator that shows the entry another one is at. */
abstract class Forwarding implements EntryIterator {
  valid = false;
  buf: Uint8Array = DELETED;
  keyOff = 0;
  keyLen = 0;
  valOff = 0;
  valLen = 0;

  abstract seek(key: Uint8Array): void;
  abstract seekFirst(): void;
  abstract next(): void;

  protected show(c: EntryIterator): void {
    this.valid = true;
    this.buf = c.buf;
    this.keyOff = c.keyOff;
    this.keyLen = c.keyLen;
    this.valOff = c.valOff;
    this.valLen = c.valLen;
  }
}

export class MergingIterator extends Forwarding {
  private current = -1;

  constructor(private readonly children: EntryIterator[]) {
    super();
  }

  seek(key: Uint8Array): void {
    for (const c of this.children) c.seek(key);
    this.pick();
  }

  seekFirst(): void {
    for (const c of this.children) c.seekFirst();
    this.pick();
  }

  next(): void {
    if (!this.valid) return;
    const cur = this.children[this.current]!;
    // Older sources holding the same key are shadowed: step past them too.
    for (let i = 0; i < this.children.length; i++) {
      const c = this.children[i]!;
      if (i === this.current || !c.valid) continue;
      if (compareBytes(c.buf, c.keyOff, c.keyLen, cur.buf, cur.keyOff, cur.keyLen) === 0) c.next();
    }
    cur.next();
    this.pick();
  }

  private pick(): void {
    let best = -1;
    const cs = this.children;
    for (let i = 0; i < cs.length; i++) {
      const c = cs[i]!;
      if (!c.valid) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const b = cs[best]!;
      if (compareBytes(c.buf, c.keyOff, c.keyLen, b.buf, b.keyOff, b.keyLen) < 0) best = i;
    }
    this.current = best;
    if (best < 0) {
      this.valid = false;
      return;
    }
    this.show(cs[best]!);
  }
}

/** Tables of one level (1 and up): disjoint and ordered, so one is open at a time. */
export class LevelIterator extends Forwarding {
  private index = -1;
  private inner: EntryIterator | undefined;

  /** `largest[i]` is table i's largest key; `open(i)` gives an iterator over table i. */
  constructor(private readonly largest: Uint8Array[], private readonly open: (i: number) => EntryIterator) {
    super();
  }

  seek(key: Uint8Array): void {
    let lo = 0;
    let hi = this.largest.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const l = this.largest[mid]!;
      if (compareBytes(l, 0, l.length, key, 0, key.length) < 0) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= this.largest.length) {
      this.valid = false;
      return;
    }
    this.enter(lo);
    this.inner!.seek(key);
    this.settle();
  }

  seekFirst(): void {
    if (this.largest.length === 0) {
      this.valid = false;
      return;
    }
    this.enter(0);
    this.inner!.seekFirst();
    this.settle();
  }

  next(): void {
    if (!this.valid) return;
    this.inner!.next();
    this.settle();
  }

  private enter(i: number): void {
    if (i !== this.index) {
      this.index = i;
      this.inner = this.open(i);
    }
  }

  private settle(): void {
    while (!this.inner!.valid) {
      if (this.index + 1 >= this.largest.length) {
        this.valid = false;
        return;
      }
      this.enter(this.index + 1);
      this.inner!.seekFirst();
    }
    this.show(this.inner!);
  }
}
