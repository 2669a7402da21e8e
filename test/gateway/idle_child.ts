/**
 * Holds idle WebSocket connections for the connection-cap test (TESTING 29), in a process
 * of its own so that the client ends do not share the node's file-descriptor limit: 10,000
 * idle sockets with both ends in one process need `ulimit -n` above ~20,500.
 *
 * Reads JSON lines on stdin, answers each with one JSON line on stdout:
 *   {"open": H, "n": N}  opens N connections from 127.0.0.H (100 at a time) -> {"statuses": [...]}
 *   {"close": true}      destroys every open one and exits                 -> {"closed": K}
 * The connections answer pings (RawWs's default), so the node's ping timeout keeps them.
 */

import { createInterface } from "node:readline";
import { RawWs } from "./abuse_kit.ts";

const host = process.env["IDLE_HOST"]!;
const port = Number(process.env["IDLE_PORT"]);
const path = process.env["IDLE_PATH"] ?? "/md";
const held: RawWs[] = [];

const reply = (m: unknown): void => void process.stdout.write(`${JSON.stringify(m)}\n`);

async function open(from: number, n: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let left = n; left > 0; left -= 100) {
    const batch = await Promise.all(Array.from({ length: Math.min(100, left) }, () => RawWs.connect(host, port, path, { localAddress: `127.0.0.${from}` })));
    for (const c of batch) if (c.status === 101) held.push(c);
    statuses.push(...batch.map((c) => c.status));
  }
  return statuses;
}

let queue = Promise.resolve();
createInterface({ input: process.stdin }).on("line", (line) => {
  const m = JSON.parse(line) as { open?: number; n?: number; close?: boolean };
  queue = queue.then(async () => {
    if (m.close === true) {
      for (const c of held) c.destroy();
      reply({ closed: held.length });
      process.exit(0);
    }
    reply({ statuses: await open(m.open!, m.n!) });
  }).catch((err: unknown) => {
    reply({ error: String(err) });
  });
});
