// Worker entry for the password hasher's pool (piscina): one scrypt derivation per task, on
// this thread rather than libuv's shared pool. The thread names itself venue-hash and lowers
// its priority (the nice value in the plan of the pool's workerData: src/node/threads.ts), so
// the scheduler prefers the node's other threads. Registers the TypeScript loader and
// exports the job by name.
import { register } from "tsx/esm/api";
import { workerData } from "piscina";

register();
const job = await import("../src/catalog/scrypt_job.ts");
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread(workerData);

export function scrypt(req) {
  return job.runScrypt(req);
}
