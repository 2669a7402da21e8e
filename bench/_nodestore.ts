import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { VenueNode } from "../src/node/node.ts";
import { Engine } from "../src/engine/engine.ts";
import { defineInstruments, instrumentCommands, generateFlow, encodeFlow } from "../src/sim/order_flow.ts";
const N = Number(process.argv[2] ?? 2_000_000);
const dir = mkdtempSync(join(tmpdir(), "nodestore-"));
const engine = new Engine();
defineInstruments(engine, instrumentCommands(4));
const flow = generateFlow({ seed: 7, commands: N, instruments: 4, accounts: 1000 });
const e2 = new Engine(); defineInstruments(e2, instrumentCommands(4));
const enc = encodeFlow(flow, e2, { firstSeq: 1 });
const node = new VenueNode({ engine, drivers: 1, dataDir: dir, snapshotEvery: 0 });
const running = node.start();
const d = node.drivers[0]!;
const t0 = performance.now();
let i = 0;
await new Promise<void>((resolve) => {
  const tick = (): void => {
    let k = 0;
    while (i < N && k < 4096) {
      const off = enc.offsets[i]!;
      const size = enc.buf.dv.getUint16(off + 2, true);
      if (d.free() < size + 256) break;
      d.submit((b, o) => { b.u8.set(enc.buf.u8.subarray(off, off + size), o); return size; });
      i++; k++;
    }
    d.flush();
    if (i >= N && node.durableSeq >= node.loop.seq - 1) resolve();
    else setImmediate(tick);
  };
  tick();
});
const ms = performance.now() - t0;
console.log(`node+store: ${N} commands in ${ms.toFixed(0)} ms: ${(N / ms / 1000).toFixed(3)}M/s`);
await node.stop();
await running;
rmSync(dir, { recursive: true, force: true });
process.exit(0);
