/**
 * The event store's manifest on its own. An edit too large for one frame (a flush or a
 * base edit of a store with many thousand tables) spans frames and reads back whole, and so
 * does the base edit a roll-over writes; the file then rolls over only after as many bytes
 * again of edits, not at every edit. An edit whose frames stop before its last (a crash
 * during its write) is cut off whole at open, and the manifest goes on from there.
 */

import { mkdtempSync, readFileSync, rmSync, truncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Manifest, toEntry } from "../../src/lsm/manifest.ts";
import { CURRENT_NAME, MANIFEST_EDIT_MAX, MANIFEST_FRAME, manifestName, type ManifestFileEntry } from "../../src/schema/manifest.ts";

const root = mkdtempSync(join(tmpdir(), "venue-manifest-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dirs = 0;
const newDir = (): string => mkdtempSync(join(root, `m${dirs++}-`));

/** A table entry as a flush would record it: keys of 16 bytes, numbered n. */
function table(n: number, level = 0): ManifestFileEntry {
  const key = (x: number): Uint8Array => {
    const k = new Uint8Array(16);
    new DataView(k.buffer).setUint32(12, x);
    k[0] = 1;
    return k;
  };
  return toEntry({ number: n, level, size: 4_096 + n, entries: 100, deletions: 0, smallest: key(2 * n), largest: key(2 * n + 1), maxSeq: n });
}

const tables = (from: number, count: number): ManifestFileEntry[] => Array.from({ length: count }, (_, i) => table(from + i));

/** Start offsets and lengths of the frames of a manifest file. */
function frames(path: string): Array<{ at: number; len: number }> {
  const bytes = readFileSync(path);
  const out: Array<{ at: number; len: number }> = [];
  for (let at = 0; at + MANIFEST_FRAME <= bytes.length; ) {
    const len = bytes.readUInt32LE(at);
    out.push({ at, len });
    at += MANIFEST_FRAME + len;
  }
  return out;
}

const currentPath = (dir: string): string => join(dir, readFileSync(join(dir, CURRENT_NAME), "utf8").trim());

describe("the event store's manifest", () => {
  it("an edit of 9,000 tables spans frames and reads back whole; a roll-over's base edit spans frames too, and the next roll waits for as many bytes again", () => {
    const dir = newDir();
    const m = Manifest.open(dir);
    m.record({ add: tables(1, 9_000), nextFile: 9_001, flushedSeq: 9_000 });
    const path = currentPath(dir);
    const fs1 = frames(path);
    expect(fs1.length).toBeGreaterThan(2); // the base, then the big edit in two frames or more
    for (const f of fs1) expect(f.len).toBeLessThanOrEqual(MANIFEST_EDIT_MAX);
    m.close();
    const again = Manifest.open(dir);
    expect(again.state.files.size).toBe(9_000);
    expect(again.state.flushedSeq).toBe(9_000);
    expect(again.state.files.get(4_321)?.maxSeq).toBe(4_321);

    // Edits of 1,000 tables until the file passes 4 MiB past its base: then it rolls over,
    // and the new file's base (every table) spans frames.
    let next = 9_001;
    while (currentPath(dir) === path) {
      again.record({ add: tables(next, 1_000), nextFile: next + 1_000, flushedSeq: next + 999 });
      next += 1_000;
    }
    const rolled = currentPath(dir);
    expect(rolled).toBe(join(dir, manifestName(2)));
    const base = frames(rolled);
    expect(base.length).toBeGreaterThan(3);
    const baseBytes = base.reduce((s, f) => s + MANIFEST_FRAME + f.len, 0);
    expect(baseBytes).toBeGreaterThan(4 << 20);
    // A base of over 4 MiB does not roll the file over at every edit after it.
    again.record({ add: tables(next, 10), nextFile: next + 10, flushedSeq: next + 9 });
    next += 10;
    expect(currentPath(dir)).toBe(rolled);
    again.close();
    const third = Manifest.open(dir);
    expect(third.state.files.size).toBe(next - 1);
    expect(third.state.flushedSeq).toBe(next - 1);
    expect(third.state.nextFile).toBe(next);
    third.close();
  });

  it("an edit whose frames stop before its last is cut off whole, wherever it stops, and the manifest goes on from there", () => {
    for (const cut of ["inside its last frame", "between its frames"] as const) {
      const dir = newDir();
      const m = Manifest.open(dir);
      m.record({ add: tables(1, 100), nextFile: 101, flushedSeq: 100 });
      m.record({ add: tables(101, 9_000), nextFile: 9_101, flushedSeq: 9_100 });
      m.close();
      const path = currentPath(dir);
      const fs = frames(path);
      const group = fs.slice(2); // the base, the edit of 100, then the frames of the big edit
      expect(group.length).toBeGreaterThan(1);
      const last = group[group.length - 1]!;
      truncateSync(path, cut === "inside its last frame" ? last.at + MANIFEST_FRAME + Math.floor(last.len / 2) : last.at);
      const logs: string[] = [];
      const inspected = Manifest.inspect(dir, (l) => logs.push(l));
      expect(inspected?.files.size, cut).toBe(100);
      const reopened = Manifest.open(dir, undefined, (l) => logs.push(l));
      expect(logs.join("\n"), cut).toMatch(new RegExp(`cut a torn last edit off .* at offset ${group[0]!.at}`));
      expect(reopened.state.files.size, cut).toBe(100);
      expect(reopened.state.flushedSeq, cut).toBe(100);
      expect(readFileSync(path).length, cut).toBe(group[0]!.at);
      // The next edit goes where the torn one began.
      reopened.record({ add: tables(101, 5), nextFile: 106, flushedSeq: 105 });
      reopened.close();
      const after = Manifest.open(dir);
      expect(after.state.files.size, cut).toBe(105);
      expect(after.state.flushedSeq, cut).toBe(105);
      after.close();
    }
  });
});
