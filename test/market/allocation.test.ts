/**
 * Allocation: applying engine events to the market model allocates nothing once its
 * books, rings and series have reached their working size. Runs alloc_probe.ts in its own
 * process (it needs --expose-gc and a quiet heap) over the events of 200,000 commands of
 * a seeded mixed flow (l2 changes, trades opening ticks and bars, and the kinds the model
 * ignores). Must: no garbage collection during the measured events, and heap growth under
 * one byte per event (one small object per event would be 16 bytes or more).
 *
 * The probe feeds events in calls of at most 1,024 so that the compiler optimises its
 * loop during warm-up. One long loop got an on-stack-replacement compile inside the
 * measured part, whose code (100-600 KB, depending on when it happened) is heap too and
 * says nothing about the model.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seedFromEnv } from "../../src/stdx/prng.ts";

const PROBE = join(import.meta.dirname, "alloc_probe.ts");

describe("market allocation", () => {
  it("applies the events of 200,000 commands without allocating", () => {
    const seed = seedFromEnv();
    console.log(`market allocation: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", PROBE, "200000"], {
      encoding: "utf8",
      env: { ...process.env, VENUE_SEED: String(seed) },
    });
    const r = JSON.parse(out.trim().split("\n").pop()!) as { measured: number; heapGrowthBytes: number; minorGcs: number; majorGcs: number; eventsPerSecond: number };
    console.log(`market allocation: ${JSON.stringify(r)}; ${(r.heapGrowthBytes / r.measured).toFixed(3)} bytes per event`);
    expect(r.measured).toBeGreaterThan(200_000);
    expect(r.minorGcs + r.majorGcs).toBe(0);
    expect(r.heapGrowthBytes).toBeLessThan(r.measured);
  });
});
