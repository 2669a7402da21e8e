/**
 * The main of a node worker that runs until told to stop: when this thread is a worker
 * whose workerData holds `key`, runs `run(data, log, stopped)` with log lines posted to the
 * node as `{ log }` and `stopped()` true once the node posts `{ stop: true }`; then posts
 * `{ stopped: true }` and exits 0. Outside such a worker it does nothing (the module is
 * imported for its exports).
 */

import { parentPort, workerData } from "node:worker_threads";

export async function workerMain<T>(key: string, run: (data: T, log: (line: string) => void, stopped: () => boolean) => Promise<void>): Promise<void> {
  const port = parentPort;
  const data = (workerData as Record<string, unknown> | undefined)?.[key] as T | undefined;
  if (port === null || data === undefined) return;
  let stop = false;
  port.on("message", (m: { stop?: boolean }) => {
    if (m.stop === true) stop = true;
  });
  await run(data, (line) => port.postMessage({ log: line }), () => stop);
  port.postMessage({ stopped: true });
  process.exit(0);
}
