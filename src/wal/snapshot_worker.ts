/**
 * The snapshot worker: takes captured engine states from the main thread (their buffers
 * transferred, not copied), waits until the journal has made the state's seq durable (a
 * snapshot must never hold a command a crash could take back from the journal), writes the
 * snapshot file atomically, keeps the newest two (and the newest one old enough for the
 * event store's replay point), deletes journal segments wholly below the oldest kept one if
 * asked to, and reports each one done.
 *
 * Asked ahead of a capture (`SnapshotPrefault`), it also makes shared buffers of the sizes
 * the capture will need and writes to every page of them, so the capture on the main thread
 * copies into memory that is already there: a capture into fresh memory takes a page fault
 * per 4 KiB page on the thread that stops the engine (30 MB: 35-55 ms measured in the node at
 * 100k orders/s, against 3.5-6 ms into faulted-in buffers).
 *
 * Every buffer that passes between this worker and the main thread is a SharedArrayBuffer,
 * shared and never transferred: see CaptureBuffers for why nothing may be detached there.
 */

import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { Control } from "../bus/control.ts";
import type { CapturedState } from "../engine/state.ts";
import { pruneAfterSnapshot, writeSnapshot } from "./snapshot_file.ts";
import { storeReplayFrom } from "../store/event_store.ts";

export interface SnapshotWorkerData {
  dir: string;
  /** The journal's directory: with `pruneJournal`, segments wholly below the oldest kept snapshot are deleted. */
  journalDir: string;
  pruneJournal: boolean;
  /** The event store's directory, whose replay point the kept snapshots and journal must reach. */
  storeDir?: string | undefined;
  control: SharedArrayBuffer;
}

export interface SnapshotJob {
  seq: number;
  state: CapturedState;
  createdNs: bigint;
}

/** Make buffers of these byte lengths ready for the next capture (sent back as a SnapshotPrefaulted). */
export interface SnapshotPrefault {
  prefault: number[];
}

/** After a reply, the job's buffers are the main thread's again (for the next capture to copy into). */
export type SnapshotReply = { done: number; name: string; ms: number; bytes: number; pruned: string[] } | { failed: number; message: string };

/** Buffers of the sizes asked for, every page written once; `ms` the time that took on this thread. */
export interface SnapshotPrefaulted {
  prefaulted: SharedArrayBuffer[];
  ms: number;
}

/** New shared buffers of these byte lengths, every 4 KiB page of them written (faulted in). */
export function prefaultedBuffers(sizes: readonly number[]): SharedArrayBuffer[] {
  return sizes.map((n) => {
    const b = new SharedArrayBuffer(n);
    const u = new Uint8Array(b);
    for (let i = 0; i < n; i += 4096) u[i] = 0;
    return b;
  });
}

const data = (workerData as { snapshot?: SnapshotWorkerData } | undefined)?.snapshot;
if (parentPort !== null && data !== undefined) {
  const control = new Control(data.control);
  const port = parentPort;
  port.on("message", (job: SnapshotJob | SnapshotPrefault) => {
    const t0 = performance.now();
    if ("prefault" in job) {
      const prefaulted = prefaultedBuffers(job.prefault);
      port.postMessage({ prefaulted, ms: performance.now() - t0 } satisfies SnapshotPrefaulted);
      return;
    }
    try {
      if (!control.awaitDurable(job.seq, 60_000)) throw new Error(`seq ${job.seq} did not become durable within 60 s`);
      const name = writeSnapshot(data.dir, job.seq, job.state, job.createdNs);
      const replayFrom = data.storeDir === undefined ? undefined : storeReplayFrom(data.storeDir);
      const pruned = pruneAfterSnapshot(data.dir, data.journalDir, data.pruneJournal, replayFrom);
      const bytes = job.state.blobs.reduce((n, b) => n + b.length, 0);
      port.postMessage({ done: job.seq, name, ms: performance.now() - t0, bytes, pruned } satisfies SnapshotReply);
    } catch (err) {
      port.postMessage({ failed: job.seq, message: err instanceof Error ? err.message : String(err) } satisfies SnapshotReply);
    }
  });
}
