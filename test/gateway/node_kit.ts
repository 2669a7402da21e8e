/**
 * A real node for gateway tests: a fresh directory, a catalog with the given users and
 * SHFE.cu2601, a journal, the engine loop and the gateway worker on a free port; the
 * instrument defined in the engine and the given accounts funded with 1,000,000 CNY.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { VenueNode, type NodeGatewayOptions, type NodeOptions } from "../../src/node/node.ts";
import type { GatewayOptions } from "../../src/gateway/gateway.ts";
import type { ServerOptions } from "../../src/gateway/server.ts";
import { Catalog, type Role } from "../../src/catalog/catalog.ts";
import { PasswordHasher } from "../../src/catalog/password.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../../src/catalog/instrument.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { currencyCode } from "../../src/schema/codes.ts";

/** SHFE.cu2601: tick 10, multiple 5, margin 10%, commission 10 per lot. */
export const CU = DEMO_INSTRUMENTS[0]!;

export type TestUser = readonly [name: string, roles: readonly Role[], password: string];

/** A catalog in `dir` with `users` and CU. */
export async function makeCatalog(dir: string, users: readonly TestUser[]): Promise<void> {
  const catalog = Catalog.open(dir);
  const hasher = new PasswordHasher();
  try {
    for (const [name, roles, password] of users) await catalog.addUser(name, roles, await hasher.hash(password));
    await catalog.putInstrument(CU);
  } finally {
    await hasher.close();
    await catalog.close();
  }
}

export interface GatewayNode {
  dir: string;
  node: VenueNode;
  /** ws://host:port */
  ws: string;
  /** http://host:port */
  http: string;
  /** Stops the node and removes its directory. */
  close(): Promise<void>;
}

export async function startGatewayNode(o: {
  prefix: string;
  users: readonly TestUser[];
  funded: readonly string[];
  log?: (line: string) => void;
  admin?: NodeGatewayOptions["admin"];
  /** More gateway options (rates, limits). */
  gateway?: Partial<GatewayOptions>;
  /** More node options (ring sizes, a journal file layer). */
  node?: Partial<NodeOptions>;
  /** Server options (connection limits). */
  server?: Partial<ServerOptions>;
}): Promise<GatewayNode> {
  const dir = mkdtempSync(join(tmpdir(), o.prefix));
  await makeCatalog(join(dir, "catalog"), o.users);
  const node = new VenueNode({
    dataDir: join(dir, "data"),
    snapshotEvery: 0,
    ...o.node,
    ...(o.log === undefined ? {} : { log: o.log }),
    gateway: { catalogDir: join(dir, "catalog"), server: { port: 0, ...o.server }, options: { tradingDay: "20261124", selfTransfers: false, ...o.gateway }, ...(o.admin === undefined ? {} : { admin: o.admin }) },
  });
  const d = node.drivers[0]!;
  const running = node.start();
  running.catch(() => {}); // a fenced node's error comes out of close()
  d.submit((b, off) => writeDefineInstrument(b, off, engineParams(CU)));
  for (const a of o.funded) d.submit((b, off) => writeTransfer(b, off, CommandKind.deposit, a, currencyCode("CNY"), 1_000_000_00));
  d.flush();
  const { host, port } = await node.gatewayReady;
  return {
    dir,
    node,
    ws: `ws://${host}:${port}`,
    http: `http://${host}:${port}`,
    close: async () => {
      try {
        await node.stop();
        await running;
      } finally {
        rmSync(dir, { recursive: true, force: true }); // a fenced node's stop throws: its files go all the same
      }
    },
  };
}
