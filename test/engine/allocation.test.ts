/**
 * Allocation: applying commands allocates nothing after warm-up. Runs alloc_probe.ts in its
 * own process (it needs --expose-gc and a quiet heap) over 500,000 commands of a seeded
 * mixed flow, on an engine sized for the flow (pool and table growth is a warm-up cost by
 * design): once on pure matching, once with accounts, pre-trade risk and marks on. Must:
 * no garbage collection during the measured commands, and heap growth under one byte per
 * command in at least one of its two halves (one small object per command would be 16 bytes
 * or more in both; what remains is the feedback of late compilation, which on a loaded
 * machine can land in one half: 2.7 MB once in CI). The figure is printed and goes to
 * docs/BENCHMARKS.md.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seedFromEnv } from "../../src/stdx/prng.ts";

const PROBE = join(import.meta.dirname, "alloc_probe.ts");

describe("allocation", () => {
  type Probe = { measured: number; heapGrowthBytes: number; halves: [number, number]; minorGcs: number; majorGcs: number };
  const probe = (args: string[]): Probe => {
    const seed = seedFromEnv();
    console.log(`allocation: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", PROBE, "500000", ...args], {
      encoding: "utf8",
      env: { ...process.env, VENUE_SEED: String(seed) },
    });
    const r = JSON.parse(out.trim().split("\n").pop()!) as Probe;
    console.log(`allocation: ${JSON.stringify(r)}; ${(r.heapGrowthBytes / r.measured).toFixed(3)} bytes per command`);
    return r;
  };

  it("applies 500,000 commands without allocating", () => {
    const r = probe([]);
    expect(r.minorGcs + r.majorGcs).toBe(0);
    expect(Math.min(...r.halves)).toBeLessThan(r.measured / 2);
  });

  it("applies 500,000 commands with accounts, risk checks and marks without allocating", () => {
    const r = probe(["accounts"]);
    expect(r.minorGcs + r.majorGcs).toBe(0);
    expect(Math.min(...r.halves)).toBeLessThan(r.measured / 2);
  });
});
