/**
 * A second engine fed every command a running node's engine applies, in the same order
 * and with the same bytes. The node's engine writes its events straight onto the topic
 * rings; the shadow keeps them in its own event buffer, where a test reads them per
 * command. The engine is deterministic, so they are the node's events byte for byte.
 * Install it before the node applies its first command.
 */

import { Engine } from "../src/engine/engine.ts";
import type { EventBuffer } from "../src/schema/event.ts";
import type { Buf } from "../src/schema/layout.ts";

/** Calls `onEvents` with the shadow's buffer (records 0 .. length) after each command; the buffer is cleared after. */
export function shadowEvents(node: { engine: Engine }, onEvents: (out: EventBuffer) => void): Engine {
  const engine = node.engine;
  const shadow = new Engine(engine.config);
  const apply = engine.apply.bind(engine);
  engine.apply = (buf: Buf, offset: number): void => {
    apply(buf, offset);
    shadow.apply(buf, offset);
    onEvents(shadow.out);
    shadow.out.clear();
  };
  return shadow;
}
