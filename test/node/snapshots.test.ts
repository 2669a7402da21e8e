/**
 * Snapshots in the node: with a data directory the node snapshots its engine every N
 * commands (captured on the main thread, written by the snapshot worker once the seq is
 * durable), and a restarted node restores the newest snapshot and replays only the journal
 * after it. Its engine must then be exactly the engine a full replay of the journal builds:
 * same state, byte for byte.
 */

import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { submitFlow, until } from "../until.ts";
import { VenueNode } from "../../src/node/node.ts";
import { fingerprint, fullReplay } from "../engine/state_kit.ts";
import { listSegments } from "../../src/wal/recover.ts";
import { storeReplayFrom } from "../../src/store/event_store.ts";
import { listSnapshots, pruneAfterSnapshot, readSnapshot, writeSnapshot } from "../../src/wal/snapshot_file.ts";
import { snapshotName } from "../../src/schema/snapshot.ts";
import { segmentName } from "../../src/schema/wal.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands, instrumentOfSymbol, writeFlowCommand } from "../../src/sim/order_flow.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";

const data = mkdtempSync(join(tmpdir(), "venue-snap-"));
afterAll(() => rmSync(data, { recursive: true, force: true }));



describe("snapshots", () => {
  const seed = seedFromEnv();
  it(`a restarted node restores the newest snapshot and replays the rest: the same engine as a full replay (seed ${seed})`, async () => {
    const logs: string[] = [];
    const node = new VenueNode({ dataDir: data, drivers: 1, snapshotEvery: 2_000, segmentBytes: 256 << 10, snapshotOnStop: false, log: (l) => logs.push(l) });
    const d = node.drivers[0]!;
    for (const def of instrumentCommands(2)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
    for (let a = 1; a <= 40; a++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
    d.flush();
    const running = node.start();
    const flow = generateFlow({ seed, commands: 9_000, instruments: 2, accounts: 40 });
    await submitFlow(d, flow);
    let last = 2 + 40 + flow.length;
    await until(() => node.durableSeq === last, `durable seq ${last}`);
    await until(() => node.snapshots.length >= 1, "a snapshot");
    // A few more after the newest snapshot, so the restart replays some journal. A snapshot
    // may fall on the last of them (batch boundaries vary): then ten more, which cannot
    // trigger another (the next is 2,000 commands away).
    do {
      for (let k = 0; k < 10; k++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${k + 1}`, DEMO_MONEY.currency!, 5));
      d.flush();
      last += 10;
      await until(() => node.durableSeq === last, `durable seq ${last}`);
      await new Promise((r) => setTimeout(r, 200)); // a snapshot in flight lands
    } while (node.snapshots.at(-1)!.seq >= last);
    await node.stop();
    await running;
    const live = fingerprint(node.engine);
    const files = readdirSync(join(data, "snapshots"));
    const snaps = files.filter((f) => f.endsWith(".snap"));
    expect(snaps.length).toBe(Math.min(2, node.snapshots.length)); // the newest two are kept
    expect(files.some((f) => f.endsWith(".tmp"))).toBe(false);
    // Every capture after the first copies into the buffers the worker gave back, and the
    // newest (the one the restart restores) did too: what it restores proves the copy whole.
    // (The first copies into buffers the worker faulted in ahead, if they came in time; the
    // next test makes sure they do.)
    expect(node.snapshots.length).toBeGreaterThanOrEqual(2);
    expect(node.snapshots.at(-1)!.reusedBytes).toBeGreaterThan(0);

    // Restart: snapshot plus the journal after it.
    const restartLogs: string[] = [];
    const again = new VenueNode({ dataDir: data, drivers: 1, snapshotEvery: 2_000, log: (l) => restartLogs.push(l) });
    expect(restartLogs.join("\n")).toMatch(/restored snapshot-\d{16}\.snap/);
    expect(again.loop.seq).toBe(last + 1);
    expect(node.snapshots.at(-1)!.seq).toBeLessThan(last); // so the restart replayed journal records after it
    // A full replay of the journal, no snapshot.
    const full = fullReplay(join(data, "journal"));
    expect(fingerprint(again.engine)).toBe(fingerprint(full));
    expect(fingerprint(full)).toBe(live);
  });

  it("asks the snapshot worker for faulted-in buffers a tenth of the way before a capture, and the first capture copies into them", async () => {
    const data = mkdtempSync(join(tmpdir(), "venue-node-prefault-"));
    try {
      const logs: string[] = [];
      const node = new VenueNode({ dataDir: data, drivers: 1, snapshotEvery: 2_000, snapshotOnStop: false, log: (l) => logs.push(l) });
      const d = node.drivers[0]!;
      for (const def of instrumentCommands(2)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
      d.flush();
      const running = node.start();
      // Deposits into existing accounts: the engine's buffers keep their sizes up to the capture.
      const deposits = async (n: number, upTo: number): Promise<void> => {
        for (let k = 0; k < n; k++) {
          d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${(k % 40) + 1}`, DEMO_MONEY.currency!, 5));
          if (k % 200 === 199) d.flush();
        }
        d.flush();
        await until(() => node.durableSeq === upTo, `durable seq ${upTo}`);
      };
      await deposits(1_850, 2 + 1_850); // past 1,800: the ask
      expect(node.snapshots.length).toBe(0);
      await until(() => logs.some((l) => l.includes("faulted in ahead of the next capture")), "the worker's buffers");
      await deposits(200, 2 + 2_050); // past 2,000: the capture
      await until(() => node.snapshots.length === 1, "the first snapshot");
      const first = node.snapshots[0]!;
      expect(first.reusedBytes).toBe(first.bytes);
      await node.stop();
      await running;
    } finally {
      rmSync(data, { recursive: true, force: true });
    }
  });

  it("passes over a damaged newest snapshot (logged) and uses the one before", () => {
    const dir = join(data, "snapshots");
    const newest = "snapshot-0000999999999999.snap"; // newer than any the node wrote, and damaged
    writeFileSync(join(dir, newest), "not a snapshot");
    const logs: string[] = [];
    const again = new VenueNode({ dataDir: data, drivers: 1, eventStore: false, log: (l) => logs.push(l) }); // the store would pick an older snapshot
    expect(logs.join("\n")).toMatch(new RegExp(`passed over ${newest}: shorter than a header`));
    expect(logs.join("\n")).toMatch(/restored snapshot-/);
    const full = fullReplay(join(data, "journal"));
    expect(fingerprint(again.engine)).toBe(fingerprint(full));
  });

  it("passes over a sound snapshot whose engine state does not fit this build (logged), and rebuilds the same engine from the journal", () => {
    const dir = join(data, "snapshots");
    const newest = readSnapshot(dir, listSnapshots(dir).find((n) => !n.startsWith("snapshot-0000999"))!);
    if (typeof newest === "string") throw new Error(newest);
    // The same state with one engine field more, as a later build would write it.
    const shape = newest.state.shape as { o: Record<string, unknown>; c: string };
    const foreign = { shape: { ...shape, o: { ...shape.o, fieldOfAnotherBuild: 1 } }, blobs: newest.state.blobs } as typeof newest.state;
    const name = writeSnapshot(dir, newest.seq + 1, foreign, 0n);
    const logs: string[] = [];
    const again = new VenueNode({ dataDir: data, drivers: 1, eventStore: false, log: (l) => logs.push(l) });
    expect(logs.join("\n")).toMatch(new RegExp(`passed over ${name}: it does not fit this build's engine state .*fieldOfAnotherBuild`));
    expect(logs.join("\n")).toMatch(/restored snapshot-/);
    expect(fingerprint(again.engine)).toBe(fingerprint(fullReplay(join(data, "journal"))));
    rmSync(join(dir, name));
  });

  it("with pruneJournal, deletes segments below the oldest kept snapshot (and the event store's replay point), and a restart still rebuilds the same engine", async () => {
    const dir = join(data, "pruned");
    const logs: string[] = [];
    const node = new VenueNode({ dataDir: dir, drivers: 1, snapshotEvery: 1_000, segmentBytes: 16 << 10, pruneJournal: true, storeMemtableBytes: 32 << 10, log: (l) => logs.push(l) });
    const d = node.drivers[0]!;
    for (const def of instrumentCommands(2)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
    for (let a = 1; a <= 40; a++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
    d.flush();
    const running = node.start();
    const flow = generateFlow({ seed: seed ^ 1, commands: 4_800, instruments: 2, accounts: 40 });
    let sent = 42;
    for (let round = 0; round < 4; round++) {
      for (const c of flow.slice(round * 1_200, (round + 1) * 1_200)) d.submit((b, o) => writeFlowCommand(b, o, c, instrumentOfSymbol(c.symbol)));
      d.flush();
      sent += 1_200;
      await until(() => node.durableSeq === sent, `durable seq ${sent}`);
      // The journal is pruned only below the event store's replay point: let it catch up.
      await until(() => (storeReplayFrom(join(dir, "events")) ?? 0) > sent - 1_000, "the event store to catch up");
      await until(() => node.snapshots.length >= round + 1, `snapshot ${round + 1}`);
    }
    await node.stop();
    await running;
    const first = listSegments(join(dir, "journal"))[0]!;
    expect(first).not.toBe("journal-0000000000000001.wal"); // early segments are gone
    expect(logs.join("\n")).toMatch(/journal segments no longer needed deleted: journal-0000000000000001\.wal/);
    const again = new VenueNode({ dataDir: dir, drivers: 1 });
    expect(again.loop.seq).toBe(sent + 1);
    expect(fingerprint(again.engine)).toBe(fingerprint(node.engine));
    // Without the snapshots, what the deleted segments held is gone: the node says so instead of starting short.
    rmSync(join(dir, "snapshots"), { recursive: true });
    expect(() => new VenueNode({ dataDir: dir, drivers: 1 })).toThrow(/journal starts at seq \d+ but there is no usable snapshot: seqs 1\.\.\d+ are gone/);
  });

  it("refuses an engine that already holds state when the data directory holds a journal", () => {
    const engine = fullReplay(join(data, "journal"));
    expect(() => new VenueNode({ dataDir: data, engine })).toThrow(/holds a journal: give the node a fresh engine/);
  });
});

describe("what a snapshot lets go", () => {
  const setup = (): { snaps: string; journal: string } => {
    const base = mkdtempSync(join(tmpdir(), "venue-prune-"));
    const snaps = join(base, "snapshots");
    const journal = join(base, "journal");
    for (const d of [snaps, journal]) mkdirSync(d);
    for (const s of [1_000, 2_000, 3_000]) writeFileSync(join(snaps, snapshotName(s)), "");
    for (const s of [1, 500, 1_001, 1_600, 2_400, 3_100]) writeFileSync(join(journal, segmentName(s)), "");
    return { snaps, journal };
  };

  it("keeps the newest two snapshots and the journal from the older one when the store is ahead", () => {
    const { snaps, journal } = setup();
    expect(pruneAfterSnapshot(snaps, journal, true, 2_900)).toEqual([segmentName(1), segmentName(500), segmentName(1_001)]); // 1_600.. reaches past 2_000
    expect(listSnapshots(snaps)).toEqual([snapshotName(3_000), snapshotName(2_000)]);
  });

  it("keeps an older snapshot, and the journal from it, for an event store that lags", () => {
    const { snaps, journal } = setup();
    expect(pruneAfterSnapshot(snaps, journal, true, 1_500)).toEqual([segmentName(1), segmentName(500)]);
    expect(listSnapshots(snaps)).toEqual([snapshotName(3_000), snapshotName(2_000), snapshotName(1_000)]);
  });

  it("prunes no journal when the store's replay point is older than every snapshot", () => {
    const { snaps, journal } = setup();
    expect(pruneAfterSnapshot(snaps, journal, true, 800)).toEqual([]);
    expect(readdirSync(journal)).toHaveLength(6);
  });
});
