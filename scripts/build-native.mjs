#!/usr/bin/env node
/**
 * Builds the native mmap addon: native/ (Rust, no dependencies) into
 * native/venue_native.node, with @napi-rs/cli. `npm install` runs it (the `postinstall`
 * script); `npm run build:native` runs it by hand.
 *
 * It never fails the install. Without cargo, without @napi-rs/cli (a production install
 * omits dev dependencies), or when the build fails, it prints one line saying so, and
 * Venue reads files with pread instead (src/native/mmap.ts). A failed build's output is
 * kept in native/target/build.log.
 *
 * After building, it loads the addon in a child node, so a file that node cannot load
 * (an unresolved symbol, say) is reported here rather than at the node's first start.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const ADDON = join(ROOT, "native", "venue_native.node");
const LOG = join(ROOT, "native", "target", "build.log");
const shown = relative(ROOT, ADDON);

// A stale addon must not outlive a build that did not happen and be loaded as current.
rmSync(ADDON, { force: true });

function notBuilt(reason) {
  console.log(`venue: native mmap addon not built (${reason}); files will be read with the pread fallback`);
  process.exit(0);
}

const cargo = spawnSync("cargo", ["--version"], { encoding: "utf8" });
if (cargo.error !== undefined || cargo.status !== 0) notBuilt("cargo not found: install Rust, then run npm run build:native");

let cli;
try {
  cli = join(dirname(createRequire(import.meta.url).resolve("@napi-rs/cli/package.json")), "dist", "cli.js");
} catch {
  notBuilt("@napi-rs/cli is not installed: dev dependencies were omitted");
}

const build = spawnSync(
  process.execPath,
  [cli, "build", "--release", "--manifest-path", "native/Cargo.toml", "--config-path", "native/napi.json", "--output-dir", "native"],
  { cwd: ROOT, encoding: "utf8", env: { ...process.env, CARGO_NET_OFFLINE: "true" } },
);
if (build.error !== undefined || build.status !== 0 || !existsSync(ADDON)) {
  mkdirSync(dirname(LOG), { recursive: true });
  writeFileSync(LOG, `${build.error?.message ?? ""}\n${build.stdout ?? ""}\n${build.stderr ?? ""}`);
  notBuilt(`the build failed, see ${relative(ROOT, LOG)}`);
}

const load = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(ADDON)}).stats()`], { encoding: "utf8" });
if (load.status !== 0) {
  const why = (load.stderr.split("\n").find((l) => /Error/.test(l)) ?? "unknown").trim();
  rmSync(ADDON, { force: true });
  notBuilt(`built, but node cannot load it: ${why}`);
}

console.log(`venue: native mmap addon built (${shown})`);
