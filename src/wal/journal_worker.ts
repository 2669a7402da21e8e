/**
 * The journal worker: the journal ring's critical consumer. It frames each sequenced
 * command into the current group, and after each poll commits the group (one write, one
 * fdatasync) and publishes the durable sequence in the control block, which releases
 * every other consumer up to it. While one fdatasync runs, the next group gathers in the
 * ring: group commit without a timer.
 *
 * It exits when the node is stopped and the ring is drained. A failed write or fdatasync
 * fences the node (control status) and ends the worker with the error: nothing after the
 * last durable sequence is ever acknowledged.
 *
 * `runJournal` takes its ring and control block by argument, so tests run it on one thread.
 */

import { parentPort, workerData } from "node:worker_threads";
import { Control } from "../bus/control.ts";
import { Ring, RingConsumer } from "../bus/ring.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { NodeStatus } from "../schema/control.ts";
import type { Buf } from "../schema/layout.ts";
import { JournalWriter, type LiveSegment } from "./writer.ts";
import type { JournalFs } from "./file.ts";
import { pathToFileURL } from "node:url";

export interface JournalWorkerData {
  dir: string;
  ring: SharedArrayBuffer;
  slot: number;
  control: SharedArrayBuffer;
  nextSeq: number;
  live: LiveSegment | undefined;
  segmentBytes: number | undefined;
  wait: WaitStrategy;
  /**
   * A module whose `createJournalFs()` returns the file layer to use instead of the real
   * one: how the crash tests inject faults into a running node's journal worker.
   */
  fsModule?: string | undefined;
}

export function runJournal(d: JournalWorkerData, fs?: JournalFs): { groups: number; records: number; durableSeq: number } {
  const control = new Control(d.control);
  const consumer = new RingConsumer(new Ring(d.ring, "journal"), d.slot, { wait: d.wait });
  const writer = new JournalWriter({
    dir: d.dir,
    nextSeq: d.nextSeq,
    ...(fs ? { fs } : {}),
    ...(d.live ? { live: d.live } : {}),
    ...(d.segmentBytes ? { segmentBytes: d.segmentBytes } : {}),
  });
  const append = (buf: Buf, offset: number): void => {
    const size = buf.dv.getUint16(offset + 2, true);
    const seq = buf.dv.getUint32(offset + 12, true) * 4294967296 + buf.dv.getUint32(offset + 8, true);
    writer.append(buf, offset, size, seq);
  };
  try {
    for (;;) {
      const n = consumer.poll(append, 4096);
      if (n > 0) {
        control.setDurable(writer.commit());
        continue;
      }
      const status = control.status;
      if (status === NodeStatus.stopped || status === NodeStatus.fenced) {
        if (consumer.poll(append) > 0) control.setDurable(writer.commit()); // what came in meanwhile
        break;
      }
      consumer.await();
    }
  } catch (err) {
    control.status = NodeStatus.fenced;
    throw err;
  } finally {
    writer.close();
  }
  return { groups: writer.groups, records: writer.records, durableSeq: writer.durableSeq };
}

const data = (workerData as { journal?: JournalWorkerData } | undefined)?.journal;
if (parentPort !== null && data !== undefined) {
  let fs: JournalFs | undefined;
  if (data.fsModule !== undefined) fs = ((await import(pathToFileURL(data.fsModule).href)) as { createJournalFs: () => JournalFs }).createJournalFs();
  const stats = runJournal(data, fs);
  parentPort.postMessage({ stats });
}
