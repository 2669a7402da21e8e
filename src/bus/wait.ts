/**
 * Wait strategies: how a thread with nothing to do waits for another thread's store.
 *
 *   spin       re-checks in a loop: the lowest hand-off latency, and it owns a core.
 *   spinPark   spins `spins` times, then parks in Atomics.wait for at most `parkMs` at a
 *              time: near-spin latency under load, an idle core when idle.
 *   park       parks at once: tens of microseconds to wake on a VM, no core used.
 *
 * Every park has a timeout, so a waiter re-checks its exit conditions (a dead peer, a
 * cut-off, shutdown) at least every `parkMs` even if no one ever notifies it. Any thread
 * may use a Waiter; one Waiter belongs to one thread.
 */

import { assert } from "../stdx/assert.ts";

export type WaitStrategy =
  | { readonly kind: "spin" }
  | { readonly kind: "spinPark"; readonly spins: number; readonly parkMs: number }
  | { readonly kind: "park"; readonly parkMs: number };

/** The default on a 2-core machine: a spinning thread would take a core from the engine. */
export const DEFAULT_WAIT: WaitStrategy = { kind: "spinPark", spins: 2_000, parkMs: 1 };

export function describeWait(w: WaitStrategy): string {
  if (w.kind === "spin") return "busy-spin (owns a core)";
  if (w.kind === "park") return `park (Atomics.wait, ${w.parkMs} ms timeout)`;
  return `spin ${w.spins} times, then park (${w.parkMs} ms timeout)`;
}

export class Waiter {
  private rounds = 0;
  /** Times this waiter parked (for tests and metrics). */
  parks = 0;

  constructor(readonly strategy: WaitStrategy) {
    if (strategy.kind !== "spin") assert(strategy.parkMs > 0, "a park needs a timeout above 0 ms");
  }

  /** Called when the awaited condition came true: the next wait starts spinning again. */
  reset(): void {
    this.rounds = 0;
  }

  /** True once this wait has spun its share and the next pause would park. */
  get parking(): boolean {
    const s = this.strategy;
    return s.kind === "park" || (s.kind === "spinPark" && this.rounds >= s.spins);
  }

  /**
   * One pause while `i32[index]` still holds `expected`. Spins return at once; a park
   * announces itself in `i32[parkedIndex]` (so the storing thread knows to notify), checks
   * the cell again, then waits with the strategy's timeout. The announcement and the check
   * are sequentially consistent, so a store made before the check is seen and one made
   * after it finds the announcement and notifies: no lost wake-up.
   */
  pause(i32: Int32Array, index: number, expected: number, parkedIndex: number): void {
    const s = this.strategy;
    if (s.kind === "spin" || (s.kind === "spinPark" && this.rounds++ < s.spins)) return;
    this.parks++;
    Atomics.add(i32, parkedIndex, 1); // seq-cst: ordered before the load below
    if (Atomics.load(i32, index) === expected) Atomics.wait(i32, index, expected, s.parkMs);
    Atomics.sub(i32, parkedIndex, 1);
  }
}
