// Worker entry for the event store's job pool (piscina): flushes and compactions.
// Registers the TypeScript loader and exports the jobs by name.
import { register } from "tsx/esm/api";
import { workerData } from "piscina";

register();
// The thread's name and scheduling, from the plan the node put in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread(workerData);
const jobs = await import("../src/lsm/jobs.ts");

export function flush(req) {
  return jobs.runFlush(req);
}

export function compact(req) {
  return jobs.runCompact(req);
}
