/**
 * The segment preparer's thread (workers/segments.mjs): runs `runPreparer` until the node
 * closes the cell, posting each log line to the node.
 */

import { parentPort, workerData } from "node:worker_threads";
import { runPreparer, type PreparerOptions } from "./prepare.ts";

export interface PreparerWorkerData {
  cells: SharedArrayBuffer;
  dir: string;
  segmentBytes: number;
  bytesPerSecond?: number | undefined;
  quietMs?: number | undefined;
}

const data = (workerData as { preparer?: PreparerWorkerData } | undefined)?.preparer;
if (parentPort !== null && data !== undefined) {
  const port = parentPort;
  const o: PreparerOptions = { dir: data.dir, segmentBytes: data.segmentBytes, log: (line) => port.postMessage({ log: line }) };
  if (data.bytesPerSecond !== undefined) o.bytesPerSecond = data.bytesPerSecond;
  if (data.quietMs !== undefined) o.quietMs = data.quietMs;
  runPreparer(data.cells, o);
}
