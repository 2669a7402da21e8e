/**
 * Runs once around the whole test run, in vitest's main process: every test, worker and
 * child process of the run makes its temporary files under one directory of its own
 * (TMPDIR, which the test processes inherit and `os.tmpdir()` reads), and the directory
 * goes when the run ends. So a run leaves nothing behind in the system's temporary folder,
 * whatever its tests left: a node that fenced before it could clean up, a crash test's
 * segments of 1 GiB, the hundreds of directories of a power-loss sweep.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let runDir: string | undefined;
let previous: string | undefined;

export function setup(): void {
  previous = process.env.TMPDIR;
  runDir = mkdtempSync(join(tmpdir(), "venue-test-run-"));
  process.env.TMPDIR = runDir;
}

export function teardown(): void {
  if (previous === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = previous;
  if (runDir === undefined) return;
  try {
    rmSync(runDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 });
  } catch (err) {
    // A straggling child still writing: the files stay, the run's result does not change.
    process.stderr.write(`test run: could not remove ${runDir}: ${(err as Error).message}\n`);
  }
}
