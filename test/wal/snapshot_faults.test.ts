/**
 * Snapshot writing under faults: for every file operation of writing a new snapshot (create
 * the temp file, write, fsync, rename, fsync the directory), the writer dies there, dies and
 * the power is cut (unsynced writes kept, lost or torn; an unsynced rename undone; a file
 * created since the last directory fsync gone), or the operation fails with EIO. Afterwards
 * the reader must find either the new snapshot or the one before it, whole, restorable, and
 * equal to what was captured; never a damaged one, never none; and no temp file survives it.
 * A power cut after a write that returned must leave the new one. The same again for a
 * snapshot large enough to be written back in pieces.
 * Also: a large snapshot is written back (or, where the layer cannot, synced) as it is
 * written, not in one burst at the end.
 */

import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Replayer } from "../../src/replay/replayer.ts";
import { captureState, restoreState, type CapturedState } from "../../src/engine/state.ts";
import { SNAPSHOT_SYNC_EVERY_BYTES, SNAPSHOT_WRITE_BACK_BYTES, readNewestSnapshot, writeSnapshot } from "../../src/wal/snapshot_file.ts";
import { syncLoggingFs, syncedEvery, wroteBackInPieces } from "../sync_log_fs.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { randomCommands } from "../engine/random_commands.ts";
import { fingerprint } from "../engine/state_kit.ts";
import { FaultFs, SimulatedCrash } from "./fault_fs.ts";
import { Engine } from "../../src/engine/engine.ts";

function stateAfter(lines: string[], n: number): CapturedState {
  const r = new Replayer();
  for (const l of lines.slice(0, n)) r.feed(l, () => {});
  return captureState(r.engine);
}

function restoredFingerprint(state: CapturedState): string {
  const e = new Engine();
  restoreState(e, state);
  return fingerprint(e);
}

describe("snapshot writing under faults", () => {
  const seed = seedFromEnv();
  /**
   * Writes `newer` (seq 2000) into a directory holding `older` (seq 1000) once per file
   * operation of that write: the writer dies there, dies and the power is cut, or the
   * operation fails with EIO. The reader must find one of the two, whole (its `key` that of
   * what was written), and no temp file. Then, a write that returned and a power cut after
   * it, ten times: the new one, whole (a snapshot taken lets the journal before it go).
   * Returns how often it found each.
   */
  const sweepFaults = (older: CapturedState, newer: CapturedState, key: (s: CapturedState) => string, r: Prng): { total: number; writeBacks: number; found: Record<number, number> } => {
    const want = { 1000: key(older), 2000: key(newer) } as Record<number, string>;
    const base = mkdtempSync(join(tmpdir(), "venue-snapfault-"));
    try {
      const master = join(base, "master");
      mkdirSync(master);
      writeSnapshot(master, 1000, older, 1n);
      const probe = new FaultFs();
      const scratch = join(base, "probe");
      mkdirSync(scratch);
      copyFileSync(join(master, readdirSync(master)[0]!), join(scratch, readdirSync(master)[0]!));
      writeSnapshot(scratch, 2000, newer, 2n, probe);
      const total = probe.ops;
      const found = { 1000: 0, 2000: 0 } as Record<number, number>;
      for (let at = 0; at < total; at++) {
        for (const fault of ["kill", "power", "EIO"] as const) {
          const dir = join(base, "run");
          rmSync(dir, { recursive: true, force: true });
          mkdirSync(dir);
          for (const f of readdirSync(master)) copyFileSync(join(master, f), join(dir, f));
          const fs = new FaultFs();
          if (fault === "EIO") fs.failAt = at;
          else fs.crashAt = at;
          try {
            writeSnapshot(dir, 2000, newer, 2n, fs);
          } catch (err) {
            if (!(err instanceof SimulatedCrash) && (err as { code?: string }).code !== "EIO") throw err;
          }
          if (fault === "power") fs.powerLoss(r);
          const got = readNewestSnapshot(dir);
          expect(got, `${fault} at ${at}`).toBeDefined();
          expect(key(got!.state), `${fault} at ${at}: snapshot ${got!.seq}`).toBe(want[got!.seq]);
          expect(readdirSync(dir).some((f) => f.endsWith(".tmp")), `${fault} at ${at}`).toBe(false);
          found[got!.seq]!++;
        }
      }
      for (let k = 0; k < 10; k++) {
        const dir = join(base, "run");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        for (const f of readdirSync(master)) copyFileSync(join(master, f), join(dir, f));
        const fs = new FaultFs();
        writeSnapshot(dir, 2000, newer, 2n, fs);
        fs.powerLoss(r);
        const got = readNewestSnapshot(dir);
        expect(got?.seq, `power cut after the write returned (${k})`).toBe(2000);
        expect(key(got!.state), `power cut after the write returned (${k})`).toBe(want[2000]);
      }
      return { total, writeBacks: probe.writeBacks, found };
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  };

  it(`every operation as a kill point, a power cut and an EIO: the reader finds the new snapshot or the old one, whole (seed ${seed})`, () => {
    const lines = randomCommands(seed, 3_000).split("\n");
    const { total, found } = sweepFaults(stateAfter(lines, 1_000), stateAfter(lines, 2_000), restoredFingerprint, new Prng(seed));
    console.log(`snapshot faults: ${total} operations x 3 faults: old snapshot found ${found[1000]} times, new ${found[2000]} times, damaged or none 0`);
  });

  /** A state of random bytes in buffers of these sizes (3.5 MB by default; the shape is not read here). */
  const largeState = (seed: number, sizes = [2_500_000, 1_000_000]): CapturedState => {
    const r = new Prng(seed);
    const blob = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => r.int(0, 255));
    return { shape: { o: {}, c: "Engine" }, blobs: sizes.map(blob) };
  };
  /** What a state of random buffers holds, to compare one read back with the one written. */
  const blobsDigest = (state: CapturedState): string => {
    const h = createHash("sha256");
    for (const b of state.blobs) h.update(b).update(String(b.byteLength));
    return h.digest("hex");
  };

  it(`a snapshot large enough to be written back in pieces, under the same faults: the new one or the old one, whole (seed ${seed})`, () => {
    const { total, writeBacks, found } = sweepFaults(largeState(5, [3_000]), largeState(6, [600_000, 200_000]), blobsDigest, new Prng(seed ^ 0x2545f491));
    expect(writeBacks).toBeGreaterThan(4); // the production path: written back in pieces, synced once
    expect(found[2000]).toBeGreaterThan(0);
    console.log(`snapshot faults, written back: ${total} operations (${writeBacks} write-backs) x 3 faults: old snapshot found ${found[1000]} times, new ${found[2000]} times, damaged or none 0`);
  });

  it("writes a large snapshot back in pieces of 128 KiB as it goes, syncs it once, and it reads back whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-snapwb-"));
    try {
      const state = largeState(8);
      const synced: number[] = [];
      const ranges: Array<[number, number]> = [];
      const name = writeSnapshot(dir, 5, state, 1n, syncLoggingFs(synced, ranges));
      const size = statSync(join(dir, name)).size;
      expect(wroteBackInPieces(ranges, size, SNAPSHOT_WRITE_BACK_BYTES)).toBeUndefined();
      expect(ranges.length).toBeGreaterThan(20);
      expect(synced).toEqual([size]); // the final fsync only
      const back = readNewestSnapshot(dir);
      expect(back!.state.blobs.map((b, i) => Buffer.from(b).equals(state.blobs[i]!))).toEqual([true, true]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("where the file layer cannot write back, syncs a large snapshot as it is written, at most every 1 MiB, and it reads back whole", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-snapsync-"));
    try {
      const state = largeState(7);
      const synced: number[] = [];
      const name = writeSnapshot(dir, 5, state, 1n, syncLoggingFs(synced));
      const size = statSync(join(dir, name)).size;
      expect(syncedEvery(synced, size, SNAPSHOT_SYNC_EVERY_BYTES)).toBeUndefined();
      const back = readNewestSnapshot(dir);
      expect(back?.seq).toBe(5);
      expect(back!.state.blobs.map((b, i) => Buffer.from(b).equals(state.blobs[i]!))).toEqual([true, true]);
      // Synced once, at the end, it is the same file.
      const once: number[] = [];
      const other = join(dir, "once");
      mkdirSync(other);
      writeSnapshot(other, 5, state, 1n, syncLoggingFs(once), 0);
      expect(once).toEqual([size]);
      expect(readFileSync(join(other, name)).equals(readFileSync(join(dir, name)))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
