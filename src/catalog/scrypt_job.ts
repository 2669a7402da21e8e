/**
 * One scrypt derivation, run on a password-pool worker thread (workers/password.mjs). It is
 * synchronous on purpose: `scryptSync` on a dedicated thread keeps hashing off libuv's shared
 * thread pool, where the journal's file I/O runs, so a login flood cannot delay a commit.
 * The parameters arrive already checked by password.ts; this only asserts them again.
 */

import { scryptSync } from "node:crypto";
import { assert } from "../stdx/assert.ts";

export interface ScryptJob {
  password: string;
  salt: Uint8Array;
  log2N: number;
  r: number;
  p: number;
  keyBytes: number;
  maxmemBytes: number;
}

/** The derived key (a fresh Uint8Array, so cloning it back to the caller copies 32 bytes, not a pool slab). */
export function runScrypt(job: ScryptJob): Uint8Array {
  assert(Number.isInteger(job.log2N) && job.log2N >= 1 && job.log2N <= 30, "scrypt log2N out of range");
  assert(job.salt.byteLength > 0 && job.keyBytes > 0, "scrypt salt and key must be non-empty");
  const key = scryptSync(job.password, job.salt, job.keyBytes, { N: 2 ** job.log2N, r: job.r, p: job.p, maxmem: job.maxmemBytes });
  return new Uint8Array(key);
}
