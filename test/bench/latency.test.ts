/**
 * `venue bench latency`: the quick run, as CI runs it, in a child process through the real
 * CLI (bin/venue.js), with the gateway phase. Checks what it writes, never how fast
 * anything was: the JSON result has every section and stage with numbers where numbers
 * belong, the SVG plot is well-formed XML with a curve per stage, the data folder is gone
 * afterwards, and bad options are refused with exit code 2.
 */

import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseLatencyOptions } from "../../src/cli/bench.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const BIN = join(ROOT, "bin", "venue.js");
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function venue(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: "utf8", timeout: 240_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * A small XML well-formedness check: one root element, every element closed in order,
 * attribute values quoted, no stray `<` or `&` in text.
 */
function wellFormedXml(text: string): string[] {
  const problems: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const tag = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/y;
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    const chunk = text.slice(i, lt < 0 ? text.length : lt);
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(chunk)) problems.push(`a bare & near offset ${i}`);
    if (lt < 0) break;
    tag.lastIndex = lt;
    const m = tag.exec(text);
    if (m === null) {
      problems.push(`a malformed tag at offset ${lt}: ${text.slice(lt, lt + 40)}`);
      break;
    }
    const [, close, name, , selfClose] = m;
    if (close === "/") {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open ?? "nothing"}>`);
    } else if (selfClose !== "/") {
      if (stack.length === 0) roots++;
      stack.push(name!);
    } else if (stack.length === 0) {
      roots++;
    }
    i = tag.lastIndex;
  }
  if (stack.length > 0) problems.push(`unclosed: ${stack.join(" > ")}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => {
  expect(typeof v === "object" && v !== null && !Array.isArray(v)).toBe(true);
  return v as Json;
};
const PCT_KEYS = ["count", "missing", "p50", "p99", "p999", "p9999", "max", "mean"];

/** Percentiles in ns; `lossAllowed` when the step reports a consumer cut off (it then misses events). */
function expectPct(v: unknown, what: string, lossAllowed = false): void {
  const p = obj(v);
  for (const k of PCT_KEYS) expect(typeof p[k], `${what}.${k}`).toBe("number");
  expect(p["count"] as number, `${what}.count`).toBeGreaterThan(0);
  if (!lossAllowed) expect(p["missing"], `${what}.missing`).toBe(0);
  expect(p["p50"] as number, `${what}: p50 <= p99 <= max`).toBeLessThanOrEqual(p["p99"] as number);
  expect(p["p99"] as number, `${what}: p99 <= max`).toBeLessThanOrEqual(p["max"] as number);
}

describe("venue bench latency", () => {
  it("runs --quick with the gateway and writes a complete JSON result and a well-formed SVG", () => {
    const out = mkdtempSync(join(tmpdir(), "venue-latency-"));
    dirs.push(out);
    const r = venue(["bench", "latency", "--quick", "--gateway", "--out", out]);
    expect(r.stderr).not.toMatch(/failed/);
    expect(r.status, r.stderr).toBe(0);
    // The terminal table says where it ran and how threads wait.
    expect(r.stdout).toMatch(/machine: .+logical CPUs/);
    // The default wait is venue start's: auto, park on 2 cores or fewer.
    expect(r.stdout).toMatch(availableParallelism() <= 2 ? /wait strategy: park / : /wait strategy: spin-park /);
    expect(r.stdout).toMatch(/thread\(s\) spin/);
    expect(r.stdout).toMatch(/raw fdatasync, same disk, same run/);
    expect(r.stdout).toMatch(/its group's fdatasync/);
    if (process.platform === "linux") expect(r.stdout).toMatch(/cores by thread: .*main \(engine loop\) [0-9.]+/);
    expect(r.stdout).toMatch(/target \(BENCH.md\)/);

    const result = obj(JSON.parse(readFileSync(join(out, "latency.json"), "utf8")));
    expect(result["benchmark"]).toBe("latency");
    expect(result["quick"]).toBe(true);
    const machine = obj(result["machine"]);
    expect(typeof machine["cpu"]).toBe("string");
    expect(machine["logicalCpus"] as number).toBeGreaterThan(0);
    expect(typeof obj(result["wait"])["description"]).toBe("string");
    expect(Array.isArray(result["threads"])).toBe(true);
    expect(typeof result["spinningThreads"]).toBe("number");
    expect(typeof obj(result["disk"])["device"]).toBe("string");

    const fdatasync = obj(result["fdatasync"]);
    expect(fdatasync["samples"]).toBe(400);
    expectPct(fdatasync["all"], "fdatasync.all");

    const steps = result["steps"] as unknown[];
    expect(steps.length).toBeGreaterThanOrEqual(2);
    const rates = steps.map((s) => obj(s)["ratePerS"]);
    expect(rates.slice(0, 2)).toEqual([10_000, 100_000]);
    for (const s of steps) {
      const step = obj(s);
      expect(["fixed", "search"]).toContain(step["kind"]);
      expect(typeof step["sustained"]).toBe("boolean");
      const stages = obj(step["stages"]);
      expect(Object.keys(stages).sort()).toEqual(["durable", "plugin", "released", "sequenced", "submitted"]);
      // Every order sent is seen at every stage, unless the step says a consumer was cut off.
      const cutOff = (step["cutOffs"] as number) > 0;
      for (const [name, p] of Object.entries(stages)) expectPct(p, `${String(step["label"])} ${name}`, cutOff);
      expectPct(step["releasedFromSubmit"], "releasedFromSubmit", cutOff);
      // Where the cores went, by thread (Linux names them), and what the event store wrote.
      if (process.platform === "linux") {
        const threads = step["threads"] as Array<{ name: string; cores: number }>;
        expect(threads.map((t) => t.name)).toEqual(expect.arrayContaining(["main", "venue-journal"]));
        for (const t of threads) expect(t.cores).toBeGreaterThan(0);
      }
      const store = step["store"] as Record<string, number> | null;
      if (store !== null) for (const k of ["flushedMB", "compactionWrittenMB", "compactionReadMB", "flushes", "compactions", "moves"]) expect(store[k], k).toBeGreaterThanOrEqual(0);
      if (!cutOff) expect(obj(step["stages"])["released"]).toMatchObject({ count: step["orders"] });
      // The durable stage taken apart by the journal's record of its commits: every durable
      // order is matched to the commit that made it durable.
      const journal = obj(step["journal"]);
      expect(journal["commits"] as number).toBeGreaterThan(0);
      expect(journal["commandsPerCommit"] as number).toBeGreaterThanOrEqual(1);
      expect(journal["unmatched"]).toBe(0);
      expectPct(journal["fdatasync"], "journal.fdatasync");
      const perOrder = obj(journal["perOrder"]);
      for (const part of ["toWrite", "write", "fdatasync", "seen"]) {
        expectPct(perOrder[part], `journal.perOrder.${part}`);
        expect(obj(perOrder[part])["count"], part).toBe(obj(stages["durable"])["count"]);
      }
    }
    const gateway = obj(result["gateway"]);
    expectPct(gateway["fromSchedule"], "gateway.fromSchedule");
    expect(gateway["acknowledged"]).toBe(gateway["sent"]);
    const target = obj(result["target"]);
    expect(target["ratePerS"]).toBe(100_000);
    expect(typeof target["metFromSchedule"]).toBe("boolean");
    expect(typeof target["boundNs"]).toBe("number");
    expect(result["max"] === null || typeof obj(result["max"])["ratePerS"] === "number").toBe(true);

    const svg = readFileSync(join(out, "latency.svg"), "utf8");
    expect(svg.startsWith("<svg ")).toBe(true);
    expect(wellFormedXml(svg)).toEqual([]);
    for (const stage of ["submitted", "sequenced", "durable", "released", "plugin", "raw fdatasync", "gateway ALIVE"]) expect(svg).toContain(`>${stage}`);
    expect((svg.match(/<polyline /g) ?? []).length).toBeGreaterThanOrEqual(7);

    // The node's data folder was made inside --out and removed at the end.
    expect(readdirSync(out).sort()).toEqual(["latency.json", "latency.svg"]);
  }, 300_000);

  it("refuses bad options with exit code 2 and says which", () => {
    const r = venue(["bench", "latency", "--rates", "10000,fast"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--rates: "fast"/);
    expect(venue(["bench", "nosuch"]).status).toBe(2);
    const help = venue(["bench", "latency", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/--gateway-rate/);
  }, 60_000);

  it("parses options with the documented defaults", () => {
    const q = parseLatencyOptions(["--quick"]);
    expect(q.rates).toEqual([10_000, 100_000, "max"]);
    expect(q.fsyncs).toBe(400);
    expect(q.plugin && q.store && !q.gateway).toBe(true);
    const full = parseLatencyOptions(["--rates", "1000, max", "--wait", "park", "--no-store", "--data", "/tmp"]);
    expect(full.rates).toEqual([1000, "max"]);
    expect(full.wait).toBe("park");
    expect(full.store).toBe(false);
    expect(full.dataDir.startsWith("/tmp/venue-bench-latency-")).toBe(true);
    expect(existsSync(full.dataDir)).toBe(false);
    expect(() => parseLatencyOptions(["--wait", "nap"])).toThrow(/--wait/);
    expect(() => parseLatencyOptions(["--seconds", "0"])).toThrow(/--seconds/);
    expect(q.threads).toEqual({ criticalSliceUs: 100, bulkNice: 10 });
    expect(parseLatencyOptions(["--slice-us", "0", "--bulk-nice", "0"]).threads).toEqual({ criticalSliceUs: 0, bulkNice: 0 });
    expect(() => parseLatencyOptions(["--bulk-nice", "20"])).toThrow(/--bulk-nice: expected an integer from 0 to 19/);
    expect(() => parseLatencyOptions(["--slice-us", ""])).toThrow(/--slice-us/);
    expect(() => parseLatencyOptions(["--chunk", "99"])).toThrow(/--chunk: expected an integer of at least 100/);
  });
});
