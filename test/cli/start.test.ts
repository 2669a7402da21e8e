/**
 * `venue start` as a newcomer runs it: a child process with a fresh data folder. It seeds
 * and prints the demo users, serves DIFF on the port it prints, takes an order over
 * WebSocket, stops on SIGTERM with exit 0 (a snapshot of the final state taken), and after a
 * restart, which replays nothing, the order is still there.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { DiffClient } from "../gateway/diff_client.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";
import { startVenue, type VenueChild } from "./venue_child.ts";

const dir = mkdtempSync(join(tmpdir(), "venue-start-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = (): VenueChild => startVenue(["--data", join(dir, "data"), "--port", "0"]);

async function loginDemo1(url: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${url}/trade`);
  c.send({ aid: "req_login", bid: "VENUE", user_name: "demo1", password: "demo1-pass" });
  await c.until("demo1's snapshot", () => c.trade("demo1")["trade_more_data"] === false);
  return c;
}

test("venue start seeds demo users, serves DIFF, stops on SIGTERM and keeps what it acknowledged", async () => {
  const first = start();
  const url = await first.url;
  expect(first.output()).toMatch(/demo1\s+password demo1-pass/);
  const c = await loginDemo1(url);
  await c.until("the demo deposit", () => ((c.trade("demo1")["accounts"] as JsonObject | undefined)?.["CNY"] as JsonObject | undefined)?.["balance"] === 1_000_000);
  c.send({ aid: "insert_order", user_id: "demo1", order_id: "keep-me", exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", offset: "OPEN", volume: 1, price_type: "LIMIT", limit_price: 80_000, volume_condition: "ANY", time_condition: "GFD" });
  await c.until("the order alive", () => ((c.trade("demo1")["orders"] as JsonObject)["keep-me"] as JsonObject | undefined)?.["status"] === "ALIVE");
  c.close();
  first.child.kill("SIGTERM");
  expect(await first.exit).toBe(0);
  expect(first.output()).toMatch(/stopped; durable up to seq \d+/);

  const second = start();
  const url2 = await second.url;
  expect(second.output()).not.toMatch(/demo users/);
  // The graceful stop took a snapshot of the final state: the restart replays nothing.
  expect(second.output()).toMatch(/restored snapshot-\d{16}\.snap/);
  expect(second.output()).toMatch(/, 0 replayed after the snapshot/);
  const d = await loginDemo1(url2);
  expect((d.trade("demo1")["orders"] as JsonObject)["keep-me"]).toMatchObject({ status: "ALIVE", volume_left: 1, limit_price: 80_000 });
  expect(((d.trade("demo1")["accounts"] as JsonObject)["CNY"] as JsonObject)["balance"]).toBe(1_000_000);
  d.close();
  second.child.kill("SIGTERM");
  expect(await second.exit).toBe(0);
}, 120_000);
