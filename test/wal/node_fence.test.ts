/**
 * P4 end to end: a running node whose journal fails (an fdatasync returning EIO, a write
 * returning ENOSPC) stops taking commands with an explicit status and an error that says
 * why; nothing after the last durable group is acknowledged; and a restart recovers every
 * acknowledged command from the disk.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setImmediate as tick } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { VenueNode } from "../../src/node/node.ts";
import { NodeStatus } from "../../src/schema/control.ts";
import { writeDefineInstrument, writeNewOrder } from "../../src/schema/command.ts";
import { Side } from "../../src/schema/codes.ts";
import { instrumentCommands } from "../../src/sim/order_flow.ts";

const FAULT_FS = fileURLToPath(new URL("./journal_fault_fs.ts", import.meta.url));
const base = mkdtempSync(join(tmpdir(), "venue-fence-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

describe("a failing journal fences the node", () => {
  // Operations 0-4 make the first segment; then each commit is a write (odd) and an fdatasync (even).
  for (const [code, failAt, what] of [["EIO", 12, /fdatasync failed.*I\/O error/], ["ENOSPC", 11, /write failed.*disk is full/]] as const) {
    it(`${code} on the journal: status fenced, no acknowledgement after the last durable group, and a restart recovers all acknowledged`, async () => {
      const dir = join(base, code);
      process.env.VENUE_JOURNAL_FAIL_AT = String(failAt);
      process.env.VENUE_JOURNAL_FAIL_CODE = code;
      const node = new VenueNode({ dataDir: dir, drivers: 1, snapshotEvery: 0, journalFsModule: FAULT_FS });
      const d = node.drivers[0]!;
      let fault: unknown;
      const running = node.start().catch((e: unknown) => void (fault = e));
      delete process.env.VENUE_JOURNAL_FAIL_AT; // the journal worker took its copy of the environment when it started
      d.submit((b, o) => writeDefineInstrument(b, o, instrumentCommands(1)[0]!));
      d.flush();
      let acked = 0;
      let sent = 1;
      const deadline = performance.now() + 30_000;
      while (fault === undefined && performance.now() < deadline) {
        // One small batch per turn, so the journal commits several groups before the fault.
        for (let k = 0; k < 5; k++) {
          const n = ++sent;
          d.submit((b, o) => writeNewOrder(b, o, { instrument: 0, account: "a", orderId: `o${n}`, side: Side.buy, price: 1_000_000, qty: 1 }));
        }
        d.flush();
        await tick();
        acked = Math.max(acked, node.durableSeq);
      }
      if (fault === undefined) await node.stop(); // no fault within the deadline: end the node, the test fails below
      await running;
      expect(String(fault)).toMatch(what);
      expect(node.control.status).toBe(NodeStatus.fenced);
      const durableAtFence = node.durableSeq;
      expect(durableAtFence).toBeGreaterThan(0); // some groups were durable before the fault
      expect(acked).toBeLessThanOrEqual(durableAtFence);
      await node.stop().catch(() => {});
      // Restart without the fault: everything acknowledged is there.
      const logs: string[] = [];
      const again = new VenueNode({ dataDir: dir, drivers: 1, snapshotEvery: 0, log: (l) => logs.push(l) });
      expect(again.loop.seq - 1).toBeGreaterThanOrEqual(durableAtFence);
      expect(again.engine.instrumentIndex(instrumentCommands(1)[0]!.symbol)).toBe(0);
    });
  }
});
