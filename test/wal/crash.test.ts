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

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { recoverJournal } from "../../src/wal/recover.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { commandFor } from "./crash_commands.ts";
import { VenueNode } from "../../src/node/node.ts";
import { EventStore } from "../../src/store/event_store.ts";
import { TOPICS } from "../../src/schema/topics.ts";
import { expectedEvents, storedEvents } from "../store/store_kit.ts";
import { fingerprint, fullReplay } from "../engine/state_kit.ts";


const CHILD = fileURLToPath(new URL("./crash_child.ts", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "venue-crash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the child until it has reported `killAt` as durable (or more), and a snapshot if
 * `needSnapshot`, then SIGKILLs it; returns the last durable it reported.
 */
function runAndKill(killAt: number, needSnapshot: boolean): Promise<{ recovered: number; durable: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, join(dir, "data")], { stdio: ["ignore", "pipe", "pipe"] });
    let recovered = -1;
    let durable = 0;
    let out = "";
    let err = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not reach durable ${killAt} in time (durable ${durable}); stderr: ${err}`));
    }, 60_000);
    child.stderr.on("data", (b: Buffer) => void (err += b.toString()));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      let nl;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const [word, n] = line.split(" ");
        if (word === "recovered") recovered = Number(n);
        if (word === "durable") durable = Math.max(durable, Number(n));
        if (word === "snapshot") needSnapshot = false;
        if (durable >= killAt && !needSnapshot && !killed) {
          killed = true;
          child.kill("SIGKILL");
        }
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve({ recovered, durable });
      else reject(new Error(`child exited by itself (code ${code}); stderr: ${err}`));
    });
  });
}

/** Kills per run: 5 in CI, 200 in the full run (`npm run test:crash`). */
const KILLS = Number(process.env.VENUE_KILLS ?? 5);

describe("crash: SIGKILL during group commit", () => {
  const seed = seedFromEnv();
  it(`every acknowledged command survives, and the journal is a prefix of what was sent (${KILLS} kills, seed ${seed})`, async () => {
    console.log(`crash: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const r = new Prng(seed);
    let lastDurable = 0;
    const check = Buf.alloc(512);
    for (let round = 0; round < KILLS; round++) {
      const killAt = lastDurable + 500 + (r.nextU32() % 5000);
      const { recovered, durable } = await runAndKill(killAt, round % 2 === 1);
      expect(recovered).toBeGreaterThanOrEqual(lastDurable); // the restart found everything acknowledged before
      const seqs: number[] = [];
      recoverJournal(join(dir, "data", "journal"), (buf, offset, size, seq) => {
        const want = commandFor(check, 0, seq);
        expect(size, `seq ${seq}`).toBe(want);
        // Everything but seq and timestamp (bytes 8..23, stamped by the loop) is what was submitted.
        const same = (from: number, to: number): boolean => Buffer.compare(buf.u8.subarray(offset + from, offset + to), check.u8.subarray(from, to)) === 0;
        if (!same(0, 8) || !same(24, size)) throw new Error(`seq ${seq}: the recovered command differs from the one submitted`);
        expect(buf.dv.getUint32(offset + 8, true)).toBe(seq);
        seqs.push(seq);
      });
      const n = seqs.length;
      expect(seqs[n - 1]).toBe(n); // 1..n, nothing missing, nothing reordered (checked one by one by recovery)
      expect(n).toBeGreaterThanOrEqual(durable); // P1: every acknowledged command is there
      console.log(`  kill ${round + 1}: acknowledged ${durable}, recovered ${n}`);
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
    const want = expectedEvents(join(dir, "data", "journal"));
    const got = storedEvents(store);
    store.tree.closeSync();
    for (const t of TOPICS) expect(got[t], `event store, ${t}`).toEqual(want[t]);
    expect(want.accounts.length).toBeGreaterThan(0);
  }, 60_000 + KILLS * 10_000);
});
