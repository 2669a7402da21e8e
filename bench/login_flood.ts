/**
 * TESTING.md §G 31: password hashing must not delay journal commits, guessing backs off,
 * and known and unknown user names cost the same.
 *
 *   npx tsx bench/login_flood.ts [--quick] [--logins N] [--seconds S] [--rate R] [--guesses G] [--nice N] [--flood-nice N] [--edge-nice N] [--connect-rate N] [--control | --decoy]
 *
 * 1. Hash cost: scrypt (N=2^17, r=8, p=1) on the catalog's hashing pool, p50 of a few.
 * 2. Timing probe: a login of a known user with a wrong password against an unknown user,
 *    alternating, each from its own address (so back-off stays out of it): p50 of each
 *    and the gap.
 * 3. Commit latency under a login flood: a real node (journal on this disk, engine loop,
 *    market-data and gateway workers) takes `--rate` deposits a second, open loop, from a driver on a
 *    worker thread (bench/login_flood_driver.ts, its own driver ring); each command's latency is
 *    from its scheduled time to the driver seeing the node's durable seq reach it (journal
 *    group commit, fdatasync included). First `--seconds`
 *    without logins, then `--seconds` while a separate process keeps `--logins` DIFF
 *    logins (right passwords) in flight over WebSocket. The ratio of the p99s is the
 *    figure TESTING 31 bounds (proposed ≤ 1.10).
 * 4. Brute force: `--guesses` wrong passwords for one user, one connection each, as fast
 *    as the answers come: how many were checked (hashed) and how many met the back-off.
 *
 * `--connect-rate` sets the node's limit of new connections a second from one address
 * (`connectionsPerSecondPerIp`; the node's default is 100, this benchmark's no limit, so that
 * the flood's logins reach the hashing pool as TESTING 31 describes).
 *
 * `--flood-nice` runs the flood's client process at that nice value (default 0): at 19 it takes
 * only CPU the node leaves, as clients on other machines would, which separates what the
 * node's own work costs from what a client on the same two cores takes from it.
 *
 * `--edge-nice` sets the nice value of the gateway's and market-data worker's threads (the
 * node's `edgeNice`, default 0), so that the engine loop and the journal worker win a core
 * from the flood's handling when they compete.
 *
 * `--control` runs the second phase exactly as the first, with no flood: the ratio it prints is
 * then what two phases of the same load differ by on this machine, the noise any ratio of
 * the flood's run carries.
 *
 * `--decoy` aims the flood at a decoy instead of the node: a WebSocket server in a process of
 * its own that refuses every login at once, without hashing. The node then only shares the
 * machine with the flood, its client and a server handling it: what the ratio shows is what
 * any such flood on these cores costs the journal, whatever the node does with it.
 *
 * `--nice` sets the hashing thread's nice value (the node's default, 10, lets hashing take only
 * CPU the node leaves; 0 runs it at normal priority, to compare).
 *
 * Threads: the engine loop on the main thread (park when idle, no spinning), the deposit
 * driver, the journal, storage, market-data and gateway workers, one hashing thread; the
 * flood runs in a child process.
 * Results also go to .bench-out/login_flood.json.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, setPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { Worker } from "node:worker_threads";
import WebSocket from "ws";
import { Catalog } from "../src/catalog/catalog.ts";
import { PasswordHasher } from "../src/catalog/password.ts";
import { LoginGuard } from "../src/catalog/login_guard.ts";
import { login } from "../src/catalog/login.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../src/catalog/instrument.ts";
import { VenueNode } from "../src/node/node.ts";
import { writeDefineInstrument } from "../src/schema/command.ts";
import type { DriverData, PhaseRequest } from "./login_flood_driver.ts";

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    logins: { type: "string" },
    seconds: { type: "string" },
    rate: { type: "string" },
    guesses: { type: "string" },
    nice: { type: "string" },
    "flood-nice": { type: "string" },
    "edge-nice": { type: "string" },
    "connect-rate": { type: "string" },
    "flood-child": { type: "string" },
    control: { type: "boolean", default: false },
    decoy: { type: "boolean", default: false },
    "decoy-server": { type: "boolean", default: false },
  },
});
const int = (name: string, fallback: number): number => {
  const v = values[name as keyof typeof values];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`--${name}: expected a positive integer, got ${String(v)}`);
  return n;
};
const QUICK = values.quick === true;
const LOGINS = int("logins", QUICK ? 50 : 500);
const SECONDS = int("seconds", QUICK ? 2 : 10);
const RATE = int("rate", 2_000);
const GUESSES = int("guesses", QUICK ? 12 : 60);
/** The hashing thread's nice value (the node's default is 10; 0 to compare). */
const NICE = values.nice === undefined ? 10 : Number(values.nice);
if (!Number.isInteger(NICE) || NICE < 0 || NICE > 19) throw new RangeError(`--nice: expected an integer from 0 to 19, got ${String(values.nice)}`);
/** New connections a second the node takes from the flood's address (`--connect-rate`; default: no limit, so that the logins reach the hashing pool). */
const CONNECT_RATE = values["connect-rate"] === undefined ? 1_000_000 : Number(values["connect-rate"]);
if (!Number.isInteger(CONNECT_RATE) || CONNECT_RATE < 1) throw new RangeError(`--connect-rate: expected a positive integer, got ${String(values["connect-rate"])}`);
/** The flood client's nice value. */
const FLOOD_NICE = values["flood-nice"] === undefined ? 0 : Number(values["flood-nice"]);
if (!Number.isInteger(FLOOD_NICE) || FLOOD_NICE < 0 || FLOOD_NICE > 19) throw new RangeError(`--flood-nice: expected an integer from 0 to 19, got ${String(values["flood-nice"])}`);
/** The gateway's and market-data worker's threads' nice value (`edgeNice`; default 0, the node's). */
const EDGE_NICE = values["edge-nice"] === undefined ? 0 : Number(values["edge-nice"]);
if (!Number.isInteger(EDGE_NICE) || EDGE_NICE < 0 || EDGE_NICE > 19) throw new RangeError(`--edge-nice: expected an integer from 0 to 19, got ${String(values["edge-nice"])}`);
const USERS = 10;
/** `--control`: the second phase without the flood. */
const CONTROL = values.control === true;
/** `--decoy`: the flood aimed at a decoy server in another process, not at the node. */
const DECOY = values.decoy === true;
if (CONTROL && DECOY) throw new RangeError("--control and --decoy: one or the other");

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = xs.slice().sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

/** One DIFF login over a fresh WebSocket: resolves with the answer's text. */
function diffLogin(url: string, user: string, password: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    const done = (text: string): void => {
      ws.terminate();
      resolve(text);
    };
    ws.on("open", () => ws.send(JSON.stringify({ aid: "req_login", bid: "VENUE", user_name: user, password })));
    ws.on("message", (data) => {
      const m = JSON.parse(String(data)) as { aid?: string; data?: Array<{ notify?: Record<string, { code: number; content: string }> }> };
      if (m.aid !== "rtn_data") return ws.send(JSON.stringify({ aid: "peek_message" }));
      for (const d of m.data ?? []) for (const n of Object.values(d.notify ?? {})) if (n.code === 401 || n.code === 403) return done(n.content);
      ws.send(JSON.stringify({ aid: "peek_message" }));
    });
    ws.on("error", () => done("connection error"));
    ws.on("close", () => done("closed"));
  });
}

// The decoy, in its own process: refuses every DIFF login at once; prints its port.
if (values["decoy-server"] === true) {
  const { WebSocketServer } = await import("ws");
  const refusal = JSON.stringify({ aid: "rtn_data", data: [{ notify: { decoy: { type: "MESSAGE", level: "WARNING", code: 401, content: "login refused by the decoy" } } }] });
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, maxPayload: 16 * 1024 });
  wss.on("connection", (ws) => {
    ws.on("message", (data) => {
      if (String(data).includes("req_login")) ws.send(refusal);
    });
    ws.on("error", () => ws.terminate());
  });
  await new Promise<void>((r) => wss.once("listening", () => r()));
  process.stdout.write(`${(wss.address() as { port: number }).port}\n`);
  setTimeout(() => process.exit(0), (SECONDS + 30) * 1000); // killed after the flood's phase; gone by then if the benchmark died
  await new Promise(() => {});
}

// The flood, in its own process: `--logins` logins in flight for `--seconds`; prints counts as JSON.
if (values["flood-child"] !== undefined) {
  const url = values["flood-child"];
  const end = performance.now() + SECONDS * 1000;
  const answers = new Map<string, number>();
  let n = 0;
  const worker = async (k: number): Promise<void> => {
    while (performance.now() < end) {
      const a = await diffLogin(url, `u${k % USERS}`, `pass-${k % USERS}`);
      const key = a === "login ok" ? "ok" : a.startsWith("login refused") ? "refused" : a;
      answers.set(key, (answers.get(key) ?? 0) + 1);
      n++;
    }
  };
  await Promise.all(Array.from({ length: LOGINS }, (_, k) => worker(k)));
  process.stdout.write(JSON.stringify({ attempts: n, answers: Object.fromEntries(answers) }) + "\n");
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), "venue-login-flood-"));
const out: Record<string, unknown> = { machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version }, quick: QUICK, logins: LOGINS, seconds: SECONDS, rate: RATE, control: CONTROL, decoy: DECOY, hashNice: NICE, floodNice: FLOOD_NICE, edgeNice: EDGE_NICE, connectRate: CONNECT_RATE };
try {
  // 1. Hash cost, and the users.
  const catalog = Catalog.open(join(dir, "catalog"));
  const hasher = new PasswordHasher();
  const hashMs: number[] = [];
  for (let u = 0; u < USERS; u++) {
    const t0 = performance.now();
    const rec = await hasher.hash(`pass-${u}`);
    hashMs.push(performance.now() - t0);
    await catalog.addUser(`u${u}`, ["trader"], rec);
  }
  await catalog.addUser("victim", ["trader"], await hasher.hash("victim-secret"));
  await catalog.putInstrument(DEMO_INSTRUMENTS[0]!);
  out["hashMsP50"] = pct(hashMs, 50);
  console.log(`hash (scrypt N=2^17 r=8 p=1, one hashing thread): p50 ${pct(hashMs, 50).toFixed(1)} ms over ${hashMs.length}`);

  // 2. Known against unknown user names.
  const probe = QUICK ? 4 : 20;
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < probe; i++) {
    for (const [name, into] of [["u1", known], [`ghost${i}`, unknown]] as const) {
      const guard = new LoginGuard(); // each attempt its first: back-off stays out of the timing
      const t0 = performance.now();
      const r = await login(catalog, hasher, guard, name, "not-the-password", "10.0.0.1");
      into.push(performance.now() - t0);
      if (r.ok) throw new Error("a wrong password was accepted");
    }
  }
  out["timing"] = { knownP50Ms: pct(known, 50), unknownP50Ms: pct(unknown, 50), gapMs: pct(known, 50) - pct(unknown, 50) };
  console.log(`login with a wrong password, ${probe} each: known user p50 ${pct(known, 50).toFixed(1)} ms, unknown user p50 ${pct(unknown, 50).toFixed(1)} ms, gap ${(pct(known, 50) - pct(unknown, 50)).toFixed(1)} ms`);
  await hasher.close();
  await catalog.close();

  // 3. Commit latency with and without the flood.
  // The wait strategy venue start picks here (auto: park on 2 cores or fewer).
  const wait = availableParallelism() <= 2 ? { kind: "park" as const, parkMs: 1 } : undefined;
  out["wait"] = wait?.kind ?? "spinPark";
  const node = new VenueNode({
    dataDir: join(dir, "data"),
    snapshotEvery: 0,
    ...(wait === undefined ? {} : { wait }),
    drivers: 2,
    gateway: { catalogDir: join(dir, "catalog"), hashNice: NICE, edgeNice: EDGE_NICE, server: { port: 0, maxConnections: LOGINS + 100, maxConnectionsPerIp: LOGINS + 100, connectionsPerSecondPerIp: CONNECT_RATE }, options: { tradingDay: "20261124" } },
  });
  const d = node.drivers[0]!;
  const running = node.start();
  d.submit((b, o) => writeDefineInstrument(b, o, engineParams(DEMO_INSTRUMENTS[0]!)));
  d.flush();
  const { host, port } = await node.gatewayReady;
  const url = `ws://${host}:${port}/trade`;
  // The deposits come from a worker thread, as the gateway's orders do, on the node's second driver ring.
  const driver = new Worker(new URL("./login_flood_driver.mjs", import.meta.url), { workerData: { ring: node.drivers[1]!.ring.sab, control: node.control.sab, wait, users: USERS } satisfies DriverData, name: "login flood driver" });
  const phase = async (seconds: number): Promise<number[]> => {
    await new Promise<void>((r) => {
      const t = setInterval(() => {
        if (node.durableSeq > 0 && node.durableSeq === node.loop.seq - 1) {
          clearInterval(t);
          r();
        }
      }, 1);
    });
    const reply = new Promise<Float64Array>((r) => driver.once("message", r));
    driver.postMessage({ firstSeq: node.durableSeq + 1, seconds, rate: RATE } satisfies PhaseRequest);
    return Array.from(await reply);
  };
  /**
   * The journal's fdatasync histogram as the node's metrics show it (cumulative counts by
   * upper bound, seconds); the journal worker reports once a second while it commits.
   */
  const fsyncs = async (): Promise<Map<string, number>> => {
    await new Promise((r) => setTimeout(r, 1_100));
    const m = new Map<string, number>();
    for (const line of node.metricsText().split("\n")) {
      const x = /^venue_journal_fdatasync_seconds_bucket\{le="([^"]+)"\} (\d+)$/.exec(line);
      if (x !== null) m.set(x[1]!, Number(x[2]));
    }
    return m;
  };
  /** What one phase's fdatasyncs were: how many, the share above 1 ms, and the bucket holding the p99. */
  const fsyncShare = (a: Map<string, number>, b: Map<string, number>): { n: number; over1ms: number; p99UpTo: string } => {
    const les = [...b.keys()];
    const n = (b.get("+Inf") ?? 0) - (a.get("+Inf") ?? 0);
    const atMost = (le: string): number => (b.get(le) ?? 0) - (a.get(le) ?? 0);
    const p99 = les.find((le) => atMost(le) >= 0.99 * n) ?? "+Inf";
    return { n, over1ms: n === 0 ? 0 : 1 - atMost("0.001") / n, p99UpTo: p99 === "+Inf" ? "above 1 s" : `at most ${Number(p99) * 1e3} ms` };
  };
  await phase(Math.min(3, SECONDS)); // warm-up (JIT, the workers' first work), not counted
  const f0 = await fsyncs();
  const base = await phase(SECONDS);
  const f1 = await fsyncs();
  let childOut = "";
  let childDone = Promise.resolve();
  let decoy: ChildProcess | undefined;
  let floodUrl = url;
  if (DECOY) {
    decoy = spawn(process.execPath, ["--import", "tsx", import.meta.filename, "--decoy-server"], { stdio: ["ignore", "pipe", "inherit"] });
    floodUrl = await new Promise<string>((resolve, reject) => {
      let text = "";
      decoy!.stdout!.on("data", (c) => {
        text += String(c);
        if (text.includes("\n")) resolve(`ws://127.0.0.1:${text.trim()}/trade`);
      });
      decoy!.once("exit", () => reject(new Error("the decoy server exited before it listened")));
    });
  }
  if (!CONTROL) {
    const child = spawn(process.execPath, ["--import", "tsx", import.meta.filename, "--flood-child", floodUrl, "--logins", String(LOGINS), "--seconds", String(SECONDS)], { stdio: ["ignore", "pipe", "inherit"] });
    if (FLOOD_NICE !== 0 && child.pid !== undefined) setPriority(child.pid, FLOOD_NICE);
    child.stdout.on("data", (c) => (childOut += String(c)));
    childDone = new Promise<void>((r) => child.once("exit", () => r()));
  }
  await new Promise((r) => setTimeout(r, 500)); // the flood's connections open (with --control, the same pause)
  const flood = await phase(SECONDS);
  await childDone;
  decoy?.kill();
  const f2 = await fsyncs();
  const syncs = { withoutLogins: fsyncShare(f0, f1), withLogins: fsyncShare(f1, f2) };
  const floodCounts = JSON.parse(childOut.trim().split("\n").at(-1) || "{}") as { attempts?: number; answers?: Record<string, number> };
  const row = (xs: number[]): { n: number; p50: number; p99: number; p999: number; max: number } => ({ n: xs.length, p50: pct(xs, 50), p99: pct(xs, 99), p999: pct(xs, 99.9), max: pct(xs, 100) });
  const b = row(base);
  const f = row(flood);
  out["commit"] = { withoutLogins: b, withLogins: f, p99Ratio: f.p99 / b.p99, flood: floodCounts, fdatasync: syncs };
  console.log(`\nsubmission -> durable, ${RATE} deposits/s open loop, ${SECONDS} s each (ms):`);
  console.log("                      n       p50     p99    p99.9     max");
  const second = CONTROL ? "again (control)" : DECOY ? `with ${LOGINS} at a decoy` : `with ${LOGINS} logins`;
  for (const [name, r] of [["without logins", b], [second, f]] as const) {
    console.log(`  ${name.padEnd(18)} ${String(r.n).padStart(6)} ${r.p50.toFixed(3).padStart(8)} ${r.p99.toFixed(3).padStart(7)} ${r.p999.toFixed(3).padStart(8)} ${r.max.toFixed(3).padStart(7)}`);
  }
  for (const [name, x] of [["without logins", syncs.withoutLogins], [second, syncs.withLogins]] as const) {
    console.log(`  the journal's fdatasyncs ${name}: ${x.n}, ${(x.over1ms * 100).toFixed(1)}% above 1 ms, p99 ${x.p99UpTo} (from the node's metrics, whose buckets are coarse)`);
  }
  if (CONTROL) console.log(`  p99 ratio ${(f.p99 / b.p99).toFixed(2)} between two phases without logins (control: the ratio's noise on this machine)`);
  else if (DECOY) console.log(`  p99 ratio ${(f.p99 / b.p99).toFixed(2)} with the flood aimed at a decoy server in another process, not at the node (what the flood on these cores costs by itself); the flood: ${JSON.stringify(floodCounts)}`);
  else console.log(`  p99 ratio ${(f.p99 / b.p99).toFixed(2)} (proposed bound 1.10), hashing at nice ${NICE}, the gateway and market-data threads at nice ${EDGE_NICE}, the flood's client at nice ${FLOOD_NICE}, new connections from one address ${CONNECT_RATE >= 1_000_000 ? "not limited" : `at most ${CONNECT_RATE}/s`}; the flood: ${JSON.stringify(floodCounts)}`);

  // 4. Brute force against one user, from one address.
  const answers: Record<string, number> = {};
  let checked = 0;
  for (let i = 0; i < GUESSES; i++) {
    const a = await diffLogin(url, "victim", `guess-${i}`);
    const key = a.startsWith("too many failed logins") ? "backed off" : a.startsWith("login refused") ? "checked and refused" : a;
    if (key === "checked and refused") checked++;
    answers[key] = (answers[key] ?? 0) + 1;
  }
  out["bruteForce"] = { guesses: GUESSES, answers };
  console.log(`\nbrute force: ${GUESSES} wrong passwords for one user as fast as answered: ${checked} checked, ${answers["backed off"] ?? 0} met the back-off (${JSON.stringify(answers)})`);

  await driver.terminate();
  await node.stop();
  await running;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
mkdirSync(".bench-out", { recursive: true });
writeFileSync(join(".bench-out", "login_flood.json"), JSON.stringify(out, null, 2) + "\n");
