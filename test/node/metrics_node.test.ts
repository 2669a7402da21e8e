/**
 * GET /metrics on a real node: a journal, an event store, the gateway worker. The text is
 * valid Prometheus exposition (read by a strict parser), holds the node's metrics and the
 * gateway's own, and its counters move when commands go through. When the main thread does
 * not answer the gateway in time, the gateway serves its own metrics and says why.
 */

import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Worker } from "node:worker_threads";
import { setTimeout as sleep } from "node:timers/promises";
import { VenueNode } from "../../src/node/node.ts";
import { Catalog } from "../../src/catalog/catalog.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../../src/catalog/instrument.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { currencyCode } from "../../src/schema/codes.ts";
import { parsePrometheus, valueOf, type Family } from "./prom_parse.ts";

const CU = DEMO_INSTRUMENTS[0]!;
let dir: string;
let node: VenueNode;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "venue-metrics-"));
  const catalog = Catalog.open(join(dir, "catalog"));
  await catalog.putInstrument(CU);
  await catalog.close();
  node = new VenueNode({ dataDir: join(dir, "data"), snapshotEvery: 0, gateway: { catalogDir: join(dir, "catalog"), server: { port: 0 } } });
  void node.start();
  const driver = node.drivers[0]!;
  driver.submit((b, o) => writeDefineInstrument(b, o, engineParams(CU)));
  driver.flush();
  const { host, port } = await node.gatewayReady;
  base = `http://${host}:${port}`;
}, 60_000);

afterAll(async () => {
  await node?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function scrape(): Promise<{ text: string; families: Map<string, Family> }> {
  const res = await fetch(`${base}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return { text, families: parsePrometheus(text) };
}

/** Scrapes until `cond` holds (the workers report about once a second); fails after 30 s with the last text. */
async function scrapeUntil(what: string, cond: (f: Map<string, Family>) => boolean): Promise<Map<string, Family>> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const { text, families } = await scrape();
    if (cond(families)) return families;
    if (performance.now() > deadline) throw new Error(`timed out waiting for: ${what}\n${text}`);
    await sleep(50); // between scrapes, so the node runs
  }
}

const EXPECTED = [
  "venue_node_status", "venue_journal_degraded", "venue_node_next_seq", "venue_journal_durable_seq", "venue_journal_pending_commands",
  "venue_engine_commands_applied_total", "venue_engine_events_published_total", "venue_engine_malformed_commands_total", "venue_engine_loop_slices_total",
  "venue_ring_capacity_bytes", "venue_ring_lag_bytes", "venue_ring_lag_ratio", "venue_ring_overruns_total", "venue_ring_producer_waits_total", "venue_ring_cut_offs_total",
  "venue_journal_groups_total", "venue_journal_commands_total", "venue_journal_written_bytes_total", "venue_journal_segments_total", "venue_journal_segments_left_early_total",
  "venue_journal_commit_seconds", "venue_journal_fdatasync_seconds", "venue_journal_group_commands", "venue_journal_group_bytes",
  "venue_store_events_total", "venue_store_events_skipped_total", "venue_store_flushed_seq", "venue_store_memtable_bytes", "venue_store_memtables_sealed", "venue_store_writable", "venue_store_failed", "venue_store_stalls_total", "venue_store_stalled_seconds_total",
  "venue_store_flushes_total", "venue_store_flushed_bytes_total", "venue_store_flushes_running", "venue_store_flush_seconds",
  "venue_store_compactions_total", "venue_store_compaction_moves_total", "venue_store_compactions_running",
  "venue_store_compaction_read_bytes_total", "venue_store_compaction_written_bytes_total", "venue_store_compaction_seconds",
  "venue_store_tables_open", "venue_store_tables_evicted_total",
  "venue_store_level_tables", "venue_store_level_bytes",
  "venue_gateway_connections", "venue_gateway_connections_opened_total", "venue_gateway_rejected_input_total", "venue_gateway_rate_limited_total",
  "venue_gateway_logins_total", "venue_gateway_orders_sent_total", "venue_gateway_busy_refusals_total", "venue_gateway_rtn_data_total", "venue_gateway_connections_refused_total", "venue_market_updates_total", "venue_market_updates_held_total",
];

describe("GET /metrics", () => {
  test("serves the node's and the gateway's metrics as valid exposition", async () => {
    const { families } = await scrape();
    for (const name of EXPECTED) expect(families.has(name), name).toBe(true);
    for (const f of families.values()) expect(f.help, `${f.name} has HELP`).toBeDefined();
    expect(valueOf(families, "venue_node_status", { status: "running" })).toBe(1);
    const lag = families.get("venue_ring_lag_bytes")!.samples.map((s) => `${s.labels["ring"]}/${s.labels["consumer"]}`);
    expect(lag).toEqual(expect.arrayContaining(["journal/journal", "trades/storage", "accounts/storage", "l2/storage", "trades/market", "l2/market", "accounts/gateway", "driver 0 inbound/engine", "gateway inbound/engine"]));
  });

  test("counters move as commands go through: engine, journal, event store", async () => {
    const before = (await scrape()).families;
    const applied0 = valueOf(before, "venue_engine_commands_applied_total");
    const driver = node.drivers[0]!;
    const n = 500;
    for (let i = 0; i < n; i++) driver.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `acct-${i % 20}`, currencyCode("CNY"), 100 + i));
    driver.flush();
    const target = applied0 + n;
    const after = await scrapeUntil(`${target} commands applied, journaled and stored`, (f) =>
      valueOf(f, "venue_engine_commands_applied_total") >= target &&
      valueOf(f, "venue_journal_durable_seq") >= target &&
      valueOf(f, "venue_journal_commands_total") >= target &&
      valueOf(f, "venue_store_events_total") >= n);
    expect(valueOf(after, "venue_node_next_seq")).toBe(valueOf(after, "venue_engine_commands_applied_total") + 1);
    expect(valueOf(after, "venue_engine_events_published_total")).toBeGreaterThan(valueOf(before, "venue_engine_events_published_total"));
    const groups = valueOf(after, "venue_journal_groups_total");
    expect(groups).toBeGreaterThan(0);
    expect(valueOf(after, "venue_journal_commit_seconds_count")).toBe(groups);
    expect(valueOf(after, "venue_journal_group_commands_count")).toBe(groups);
    expect(valueOf(after, "venue_journal_group_commands_sum")).toBe(valueOf(after, "venue_journal_commands_total"));
    expect(valueOf(after, "venue_journal_fdatasync_seconds_count")).toBeGreaterThanOrEqual(groups);
    expect(valueOf(after, "venue_journal_written_bytes_total")).toBeGreaterThan(0);
    // A new journal's first segment is made when needed; nothing here fills 1 MiB, so none is prepared.
    expect(valueOf(after, "venue_journal_segments_total", { made: "when_needed" })).toBe(1);
    expect(valueOf(after, "venue_journal_segments_total", { made: "prepared" })).toBe(0);
    expect(valueOf(after, "venue_journal_segments_left_early_total")).toBe(0);
    // The stored events sit in the active MemTable (far below its flush threshold).
    expect(valueOf(after, "venue_store_memtable_bytes")).toBeGreaterThan(0);
    expect(valueOf(after, "venue_store_memtables_sealed")).toBe(0);
    expect(valueOf(after, "venue_store_stalls_total")).toBe(0);
  });

  test("serves the gateway's own metrics, saying so, when the main thread does not answer", async () => {
    // The scrape runs on another thread while this one (the node's main thread) is blocked
    // until it has the answer: the gateway's request to the main thread cannot be answered.
    const done = new Int32Array(new SharedArrayBuffer(4));
    const out = new SharedArrayBuffer(1 << 20);
    const fetcher = new Worker(
      `const { workerData } = require("node:worker_threads");
       fetch(workerData.url).then((r) => r.text()).then((t) => {
         const bytes = Buffer.from(t);
         new Uint8Array(workerData.out).set(bytes.subarray(0, workerData.out.byteLength - 4), 4);
         new Int32Array(workerData.out)[0] = Math.min(bytes.length, workerData.out.byteLength - 4);
         Atomics.store(workerData.done, 0, 1);
         Atomics.notify(workerData.done, 0);
       }, (e) => { Atomics.store(workerData.done, 0, 2); Atomics.notify(workerData.done, 0); });`,
      { eval: true, workerData: { url: `${base}/metrics`, done, out } },
    );
    expect(Atomics.wait(done, 0, 0, 60_000)).not.toBe("timed-out");
    await fetcher.terminate();
    expect(done[0]).toBe(1);
    const len = new Int32Array(out)[0]!;
    const text = Buffer.from(new Uint8Array(out, 4, len)).toString("utf8");
    expect(text).toMatch(/^# venue node metrics: the main thread did not answer within 2000 ms/);
    const families = parsePrometheus(text);
    expect(families.has("venue_gateway_connections")).toBe(true);
    expect(families.has("venue_node_status")).toBe(false);
    // And the next scrape has the node's part again (the late answer went nowhere).
    expect((await scrape()).families.has("venue_node_status")).toBe(true);
  });
});
