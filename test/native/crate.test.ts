/**
 * The Rust crate's own tests (native/src/map.rs: open, fstat, mmap, munmap, madvise, the
 * table of live mappings, errno names), run by `cargo test` offline. Part of `npm test`
 * through this file; it fails, with the way to fix it, when cargo is missing.
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";

const MANIFEST = join(import.meta.dirname, "..", "..", "native", "Cargo.toml");

it("cargo test passes for native/", () => {
  const r = spawnSync("cargo", ["test", "--offline", "--release", "-q", "--manifest-path", MANIFEST], { encoding: "utf8" });
  expect(r.error, "cargo is not installed: the native addon needs Rust (rustup.rs), then npm install").toBeUndefined();
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/test result: ok\. \d+ passed; 0 failed/);
});
