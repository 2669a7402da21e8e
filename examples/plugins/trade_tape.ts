/**
 * An example plugin: the trade tape. It reads the `trades` topic in place and prints one
 * line per trade (instrument, price, quantity, aggressor side), every `every`-th trade
 * (option, default 1). Run it with the node: see docs/plugins.md.
 */

import type { Plugin, PluginContext } from "../../src/plugins/api.ts";
import { EventKind, type EventView } from "../../src/schema/event.ts";
import { Side } from "../../src/schema/codes.ts";
import type { Topic } from "../../src/schema/topics.ts";

export function createPlugin(ctx: PluginContext): Plugin {
  const every = typeof ctx.options.every === "number" && ctx.options.every >= 1 ? Math.floor(ctx.options.every) : 1;
  const symbols = new Map<number, string>();
  for (const [symbol, index] of ctx.instruments) symbols.set(index, symbol);
  let trades = 0;
  return {
    onEvent(_topic: Topic, e: EventView): void {
      if (e.kind !== EventKind.trade) return;
      if (trades++ % every !== 0) return;
      const side = e.aggressorSide === Side.buy ? "buy" : "sell";
      process.stdout.write(`tape seq ${e.seq} ${symbols.get(e.instrument) ?? e.instrument} ${e.qty} @ ${e.price} (${side} aggressor)\n`);
    },
    onOverrun(topic, o): void {
      ctx.log(`missed ${topic} events after seq ${o.lastSeq}`);
    },
    onStop(): void {
      ctx.log(`${trades} trades seen`);
    },
  };
}
