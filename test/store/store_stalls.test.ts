/**
 * The storage worker counts the time it stops reading its rings to wait for flushes
 * (`stalls`, `stalledSeconds` in its metrics; venue_store_stalls_total and
 * venue_store_stalled_seconds_total): the backpressure the event store puts on the engine
 * loop. MemTables of 16 KiB fill faster than their flushes are installed, so the worker
 * must wait; a store that never fills one never waits.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { VenueNode } from "../../src/node/node.ts";
import { feedFlow } from "./store_kit.ts";

const FAULT_FS = fileURLToPath(new URL("./store_fault_fs.ts", import.meta.url));
const base = mkdtempSync(join(tmpdir(), "venue-store-stalls-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

async function run(name: string, memtableBytes: number): Promise<VenueNode> {
  // The fault file layer with no fault set: the flushes run on the storage worker's thread.
  const node = new VenueNode({ dataDir: join(base, name), drivers: 1, snapshotEvery: 0, storeMemtableBytes: memtableBytes, storeFsModule: FAULT_FS });
  const d = node.drivers[0]!;
  const running = node.start();
  await feedFlow(d, 11, 5_000);
  await node.stop();
  await running;
  return node;
}

describe("event store stalls", () => {
  it("counts the waits for flushes, and their time", async () => {
    const m = (await run("small", 16 << 10)).storageMetrics!;
    expect(m.flushes).toBeGreaterThan(10);
    expect(m.stalls).toBeGreaterThan(0);
    expect(m.stalledSeconds).toBeGreaterThan(0);
  });

  it("counts none when no MemTable fills", async () => {
    const m = (await run("large", 32 << 20)).storageMetrics!;
    expect(m.appended).toBeGreaterThan(5_000);
    expect(m.stalls).toBe(0);
    expect(m.stalledSeconds).toBe(0);
  });
});
