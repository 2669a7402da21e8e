/**
 * The `venue` command as a user runs it: a real child process through bin/venue.js.
 * Checks exit codes and that output and errors say what happened.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const BIN = join(import.meta.dirname, "..", "..", "bin", "venue.js");

function venue(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("venue", () => {
  it("demo runs the engine on the demo flow and prints books, trades and throughput", () => {
    const r = venue("demo", "--commands", "5000", "--seed", "3");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/applied 5,000 commands in [\d.]+ s: [\d.]+M commands\/s/);
    expect(r.stdout).toMatch(/X\.AAPL: [\d,]+ trades/);
    expect(r.stdout).toMatch(/first trades:\n {2}seq \d+/);
  });

  it("demo and start reject bad options with a clear message and exit code 2", () => {
    const bad = venue("demo", "--commands", "lots");
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--commands must be an integer");
    const port = venue("start", "--port", "http");
    expect(port.status).toBe(2);
    expect(port.stderr).toContain("--port must be an integer");
    const unknown = venue("start", "--colour", "red");
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("--colour");
  });

  it("replay reads a file and writes events; a missing file is a clear error", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-cli-"));
    const file = join(dir, "c.jsonl");
    writeFileSync(file, [
      '{"op":"instrument","symbol":"X.T","tickSize":1,"lotSize":1,"minQty":1,"maxQty":100,"priceLow":1,"priceHigh":1000}',
      '{"op":"new","id":"o1","account":"a","symbol":"X.T","side":"buy","price":10,"qty":5}',
    ].join("\n"));
    const ok = venue("replay", file, "--final-book");
    expect(ok.status).toBe(0);
    expect(ok.stdout.trim().split("\n").pop()).toBe('{"ev":"book","symbol":"X.T","bids":[[10,5]],"asks":[]}');
    const missing = venue("replay", join(dir, "nope.jsonl"));
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read .*nope\.jsonl \(ENOENT\)/);
  });

  it("says how to use it when the command is unknown", () => {
    const r = venue("fly");
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command: fly");
    expect(r.stderr).toContain("usage: venue");
    expect(venue("help").stdout).toContain("replay FILE");
  });
});
