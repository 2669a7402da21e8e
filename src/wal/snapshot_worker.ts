/**
 * The snapshot worker: takes captured engine states from the main thread (their buffers
 * transferred, not copied), waits until the journal has made the state's seq durable (a
 * snapshot must never hold a command a crash could take back from the journal), writes the
 * snapshot file atomically, keeps the newest two (and the newest one old enough for the
 * event store's replay point), deletes journal segments wholly below the oldest kept one if
 * asked to, and reports each one done.
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

/** `buffers`: the state's buffers, given back (transferred) for the next capture to copy into. */
export type SnapshotReply = ({ done: number; name: string; ms: number; bytes: number; pruned: string[] } | { failed: number; message: string }) & { buffers: ArrayBuffer[] };

const data = (workerData as { snapshot?: SnapshotWorkerData } | undefined)?.snapshot;
if (parentPort !== null && data !== undefined) {
  const control = new Control(data.control);
  const port = parentPort;
  port.on("message", (job: SnapshotJob) => {
    const t0 = performance.now();
    const buffers = job.state.blobs.map((b) => b.buffer as ArrayBuffer);
    try {
      if (!control.awaitDurable(job.seq, 60_000)) throw new Error(`seq ${job.seq} did not become durable within 60 s`);
      const name = writeSnapshot(data.dir, job.seq, job.state, job.createdNs);
      const replayFrom = data.storeDir === undefined ? undefined : storeReplayFrom(data.storeDir);
      const pruned = pruneAfterSnapshot(data.dir, data.journalDir, data.pruneJournal, replayFrom);
      const bytes = job.state.blobs.reduce((n, b) => n + b.length, 0);
      port.postMessage({ done: job.seq, name, ms: performance.now() - t0, bytes, pruned, buffers } satisfies SnapshotReply, buffers);
    } catch (err) {
      port.postMessage({ failed: job.seq, message: err instanceof Error ? err.message : String(err), buffers } satisfies SnapshotReply, buffers);
    }
  });
}
