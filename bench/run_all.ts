/**
 * `npm run bench [-- --quick]`: runs every benchmark in bench/, one after another, each in
 * its own process (so one cannot warm or pollute the other), passing the arguments on.
 * Exits non-zero if any benchmark fails.
 */

import { spawnSync } from "node:child_process";
import { join } from "node:path";

const BENCHES = ["matching.ts", "accounts.ts", "engine_loop.ts", "ring.ts", "ring_layout.ts", "journal.ts", "recovery.ts", "warmup.ts", "snapshot_capture.ts", "lsm.ts", "lsm_flush.ts", "write_back.ts", "market_checkpoint.ts", "gateway_rtt.ts", "login_flood.ts"];
const args = process.argv.slice(2);
let failed = 0;
for (const file of BENCHES) {
  console.log(`\n== bench/${file} ${args.join(" ")}`);
  const r = spawnSync(process.execPath, ["--import", "tsx", join(import.meta.dirname, file), ...args], { stdio: "inherit" });
  if (r.status !== 0) {
    console.error(`bench/${file} failed with ${r.status ?? r.signal}`);
    failed++;
  }
}
// The latency harness ships with the CLI; it takes --quick but not the --commands/--rounds of the bench/ scripts.
const quick = args.includes("--quick") ? ["--quick"] : [];
console.log(`\n== venue bench latency --gateway ${quick.join(" ")}`);
const lat = spawnSync(process.execPath, [join(import.meta.dirname, "..", "bin", "venue.js"), "bench", "latency", "--gateway", ...quick], { stdio: "inherit" });
if (lat.status !== 0) {
  console.error(`venue bench latency failed with ${lat.status ?? lat.signal}`);
  failed++;
}
process.exitCode = failed === 0 ? 0 : 1;
