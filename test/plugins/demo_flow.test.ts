/**
 * The demo order flow plugin (`venue start --demo-flow RATE`) in a running node: it funds
 * its two accounts, finds the demo instruments (one defined before the node starts, one
 * after, which it learns from the l2 topic), and makes a market on them: resting quotes and
 * trades between its maker and its taker, every price inside the band and on the tick,
 * and no order of it refused by the engine (only cancels of quotes already filled).
 */

import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { until } from "../until.ts";
import { VenueNode } from "../../src/node/node.ts";
import { Reason, Side } from "../../src/schema/codes.ts";
import { CommandKind, writeDefineInstrument } from "../../src/schema/command.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../../src/catalog/instrument.ts";
import { EventKind, EventView } from "../../src/schema/event.ts";
import { shadowEvents } from "../engine_shadow.ts";
import { Buf } from "../../src/schema/layout.ts";
import type { DemoFlowOptions } from "../../src/plugins/demo_flow.ts";

const MODULE = fileURLToPath(new URL("../../src/plugins/demo_flow.ts", import.meta.url));

it("makes a market with trades on instruments defined before and after it started, inside the bands, nothing refused but cancels of quotes already filled", async () => {
  const [cu, m] = [DEMO_INSTRUMENTS[0]!, DEMO_INSTRUMENTS[1]!];
  const spec = (info: typeof cu): DemoFlowOptions["instruments"][number] => {
    const p = engineParams(info);
    return { symbol: info.symbol, tick: p.tickSize, low: p.priceLow, high: p.priceHigh, start: Math.round((p.priceLow + p.priceHigh) / 2 / p.tickSize) * p.tickSize };
  };
  const options: DemoFlowOptions = { rate: 400, seed: 7, instruments: [spec(cu), spec(m)] };
  const node = new VenueNode({ drivers: 1, plugins: [{ module: MODULE, name: "demo-flow", topics: ["l2"], delivery: "lossy", options: options as unknown as Record<string, unknown> }] });
  const d = node.drivers[0]!;
  d.submit((b, o) => writeDefineInstrument(b, o, engineParams(cu)));
  d.flush();
  // Every event the engine emits, kept for the checks below.
  const seen: Uint8Array[] = [];
  shadowEvents(node, (out) => seen.push(out.buf.u8.slice(0, out.length)));
  const running = node.start();
  await new Promise((r) => setTimeout(r, 300));
  d.submit((b, o) => writeDefineInstrument(b, o, engineParams(m))); // after the plugin started
  d.flush();
  const count = (kind: number, instrument?: number): number => {
    let n = 0;
    for (const bytes of seen) {
      const buf = new Buf(bytes.buffer);
      const v = new EventView(buf);
      for (let at = 0; at < bytes.length; at += buf.dv.getUint16(at + 2, true)) {
        const e = v.wrap(buf, at);
        if (e.kind === kind && (instrument === undefined || e.instrument === instrument)) n++;
      }
    }
    return n;
  };
  await until(() => count(EventKind.trade, 0) >= 20 && count(EventKind.trade, 1) >= 20, "trades on both instruments", () => `${count(EventKind.trade, 0)} and ${count(EventKind.trade, 1)} trades`);
  await node.stop();
  await running;
  const p = [engineParams(cu), engineParams(m)];
  // The maker replaces its quotes blind (it reads no fills): a cancel of a quote already
  // filled is refused as not alive; nothing else may be refused.
  const refused = new Map<string, number>();
  for (const bytes of seen) {
    const buf = new Buf(bytes.buffer);
    const v = new EventView(buf);
    for (let at = 0; at < bytes.length; at += buf.dv.getUint16(at + 2, true)) {
      const e = v.wrap(buf, at);
      if (e.kind === EventKind.rejected) refused.set(`${e.commandKind}:${e.reason}`, (refused.get(`${e.commandKind}:${e.reason}`) ?? 0) + 1);
      if (e.kind !== EventKind.trade && e.kind !== EventKind.accepted) continue;
      const q = p[e.instrument]!;
      expect(e.price % q.tickSize).toBe(0);
      expect(e.price).toBeGreaterThanOrEqual(q.priceLow);
      expect(e.price).toBeLessThanOrEqual(q.priceHigh);
      if (e.kind === EventKind.accepted) expect(["demo-mm", "demo-flow"]).toContain(e.accountId());
      if (e.kind === EventKind.accepted && e.accountId() === "demo-mm") expect([Side.buy, Side.sell]).toContain(e.side);
    }
  }
  expect([...refused.keys()].filter((k) => k !== `${CommandKind.cancel}:${Reason.orderNotLive}` && k !== `${CommandKind.cancel}:${Reason.unknownOrder}`)).toEqual([]);
}, 60_000);
