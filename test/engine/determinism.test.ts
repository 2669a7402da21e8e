/**
 * Determinism: the same command file gives a byte-identical event stream, run after run,
 * in separate processes, and whatever the engine's initial capacities (so pools and tables
 * grow at different moments). The command file is random from a printed seed.
 */

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { replayText } from "../../src/replay/replayer.ts";
import { DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";

const ROOT = join(import.meta.dirname, "..", "..");

function randomCommands(seed: number, count: number): string {
  const rng = new Prng(seed);
  const symbols = ["X.A", "X.B"];
  const lines = symbols.map((s) => JSON.stringify({ op: "instrument", symbol: s, tickSize: 5, lotSize: 1, minQty: 1, maxQty: 500, priceLow: 50, priceHigh: 200 }));
  let next = 0;
  const ids: Array<[string, string]> = [];
  let ts = 1730772000000000000n;
  for (let i = 0; i < count; i++) {
    ts += BigInt(rng.int(1, 5000));
    const r = rng.nextFloat();
    const account = `a${rng.int(1, 6)}`;
    let c: Record<string, unknown>;
    if (r < 0.55 || ids.length === 0) {
      const id = `o${next++}`;
      ids.push([id, account]);
      c = {
        op: "new", id, account, symbol: rng.pick(symbols), side: rng.pick(["buy", "sell"]),
        type: rng.chance(0.05) ? "market" : "limit", tif: rng.pick(["gtc", "gtc", "gfd", "ioc", "fok"]),
        price: 5 * rng.int(18, 22) + (rng.chance(0.02) ? 1 : 0), qty: rng.int(rng.chance(0.02) ? 0 : 1, 60),
      };
      if (c["type"] === "market") c["tif"] = rng.pick(["ioc", "fok"]);
      if (rng.chance(0.1)) c["stp"] = rng.pick(["cancel_newest", "cancel_oldest", "cancel_both", "decrement"]);
      if (rng.chance(0.05) && c["type"] === "limit" && (c["tif"] === "gtc" || c["tif"] === "gfd")) c["postOnly"] = true;
    } else if (r < 0.8) {
      const [id, acct] = rng.pick(ids);
      c = { op: "cancel", id, account: acct };
    } else if (r < 0.95) {
      const [id, acct] = rng.pick(ids);
      c = { op: "amend", id, account: acct, price: 5 * rng.int(18, 22), qty: rng.int(1, 60) };
    } else if (r < 0.97) {
      c = { op: "mass_cancel", account: account };
    } else if (r < 0.985) {
      c = { op: "state", symbol: rng.pick(symbols), state: rng.pick(["open", "open", "halted", "cancel_only"]) };
    } else {
      c = { op: "expire", ...(rng.chance(0.5) ? { symbol: rng.pick(symbols) } : {}) };
    }
    lines.push(JSON.stringify(c).replace(/}$/, `,"ts":${ts}}`));
  }
  return lines.join("\n") + "\n";
}

const sha = (text: string): string => createHash("sha256").update(text).digest("hex");

describe("determinism", () => {
  const seed = seedFromEnv();
  console.log(`determinism: seed ${seed} (replay with VENUE_SEED=${seed})`);
  const commands = randomCommands(seed, 20_000);

  it("gives the same events in-process whatever the initial capacities", () => {
    const a = replayText(commands, { finalBook: true }).join("\n");
    const b = replayText(commands, { finalBook: true, config: { ...DEFAULT_ENGINE_CONFIG, ordersInitial: 1 } }).join("\n");
    expect(a.length).toBeGreaterThan(0);
    expect(a.split("\n").some((l) => l.includes('"ev":"trade"'))).toBe(true);
    expect(sha(b)).toBe(sha(a));
  });

  it("gives byte-identical output from `venue replay` in separate processes", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-determinism-"));
    const file = join(dir, "commands.jsonl");
    writeFileSync(file, commands);
    const run = (): string => execFileSync(process.execPath, [join(ROOT, "bin/venue.js"), "replay", file, "--final-book"], { encoding: "utf8", maxBuffer: 1 << 30 });
    const first = run();
    const second = run();
    const inProcess = replayText(commands, { finalBook: true }).join("\n") + "\n";
    expect(sha(second)).toBe(sha(first));
    expect(sha(first)).toBe(sha(inProcess));
  });
});
