/**
 * Small helpers the engine's property tests share: a labelled check whose failure message
 * names what broke, weighted constant arbitraries, and the engine configuration they run
 * (tiny initial capacities, so pools and tables grow during the test).
 */

import * as fc from "fast-check";
import { DEFAULT_ENGINE_CONFIG } from "../../src/engine/engine.ts";

export class CheckFailure extends Error {
  override readonly name = "CheckFailure";
  constructor(readonly label: string, message: string) {
    super(`[${label}] ${message}`);
  }
}

export function check(cond: boolean, label: string, message: () => string): asserts cond {
  if (!cond) throw new CheckFailure(label, message());
}

export const show = (x: unknown): string => JSON.stringify(x);

export function weighted<T>(...items: Array<[number, T]>): fc.Arbitrary<T> {
  return fc.oneof(...items.map(([weight, v]) => ({ weight, arbitrary: fc.constant(v) })));
}

export function bump(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}

export const CONFIG = { ...DEFAULT_ENGINE_CONFIG, ordersInitial: 4 };

/** Commands as JSON lines, as `venue replay` reads them (for failure messages). */
export function jsonl(commands: readonly object[]): string {
  return commands.map((c) => JSON.stringify(c)).join("\n");
}
