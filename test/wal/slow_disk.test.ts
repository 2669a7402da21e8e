/**
 * TESTING.md 15, a slow disk (gray failure): a real node whose journal's fdatasync is held
 * back (test/wal/slow_fs.ts) while DIFF clients trade through the gateway.
 * - No acknowledgement before its fsync: every order's ALIVE comes at least one injected
 *   delay after it was sent.
 * - Groups grow: many commands per fdatasync.
 * - The engine keeps applying while a commit is under way (applied runs ahead of durable).
 * - The node reports itself degraded (/health, metrics) while commits are slow, and
 *   healthy again once they are fast.
 * - Back-pressure reaches the gateway through bounded rings: with the disk stalled and a
 *   flood of orders, the gateway refuses new orders as busy instead of queueing without
 *   bound; every order is accounted for (in the engine or refused), the node keeps running.
 */

import { afterAll, beforeAll, expect, test } from "vitest";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DiffClient } from "../gateway/diff_client.ts";
import { startGatewayNode, type GatewayNode } from "../gateway/node_kit.ts";
import { parsePrometheus } from "../node/prom_parse.ts";
import { until } from "../until.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";

const DELAY_MS = 200;
const tmp = mkdtempSync(join(tmpdir(), "venue-slow-disk-"));
const delayFile = join(tmp, "fsync-delay-ms");
let gw: GatewayNode;

beforeAll(async () => {
  writeFileSync(delayFile, "0");
  process.env["VENUE_SLOW_FSYNC_FILE"] = delayFile; // the journal worker's copy of the environment is made at its start
  gw = await startGatewayNode({
    prefix: "venue-slow-node-",
    users: [["t1", ["trader"], "t1-secret"]],
    funded: ["t1"],
    gateway: { ordersPerSecond: 100_000, messagesPerSecond: 100_000 },
    node: {
      journalFsModule: join(import.meta.dirname, "slow_fs.ts"),
      slowCommitMs: DELAY_MS / 2,
      ringBytes: { journal: 64 << 10, inbound: 64 << 10 },
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  delete process.env["VENUE_SLOW_FSYNC_FILE"];
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

async function login(): Promise<DiffClient> {
  const c = await DiffClient.connect(`${gw.ws}/trade`);
  c.send({ aid: "req_login", bid: "VENUE", user_name: "t1", password: "t1-secret" });
  await c.until("the login", () => c.trade("t1")["trade_more_data"] === false);
  return c;
}

/** An IOC buy far below any seller: accepted, then its remainder cancelled; it ties up no margin. */
const ioc = (id: string): Record<string, unknown> => ({
  aid: "insert_order", user_id: "t1", order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN",
  volume: 1, price_type: "LIMIT", limit_price: 70_000, volume_condition: "ANY", time_condition: "IOC",
});
const order = (c: DiffClient, id: string): JsonObject | undefined => (c.trade("t1")["orders"] as JsonObject | undefined)?.[id] as JsonObject | undefined;
const health = async (): Promise<{ status: string; degraded?: string }> => (await (await fetch(`${gw.http}/health`)).json()) as { status: string; degraded?: string };
/** Polls an asynchronous condition (an HTTP answer) until it holds. */
async function eventually(cond: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
const metric = async (name: string): Promise<number> => {
  const f = parsePrometheus(await (await fetch(`${gw.http}/metrics`)).text());
  return f.get(name)?.samples[0]?.value ?? Number.NaN;
};

test("acknowledgements wait for the slow fsync, groups grow, the engine runs ahead of durable, and the node says it is degraded", async () => {
  const c = await login();
  writeFileSync(delayFile, String(DELAY_MS));
  const n = 40;
  const sentAt = new Map<string, number>();
  const seenAt = new Map<string, number>();
  c.check = () => {
    const now = performance.now();
    for (const id of sentAt.keys()) if (!seenAt.has(id) && (order(c, id)?.["exchange_order_id"] ?? "") !== "") seenAt.set(id, now);
  };
  const groupsBefore = await metric("venue_journal_groups_total");
  const commandsBefore = await metric("venue_journal_commands_total");
  let ahead = 0;
  for (let i = 0; i < n; i++) {
    sentAt.set(`s${i}`, performance.now());
    c.send(ioc(`s${i}`));
    ahead = Math.max(ahead, gw.node.loop.seq - 1 - gw.node.durableSeq);
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 30));
  }
  await until(() => {
    ahead = Math.max(ahead, gw.node.loop.seq - 1 - gw.node.durableSeq);
    return seenAt.size === n;
  }, "every order acknowledged", undefined, 60_000);
  const latencies = [...sentAt].map(([id, t]) => seenAt.get(id)! - t).sort((a, b) => a - b);
  console.log(`slow disk (${DELAY_MS} ms per fdatasync): ack latency min ${latencies[0]!.toFixed(0)} ms, p50 ${latencies[n >> 1]!.toFixed(0)} ms, p99 ${latencies[n - 1]!.toFixed(0)} ms; applied ran up to ${ahead} commands ahead of durable`);
  // No acknowledgement before its fsync: each waited out at least one whole delayed fdatasync.
  expect(latencies[0]).toBeGreaterThanOrEqual(DELAY_MS - 5);
  expect(ahead).toBeGreaterThan(0);
  expect((await health()).degraded).toMatch(/the journal's last group commit took \d+ ms/);
  expect(await metric("venue_journal_degraded")).toBe(1);
  await eventually(async () => (await metric("venue_journal_commands_total")) >= commandsBefore + n, "the metrics report");
  const groups = (await metric("venue_journal_groups_total")) - groupsBefore;
  const commands = (await metric("venue_journal_commands_total")) - commandsBefore;
  console.log(`slow disk: ${commands} commands in ${groups} group commits`);
  expect(commands / groups).toBeGreaterThan(2);

  // The disk recovers: the next fast commit clears the report.
  writeFileSync(delayFile, "0");
  c.send(ioc("fast"));
  await c.until("the fast order", () => (order(c, "fast")?.["exchange_order_id"] ?? "") !== "");
  await eventually(async () => (await health()).degraded === undefined, "healthy again");
  c.close();
}, 120_000);

test("with the disk stalled, a flood of orders meets a bounded queue: refused as busy at the gateway, none lost, the node keeps running", async () => {
  const c = await login();
  writeFileSync(delayFile, "1500");
  const n = 3_000;
  for (let i = 0; i < n; i++) c.send(ioc(`f${i}`));
  await new Promise((r) => setTimeout(r, 2_000));
  writeFileSync(delayFile, "0");
  await c.until("every order answered", () => {
    for (let i = 0; i < n; i++) {
      const o = order(c, `f${i}`);
      if (o === undefined || o["status"] !== "FINISHED") return false;
    }
    return true;
  }, 60_000);
  let busy = 0;
  let engine = 0;
  for (let i = 0; i < n; i++) {
    const o = order(c, `f${i}`)!;
    if (o["exchange_order_id"] === "") {
      expect(o["last_msg"]).toBe("the venue is busy: try again shortly");
      busy++;
    } else {
      engine++;
    }
  }
  console.log(`slow disk flood: ${n} orders with the fdatasync stalled 1.5 s: ${engine} reached the engine, ${busy} refused as busy`);
  expect(busy).toBeGreaterThan(0);
  expect(engine).toBeGreaterThan(0);
  expect(await metric("venue_gateway_busy_refusals_total")).toBe(busy);
  expect((await health()).status).toBe("running");
  c.close();
}, 120_000);
