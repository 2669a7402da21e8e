/**
 * The node's threads by role: each names itself (`top -H`, `ps -L` and `perf` then show
 * `venue-journal` rather than `node`) and takes the scheduling its role asks for.
 *
 *   critical  the engine loop (main thread), the journal writer and the gateway: the
 *             threads an acknowledgement waits on. A short scheduler slice (Linux 6.12 and
 *             later, EEVDF): once woken, such a thread runs before threads that have the
 *             kernel's default slice (~1.4 ms on 2 cores here) instead of waiting it out.
 *             Its share of the CPU is unchanged; it gives up the core sooner and gets it
 *             back sooner.
 *   bulk      the storage worker and the event store's job threads (flushes, compactions),
 *             the snapshot writer and the segment preparer: a higher nice value, so that
 *             when they compete with the critical threads for a core they yield. They get
 *             every cycle the critical threads leave; a gating consumer that falls behind
 *             still holds the engine back (bounded lag), so nothing is starved for long.
 *   other     market data, plugins, password hashing: named, with the nice value the
 *             node gives each (market data the gateway's `edgeNice`, hashing `hashNice`).
 *
 * Best effort: without the native addon, or where the kernel refuses, the thread keeps its
 * name and scheduling and the node runs on; `enterThread` says what it did.
 * docs/ARCHITECTURE.md (threads) and docs/BENCHMARKS.md (end-to-end latency) have the
 * measurements behind the defaults.
 */

import { workerData } from "node:worker_threads";
import { nameThisThread, niceThisThread, sliceThisThread } from "../native/mmap.ts";

export type ThreadRole = "engine" | "journal" | "gateway" | "storage" | "lsm" | "snapshots" | "segments" | "market" | "plugin" | "hash" | "bench";

export interface ThreadScheduling {
  /** The scheduler slice of the critical threads, µs (0: the kernel's default). */
  criticalSliceUs: number;
  /** The nice value of the bulk threads (0 to 19; 0: unchanged). */
  bulkNice: number;
}

export const DEFAULT_THREAD_SCHEDULING: ThreadScheduling = { criticalSliceUs: 100, bulkNice: 10 };

const CRITICAL: ReadonlySet<ThreadRole> = new Set<ThreadRole>(["engine", "journal", "gateway", "bench"]);
const BULK: ReadonlySet<ThreadRole> = new Set<ThreadRole>(["storage", "lsm", "snapshots", "segments"]);

/** What a thread applies to itself as it starts: sent to a worker in its workerData (`thread`). */
export interface ThreadPlan {
  /** The thread's name (15 bytes kept); "" leaves it (the main thread: renaming it renames the process). */
  name: string;
  /**
   * Scheduler slice, ns; 0: the kernel's default; null: left as it is. A new thread
   * inherits its creator's slice, so with short slices on, every other role asks for the
   * default (the node's workers are started from the engine loop's thread).
   */
  sliceNs: number | null;
  /** Nice value (0: unchanged). */
  nice: number;
}

/** The plan of a thread of `role`; `nice` sets its nice value where the role has none of its own. */
export function planFor(role: ThreadRole, s: ThreadScheduling = DEFAULT_THREAD_SCHEDULING, nice = 0): ThreadPlan {
  const name = role === "engine" ? "" : `venue-${role}`;
  const short = s.criticalSliceUs > 0;
  if (CRITICAL.has(role)) return { name, sliceNs: short ? s.criticalSliceUs * 1000 : null, nice };
  const sliceNs = short ? 0 : null;
  if (BULK.has(role)) return { name, sliceNs, nice: Math.max(nice, s.bulkNice) };
  return { name, sliceNs, nice };
}

/** The settings in words, for the node's log. */
export function describeScheduling(s: ThreadScheduling): string {
  const critical = s.criticalSliceUs > 0 ? `the journal writer and the gateway take a ${s.criticalSliceUs} µs scheduler slice` : "the kernel's default slices";
  const bulk = s.bulkNice > 0 ? `the event store, snapshot and segment threads nice ${s.bulkNice}` : "no thread niced";
  return `${critical}, ${bulk}`;
}

/** Applies `plan` to the calling thread; returns what it did, for the log. Never throws. */
export function enterThread(plan: ThreadPlan): string {
  const did: string[] = [];
  try {
    if (plan.name !== "" && nameThisThread(plan.name)) did.push(`named ${plan.name}`);
    if (plan.sliceNs !== null) {
      // sched_setattr sets the nice value with the slice.
      if (sliceThisThread(plan.sliceNs, plan.nice)) did.push((plan.sliceNs > 0 ? `slice ${plan.sliceNs / 1000} µs` : "default slice") + (plan.nice > 0 ? `, nice ${plan.nice}` : ""));
    } else if (plan.nice > 0 && niceThisThread(plan.nice)) {
      did.push(`nice ${plan.nice}`);
    }
  } catch (err) {
    did.push(`scheduling not applied: ${err instanceof Error ? err.message : String(err)}`);
  }
  return did.length === 0 ? "unchanged (no native addon)" : did.join(", ");
}

/**
 * In a worker the node started: applies the plan its workerData carries under `thread`, if
 * any (a piscina pool's workers pass piscina's own `workerData`). A plan the kernel refused
 * is said on stderr, where the node's workers report what has no log of its own.
 */
export function enterWorkerThread(data: unknown = workerData): string | undefined {
  const plan = (data as { thread?: ThreadPlan } | null | undefined)?.thread;
  if (plan === undefined) return undefined;
  const did = enterThread(plan);
  if (did.includes("not applied")) process.stderr.write(`venue: thread ${plan.name}: ${did}\n`);
  return did;
}
