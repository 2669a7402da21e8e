/**
 * A sweep over every file operation of a journal workload (TESTING.md 5, 11, 13, 14): the
 * workload (commits of random group sizes, segments small enough to rotate several times)
 * is run once to count its operations; then, for every operation N, it runs again with
 *
 *   kill        the process dies at operation N (half-way through it, if it is a write);
 *               what was written stays (the page cache survives a process crash);
 *   power cut   the same, then everything unsynced is kept, lost or torn;
 *   EIO         operation N fails with EIO: the writer must stop (fatal, nothing retried);
 *   ENOSPC      operation N fails with ENOSPC: the same.
 *
 * Each time, recovery must succeed (never report corruption), return seqs 1..n exactly as
 * written, and keep every acknowledged seq; and a writer started on the recovered journal
 * must append and read back whole. Every step of a commit and of a rotation (create the
 * segment, write its header, size it, fsync it, fsync the directory) is a kill point here.
 *
 * The sweep runs twice: with segments made when needed, and with zero-filled segments
 * prepared ahead (an InlineSegmentSupply over the same faulty file layer): then making the
 * prepared file, writing its zeros, renaming it, and an early rotation that cuts the old
 * segment short are kill points too.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { InlineSegmentSupply } from "../../src/wal/prepare.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { FaultFs, SimulatedCrash } from "./fault_fs.ts";
import { REAL_FS, type JournalFs } from "../../src/wal/file.ts";
import { journalCommand, recoverChecked } from "./journal_kit.ts";


type Fault = "none" | "kill" | "power" | "EIO" | "ENOSPC";

/** Runs the workload with a fault at operation `at`; returns the acknowledged seq and the operations used. */
function workload(dir: string, seed: number, fault: Fault, at: number, prepared: boolean): { acked: number; ops: number; fs: FaultFs; earlyRotations: number; preparedSegments: number } {
  const r = new Prng(seed);
  const fs = new FaultFs();
  if (fault === "kill" || fault === "power") fs.crashAt = at;
  if (fault === "EIO" || fault === "ENOSPC") {
    fs.failAt = at;
    fs.failCode = fault;
  }
  const buf = Buf.alloc(256);
  let acked = 0;
  let w: JournalWriter | undefined;
  try {
    w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 4 << 10, groupBytes: 1 << 10, fs, ...supplied(fs, dir, prepared) });
    for (let seq = 1; seq <= 150; seq++) {
      w.append(buf, 0, journalCommand(buf, seq), seq);
      if (r.nextU32() % 6 === 0) acked = w.commit();
    }
    acked = w.commit();
    w.close();
  } catch (err) {
    const cause = (err as Error).cause;
    const injected = err instanceof SimulatedCrash || cause instanceof SimulatedCrash || (cause as { code?: string } | undefined)?.code === fault;
    if (!injected) throw err;
  }
  return { acked, ops: fs.ops, fs, earlyRotations: w?.earlyRotations ?? 0, preparedSegments: w?.preparedSegments ?? 0 };
}

function supplied(fs: JournalFs, dir: string, prepared: boolean): { supply?: InlineSegmentSupply; prepareAfterBytes?: number } {
  return prepared ? { supply: new InlineSegmentSupply(fs, dir, 4 << 10), prepareAfterBytes: 1 << 10 } : {};
}


describe.each([
  { segments: "made when needed", prepared: false },
  { segments: "zero-filled, prepared ahead", prepared: true },
])("journal fault sweep, segments $segments", ({ prepared }) => {
  const seed = seedFromEnv();
  it(`every operation of a workload, as a kill point, a power cut, an EIO and an ENOSPC (seed ${seed})`, () => {
    const clean = mkdtempSync(join(tmpdir(), "venue-sweep-"));
    const dry = workload(clean, seed, "none", -1, prepared);
    const total = dry.ops;
    rmSync(clean, { recursive: true, force: true });
    // The workload must reach what it is for: with preparation, segments from prepared files and early rotations.
    if (prepared) {
      expect(dry.preparedSegments).toBeGreaterThan(2);
      expect(dry.earlyRotations).toBeGreaterThan(0);
    } else {
      expect(dry.preparedSegments).toBe(0);
    }
    const matrix: Record<Fault, { runs: number; acked: number; lost: number }> = {
      none: { runs: 0, acked: 0, lost: 0 }, kill: { runs: 0, acked: 0, lost: 0 }, power: { runs: 0, acked: 0, lost: 0 },
      EIO: { runs: 0, acked: 0, lost: 0 }, ENOSPC: { runs: 0, acked: 0, lost: 0 },
    };
    const cut = new Prng(seed ^ 0x9e3779b9);
    for (let at = 0; at < total; at++) {
      for (const fault of ["kill", "power", "EIO", "ENOSPC"] as const) {
        const dir = mkdtempSync(join(tmpdir(), "venue-sweep-"));
        try {
          const { acked, fs } = workload(dir, seed, fault, at, prepared);
          if (fault === "power") fs.powerLoss(cut);
          let n: number;
          try {
            n = recoverChecked(dir);
          } catch (err) {
            throw new Error(`${fault} at operation ${at} of ${total}: ${(err as Error).message}`, { cause: err });
          }
          const m = matrix[fault];
          m.runs++;
          m.acked += acked;
          if (n < acked) m.lost += acked - n;
          // The recovered journal takes new records and reads back whole.
          const rec = recoverJournal(dir, () => {});
          const w = new JournalWriter({ dir, nextSeq: rec.nextSeq, ...(rec.live ? { live: rec.live } : {}), segmentBytes: 4 << 10, groupBytes: 1 << 10, ...supplied(REAL_FS, dir, prepared) });
          const buf = Buf.alloc(256);
          for (let seq = rec.nextSeq; seq < rec.nextSeq + 10; seq++) w.append(buf, 0, journalCommand(buf, seq), seq);
          w.commit();
          w.close();
          expect(recoverChecked(dir), `${fault} at ${at}`).toBe(n + 10);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    }
    console.log(`fault sweep over ${total} operations (segments ${prepared ? "prepared ahead" : "made when needed"}):`);
    for (const f of ["kill", "power", "EIO", "ENOSPC"] as const) console.log(`  ${f}: ${matrix[f].runs} runs, ${matrix[f].acked} acknowledged records in all, ${matrix[f].lost} lost`);
    for (const f of ["kill", "power", "EIO", "ENOSPC"] as const) expect(matrix[f].lost, f).toBe(0);
  });
});
