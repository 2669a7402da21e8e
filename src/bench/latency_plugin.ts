/**
 * The plugin of `venue bench latency`: an ordinary plugin (docs/plugins.md) on its own
 * plugin-host worker, reading the accounts topic, gated on durability as every plugin is.
 * At the first event of each order of the running step it stamps the `plugin` stage: the
 * time its onEvent saw it, minus the order's scheduled time (src/bench/latency_flow.ts).
 *
 * Options (the SharedArrayBuffers arrive shared, not copied): `step`, `cells`, `lat` (the
 * plugin stage's Float32Array buffer).
 */

import type { Plugin, PluginContext } from "../plugins/api.ts";
import type { EventView } from "../schema/event.ts";
import type { Topic } from "../schema/topics.ts";
import { Cells } from "../bus/cells.ts";
import { nowNs } from "./clock.ts";
import { C_PLUGIN_OVERRUNS, C_PLUGIN_SEEN, S_BASE, S_COUNT, S_PERIOD_NS, S_STEP, S_T0_NS } from "./latency_flow.ts";

export function createPlugin(ctx: PluginContext): Plugin {
  const { step: stepSab, cells: cellsSab, lat: latSab } = ctx.options;
  if (!(stepSab instanceof SharedArrayBuffer) || !(cellsSab instanceof SharedArrayBuffer) || !(latSab instanceof SharedArrayBuffer)) {
    throw new TypeError("the latency plugin needs the step, cells and lat buffers in its options");
  }
  const step = new Float64Array(stepSab);
  const cells = new Cells(cellsSab);
  const lat = new Float32Array(latSab);
  let lastSeq = -1;
  let curStep = -1;
  let seen = 0;
  let stored = 0;
  const publish = (): void => {
    if (seen === stored) return; // never a stale count: the main thread resets the cell between steps
    stored = seen;
    cells.store(C_PLUGIN_SEEN, seen);
  };
  return {
    onEvent(_topic: Topic, e: EventView): void {
      const seq = e.seq;
      if (seq === lastSeq) return;
      lastSeq = seq;
      const i = seq - step[S_BASE]!;
      if (i < 0 || i >= step[S_COUNT]!) return;
      if (step[S_STEP] !== curStep) {
        curStep = step[S_STEP]!;
        seen = 0;
        stored = 0;
      }
      lat[i] = (nowNs() - (step[S_T0_NS]! + i * step[S_PERIOD_NS]!)) / 1e3;
      seen++;
      if ((seen & 63) === 0) publish();
    },
    onIdle: publish,
    onOverrun(): void {
      cells.add(C_PLUGIN_OVERRUNS, 1); // cut off: the events it skipped are missing from the step
    },
  };
}
