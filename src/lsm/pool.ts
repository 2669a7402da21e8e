/**
 * The event store's job pool: flushes and compactions on piscina worker threads, so the
 * thread that owns the tree only installs their results. A sealed MemTable crosses to the
 * job as its SharedArrayBuffers (no copy); a result comes back as a small record.
 */

import { Piscina } from "piscina";
import type { CompactRequest, CompactResult, FlushRequest } from "./jobs.ts";
import type { TableMeta } from "./table_writer.ts";
import type { LsmJobs } from "./tree.ts";
import type { ThreadPlan } from "../node/threads.ts";

const ENTRY = new URL("../../workers/lsm_jobs.mjs", import.meta.url).href;

/**
 * A pool of `threads` job threads (default 1: flushes and compactions take turns on it);
 * each applies `thread` to itself as it starts (its name and nice value).
 */
export function poolJobs(threads = 1, thread?: ThreadPlan): LsmJobs {
  const pool = new Piscina({ filename: ENTRY, minThreads: threads, maxThreads: threads, idleTimeout: 60_000, ...(thread === undefined ? {} : { workerData: { thread } }) });
  return {
    flush: (req: FlushRequest) => pool.run(req, { name: "flush" }) as Promise<(TableMeta & { number: number })[]>,
    compact: (req: CompactRequest) => pool.run(req, { name: "compact" }) as Promise<CompactResult>,
    close: () => pool.destroy(),
  };
}
