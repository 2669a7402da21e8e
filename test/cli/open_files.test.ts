/**
 * `venue start` and the open-file limit: each WebSocket connection is a file descriptor, so
 * the node warns at start when its limit leaves fewer descriptors than the gateway's
 * connection cap (Node itself raises the soft limit to the hard one as it starts: a low soft
 * limit alone does not matter). Child processes started under `ulimit` by a shell; real
 * connections.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { afterAll, expect, test } from "vitest";
import { startVenue, type VenueChild } from "./venue_child.ts";

const dir = mkdtempSync(join(tmpdir(), "venue-nofile-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const hardLimit = Number(execFileSync("sh", ["-c", "ulimit -Hn"]).toString().trim().replace("unlimited", "Infinity"));

/** `venue start` under `ulimitArgs` (a shell's ulimit options), on its own data folder and any free port. */
const start = (name: string, ulimitArgs: string, extra: string[] = []): VenueChild => startVenue(["--data", join(dir, name), "--port", "0", ...extra], ulimitArgs);

/** Opens `n` market-data connections at once; resolves with how many got the DIFF greeting. */
async function connectMany(url: string, n: number): Promise<{ greeted: number; sockets: WebSocket[] }> {
  const sockets: WebSocket[] = [];
  let greeted = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<void>((res) => {
        const ws = new WebSocket(`${url}/md`);
        sockets.push(ws);
        const done = (): void => res();
        ws.once("message", (m) => {
          if (String(m).includes("rsp_login")) greeted++;
          done();
        });
        ws.once("error", done);
        ws.once("close", done);
        setTimeout(done, 15_000);
      }),
    ),
  );
  return { greeted, sockets };
}

test.runIf(hardLimit > 2_000)("a low soft limit alone does not hold the gateway back: the node runs with the hard one", async () => {
  const node = start("raised", "-Sn 300", ["--max-connections-per-ip", "1000", "--connections-per-second-per-ip", "100000"]);
  const url = await node.url;
  expect(node.output()).not.toMatch(/open files:/);
  // Under a soft limit of 300 the node (about 100 descriptors of its own) could not hold these.
  const { greeted, sockets } = await connectMany(url, 400);
  expect(greeted).toBe(400);
  for (const s of sockets) s.terminate();
  node.child.kill("SIGTERM");
  expect(await node.exit).toBe(0);
}, 120_000);

test("warns when the hard limit leaves fewer descriptors than the connection cap", async () => {
  const node = start("capped", "-n 300");
  await node.url;
  expect(node.output()).toMatch(/open files: the limit \(300\) leaves room for about 44 connections, fewer than maxConnections \(1000\)/);
  node.child.kill("SIGTERM");
  expect(await node.exit).toBe(0);
}, 120_000);
