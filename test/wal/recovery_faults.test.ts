/**
 * Crashes during recovery itself (TESTING.md 4): a journal left with a torn tail by a power
 * cut is recovered with the process dying at each file operation of recovery's own repair
 * (open, cut, extend, fsync), with and without a power cut after. Recovering again must give
 * exactly what an undisturbed recovery gives: the same records, the same next seq.
 */

import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { Buf, stamp } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { FaultFs, SimulatedCrash } from "./fault_fs.ts";

function command(buf: Buf, seq: number): number {
  const size = writeNewOrder(buf, 0, { instrument: 0, account: "a", orderId: `r${seq}`, side: Side.sell, price: 7 + seq, qty: 3 });
  stamp(buf.dv, 0, seq, 0n);
  return size;
}

/** The records recovery returns, as "seq:bytes-hex". */
function records(dir: string, fs?: FaultFs): string[] {
  const out: string[] = [];
  recoverJournal(dir, (buf, offset, size, seq) => void out.push(`${seq}:${Buffer.from(buf.u8.subarray(offset, offset + size)).toString("hex")}`), fs ? { fs } : {});
  return out;
}

describe("crash during recovery", () => {
  const seed = seedFromEnv();
  it(`recovery interrupted at each of its own file operations, then run again, gives what one recovery gives (seed ${seed})`, () => {
    const base = mkdtempSync(join(tmpdir(), "venue-recfault-"));
    const r = new Prng(seed);
    let torn = 0;
    let points = 0;
    try {
      for (let attempt = 0; attempt < 40 && torn < 8; attempt++) {
        // A journal torn by a power cut in the middle of a group write.
        const master = join(base, `master-${attempt}`);
        mkdirSync(master);
        const fs = new FaultFs();
        const buf = Buf.alloc(256);
        const w = new JournalWriter({ dir: master, nextSeq: 1, segmentBytes: 1 << 20, groupBytes: 4 << 10, fs });
        for (let seq = 1; seq <= 60; seq++) w.append(buf, 0, command(buf, seq), seq);
        w.commit();
        fs.crashAt = fs.ops; // the next group's write dies half-way
        for (let seq = 61; seq <= 100; seq++) w.append(buf, 0, command(buf, seq), seq);
        try {
          w.commit();
        } catch (err) {
          if (!((err as Error).cause instanceof SimulatedCrash)) throw err;
        }
        fs.powerLoss(r);
        // What an undisturbed recovery gives (on a copy).
        const copy = (to: string): string => {
          rmSync(to, { recursive: true, force: true });
          mkdirSync(to);
          for (const f of readdirSync(master)) copyFileSync(join(master, f), join(to, f));
          return to;
        };
        const reference = records(copy(join(base, "ref")));
        if (reference.length === 100) continue; // the whole group happened to land: nothing to repair
        torn++;
        // Recovery's own operations, counted.
        const probe = new FaultFs();
        records(copy(join(base, "probe")), probe);
        for (let at = 0; at < probe.ops; at++) {
          for (const power of [false, true]) {
            const dir = copy(join(base, "run"));
            const ffs = new FaultFs();
            ffs.crashAt = at;
            try {
              records(dir, ffs);
            } catch (err) {
              if (!(err instanceof SimulatedCrash)) throw err;
            }
            if (power) ffs.powerLoss(r);
            expect(records(dir), `attempt ${attempt}, crash at recovery operation ${at}${power ? " + power cut" : ""}`).toEqual(reference);
            points++;
          }
        }
      }
      expect(torn).toBeGreaterThan(0);
      console.log(`crash during recovery: ${torn} torn journals, ${points} interrupted recoveries, all equal to an undisturbed one`);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});
