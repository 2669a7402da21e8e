/**
 * The commands of the crash test, a pure function of their seq, so the parent can check
 * every recovered record against what the child submitted.
 */

import { Side } from "../../src/schema/codes.ts";
import { writeDefineInstrument, writeNewOrder } from "../../src/schema/command.ts";
import type { Buf } from "../../src/schema/layout.ts";
import { instrumentCommands } from "../../src/sim/order_flow.ts";

export function commandFor(b: Buf, o: number, seq: number): number {
  if (seq === 1) return writeDefineInstrument(b, o, instrumentCommands(1)[0]!);
  return writeNewOrder(b, o, {
    instrument: 0, account: `a${seq % 13}`, orderId: `o${seq}`,
    side: seq % 2 === 0 ? Side.buy : Side.sell, price: 100_000 + (seq % 40) * 100, qty: 1 + (seq % 5),
  });
}
