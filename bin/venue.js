#!/usr/bin/env node
// The `venue` command. The sources are TypeScript run in place through tsx's loader.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (err) {
  if (err && typeof err === "object" && "code" in err && err.code === "EPIPE") process.exit(0);
  process.stderr.write(`venue: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exitCode = 1;
}
