/**
 * A worker of the DIFF edge that dies fences the node with an error that names it, rather
 * than leave its rings held (each is a gating consumer: a dead one would stall the engine
 * with no word). Here the market-data worker is terminated under a running node.
 */

import type { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import { NodeStatus } from "../../src/schema/control.ts";
import { startGatewayNode } from "./node_kit.ts";

describe("a dead market-data worker", () => {
  it("fences the node, says which worker and why; the node still stops", async () => {
    const logs: string[] = [];
    const g = await startGatewayNode({ prefix: "venue-gw-exit-", users: [], funded: [], log: (l) => logs.push(l) });
    try {
      const market = (g.node as unknown as { marketWorker: Worker }).marketWorker;
      expect(market).toBeDefined();
      await market.terminate();
      const deadline = Date.now() + 20_000;
      while (g.node.control.status !== NodeStatus.fenced && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(g.node.control.status).toBe(NodeStatus.fenced);
      expect(logs.join("\n")).toMatch(/the market-data worker exited with code 1/);
    } finally {
      await g.close().catch(() => {});
    }
  });
});
