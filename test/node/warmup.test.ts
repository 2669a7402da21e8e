/**
 * The node's warm-up (src/node/warmup.ts): it runs every command it is given through its
 * scratch loop, refuses counts out of range, and leaves the node it runs in exactly as a
 * node without it: the same fresh engine and sequence, and the same journal and topic
 * bytes for the same commands.
 */

import { describe, expect, it } from "vitest";
import { VenueNode } from "../../src/node/node.ts";
import { WARM_UP_COMMANDS_MAX, warmUp } from "../../src/node/warmup.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { TOPICS } from "../../src/schema/topics.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands, instrumentOfSymbol, writeFlowCommand } from "../../src/sim/order_flow.ts";

/** A fixed clock: the loop's timestamps are whatever it says. */
const clock = (): { hi: number; lo: number; read(): void } => ({ hi: 0x18000000, lo: 42, read(): void { this.lo = (this.lo + 1000) >>> 0; } });

describe("warm-up", () => {
  it("applies every command it is given: the flow's, four per mark (a mark and three transfers) and the last mark and settlement", () => {
    expect(warmUp(10_001).commands).toBe(10_001 + 2 * 4 + 2);
    expect(warmUp(1).commands).toBe(1 + 2);
  });

  it("refuses a count that is not an integer from 1 to the maximum", () => {
    for (const n of [0, -1, 1.5, Number.NaN, WARM_UP_COMMANDS_MAX + 1]) expect(() => warmUp(n)).toThrow(RangeError);
  });

  it("leaves the node as one without it: a fresh engine at seq 1, and the same journal and topic bytes for the same commands", () => {
    const lines: string[] = [];
    const warmed = new VenueNode({ drivers: 1, clock: clock(), warmUpCommands: 3_000, log: (line) => void lines.push(line) });
    const cold = new VenueNode({ drivers: 1, clock: clock() });
    expect(lines.filter((l) => l.startsWith("engine: warmed up on 3002 synthetic commands"))).toHaveLength(1);
    expect([warmed.engine.instruments.count, warmed.engine.accountCount, warmed.engine.nextOrderNo, warmed.loop.seq]).toEqual([0, 0, 1, 1]);

    const flow = generateFlow({ seed: 7, commands: 2_000, instruments: 3, accounts: 50 });
    for (const node of [warmed, cold]) {
      const d = node.drivers[0]!;
      for (const def of instrumentCommands(3)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
      for (let a = 1; a <= 50; a++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
      d.flush();
      node.loop.runSlice(100);
      for (const c of flow) {
        d.submit((b, o) => writeFlowCommand(b, o, c, instrumentOfSymbol(c.symbol)));
        if (d.free() < 4096) {
          d.flush();
          node.loop.runSlice(100);
        }
      }
      d.flush();
      while (node.loop.drainOnce() > 0);
    }
    expect(warmed.loop.seq).toBe(cold.loop.seq);
    for (const ring of [warmed.journal, ...TOPICS.map((t) => warmed.topics[t])]) {
      const twin = ring === warmed.journal ? cold.journal : cold.topics[TOPICS.find((t) => warmed.topics[t] === ring)!];
      const end = ring.published();
      expect(end).toBeGreaterThan(0);
      expect(twin.published()).toBe(end);
      expect(Buffer.from(ring.data.u8.subarray(0, end)).equals(Buffer.from(twin.data.u8.subarray(0, end))), `${ring.name} bytes`).toBe(true);
    }
  });
});
