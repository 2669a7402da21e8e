/**
 * The crash test's victim: a node with a data directory, fed by one driver with the
 * commands `commandFor(seq)` in seq order from wherever recovery left off, printing
 * "durable N" each time the durable sequence moves and "snapshot N" for each snapshot
 * written. The parent SIGKILLs it.
 *
 *   node --import tsx test/wal/crash_child.ts DIR
 */

import { setImmediate as tick } from "node:timers/promises";
import { VenueNode } from "../../src/node/node.ts";
import { commandFor } from "./crash_commands.ts";

const dir = process.argv[2]!;
const node = new VenueNode({ dataDir: dir, drivers: 1, segmentBytes: 256 << 10, snapshotEvery: 3_000, storeMemtableBytes: 256 << 10, log: (l) => process.stderr.write(`${l}\n`) });
const d = node.drivers[0]!;
let next = node.loop.seq;
process.stdout.write(`recovered ${next - 1}\n`);
void node.start().catch((err: unknown) => {
  process.stderr.write(`node stopped: ${String(err)}\n`);
  process.exit(1);
});
let durable = node.durableSeq;
let snapshots = 0;
for (;;) {
  for (let k = 0; k < 50; k++) {
    const seq = next++;
    d.submit((b, o) => commandFor(b, o, seq));
  }
  d.flush();
  await tick();
  if (node.snapshots.length !== snapshots) {
    snapshots = node.snapshots.length;
    process.stdout.write(`snapshot ${node.snapshots.at(-1)!.seq}\n`);
  }
  if (node.durableSeq !== durable) {
    durable = node.durableSeq;
    process.stdout.write(`durable ${durable}\n`);
  }
}
