/**
 * Power loss under the journal writer, through the fault-injecting file layer
 * (fault_fs.ts): for each seed, write commands in random groups (segments small enough to
 * rotate often), die at a random file operation (possibly half-way through a write), then
 * cut the power: every write, truncate and file creation not yet synced is kept, lost or
 * torn at random. Recovery must then
 *   - never report corruption (a power cut is not corruption),
 *   - give seqs 1..n, each record exactly the one written (P2: a prefix),
 *   - keep every seq a commit acknowledged (P1),
 * and no commit may return (acknowledge) while any write is unsynced (the ack-after-fsync
 * audit, TESTING.md 3),
 * and the journal must take new records after it and read back whole (P3: the torn tail
 * was cut for good).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { FaultFs, SimulatedCrash } from "./fault_fs.ts";
import { journalCommand, recoverChecked } from "./journal_kit.ts";



describe("journal under power loss", () => {
  const base = seedFromEnv();
  const RUNS = Number(process.env.VENUE_RUNS ?? 300);
  it(`recovers a prefix holding every acknowledged record, over ${RUNS} random crashes (seeds ${base}..)`, () => {
    console.log(`power loss: seeds ${base}..${base + RUNS - 1} (replay one with VENUE_SEED=n VENUE_RUNS=1)`);
    const totals = { kept: 0, lost: 0, torn: 0, vanished: 0, acked: 0, recovered: 0 };
    for (let k = 0; k < RUNS; k++) {
      const seed = (base + k) >>> 0;
      const r = new Prng(seed);
      const dir = mkdtempSync(join(tmpdir(), "venue-power-"));
      try {
        const fs = new FaultFs();
        fs.crashAt = r.nextU32() % 120;
        const buf = Buf.alloc(256);
        let acked = 0;
        const commands = 100 + (r.nextU32() % 400);
        try {
          const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 8 << 10, groupBytes: 2 << 10, fs });
          for (let seq = 1; seq <= commands; seq++) {
            w.append(buf, 0, journalCommand(buf, seq), seq);
            if (r.nextU32() % 8 === 0) {
              acked = w.commit();
              if (fs.unsynced !== 0) throw new Error(`seed ${seed}: commit acknowledged seq ${acked} with ${fs.unsynced} writes not yet synced`);
            }
          }
          acked = w.commit();
          if (fs.unsynced !== 0) throw new Error(`seed ${seed}: commit acknowledged seq ${acked} with ${fs.unsynced} writes not yet synced`);
        } catch (err) {
          // The writer reports a failed operation as JournalWriteError, with the crash as its cause.
          if (!(err instanceof SimulatedCrash) && !((err as Error).cause instanceof SimulatedCrash)) throw err;
        }
        const c = fs.powerLoss(r);
        let n: number;
        try {
          n = recoverChecked(dir);
        } catch (err) {
          throw new Error(`seed ${seed}: ${(err as Error).message}`, { cause: err });
        }
        expect(n, `seed ${seed}: acknowledged ${acked}`).toBeGreaterThanOrEqual(acked);
        // The journal goes on after recovery, and reads back whole.
        const rec = recoverJournal(dir, () => {});
        const w2 = new JournalWriter({ dir, nextSeq: rec.nextSeq, ...(rec.live ? { live: rec.live } : {}), segmentBytes: 8 << 10, groupBytes: 2 << 10 });
        for (let seq = rec.nextSeq; seq < rec.nextSeq + 20; seq++) w2.append(buf, 0, journalCommand(buf, seq), seq);
        w2.commit();
        w2.close();
        expect(recoverChecked(dir), `seed ${seed}`).toBe(n + 20);
        totals.kept += c.kept;
        totals.lost += c.lost;
        totals.torn += c.torn;
        totals.vanished += c.vanished;
        totals.acked += acked;
        totals.recovered += n;
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    console.log(`  unsynced operations at the cut: ${totals.kept} kept, ${totals.lost} lost, ${totals.torn} torn; ${totals.vanished} new files vanished; ${totals.acked} records acknowledged, ${totals.recovered} recovered`);
    expect(totals.lost + totals.torn).toBeGreaterThan(0);
  }, 60_000 + RUNS * 100);
});
