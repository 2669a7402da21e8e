/**
 * The audit file (src/node/audit_file.ts): JSON lines appended in order, rotated when a
 * file would pass its size with only the newest rotated files kept, appended to again
 * after a restart, and bounded in memory: past its buffer it drops lines, counts them and
 * says so once.
 */

import { afterEach, expect, test } from "vitest";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AuditFile } from "../../src/node/audit_file.ts";
import { auditMessages } from "./audit_lines.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dataDir(): string {
  const d = mkdtempSync(join(tmpdir(), "venue-audit-"));
  dirs.push(d);
  return d;
}

test("rotates at its size, keeps the newest rotated files, and a restart appends", async () => {
  const dir = dataDir();
  let now = Date.UTC(2026, 10, 25, 12, 0, 0);
  const o = { maxBytes: 400, keep: 2, nowMs: () => (now += 1) };
  const a = new AuditFile(dir, o);
  const lines = Array.from({ length: 40 }, (_, k) => `audit: line ${k}`); // ~57 bytes each: 7 a file
  // One line a turn of the event loop, as they come from the gateway's messages.
  for (const l of lines.slice(0, 30)) {
    a.write(l);
    await new Promise((r) => setImmediate(r));
  }
  await a.close();
  expect(a.rotations).toBeGreaterThanOrEqual(3);
  const rotated = a.rotated();
  expect(rotated).toHaveLength(2);
  // What is kept is the newest lines, in order, with nothing lost between the files kept.
  const kept = [...rotated.map((n) => auditMessages(join(a.dir, n))).flat(), ...auditMessages(a.path)];
  expect(kept).toEqual(lines.slice(30 - kept.length, 30));
  for (const n of [...rotated, "audit.log"]) expect(readFileSync(join(a.dir, n)).length).toBeLessThanOrEqual(400);
  // A restart appends to the file it finds (and rotates it when it fills).
  const before = auditMessages(a.path).length;
  const b = new AuditFile(dir, o);
  await new Promise((r) => setImmediate(r));
  b.write(lines[30]!);
  await b.close();
  expect(auditMessages(b.path).slice(-1)).toEqual([lines[30]]);
  expect(auditMessages(b.path).length === before + 1 || b.rotations === 1).toBe(true);
});

test("past its buffer it drops lines and says so once, and keeps what it took", async () => {
  const dir = dataDir();
  const said: string[] = [];
  const a = new AuditFile(dir, { maxBufferBytes: 4096, log: (l) => said.push(l) });
  // Written in one go (no turn of the event loop for the disk): the buffer fills.
  for (let k = 0; k < 2_000; k++) a.write(`audit: burst ${k}`);
  expect(a.dropped).toBeGreaterThan(0);
  expect(said.filter((l) => l.includes("dropped"))).toHaveLength(1);
  await a.close();
  const got = auditMessages(a.path);
  expect(got.length + a.dropped).toBe(2_000);
  expect(got[0]).toBe("audit: burst 0");
});
