/**
 * `venue start`: the node with embedded defaults. A data folder (`./data` unless --data),
 * the catalog in it (seeded on first start with demo users and instruments, printed), the
 * journal, snapshots and event store, and the DIFF gateway on localhost. Instruments in
 * the catalog that the engine does not have yet are defined (journaled commands); demo
 * accounts are funded once, when they are created. SIGINT or SIGTERM stops it gracefully:
 * the gateway closes, the rings drain, the last group commits, and it exits 0.
 *
 * Every setting comes from src/cli/config.ts (flags, environment, config file, defaults);
 * `venue start --help` lists them. A bad setting exits 2 before anything is opened.
 *
 * Everything it prints after that goes through one pino logger (src/node/log.ts): the
 * banner (URLs, demo users) and the node's log lines, each with its component, as JSON
 * lines or plain lines (`logFormat`). The texts are the same in both formats.
 */

import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { availableParallelism } from "node:os";
import { openFileLimit } from "../native/mmap.ts";
import { VenueNode, type NodeOptions } from "../node/node.ts";
import { parseClockTime } from "../node/schedule.ts";
import { TradingCalendar } from "../market/calendar.ts";
import { Catalog, seedDemo, type SeedResult } from "../catalog/catalog.ts";
import { PasswordHasher } from "../catalog/password.ts";
import { engineParams, type InstrumentInfo } from "../catalog/instrument.ts";
import type { PluginSpec } from "../plugins/api.ts";
import type { DemoFlowOptions } from "../plugins/demo_flow.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../schema/command.ts";
import { currencyCode } from "../schema/codes.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { DEFAULT_SESSION_LIMITS } from "../gateway/session.ts";
import { ConfigError, describeOverrides, resolveStartConfig, startHelp, type StartConfig } from "./config.ts";
import { createLogger, type LogFormat, type NodeLog } from "../node/log.ts";

/** Each demo account's first deposit, CNY minor units (1,000,000 CNY). */
const DEMO_DEPOSIT = 100_000_000;

function chinaDate(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 10).replaceAll("-", "");
}

function waitStrategy(c: StartConfig): WaitStrategy {
  if (c.wait === "spin") return { kind: "spin" };
  if (c.wait === "park" || (c.wait === "auto" && availableParallelism() <= 2)) return { kind: "park", parkMs: c.waitParkMs };
  return { kind: "spinPark", spins: c.waitSpins, parkMs: c.waitParkMs };
}

/** The log format a configuration asks for: auto is pretty on a terminal, json otherwise. */
export function logFormat(c: StartConfig, out: NodeJS.WritableStream): LogFormat {
  if (c.logFormat === "json" || c.logFormat === "pretty") return c.logFormat;
  return (out as { isTTY?: boolean }).isTTY === true ? "pretty" : "json";
}

/** The node's options for a configuration (the catalog in DATA/catalog). */
/** The demo order flow on `instruments`, each starting from the middle of its price band. */
function demoFlowPlugin(rate: number, instruments: readonly InstrumentInfo[]): PluginSpec {
  const options: DemoFlowOptions = {
    rate,
    instruments: instruments.map((info) => {
      const p = engineParams(info);
      const mid = Math.round((p.priceLow + p.priceHigh) / 2 / p.tickSize) * p.tickSize;
      return { symbol: info.symbol, tick: p.tickSize, low: p.priceLow, high: p.priceHigh, start: mid };
    }),
  };
  return { module: fileURLToPath(new URL("../plugins/demo_flow.ts", import.meta.url)), name: "demo-flow", topics: ["l2"], delivery: "lossy", options: options as unknown as Record<string, unknown> };
}

export function nodeOptions(c: StartConfig, log: NodeLog, nowMs: number, instruments: readonly InstrumentInfo[] = []): NodeOptions {
  return {
    dataDir: c.data,
    log,
    segmentBytes: c.segmentBytes,
    prepareSegments: c.prepareSegments,
    prepareBytesPerSecond: c.prepareBytesPerSecond,
    snapshotEvery: c.snapshotEvery,
    warmUpCommands: c.warmUpCommands,
    pruneJournal: c.pruneJournal,
    eventStore: c.eventStore,
    storeMemtableBytes: c.memtableBytes,
    storeMaxOpenTables: c.maxOpenTables,
    journalStallMs: c.journalStallMs,
    markEveryMs: c.markEveryMs,
    ...(c.settleAt === "off" ? {} : { settleMinute: parseClockTime(c.settleAt)! }),
    holidays: c.holidays,
    auditFile: c.auditFile,
    wait: waitStrategy(c),
    threads: { criticalSliceUs: c.criticalSliceUs, bulkNice: c.bulkNice },
    ...(c.demoFlow > 0 ? { plugins: [demoFlowPlugin(c.demoFlow, instruments)] } : {}),
    ringBytes: { journal: c.journalRingBytes, inbound: c.inboundRingBytes, trades: c.tradesRingBytes, accounts: c.accountsRingBytes, l2: c.l2RingBytes },
    gateway: {
      catalogDir: join(c.data, "catalog"),
      hashThreads: c.hashThreads,
      server: {
        host: c.host,
        port: c.port,
        allowedOrigins: c.allowedOrigins,
        maxConnections: c.maxConnections,
        maxConnectionsPerIp: c.maxConnectionsPerIp,
        connectionsPerSecondPerIp: c.connectionsPerSecondPerIp,
        maxPayload: c.maxFrameBytes,
        pingMs: c.pingMs,
        headersTimeoutMs: c.headersTimeoutMs,
      },
      options: {
        brokerId: c.brokerId,
        tradingDay: c.tradingDay === "auto" ? new TradingCalendar(c.holidays).onOrAfter(chinaDate(nowMs)) : c.tradingDay,
        holidays: c.holidays,
        selfTransfers: c.selfTransfers,
        messagesPerSecond: c.messagesPerSecond,
        ordersPerSecond: c.ordersPerSecond,
        maxFinishedOrders: c.maxFinishedOrders,
        maxTrades: c.maxTrades,
        maxTreeRecords: c.maxTreeRecords,
        limits: { ...DEFAULT_SESSION_LIMITS, maxBufferedBytes: c.maxBufferedBytes },
      },
    },
  };
}

/** File descriptors the node holds besides its connections: journal, snapshots, catalog, store, workers, pipes (generous). */
export const NODE_FDS_RESERVE = 256;

/**
 * Warns when the open-file limit leaves fewer descriptors than `maxConnections` (each
 * connection is one; the kernel's accept would fail below the gateway's cap, and clients
 * would see their connection dropped). Node has already raised the soft limit to the hard
 * one. Returns the limit, or undefined where it cannot be read (no native addon).
 */
export function checkOpenFileLimit(maxConnections: number, log: NodeLog): number | undefined {
  let limits;
  try {
    limits = openFileLimit();
  } catch (err) {
    log(`open files: the limit could not be read (${String(err)})`, "node", "warn");
    return undefined;
  }
  if (limits === undefined) return undefined; // no addon: the file layer's fallback already said so
  if (limits.soft < maxConnections + NODE_FDS_RESERVE) {
    log(`open files: the limit (${limits.soft}) leaves room for about ${Math.max(0, limits.soft - NODE_FDS_RESERVE)} connections, fewer than maxConnections (${maxConnections}); raise it (ulimit -n, or LimitNOFILE= in a systemd unit) or lower maxConnections`, "node", "warn");
  }
  return limits.soft;
}

export async function nodeStartCommand(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  let request;
  try {
    request = resolveStartConfig({ argv, env, cwd: process.cwd() });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`venue start: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  if (request.help) {
    out.write(startHelp() + "\n");
    return 0;
  }
  const config = request.config;
  const logger = createLogger(logFormat(config, out), out);
  const say = (line = ""): void => logger.banner(line);
  const log = logger.log;
  const dataDir = config.data;
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (err) {
    // A data path that cannot be a directory is a bad setting: one line, as for the others.
    process.stderr.write(`venue start: data ${dataDir} cannot be used as a directory: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
  const catalogDir = join(dataDir, "catalog");

  const catalog = Catalog.open(catalogDir);
  let seeded: SeedResult = { users: [], instruments: [] };
  if (config.demo) {
    const hasher = new PasswordHasher({ maxThreads: config.hashThreads });
    try {
      seeded = await seedDemo(catalog, hasher);
    } finally {
      await hasher.close();
    }
  }
  const hasUsers = catalog.hasUsers();
  const instruments = catalog.listInstruments();
  await catalog.close();

  say(`Venue: starting the node in ${dataDir}`);
  checkOpenFileLimit(config.maxConnections, log);
  const overrides = describeOverrides(request);
  if (overrides.length > 0) say("settings other than the defaults:");
  for (const line of overrides) say(`  ${line}`);
  const t0 = performance.now();
  const node = new VenueNode(nodeOptions(config, log, Date.now(), instruments));
  log(`recovered in ${(performance.now() - t0).toFixed(0)} ms`, "recovery");
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
    log(`venue start: the gateway did not start: ${String(err)}`, "gateway", "error");
    await node.stop().catch(() => {});
    return 1;
  }
  say();
  say(`DIFF gateway: ws://${address.host}:${address.port}/md (market data) and ws://${address.host}:${address.port}/trade (trading)`);
  say(`L2 feed (whole books, numbered updates; not DIFF): ws://${address.host}:${address.port}/l2`);
  say(`health and metrics: http://${address.host}:${address.port}/health, /metrics`);
  say(`instruments: ${instruments.map((i) => i.symbol).join(", ")}`);
  if (seeded.users.length > 0) {
    say("demo users (created now; change these passwords with `venue user passwd` before exposing the node):");
    for (const u of seeded.users) say(`  ${u.name.padEnd(8)} password ${u.password.padEnd(12)} roles ${u.roles.join(",")}`);
  }
  if (!hasUsers) say("no users yet (demo is off): add them with `venue user add` (docs/catalog.md)");
  say("Ctrl-C stops the node gracefully.");

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping (gateway closed, rings drained, last commit)...`);
    node.stop().then(
      () => {
        log(`stopped; durable up to seq ${node.durableSeq}`);
        process.exit(0);
      },
      (err: unknown) => {
        log(`venue start: stop failed: ${String(err)}`, "node", "error");
        process.exit(1);
      },
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  try {
    await running;
  } catch (err) {
    log(`the node stopped on a fault: ${err instanceof Error ? err.message : String(err)}`, "node", "error");
    throw err;
  }
  return 0;
}
