/**
 * The ring across real worker threads: one producer and four consumers (three gating, one
 * lossy and slow), records of 24..1024 bytes straddling the wrap point, each carrying its
 * sequence and a CRC32. Positions start just below the i32 wrap (2^31) and the u32 wrap
 * (2^32); sequences run up to just below 2^53. Forbidden outcomes: a lost, duplicated,
 * torn or reordered record at a gating consumer; at the lossy one, any of those except
 * records skipped across a reported overrun.
 */

import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { Ring } from "../../src/bus/ring.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";

const WORKER = new URL("./stress_worker.mjs", import.meta.url);
const WAIT = { kind: "spinPark", spins: 200, parkMs: 1 } as const;

interface Result {
  role: string;
  slot?: number;
  lossy?: boolean;
  got?: number;
  written?: number;
  waits?: number;
  errors?: string[];
  overruns?: number;
}

function run(data: object): Promise<Result> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER, { workerData: data });
    w.once("message", (m: Result) => {
      resolve(m);
      void w.terminate();
    });
    w.once("error", reject);
    w.once("exit", (code) => reject(new Error(`stress worker exited with code ${code} before reporting`)));
  });
}

describe("ring stress across worker threads", () => {
  const seed = seedFromEnv();
  const COUNT = 1_000_000;
  for (const [label, start, firstSeq] of [
    ["positions from just below 2^31", 2 ** 31 - 64 * 1024, 1],
    ["positions from just below 2^32, sequences up to 2^53 - 1", 2 ** 32 - 64 * 1024, 2 ** 53 - COUNT],
  ] as const) {
    it(`1 producer -> 3 gating + 1 lossy consumers, ${COUNT.toLocaleString("en-US")} records, ${label} (seed ${seed})`, async () => {
      console.log(`ring stress: seed ${seed} (replay with VENUE_SEED=${seed})`);
      const ring = Ring.create(64 * 1024, 4, "stress", start);
      for (let s = 0; s < 3; s++) ring.openSlot(s, "gating");
      ring.openSlot(3, "lossy");
      const finished = new SharedArrayBuffer(4);
      const common = { sab: ring.sab, finished, count: COUNT, firstSeq, seed, wait: WAIT, deadlineMs: 90_000 };
      const consumers = [0, 1, 2, 3].map((slot) =>
        run({ ...common, role: "consumer", slot, ...(slot === 3 ? { stallEvery: 20_000, stallMs: 5 } : {}) }),
      );
      const producer = run({ ...common, role: "producer", slot: -1 });
      const [p, ...cs] = await Promise.all([producer, ...consumers]);
      expect(p!.written).toBe(COUNT);
      for (const c of cs) {
        expect(c.errors, `slot ${c.slot}`).toEqual([]);
        if (!c.lossy) {
          expect(c.got, `slot ${c.slot}`).toBe(COUNT);
          expect(c.overruns).toBe(0);
        }
      }
      const lossy = cs.find((c) => c.lossy)!;
      // The slow lossy consumer fell behind and was told so; the producer never waited for it.
      expect(lossy.overruns).toBeGreaterThan(0);
      expect(lossy.got).toBeLessThan(COUNT);
    });
  }
});
