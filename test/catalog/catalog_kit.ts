/**
 * Shared pieces of the catalog tests: temporary catalog directories (removed after each test
 * file), and password records made without the hasher (the catalog only checks a record's
 * form, so tests that do not verify passwords need not pay for real scrypt hashes).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { formatPasswordRecord } from "../../src/catalog/password.ts";

const made: string[] = [];

/** A fresh directory under the system temp dir, removed after the test file (its catalogs must be closed by then). */
export function tempDir(prefix = "venue-catalog-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A well-formed record that no password matches (all-zero key); `seed` varies the salt. */
export function fakeRecord(seed = 1): string {
  return formatPasswordRecord({ log2N: 17, r: 8, p: 1, salt: new Uint8Array(16).fill(seed), key: new Uint8Array(32) });
}
