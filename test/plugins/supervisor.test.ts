/**
 * Plugins on real worker threads, in a running node: one reads every trade and answers
 * each with a command; three misbehave (throw, loop forever, exit). The misbehaving ones
 * are detected (error, stalled heartbeat, exit), isolated and reported, their ring slots
 * stop holding the engine back, and the node keeps applying commands throughout.
 */

import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { until } from "../until.ts";
import { VenueNode } from "../../src/node/node.ts";
import { Side, currencyCode } from "../../src/schema/codes.ts";
import { CommandKind, writeDefineInstrument, writeNewOrder, writeTransfer } from "../../src/schema/command.ts";
import { SlotState } from "../../src/schema/ring.ts";
import { instrumentCommands } from "../../src/sim/order_flow.ts";
import type { PluginReport } from "../../src/plugins/supervisor.ts";

const CNY = currencyCode("CNY");
const FIXTURE = fileURLToPath(new URL("./fixtures/test_plugin.ts", import.meta.url));


describe("plugins", () => {
  it("a reading, submitting plugin sees every trade; throwing, looping and exiting plugins are isolated and the node goes on", async () => {
    const reports: PluginReport[] = [];
    const node = new VenueNode({
      drivers: 1,
      heartbeatMs: 1_000,
      cutOffMs: 200,
      plugins: [
        { module: FIXTURE, name: "counter", topics: ["trades"], delivery: "gating", options: { mode: "count", account: "tape" } },
        { module: FIXTURE, name: "thrower", topics: ["trades"], delivery: "gating", options: { mode: "throw" } },
        { module: FIXTURE, name: "looper", topics: ["accounts"], delivery: "gating", options: { mode: "loop" } },
        { module: FIXTURE, name: "exiter", topics: ["l2"], delivery: "lossy", options: { mode: "exit" } },
      ],
      onPluginReport: (r) => reports.push(r),
    });
    const d = node.drivers[0]!;
    const [def] = instrumentCommands(1);
    d.submit((b, o) => writeDefineInstrument(b, o, def!));
    d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, "tape", CNY, 1)); // the counter's account exists
    d.flush();
    const running = node.start();

    let n = 0;
    const trade = (): void => {
      const id = `o${n++}`;
      d.submit((b, o) => writeNewOrder(b, o, { instrument: 0, account: "m", orderId: `${id}s`, side: Side.sell, price: 1_000_000, qty: 1 }));
      d.submit((b, o) => writeNewOrder(b, o, { instrument: 0, account: "t", orderId: `${id}b`, side: Side.buy, price: 1_000_000, qty: 1 }));
      d.flush();
    };
    for (let i = 0; i < 50; i++) trade();
    await until(() => reports.length >= 3, "three misbehaving plugins reported");
    const byName = Object.fromEntries(reports.map((r) => [r.name, r]));
    expect(byName.thrower?.kind).toBe("failed");
    expect(byName.thrower?.message).toMatch(/throws on purpose/);
    expect(byName.looper?.kind).toBe("stalled");
    expect(byName.exiter?.kind).toBe("failed");
    expect(byName.exiter?.message).toMatch(/code 3/);
    expect(node.plugins.alive).toBe(1);
    // Their slots no longer gate: the engine goes on, and the counter sees every trade.
    for (const [topic, slot] of [["trades", 1], ["accounts", 0], ["l2", 0]] as const) expect(node.topics[topic].slotState(slot)).toBe(SlotState.closed);
    for (let i = 0; i < 950; i++) trade();
    const engine = node.engine;
    const deposited = (): number => {
      const a = engine.accounts.moneyAccountOf(engine.accountIndex("tape"), CNY);
      return a < 0 ? 0 : engine.accounts.field(a, "deposit");
    };
    const state = (): string => `deposited ${deposited()}, commands ${node.loop.commands}, reports ${JSON.stringify(reports)}`;
    await until(() => deposited() === 1 + 1000, "the counter's deposits for all 1000 trades", state);
    await node.stop();
    await running;
    expect(reports.find((r) => r.name === "counter")?.kind).toBe("stopped");
  });
});
