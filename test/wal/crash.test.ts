/**
 * Crash tests with real processes: a node with a data directory takes a stream of
 * commands and reports each durable sequence; the test SIGKILLs it at a random point
 * (seeded), recovers the journal, and checks the promises:
 *   P1  every sequence the node reported durable is in the journal;
 *   P2  the journal is a prefix of what was submitted: seqs 1..n, each record exactly the
 *       command submitted for that seq (timestamps aside).
 * Then the node restarts on the same directory and goes on (a crash chain), five times. The
 * node snapshots every 3,000 commands, so restarts restore snapshots too; at the end, the
 * newest snapshot plus the journal after it must build exactly the engine the whole journal does.
 */

import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { VenueNode } from "../../src/node/node.ts";
import { EventStore } from "../../src/store/event_store.ts";
import { expectedDigests, storedDigests } from "../store/store_kit.ts";
import { fingerprint, fullReplay } from "../engine/state_kit.ts";
import { listSegments } from "../../src/wal/recover.ts";
import { segmentFirstSeq } from "../../src/schema/wal.ts";
import { checkJournal, runAndKill } from "./crash_kit.ts";

const dir = mkdtempSync(join(tmpdir(), "venue-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Kills per run: 5 in CI, 200 in the full run (`npm run test:crash`). */
const KILLS = Number(process.env.VENUE_KILLS ?? 5);

describe("crash: SIGKILL during group commit", () => {
  const seed = seedFromEnv();
  it(`every acknowledged command survives, and the journal is a prefix of what was sent (${KILLS} kills, seed ${seed})`, async () => {
    console.log(`crash: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const r = new Prng(seed);
    let lastDurable = 0;
    for (let round = 0; round < KILLS; round++) {
      const killAt = lastDurable + 500 + (r.nextU32() % 5000);
      const { recovered, durable } = await runAndKill(join(dir, "data"), [], killAt, round % 2 === 1);
      expect(recovered).toBeGreaterThanOrEqual(lastDurable); // the restart found everything acknowledged before
      const { first, last } = checkJournal(join(dir, "data", "journal"));
      expect(first).toBe(1);
      expect(last).toBeGreaterThanOrEqual(durable); // P1: every acknowledged command is there
      console.log(`  kill ${round + 1}: acknowledged ${durable}, recovered ${last}`);
      lastDurable = durable;
    }
    // The child snapshotted as it ran (and restored snapshots on each restart): the newest
    // snapshot plus the journal after it must build the same engine as the whole journal.
    const logs: string[] = [];
    const node = new VenueNode({ dataDir: join(dir, "data"), log: (l) => logs.push(l) });
    expect(logs.join("\n")).toMatch(/restored snapshot-/);
    const full = fullReplay(join(dir, "data", "journal"));
    expect(fingerprint(node.engine)).toBe(fingerprint(full));
    // The event store, killed with the node each time and fed from the journal at each
    // start, holds every event of the journal's commands exactly once.
    const store = EventStore.open(join(dir, "data", "events"), { background: false });
    // As digests per topic and instrument: the full run's journal of millions of commands
    // has too many events to hold as strings (the test process ran out of heap).
    const want = expectedDigests(join(dir, "data", "journal"));
    const got = storedDigests(store);
    store.tree.closeSync();
    expect(got, "event store: events per topic and instrument").toEqual(want);
    expect(Object.keys(want).some((k) => k.startsWith("accounts/"))).toBe(true);
  }, 60_000 + KILLS * 30_000); // each kill's check reads the whole journal, which only grows (~2 s at 775,000 records here)
});

/** Hard-links every file of `from` into `to` (a name now on another file is linked anew). */
function linkAll(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    if (existsSync(dst)) {
      if (statSync(dst).ino === statSync(src).ino) continue;
      rmSync(dst);
    }
    linkSync(src, dst);
  }
}

/** Kills of the pruning chain: 12 in CI, 200 in the full run. */
const PRUNE_KILLS = Math.max(12, KILLS);

describe("crash: SIGKILL while the node prunes its journal", () => {
  const seed = seedFromEnv();
  it(`nothing acknowledged is lost when segments are deleted behind snapshots and the event store (${PRUNE_KILLS} kills, seed ${seed})`, async () => {
    console.log(`crash with pruning: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const r = new Prng(seed ^ 0x5eed);
    const data = join(dir, "pruned");
    const journal = join(data, "journal");
    // Every segment the node ever wrote, hard-linked here after each kill: the link sees
    // what the node appends to the file later and keeps it after the node deletes it. The
    // node deletes only segments below the older of its two newest snapshots; the first run
    // writes a snapshot without pruning, and each later run is killed at its first snapshot
    // at the latest, so the older one is always from an earlier run and every segment it
    // lets go was linked whole before. The archive is therefore the whole journal, 1..n
    // (checked below).
    const archive = join(dir, "archive");
    let lastDurable = 0;
    for (let round = 0; round < PRUNE_KILLS; round++) {
      const killAt = lastDurable + 300 + (r.nextU32() % 400);
      // The first run writes a snapshot (at seq 5,000) and prunes nothing. Every later one is
      // killed at its first snapshot; every other one waits for that snapshot, the rest are
      // killed at killAt if that comes first.
      const opening = round === 0;
      const { recovered, durable } = await runAndKill(data, opening ? ["--small"] : ["--small", "--prune"], killAt, round % 2 === 0, !opening);
      expect(recovered).toBeGreaterThanOrEqual(lastDurable); // the restart found everything acknowledged before
      const { first, last } = checkJournal(journal);
      expect(last).toBeGreaterThanOrEqual(durable); // P1: every acknowledged command is there
      linkAll(journal, archive);
      console.log(`  kill ${round + 1}: acknowledged ${durable}, journal holds ${first}..${last}`);
      lastDurable = durable;
    }
    // Pruning happened: the journal's first segments are gone.
    expect(segmentFirstSeq(listSegments(journal)[0]!)).toBeGreaterThan(1);
    const whole = checkJournal(archive);
    expect(whole.first).toBe(1);
    // The node starts from its newest usable snapshot and what is left of the journal: the
    // same engine as a replay of every command ever journaled.
    const logs: string[] = [];
    const node = new VenueNode({ dataDir: data, log: (l) => logs.push(l) });
    expect(logs.join("\n")).toMatch(/restored snapshot-/);
    expect(node.loop.seq).toBe(whole.last + 1);
    expect(fingerprint(node.engine)).toBe(fingerprint(fullReplay(archive)));
    // The event store still holds every event of every command, exactly once: no segment
    // was deleted before the store had what it held.
    const store = EventStore.open(join(data, "events"), { background: false });
    const want = expectedDigests(archive);
    const got = storedDigests(store);
    store.tree.closeSync();
    expect(got, "event store: events per topic and instrument").toEqual(want);
  }, 60_000 + PRUNE_KILLS * 30_000);
});
