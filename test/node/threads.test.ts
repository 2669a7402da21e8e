/**
 * The node's threads by role (src/node/threads.ts): each worker names itself, the journal
 * writer and the engine loop's thread take the critical scheduler slice, and the event
 * store's, snapshot and segment threads the bulk nice value; settings of 0 leave the
 * scheduling as it is. Read from /proc, as `top -H` would show it.
 */

import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { until } from "../until.ts";
import { VenueNode } from "../../src/node/node.ts";
import { nativeStatus } from "../../src/native/mmap.ts";
import { planFor } from "../../src/node/threads.ts";

const data = mkdtempSync(join(tmpdir(), "venue-threads-"));
afterAll(() => rmSync(data, { recursive: true, force: true }));

interface ThreadInfo { tid: string; name: string; nice: number; sliceNs: number | undefined }

/** This process's threads: name, nice value (field 19 of stat) and scheduler slice (where the kernel shows it). */
function threads(): ThreadInfo[] {
  const out: ThreadInfo[] = [];
  for (const tid of readdirSync("/proc/self/task")) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
      const slice = /^se\.slice\s*:\s*(\d+)/m.exec(readFileSync(`/proc/self/task/${tid}/sched`, "utf8"));
      out.push({
        tid,
        name: readFileSync(`/proc/self/task/${tid}/comm`, "utf8").trim(),
        nice: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]),
        sliceNs: slice === null ? undefined : Number(slice[1]),
      });
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

const named = (name: string): ThreadInfo[] => threads().filter((t) => t.name === name);
/** The thread running the test (it starts the nodes, so the engine loop runs on it). */
const mine = (): ThreadInfo => threads().find((t) => t.tid === readlinkSync("/proc/thread-self").split("/").at(-1))!;
const BULK = ["venue-storage", "venue-lsm", "venue-snapshots", "venue-segments"];

describe.skipIf(!nativeStatus().loaded || process.platform !== "linux")("thread roles", () => {
  it("names the node's workers, gives the journal and the engine loop the critical slice and the store's threads the bulk nice value", async () => {
    const node = new VenueNode({ dataDir: join(data, "a"), drivers: 1, snapshotEvery: 1_000, threads: { criticalSliceUs: 150, bulkNice: 7 } });
    const running = node.start();
    try {
      await until(() => ["venue-journal", ...BULK].every((n) => named(n).length > 0), "the node's workers named");
      const [journal] = named("venue-journal");
      expect(journal!.nice).toBe(0);
      if (journal!.sliceNs !== undefined) expect(journal!.sliceNs).toBe(150_000);
      for (const n of BULK) {
        for (const t of named(n)) {
          expect({ name: t.name, nice: t.nice }).toEqual({ name: n, nice: 7 });
          // The kernel's default slice, not the one they would inherit from the engine loop's thread.
          if (t.sliceNs !== undefined) expect(t.sliceNs).not.toBe(150_000);
        }
      }
      // The engine loop runs on the thread that started the node; it keeps its name.
      const me = mine();
      expect(me.name.startsWith("venue-")).toBe(false);
      if (me.sliceNs !== undefined) expect(me.sliceNs).toBe(150_000);
    } finally {
      await node.stop();
      await running;
    }
  });

  it("with a slice and a nice value of 0, names the threads and leaves their scheduling alone", async () => {
    const before = new Set(threads().map((t) => t.tid));
    const node = new VenueNode({ dataDir: join(data, "b"), drivers: 1, snapshotEvery: 1_000, threads: { criticalSliceUs: 0, bulkNice: 0 } });
    const running = node.start();
    try {
      const fresh = (n: string): ThreadInfo[] => named(n).filter((t) => !before.has(t.tid));
      await until(() => ["venue-journal", ...BULK].every((n) => fresh(n).length > 0), "the node's workers named");
      // Left alone, each keeps what it inherited: the nice value 0 and the slice of the
      // thread that started it (this one, given 150 µs by the node of the test before).
      const inherited = mine().sliceNs;
      for (const n of ["venue-journal", ...BULK]) {
        for (const t of fresh(n)) {
          expect(t.nice).toBe(0);
          if (n !== "venue-lsm") expect(t.sliceNs).toBe(inherited); // the job thread is started by the storage worker
        }
      }
    } finally {
      await node.stop();
      await running;
    }
  });

  it("plans each role's scheduling from the settings", () => {
    const s = { criticalSliceUs: 100, bulkNice: 10 };
    expect(planFor("engine", s)).toEqual({ name: "", sliceNs: 100_000, nice: 0 });
    expect(planFor("journal", s)).toEqual({ name: "venue-journal", sliceNs: 100_000, nice: 0 });
    expect(planFor("gateway", s, 5)).toEqual({ name: "venue-gateway", sliceNs: 100_000, nice: 5 });
    // The others ask for the kernel's default slice: a thread inherits its creator's.
    expect(planFor("lsm", s)).toEqual({ name: "venue-lsm", sliceNs: 0, nice: 10 });
    expect(planFor("snapshots", s, 15)).toEqual({ name: "venue-snapshots", sliceNs: 0, nice: 15 });
    expect(planFor("market", s, 3)).toEqual({ name: "venue-market", sliceNs: 0, nice: 3 });
    expect(planFor("plugin", s)).toEqual({ name: "venue-plugin", sliceNs: 0, nice: 0 });
    // Settings of 0 leave every slice as it is.
    const off = { criticalSliceUs: 0, bulkNice: 0 };
    expect(planFor("journal", off)).toEqual({ name: "venue-journal", sliceNs: null, nice: 0 });
    expect(planFor("storage", off)).toEqual({ name: "venue-storage", sliceNs: null, nice: 0 });
  });
});
