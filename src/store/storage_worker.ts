/**
 * The storage worker: a gating consumer of the trades, accounts and l2 rings (released
 * up to the durable sequence) that writes every event into the event store, with its
 * flushes and compactions on a job pool. When the store's flushes fall behind it stops
 * reading, so the rings hold the engine back (the consumer is critical: a store that
 * stays stuck fences the node rather than lose events). It ends when the node tells it
 * the journal worker is done (every durable event is published by then), after draining
 * the rings and flushing the MemTable.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer } from "../bus/ring.ts";
import type { Buf } from "../schema/layout.ts";
import { NodeStatus } from "../schema/control.ts";
import { TOPICS, type Topic } from "../schema/topics.ts";
import { poolJobs } from "../lsm/pool.ts";
import { inlineJobs } from "../lsm/tree.ts";
import type { JournalFs } from "../wal/file.ts";
import { pathToFileURL } from "node:url";
import { EventStore } from "./event_store.ts";

export interface StorageWorkerData {
  dir: string;
  control: SharedArrayBuffer;
  topics: Record<Topic, { ring: SharedArrayBuffer; slot: number }>;
  memtableBytes?: number;
  /**
   * A module whose `createJournalFs()` returns the file layer to write the store with, in
   * place of the real one (fault tests); its flushes and compactions then run on this thread.
   */
  fsModule?: string | undefined;
}

export interface StorageStats {
  appended: number;
  skipped: number;
  flushedSeq: number;
  flushes: number;
  compactions: number;
}

/**
 * Runs until `stopped()` (the node's journal worker has exited, so every durable event is
 * published) or the node is fenced, then drains, flushes and closes.
 */
export async function runStorage(d: StorageWorkerData, log: (line: string) => void, stopped: () => boolean): Promise<StorageStats> {
  const control = new Control(d.control);
  const fs = d.fsModule === undefined ? undefined : ((await import(pathToFileURL(d.fsModule).href)) as { createJournalFs: () => JournalFs }).createJournalFs();
  const jobs = fs === undefined ? poolJobs(1) : inlineJobs(fs);
  const store = EventStore.open(d.dir, { jobs, log, ...(fs ? { fs } : {}), ...(d.memtableBytes ? { memtableBytes: d.memtableBytes } : {}) });
  const consumers = TOPICS.map((t) => {
    const c = new RingConsumer(new Ring(d.topics[t].ring, t), d.topics[t].slot, { durable: control.durableGate });
    const handler = (buf: Buf, offset: number): void => {
      store.append(t, buf, offset);
    };
    return { c, handler };
  });
  // Small polls, and none while the store is not writable: a MemTable fills between them.
  const pollAll = (): number => {
    let n = 0;
    for (const { c, handler } of consumers) if (store.tree.writable) n += c.poll(handler, 256);
    return n;
  };
  try {
    let idle = 0;
    for (;;) {
      if (store.tree.error !== undefined) throw store.tree.error;
      if (!store.tree.writable) await store.tree.whenWritable();
      const n = pollAll();
      if (n > 0) {
        idle = 0;
        // Let job results (flushes, compactions) be installed now and then.
        if ((store.appended & 0xffff) < n) await new Promise((r) => setImmediate(r));
        continue;
      }
      if (stopped() || control.status === NodeStatus.fenced) {
        const drain = async (): Promise<void> => {
          for (;;) {
            if (!store.tree.writable) await store.tree.whenWritable();
            if (store.tree.error !== undefined) throw store.tree.error;
            if (pollAll() === 0 && store.tree.writable) return;
          }
        };
        await drain();
        break;
      }
      // Idle: a short sleep (this consumer has no latency target; it must not spin a core).
      await new Promise((r) => setTimeout(r, idle++ < 100 ? 0 : 1));
    }
    await store.flush();
    await store.tree.idle();
  } finally {
    await store.close();
    await jobs.close();
  }
  return { appended: store.appended, skipped: store.skipped, flushedSeq: store.tree.flushedSeq, flushes: store.tree.stats.flushes, compactions: store.tree.stats.compactions };
}

const data = (workerData as { storage?: StorageWorkerData } | undefined)?.storage;
if (parentPort !== null && data !== undefined) {
  let stop = false;
  const onMessage = (m: { stop?: true }): void => {
    if (m.stop) stop = true;
  };
  parentPort.on("message", onMessage);
  const stats = await runStorage(data, (line) => parentPort!.postMessage({ log: line }), () => stop);
  parentPort.off("message", onMessage); // so the thread can end
  parentPort.postMessage({ stats });
}
