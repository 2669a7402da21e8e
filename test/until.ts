/**
 * Waits, yielding to the event loop (where a node's engine loop runs), until `cond` holds;
 * fails after `ms` with what it waited for and, if given, the state at that moment.
 */

import { setImmediate as tick } from "node:timers/promises";

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
