/**
 * The gateway phase of `venue bench latency --gateway`: the last stage, "acknowledged at
 * the gateway", measured through a second node of its own (so the first node's figures
 * have no gateway thread beside them): VenueNode with its journal, event store and the
 * DIFF gateway worker, a catalog with one user and one instrument (SHFE.cu2601), the
 * account funded through the node's driver ring. A DIFF client on a worker thread
 * (src/bench/latency_gateway_client.ts) sends resting limit orders open loop at a modest
 * rate and times each from its scheduled time to the rtn_data that shows it ALIVE, which
 * the gateway sends only once the order's command is durable. Main thread.
 */

import { Worker } from "node:worker_threads";
import { join } from "node:path";
import { VenueNode } from "../node/node.ts";
import type { NodeLog } from "../node/log.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { Catalog } from "../catalog/catalog.ts";
import { PasswordHasher } from "../catalog/password.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../catalog/instrument.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../schema/command.ts";
import { currencyCode } from "../schema/codes.ts";
import type { GatewayClientData, GatewayClientResult } from "./latency_gateway_client.ts";
import type { ThreadScheduling } from "../node/threads.ts";

const INSTRUMENT = DEMO_INSTRUMENTS[0]!;
const USER = "latency";
const PASSWORD = "latency-bench-password";
/** Minor units: 10 billion CNY, margin for ~260,000 resting lots. */
const DEPOSIT_MINOR = 1_000_000_000_000;
/** Below the market and inside the price band: every order rests. */
const PRICE = 75_000;
const TRADING_DAY = "20261124";
/** The per-connection and per-account limits, raised for the run (defaults: 200 and 100 a second). */
const LIMIT_PER_S = 1_000_000;

export interface GatewayPhaseOptions {
  dir: string;
  wait: WaitStrategy;
  threads: ThreadScheduling;
  ratePerS: number;
  warmupMs: number;
  measureMs: number;
  log: NodeLog;
  workerUrl: URL;
}

export interface GatewayPhaseResult extends GatewayClientResult {
  url: string;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runGatewayPhase(o: GatewayPhaseOptions): Promise<GatewayPhaseResult> {
  const catalogDir = join(o.dir, "catalog");
  const catalog = Catalog.open(catalogDir);
  const hasher = new PasswordHasher({ maxThreads: 1 });
  try {
    await catalog.addUser(USER, ["trader"], await hasher.hash(PASSWORD));
    await catalog.putInstrument(INSTRUMENT);
  } finally {
    await hasher.close();
    await catalog.close();
  }
  const node = new VenueNode({
    dataDir: join(o.dir, "data"),
    wait: o.wait,
    threads: o.threads,
    log: o.log,
    gateway: {
      catalogDir,
      server: { port: 0 },
      options: { tradingDay: TRADING_DAY, messagesPerSecond: LIMIT_PER_S, ordersPerSecond: LIMIT_PER_S },
      hashThreads: 1,
    },
  });
  let fault: unknown;
  const loop = node.start().catch((e: unknown) => {
    fault = e;
  });
  try {
    const driver = node.drivers[0]!;
    driver.submit((b, off) => writeDefineInstrument(b, off, engineParams(INSTRUMENT)));
    driver.submit((b, off) => writeTransfer(b, off, CommandKind.deposit, USER, currencyCode("CNY"), DEPOSIT_MINOR));
    driver.flush();
    const { host, port } = await node.gatewayReady;
    for (const t0 = Date.now(); node.durableSeq < 2; ) {
      if (fault !== undefined) throw fault;
      if (Date.now() - t0 > 30_000) throw new Error("the gateway node's set-up commands were not durable within 30 s");
      await pause(5);
    }
    const url = `ws://${host}:${port}`;
    const data: GatewayClientData = {
      role: "gateway", url, user: USER, password: PASSWORD, exchangeId: INSTRUMENT.exchangeId, insId: INSTRUMENT.insId,
      price: PRICE, ratePerS: o.ratePerS, warmupMs: o.warmupMs, measureMs: o.measureMs, stallMs: 15_000,
    };
    const worker = new Worker(o.workerUrl, { workerData: data, name: "latency gateway client" });
    const result = await new Promise<GatewayClientResult>((res, rej) => {
      let got: GatewayClientResult | undefined;
      const timer = setTimeout(() => rej(new Error("the gateway client did not finish in time")), o.warmupMs + o.measureMs + 90_000);
      worker.on("message", (m: { gateway?: GatewayClientResult; error?: string; done?: boolean }) => {
        if (m.gateway !== undefined) got = m.gateway;
        if (m.error !== undefined) {
          clearTimeout(timer);
          rej(new Error(`gateway client: ${m.error}`));
        }
        if (m.done === true) {
          clearTimeout(timer);
          if (got === undefined) rej(new Error("the gateway client ended without a result"));
          else res(got);
        }
      });
      worker.on("error", (e) => {
        clearTimeout(timer);
        rej(e);
      });
    });
    await worker.terminate();
    return { ...result, url };
  } finally {
    await node.stop().catch(() => {});
    await loop;
  }
}
