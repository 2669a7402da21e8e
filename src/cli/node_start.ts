/**
 * `venue start`: the node with embedded defaults. A data folder (`./data` unless --data),
 * the catalog in it (seeded on first start with demo users and instruments, printed), the
 * journal, snapshots and event store, and the DIFF gateway on localhost. Instruments in
 * the catalog that the engine does not have yet are defined (journaled commands); demo
 * accounts are funded once, when they are created. SIGINT or SIGTERM stops it gracefully:
 * the gateway closes, the rings drain, the last group commits, and it exits 0.
 */

import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { VenueNode } from "../node/node.ts";
import { Catalog, seedDemo } from "../catalog/catalog.ts";
import { PasswordHasher } from "../catalog/password.ts";
import { engineParams } from "../catalog/instrument.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../schema/command.ts";
import { currencyCode } from "../schema/codes.ts";
import { UsageError } from "./start.ts";

export interface NodeStartOptions {
  data: string | undefined;
  host: string | undefined;
  port: string | undefined;
}

/** Each demo account's first deposit, CNY minor units (1,000,000 CNY). */
const DEMO_DEPOSIT = 100_000_000;

function chinaDate(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10).replaceAll("-", "");
}

export async function nodeStartCommand(o: NodeStartOptions, out: NodeJS.WritableStream = process.stdout): Promise<number> {
  const say = (line = ""): void => void out.write(line + "\n");
  let port: number;
  try {
    port = o.port === undefined ? 7788 : Number(o.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be an integer from 0 to 65535, not ${JSON.stringify(o.port)}`);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`venue start: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const host = o.host ?? "127.0.0.1";
  const dataDir = resolve(o.data ?? "data");
  mkdirSync(dataDir, { recursive: true });
  const catalogDir = join(dataDir, "catalog");

  const catalog = Catalog.open(catalogDir);
  const hasher = new PasswordHasher();
  let seeded;
  try {
    seeded = await seedDemo(catalog, hasher);
  } finally {
    await hasher.close();
  }
  const instruments = catalog.listInstruments();
  await catalog.close();

  say(`Venue: starting the node in ${dataDir}`);
  const t0 = performance.now();
  const node = new VenueNode({
    dataDir,
    log: (line) => say(`  ${line}`),
    gateway: { catalogDir, server: { host, port }, options: { tradingDay: chinaDate(Date.now()), selfTransfers: true } },
  });
  say(`recovered in ${(performance.now() - t0).toFixed(0)} ms`);
  const driver = node.drivers[0]!;
  const running = node.start();
  for (const info of instruments) {
    if (node.engine.instrumentIndex(info.symbol) >= 0) continue;
    driver.submit((b, off) => writeDefineInstrument(b, off, engineParams(info)));
  }
  for (const u of seeded.users) driver.submit((b, off) => writeTransfer(b, off, CommandKind.deposit, u.account, currencyCode("CNY"), DEMO_DEPOSIT));
  driver.flush();
  let address: { host: string; port: number };
  try {
    address = await node.gatewayReady;
  } catch (err) {
    process.stderr.write(`venue start: the gateway did not start: ${String(err)}\n`);
    await node.stop().catch(() => {});
    return 1;
  }
  say();
  say(`DIFF gateway: ws://${address.host}:${address.port}/md (market data) and ws://${address.host}:${address.port}/trade (trading)`);
  say(`health and metrics: http://${address.host}:${address.port}/health, /metrics`);
  say(`instruments: ${instruments.map((i) => i.symbol).join(", ")}`);
  if (seeded.users.length > 0) {
    say("demo users (created now; change these passwords with `venue user passwd` before exposing the node):");
    for (const u of seeded.users) say(`  ${u.name.padEnd(8)} password ${u.password.padEnd(12)} roles ${u.roles.join(",")}`);
  }
  say("Ctrl-C stops the node gracefully.");

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping (gateway closed, rings drained, last commit)...`);
    node.stop().then(
      () => {
        say(`stopped; durable up to seq ${node.durableSeq}`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`venue start: stop failed: ${String(err)}\n`);
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  await running;
  return 0;
}
