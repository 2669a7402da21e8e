/**
 * A running node whose event store fails (the disk full during a flush) fences itself
 * with an error that says so, rather than let events go unstored; a restart feeds the
 * store from the journal, and it then holds every event exactly once.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setImmediate as tick } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { VenueNode } from "../../src/node/node.ts";
import { NodeStatus } from "../../src/schema/control.ts";
import { TOPICS } from "../../src/schema/topics.ts";
import { EventStore } from "../../src/store/event_store.ts";
import { expectedEvents, feedFlow, storedEvents } from "./store_kit.ts";

const FAULT_FS = fileURLToPath(new URL("./store_fault_fs.ts", import.meta.url));
const base = mkdtempSync(join(tmpdir(), "venue-store-fence-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("a failing event store fences the node", () => {
  it("ENOSPC in a flush: status fenced, the error says why, and a restart stores every event", async () => {
    const dir = join(base, "data");
    process.env.VENUE_STORE_FAIL_AT = "3"; // a write of the first table
    const node = new VenueNode({ dataDir: dir, drivers: 1, snapshotEvery: 0, storeMemtableBytes: 16 << 10, storeFsModule: FAULT_FS });
    const d = node.drivers[0]!;
    let fault: unknown;
    const running = node.start().catch((e: unknown) => void (fault = e));
    delete process.env.VENUE_STORE_FAIL_AT; // the storage worker took its copy of the environment
    const deadline = performance.now() + 30_000;
    await feedFlow(d, 7, 20_000, () => fault !== undefined || performance.now() >= deadline);
    while (fault === undefined && performance.now() < deadline) await tick();
    if (fault === undefined) await node.stop(); // no fault: end the node, the test fails below
    await running;
    expect(String(fault)).toMatch(/ENOSPC/);
    expect(node.control.status).toBe(NodeStatus.fenced);
    await node.stop().catch(() => {});
    // The restart's recovery feeds the store everything the journal holds.
    const logs: string[] = [];
    new VenueNode({ dataDir: dir, drivers: 1, snapshotEvery: 0, log: (l) => logs.push(l) });
    expect(logs.join("\n")).toMatch(/event store: \d+ events written from the journal/);
    const store = EventStore.open(join(dir, "events"), { background: false });
    const got = storedEvents(store);
    store.tree.closeSync();
    const want = expectedEvents(join(dir, "journal"));
    for (const t of TOPICS) expect(got[t], t).toEqual(want[t]);
    expect(want.accounts.length).toBeGreaterThan(100);
  });
});
