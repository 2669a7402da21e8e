/**
 * Zero-filled segments prepared ahead (src/wal/prepare.ts) and the writer's use of them:
 * rotations into prepared files, the early rotation that leaves a segment not zero-filled
 * (cutting its file at its last record), the rule that an empty segment is never left, and
 * the preparer's thread (made, closed half-way, failing) as the node runs it. Crash and
 * fault behaviour of the same paths: test/wal/fault_sweep.test.ts.
 */

import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { afterEach, describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { recoverJournal, listSegments } from "../../src/wal/recover.ts";
import { InlineSegmentSupply, PrepState, SharedSegmentSupply, closePreparer, keepPrepared, newPrepCells } from "../../src/wal/prepare.ts";
import { REAL_FS } from "../../src/wal/file.ts";
import { Cells } from "../../src/bus/cells.ts";
import { Buf } from "../../src/schema/layout.ts";
import { PREPARED_SEGMENT_NAME, PREPARING_SEGMENT_NAME, WAL_HEADER_BYTES } from "../../src/schema/wal.ts";
import { VenueNode } from "../../src/node/node.ts";
import { CommandKind, writeTransfer } from "../../src/schema/command.ts";
import { writeFileSync } from "node:fs";
import { journalCommand, recoverChecked } from "./journal_kit.ts";
import { until } from "../until.ts";

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "venue-prep-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function appendRange(w: JournalWriter, from: number, to: number, groupEvery = 5): void {
  const buf = Buf.alloc(256);
  for (let seq = from; seq <= to; seq++) {
    w.append(buf, 0, journalCommand(buf, seq), seq);
    if (seq % groupEvery === 0) w.commit();
  }
  w.commit();
}

/** True if every byte of the file from `from` on is zero. */
function zeroFrom(path: string, from: number): boolean {
  const b = readFileSync(path);
  for (let i = from; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

describe("zero-filled segments", () => {
  it("rotates into prepared files once asked for, and recovery reads every record", () => {
    const dir = tempDir();
    const supply = new InlineSegmentSupply(REAL_FS, dir, 16 << 10);
    const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 16 << 10, groupBytes: 2 << 10, supply, prepareAfterBytes: 4 << 10 });
    appendRange(w, 1, 2_000);
    w.close();
    const segments = listSegments(dir);
    expect(segments.length).toBeGreaterThan(5);
    // The first segment was made when needed and left early for the first prepared one; every later one was prepared.
    expect(w.earlyRotations).toBe(1);
    expect(w.preparedSegments).toBe(segments.length - 1);
    expect(supply.prepared).toBeGreaterThanOrEqual(segments.length - 1);
    // A segment left early ends at its last record: its file was cut there.
    const first = recoverJournal(dir, () => {}, {});
    expect(first.records).toBe(2_000);
    expect(statSync(join(dir, segments[0]!)).size).toBeLessThan(16 << 10);
    for (const name of segments.slice(1)) expect(statSync(join(dir, name)).size).toBe(16 << 10);
    expect(recoverChecked(dir)).toBe(2_000);
    // What is left of the live segment after its records is zero: the prepared file's bytes.
    const live = first.live!;
    expect(zeroFrom(join(dir, live.name), live.end)).toBe(true);
  });

  it("leaves a segment a restart appends to as soon as a prepared one is ready", () => {
    const dir = tempDir();
    const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 64 << 10, groupBytes: 2 << 10 });
    appendRange(w, 1, 300);
    w.close();
    expect(listSegments(dir)).toHaveLength(1);
    const rec = recoverJournal(dir, () => {});
    const supply = new InlineSegmentSupply(REAL_FS, dir, 64 << 10);
    const w2 = new JournalWriter({ dir, nextSeq: rec.nextSeq, live: rec.live!, segmentBytes: 64 << 10, groupBytes: 2 << 10, supply, prepareAfterBytes: 1 });
    appendRange(w2, 301, 400);
    w2.close();
    expect(w2.earlyRotations).toBe(1);
    const segments = listSegments(dir);
    expect(segments).toHaveLength(2);
    // Left at the second group (the first asked for the prepared one), cut at its last record.
    const size = statSync(join(dir, segments[0]!)).size;
    expect(size).toBeGreaterThan(rec.live!.end);
    expect(size).toBeLessThan(64 << 10);
    expect(zeroFrom(join(dir, segments[0]!), size - 4)).toBe(true); // a frame ends in 4 zero bytes
    expect(recoverChecked(dir)).toBe(400);
  });

  it("never leaves an empty segment (its successor would take its name)", () => {
    const dir = tempDir();
    const supply = new InlineSegmentSupply(REAL_FS, dir, 16 << 10);
    supply.request(); // ready before the writer makes its first segment
    expect(supply.ready()).toBe(true);
    // The first segment is made before anything was taken: it is not zero-filled... unless the
    // writer takes the ready one for it, which it does (a new journal's first segment).
    const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 16 << 10, groupBytes: 2 << 10, supply, prepareAfterBytes: 1 << 30 });
    expect(w.preparedSegments).toBe(1);
    appendRange(w, 1, 50);
    expect(w.earlyRotations).toBe(0);
    w.close();
    // Now one made when needed, with a prepared one ready: the first group stays in it.
    const dir2 = tempDir();
    const w2 = new JournalWriter({ dir: dir2, nextSeq: 1, segmentBytes: 16 << 10, groupBytes: 2 << 10 });
    w2.close();
    const rec = recoverJournal(dir2, () => {});
    const supply2 = new InlineSegmentSupply(REAL_FS, dir2, 16 << 10);
    supply2.request();
    expect(rec.live!.end).toBe(WAL_HEADER_BYTES);
    const w3 = new JournalWriter({ dir: dir2, nextSeq: 1, live: rec.live!, segmentBytes: 16 << 10, groupBytes: 2 << 10, supply: supply2, prepareAfterBytes: 1 << 30 });
    appendRange(w3, 1, 5, 5); // one group: into the empty live segment
    expect(w3.earlyRotations).toBe(0);
    appendRange(w3, 6, 10, 5); // the next group starts in the prepared one
    expect(w3.earlyRotations).toBe(1);
    w3.close();
    expect(listSegments(dir2)).toHaveLength(2);
    expect(recoverChecked(dir2)).toBe(10);
  });

  it("recovery removes an unfinished prepared file and keeps a finished one, which a start keeps only at its segment size", () => {
    const dir = tempDir();
    const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 16 << 10 });
    appendRange(w, 1, 10);
    w.close();
    new InlineSegmentSupply(REAL_FS, dir, 16 << 10).request();
    writeFileSync(join(dir, PREPARING_SEGMENT_NAME), new Uint8Array(4096));
    const logs: string[] = [];
    expect(recoverJournal(dir, () => {}, { log: (l) => logs.push(l) }).records).toBe(10);
    expect(existsSync(join(dir, PREPARING_SEGMENT_NAME))).toBe(false);
    expect(logs.join("\n")).toContain(PREPARING_SEGMENT_NAME);
    // The finished one is whole (it was renamed only after its sync): kept, and `ready` at a start of the same segment size.
    expect(statSync(join(dir, PREPARED_SEGMENT_NAME)).size).toBe(16 << 10);
    const cells = newPrepCells();
    expect(keepPrepared(cells, dir, 16 << 10)).toBe(true);
    expect(new SharedSegmentSupply(cells, dir).ready()).toBe(true);
    // Another segment size: removed, nothing ready.
    const other = newPrepCells();
    expect(keepPrepared(other, dir, 32 << 10)).toBe(false);
    expect(existsSync(join(dir, PREPARED_SEGMENT_NAME))).toBe(false);
    expect(new SharedSegmentSupply(other, dir).ready()).toBe(false);
  });

  it("a node keeps the segment it prepared across a restart, and moves to it at its first group", async () => {
    const dir = tempDir();
    const journal = join(dir, "journal");
    const deposit = (d: VenueNode["drivers"][number], n: number): void => {
      for (let k = 0; k < n; k++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${k % 7}`, 156, 100));
      d.flush();
    };
    const first = new VenueNode({ dataDir: dir, drivers: 1, segmentBytes: 64 << 10, eventStore: false, snapshotEvery: 0 });
    const running = first.start();
    deposit(first.drivers[0]!, 50); // over 1 KiB (1/64 of the segment): the next segment is asked for
    await until(() => first.durableSeq === 50, "50 durable");
    await until(() => existsSync(join(journal, PREPARED_SEGMENT_NAME)), "the prepared segment (the journal is quiet)");
    await first.stop();
    await running;
    expect(listSegments(journal)).toHaveLength(1);
    const logs: string[] = [];
    const second = new VenueNode({ dataDir: dir, drivers: 1, segmentBytes: 64 << 10, eventStore: false, snapshotEvery: 0, log: (l) => logs.push(l) });
    expect(logs.join("\n")).toContain("a segment prepared before the stop is ready for use");
    const again = second.start();
    deposit(second.drivers[0]!, 20);
    await until(() => second.durableSeq === 70, "70 durable");
    await second.stop();
    await again;
    // The restart's live segment (not known to be zero-filled) was left for the kept one.
    const segments = listSegments(journal);
    expect(segments).toHaveLength(2);
    expect(statSync(join(journal, segments[1]!)).size).toBe(64 << 10);
    expect(recoverJournal(journal, () => {}).records).toBe(70);
  });
});

describe("the preparer's thread", () => {
  function startPreparer(cells: SharedArrayBuffer, dir: string, segmentBytes: number, bytesPerSecond?: number, quietMs?: number): { worker: Worker; logs: string[]; exited: Promise<number> } {
    const logs: string[] = [];
    const worker = new Worker(new URL("../../workers/segments.mjs", import.meta.url), { workerData: { preparer: { cells, dir, segmentBytes, bytesPerSecond, quietMs } } });
    worker.on("message", (m: { log?: string }) => m.log !== undefined && logs.push(m.log));
    const exited = new Promise<number>((res) => worker.once("exit", res));
    return { worker, logs, exited };
  }

  it("makes a whole zero-filled file when asked, and ends when closed", async () => {
    const dir = tempDir();
    const cells = newPrepCells();
    const { logs, exited } = startPreparer(cells, dir, 4 << 20);
    const supply = new SharedSegmentSupply(cells, dir);
    expect(supply.take()).toBeUndefined();
    supply.request();
    await until(() => supply.ready(), "the prepared segment");
    const path = supply.take()!;
    expect(statSync(path).size).toBe(4 << 20);
    expect(zeroFrom(path, 0)).toBe(true);
    await until(() => logs.length > 0, "the preparer's log line");
    expect(logs.join("\n")).toContain("the next segment is ready");
    expect(supply.ready()).toBe(false);
    closePreparer(cells);
    expect(await exited).toBe(0);
  });

  it("writes nothing while the journal commits, and finishes once it is quiet", async () => {
    const dir = tempDir();
    const cells = newPrepCells();
    // Quiet means no commit for 1 s here; the journal below commits every 20 ms for 1.5 s.
    const { logs, exited } = startPreparer(cells, dir, 1 << 20, undefined, 1_000);
    const supply = new SharedSegmentSupply(cells, dir);
    const path = join(dir, PREPARING_SEGMENT_NAME);
    supply.noteCommit();
    const busy = setInterval(() => supply.noteCommit(), 20);
    try {
      supply.request();
      await until(() => existsSync(path), "the file being prepared");
      await new Promise((r) => setTimeout(r, 1_500));
      expect(statSync(path).size).toBe(0); // not one chunk while commits kept coming
      expect(supply.ready()).toBe(false);
    } finally {
      clearInterval(busy);
    }
    await until(() => supply.ready(), "the prepared segment, once the journal is quiet");
    expect(existsSync(path)).toBe(false);
    expect(statSync(join(dir, PREPARED_SEGMENT_NAME)).size).toBe(1 << 20);
    await until(() => logs.length > 0, "the preparer's log line");
    expect(logs[0]).toMatch(/waits for a quiet journal/);
    closePreparer(cells);
    expect(await exited).toBe(0);
  });

  it("stops half-way when closed, leaving no file", async () => {
    const dir = tempDir();
    const cells = newPrepCells();
    // 64 MiB at 8 MiB/s: about 8 s, closed long before.
    const { exited } = startPreparer(cells, dir, 64 << 20, 8 << 20);
    const supply = new SharedSegmentSupply(cells, dir);
    supply.request();
    const state = new Cells(cells);
    await until(() => state.load(0) === PrepState.preparing && existsSync(join(dir, PREPARING_SEGMENT_NAME)), "preparation under way");
    closePreparer(cells);
    expect(await exited).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
    expect(supply.ready()).toBe(false);
  });

  it("reports a failure, and is asked again later", async () => {
    const dir = join(tempDir(), "not-yet");
    const cells = newPrepCells();
    const { logs, exited } = startPreparer(cells, dir, 1 << 20);
    const supply = new SharedSegmentSupply(cells, dir);
    supply.request();
    const state = new Cells(cells);
    await until(() => state.load(0) === PrepState.failed && logs.length > 0, "the failure");
    expect(logs.join("\n")).toMatch(/could not prepare the next segment/);
    expect(supply.take()).toBeUndefined();
    // Asked again once the directory exists: it is made.
    mkdirSync(dir);
    supply.request();
    await until(() => supply.ready(), "the prepared segment");
    expect(readdirSync(dir)).toEqual([PREPARED_SEGMENT_NAME]);
    closePreparer(cells);
    expect(await exited).toBe(0);
  });
});
