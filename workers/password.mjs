// Worker entry for the password hasher's pool (piscina): one scrypt derivation per task, on
// this thread rather than libuv's shared pool, at a lower priority (its nice value, from the
// pool's workerData) so the scheduler prefers the node's other threads. Registers the
// TypeScript loader and exports the job by name.
import { register } from "tsx/esm/api";
import { workerData } from "piscina";

register();
const job = await import("../src/catalog/scrypt_job.ts");
const { niceThisThread } = await import("../src/native/mmap.ts");
if (typeof workerData?.nice === "number" && workerData.nice > 0) niceThisThread(workerData.nice);

export function scrypt(req) {
  return job.runScrypt(req);
}
