/**
 * Determinism: the same command file gives a byte-identical event stream, run after run,
 * in separate processes, and whatever the engine's initial capacities (so pools and tables
 * grow at different moments). The command file is random from a printed seed, with accounts
 * on: money instruments, transfers, opening and closing orders, marks and settlements.
 */

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { randomCommands } from "./random_commands.ts";
import { Replayer, replayText } from "../../src/replay/replayer.ts";
import { ACCOUNT_FIELD, EventKind, EventView, POSITION_FIELD } from "../../src/schema/event.ts";
import { DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";

const ROOT = join(import.meta.dirname, "..", "..");


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
    expect(a.split("\n").some((l) => l.includes('"ev":"position"') && l.includes('"shortHis":'))).toBe(true);
    expect(a.split("\n").some((l) => l.includes('"closeProfit":') && !l.includes('"closeProfit":0'))).toBe(true);
    expect(sha(b)).toBe(sha(a));
  });

  it("writes every figure of account and position events as a safe integer, never -0", () => {
    // The figures are f64 in the binary events (FIGURES_VERSION): a -0 would be a different
    // byte pattern for the same number, and JSON text would hide it.
    const r = new Replayer();
    const view = new EventView(r.engine.out.buf);
    let figures = 0;
    const bad: string[] = [];
    for (const line of commands.split("\n")) {
      r.feed(line, () => {});
      const out = r.engine.out;
      for (let o = 0; o < out.length; o += out.buf.dv.getUint16(o + 2, true)) {
        const e = view.wrap(out.buf, o);
        const fields = e.kind === EventKind.account ? ACCOUNT_FIELD : e.kind === EventKind.position ? POSITION_FIELD : null;
        if (fields === null) continue;
        for (const [name, f] of Object.entries(fields)) {
          const v = e.figure(f);
          figures++;
          if (!Number.isSafeInteger(v) || Object.is(v, -0)) bad.push(`${line} -> ${name} ${Object.is(v, -0) ? "-0" : v}`);
        }
      }
    }
    expect(figures).toBeGreaterThan(10_000);
    expect(bad.slice(0, 5)).toEqual([]);
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
