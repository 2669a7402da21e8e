/**
 * Allocation: the journal worker's group commit metrics allocate nothing per group. Runs
 * journal_alloc_probe.ts in its own process (it needs --expose-gc and a quiet heap) over
 * 1,000,000 groups of the metrics path (timed write, timed fdatasync, commands counted,
 * histograms, the report check) with a clock that allocates nothing itself. Must: no
 * garbage collection during the measured groups, and heap growth under one byte per group
 * (the once-a-second reports and late compilation).
 *
 * Also printed, not asserted (docs/operations.md records them): the same path with the real
 * clock (Node 20's performance.now returns a new heap number per read), and the whole
 * per-group path of the worker (ring poll, framing, commit), whose allocations are the
 * writer's own.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const PROBE = join(import.meta.dirname, "journal_alloc_probe.ts");

interface ProbeResult {
  mode: string;
  clock: string;
  measured: number;
  heapGrowthBytes: number;
  minorGcs: number;
  majorGcs: number;
}

function probe(mode: "metrics" | "loop", clock: "counter" | "clock", groups: number): ProbeResult {
  const out = execFileSync(process.execPath, ["--expose-gc", "--import", "tsx", PROBE, mode, clock, String(groups)], { encoding: "utf8" });
  const r = JSON.parse(out.trim().split("\n").pop()!) as ProbeResult;
  console.log(`journal allocation: ${JSON.stringify(r)}; ${(r.heapGrowthBytes / r.measured).toFixed(3)} bytes per group`);
  return r;
}

describe("journal worker allocation", () => {
  it("records 1,000,000 group commits in its metrics without allocating", () => {
    const r = probe("metrics", "counter", 1_000_000);
    expect(r.minorGcs + r.majorGcs).toBe(0);
    expect(r.heapGrowthBytes).toBeLessThan(r.measured);
  });

  it("prints what the real clock and the whole per-group path allocate", () => {
    expect(probe("metrics", "clock", 1_000_000).measured).toBe(1_000_000);
    expect(probe("loop", "counter", 300_000).measured).toBe(300_000);
  });
});
