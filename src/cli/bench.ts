/**
 * `venue bench <name>`: the benchmarks that ship with the node (the ones in bench/ are for
 * developers of this repository). One for now: `latency` (src/bench/latency.ts). Parses and
 * validates the options, with a clear error for each bad one, then runs it. Exit codes:
 * 0 done, 1 the run failed, 2 usage.
 */

import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { Progress } from "../bench/progress.ts";
import { runLatency, type LatencyOptions, type WaitName } from "../bench/latency.ts";
import { DEFAULT_THREAD_SCHEDULING } from "../node/threads.ts";

export const BENCH_LATENCY_USAGE = `usage: venue bench latency [options]

Open-loop order flow through the whole node (journal with group commit, event store,
snapshots) at set rates; each order timed from its scheduled time through every stage
(submitted, sequenced, durable, released to a consumer, seen by a plugin, and with
--gateway acknowledged by the DIFF gateway), beside the raw fdatasync latency of the same
disk. Prints a table (progress on stderr) and writes latency.json and latency.svg.

options:
  --quick                 a short run (well under 30 s) that proves it works; not a measurement
  --rates LIST            orders/s, comma-separated; "max" searches for the sustainable maximum
                          (default 10000,100000,500000,max; quick: 10000,100000,max)
  --seconds S             seconds per rate (default 5; quick 1)
  --search-seconds S      seconds per step of the max search (default 3; quick 0.5)
  --warmup S              warm-up seconds at 100k/s, not recorded (default 2; quick 0.5)
  --search-steps N        most steps the max search takes (default 6; quick 2)
  --max-rate R            highest rate the search tries (default 1500000)
  --sustain-ms MS         a step is sustained if the median latency of its last fifth is at
                          most this (default 20)
  --give-up-ms MS         a step stops sending once an order is this late and not yet durable
                          (default 2000; quick 1000)
  --chunk N               commands generated ahead of the run (default 200000; quick 20000)
  --seed S                the flow's seed (default 20261124)
  --fsyncs N              raw fdatasync samples, half before and half after (default 2000; quick 400)
  --data DIR              the disk to test: a fresh folder is made in DIR and removed at the end
                          (default: the --out folder)
  --keep                  keep the data folder
  --out DIR               where latency.json and latency.svg go (default .bench-out)
  --wait W                the node's wait strategy, as venue start takes it: auto (default: park
                          on 2 cores or fewer, spin-park above), spin-park, spin, park; the probe
                          and the plugin wait the same way
  --driver-spin           the driver busy-spins between bursts instead of parking
  --slice-us N            the scheduler slice of the engine loop, the journal writer, the driver
                          and the probe, µs, as venue start's criticalSliceUs (default 100; 0:
                          the kernel's default)
  --bulk-nice N           the nice value of the event store's, snapshot and segment threads, as
                          venue start's bulkNice (default 10; 0: unchanged)
  --no-plugin             no plugin stage
  --no-store              no event store (one consumer thread fewer)
  --gateway               also time orders through the DIFF gateway (a second node, after)
  --gateway-rate R        orders/s through the gateway (default 1000; quick 200)
  --gateway-seconds S     seconds of the gateway phase (default 5; quick 1)`;

class UsageError extends Error {}

/** A numeric option: above 0 (or, for integers, from `min` to `max`), or `fallback` when absent. */
function num(values: Record<string, unknown>, name: string, fallback: number, opts: { int?: boolean; min?: number; max?: number } = {}): number {
  const v = values[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (opts.int === true) {
    const min = opts.min ?? 1;
    const max = opts.max ?? Number.MAX_SAFE_INTEGER;
    const range = opts.max === undefined ? `of at least ${min}` : `from ${min} to ${max}`;
    if (!Number.isSafeInteger(n) || n < min || n > max || String(v).trim() === "") throw new UsageError(`--${name}: expected an integer ${range}, got ${String(v)}`);
  } else if (!Number.isFinite(n) || n <= 0) {
    throw new UsageError(`--${name}: expected a number above 0, got ${String(v)}`);
  }
  return n;
}

export function parseLatencyOptions(argv: string[]): LatencyOptions {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      quick: { type: "boolean", default: false },
      rates: { type: "string" },
      seconds: { type: "string" },
      "search-seconds": { type: "string" },
      warmup: { type: "string" },
      "search-steps": { type: "string" },
      "max-rate": { type: "string" },
      "sustain-ms": { type: "string" },
      "give-up-ms": { type: "string" },
      chunk: { type: "string" },
      seed: { type: "string" },
      fsyncs: { type: "string" },
      data: { type: "string" },
      keep: { type: "boolean", default: false },
      out: { type: "string" },
      wait: { type: "string" },
      "driver-spin": { type: "boolean", default: false },
      "slice-us": { type: "string" },
      "bulk-nice": { type: "string" },
      "no-plugin": { type: "boolean", default: false },
      "no-store": { type: "boolean", default: false },
      gateway: { type: "boolean", default: false },
      "gateway-rate": { type: "string" },
      "gateway-seconds": { type: "string" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
  const quick = values.quick === true;
  const rates: Array<number | "max"> = [];
  for (const part of (values.rates ?? (quick ? "10000,100000,max" : "10000,100000,500000,max")).split(",")) {
    const p = part.trim();
    if (p === "max") {
      if (rates.includes("max")) throw new UsageError("--rates: max appears twice");
      rates.push("max");
      continue;
    }
    const r = Number(p);
    if (!Number.isSafeInteger(r) || r < 1 || r > 10_000_000) throw new UsageError(`--rates: "${p}" is not an integer rate between 1 and 10000000 orders/s, or max`);
    rates.push(r);
  }
  if (rates.length === 0) throw new UsageError("--rates: give at least one rate");
  const asked = values.wait ?? "auto";
  if (asked !== "auto" && asked !== "spin-park" && asked !== "spin" && asked !== "park") throw new UsageError(`--wait: expected auto, spin-park, spin or park, got ${asked}`);
  // As venue start resolves it: spinning threads on 2 cores take the cores the journal needs.
  const wait = asked === "auto" ? (availableParallelism() <= 2 ? "park" : "spin-park") : asked;
  const outDir = resolve(values.out ?? ".bench-out");
  const dataParent = resolve(values.data ?? outDir);
  return {
    quick,
    rates,
    seconds: num(values, "seconds", quick ? 1 : 5),
    searchSeconds: num(values, "search-seconds", quick ? 0.5 : 3),
    warmupSeconds: num(values, "warmup", quick ? 0.5 : 2),
    searchSteps: num(values, "search-steps", quick ? 2 : 6, { int: true, min: 1 }),
    searchRateMax: num(values, "max-rate", 1_500_000, { int: true, min: 1 }),
    sustainMs: num(values, "sustain-ms", 20),
    giveUpMs: num(values, "give-up-ms", quick ? 1_000 : 2_000),
    chunk: num(values, "chunk", quick ? 20_000 : 200_000, { int: true, min: 100 }),
    seed: num(values, "seed", 20261124, { int: true, min: 1 }),
    fsyncs: num(values, "fsyncs", quick ? 400 : 2_000, { int: true, min: 2 }),
    dataDir: join(dataParent, `venue-bench-latency-${process.pid}`),
    keep: values.keep === true,
    outDir,
    wait: wait as WaitName,
    driverSpin: values["driver-spin"] === true,
    threads: {
      criticalSliceUs: num(values, "slice-us", DEFAULT_THREAD_SCHEDULING.criticalSliceUs, { int: true, min: 0, max: 100_000 }),
      bulkNice: num(values, "bulk-nice", DEFAULT_THREAD_SCHEDULING.bulkNice, { int: true, min: 0, max: 19 }),
    },
    plugin: values["no-plugin"] !== true,
    store: values["no-store"] !== true,
    gateway: values.gateway === true,
    gatewayRate: num(values, "gateway-rate", quick ? 200 : 1_000, { int: true, min: 1 }),
    gatewaySeconds: num(values, "gateway-seconds", quick ? 1 : 5),
    command: ["venue", "bench", "latency", ...argv].join(" "),
  };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(`usage: venue bench latency [options]   (venue bench latency --help)\n`);
    return name === undefined ? 2 : 0;
  }
  if (name !== "latency") {
    process.stderr.write(`venue bench: unknown benchmark: ${name} (there is one: latency)\n`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(BENCH_LATENCY_USAGE + "\n");
    return 0;
  }
  let options: LatencyOptions;
  try {
    options = parseLatencyOptions(rest);
  } catch (err) {
    const parse = err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS");
    if (!(err instanceof UsageError) && !parse) throw err;
    process.stderr.write(`venue bench latency: ${(err as Error).message}\n\n${BENCH_LATENCY_USAGE}\n`);
    return 2;
  }
  const progress = new Progress(process.stderr);
  try {
    await runLatency(options, { out: (line) => process.stdout.write(line + "\n"), progress });
  } catch (err) {
    progress.clear();
    process.stderr.write(`venue bench latency failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return 1;
  }
  return 0;
}
