/**
 * The crash test's victim: a node with a data directory, fed by one driver with the
 * commands `commandFor(seq)` in seq order from wherever recovery left off, printing
 * "durable N" each time the durable sequence moves and "snapshot N" for each snapshot
 * written. The parent SIGKILLs it.
 *
 *   node --import tsx test/wal/crash_child.ts DIR [--small [--prune]]
 *
 * --small: small segments and MemTables, a snapshot every 5,000 commands, and slower
 * submission (about 10 commands a millisecond). --prune: the node also deletes journal
 * segments its snapshots and event store no longer need (`pruneJournal`).
 */

import { setImmediate as tick, setTimeout as sleep } from "node:timers/promises";
import { VenueNode } from "../../src/node/node.ts";
import { commandFor } from "./crash_commands.ts";

const dir = process.argv[2]!;
const small = process.argv[3] === "--small";
const node = new VenueNode({
  dataDir: dir, drivers: 1, log: (l) => process.stderr.write(`${l}\n`),
  ...(small
    ? { pruneJournal: process.argv[4] === "--prune", segmentBytes: 32 << 10, snapshotEvery: 5_000, storeMemtableBytes: 32 << 10 }
    : { segmentBytes: 256 << 10, snapshotEvery: 3_000, storeMemtableBytes: 256 << 10 }),
});
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
  for (let k = 0; k < (small ? 10 : 50); k++) {
    const seq = next++;
    d.submit((b, o) => commandFor(b, o, seq));
  }
  d.flush();
  if (small) await sleep(1);
  else await tick();
  if (node.snapshots.length !== snapshots) {
    snapshots = node.snapshots.length;
    process.stdout.write(`snapshot ${node.snapshots.at(-1)!.seq}\n`);
  }
  if (node.durableSeq !== durable) {
    durable = node.durableSeq;
    process.stdout.write(`durable ${durable}\n`);
  }
}
