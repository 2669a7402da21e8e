// Worker entry for the password hasher's pool (piscina): one scrypt derivation per task, on
// this thread rather than libuv's shared pool. Registers the TypeScript loader and exports
// the job by name.
import { register } from "tsx/esm/api";

register();
const job = await import("../src/catalog/scrypt_job.ts");

export function scrypt(req) {
  return job.runScrypt(req);
}
