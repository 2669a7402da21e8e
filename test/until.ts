/** Helpers for tests that drive a running node. */

import { setImmediate as tick } from "node:timers/promises";
import type { InboundProducer } from "../src/bus/inbound.ts";
import { instrumentOfSymbol, writeFlowCommand, type FlowCommand } from "../src/sim/order_flow.ts";

/**
 * Waits, yielding to the event loop (where a node's engine loop runs), until `cond` holds;
 * fails after `ms` with what it waited for and, if given, the state at that moment.
 */
export async function until(cond: () => boolean, what: string, state: () => string = () => "", ms = 30_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) {
      const now = state();
      throw new Error(`timed out waiting for: ${what}${now === "" ? "" : ` (${now})`}`);
    }
    await tick();
  }
}

/**
 * Submits a generated flow through a driver in batches of `every`, yielding to the event
 * loop between batches (so the node's loop runs), then flushes the rest.
 */
export async function submitFlow(d: InboundProducer, flow: readonly FlowCommand[], every = 200): Promise<void> {
  for (let i = 0; i < flow.length; i++) {
    const c = flow[i]!;
    d.submit((b, o) => writeFlowCommand(b, o, c, instrumentOfSymbol(c.symbol)));
    if (i % every === every - 1) {
      d.flush();
      await tick();
    }
  }
  d.flush();
}
