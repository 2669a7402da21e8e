/**
 * Child process for test/native/mmap.test.ts: the cases that need a process of their own.
 *
 *   node --expose-gc --import tsx test/native/mmap_child.ts gc FILE COUNT
 *       maps FILE COUNT times without closing, drops every file, collects garbage twice
 *       (a tick apart), and prints { before, after } mapping stats as JSON (after should be zero).
 *   node --import tsx test/native/mmap_child.ts write FILE
 *       writes into a view of the mapping; the process should die of SIGSEGV (rule 1).
 *   node --import tsx test/native/mmap_child.ts status FILE
 *       opens FILE twice and prints { mapped, status } as JSON; the environment
 *       (VENUE_NATIVE, VENUE_NATIVE_ADDON) decides the path, stderr shows the log line.
 *   node --import tsx test/native/mmap_child.ts preallocate FILE
 *       creates FILE as the journal does and sizes it to 1 MiB (preallocate), and prints
 *       { size, allocatedBytes } as JSON.
 *   node --import tsx test/native/mmap_child.ts writeback FILE
 *       writes 256 KiB into FILE and starts their write-out (writeBack), then asks for a
 *       range of 0 bytes and for a closed file, then makes FILE's directory's files durable
 *       in one batch (REAL_FS.beginSyncBatch); prints { started, empty, closed, batch } as
 *       JSON (true/false, or the error code thrown; batch false where there is none).
 */

import { statSync } from "node:fs";
import { dirname } from "node:path";
import { mappingStats, nativeStatus, openReadOnly, type ReadOnlyFile } from "../../src/native/mmap.ts";
import { REAL_FS } from "../../src/wal/file.ts";

const [mode, file, countArg] = process.argv.slice(2);
if (file === undefined) throw new Error("usage: mmap_child.ts gc|write|status FILE [COUNT]");

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** Maps `file` `count` times and reads from each; the files are dropped on return. */
function mapAndDrop(file: string, count: number): number {
  const files: ReadOnlyFile[] = [];
  for (let i = 0; i < count; i++) files.push(openReadOnly(file, { native: true }));
  let sum = 0;
  for (const f of files) sum += f.bytes(f.size - 1, 1)[0]!;
  return sum;
}

if (mode === "gc") {
  const collect = globalThis.gc;
  if (collect === undefined) throw new Error("run with --expose-gc");
  const count = Number(countArg ?? "100");
  const base = mappingStats();
  const sum = mapAndDrop(file, count);
  const before = mappingStats();
  // A mapping's finalizer runs on the tick after the collection that found its buffer
  // dead: collect, let that tick run, collect again.
  collect();
  await tick();
  collect();
  await tick();
  process.stdout.write(`${JSON.stringify({ base, before, after: mappingStats(), sum })}\n`);
} else if (mode === "write") {
  const f = openReadOnly(file, { native: true });
  const view = f.bytes(0, 1);
  process.stdout.write("writing\n");
  view[0] = view[0]! ^ 0xff;
  process.stdout.write("wrote: the mapping was writable\n");
} else if (mode === "status") {
  const mapped = [openReadOnly(file).mapped, openReadOnly(file).mapped];
  process.stdout.write(`${JSON.stringify({ mapped, status: nativeStatus() })}\n`);
} else if (mode === "preallocate") {
  const f = REAL_FS.create(file);
  f.preallocate!(1 << 20);
  f.close();
  const st = statSync(file);
  process.stdout.write(`${JSON.stringify({ size: st.size, allocatedBytes: st.blocks * 512 })}\n`);
} else if (mode === "writeback") {
  const f = REAL_FS.create(file);
  f.pwrite(new Uint8Array(256 << 10).fill(3), 0, 256 << 10, 0);
  const attempt = (go: () => boolean | undefined): unknown => {
    try {
      return go();
    } catch (err) {
      return (err as { code?: unknown }).code;
    }
  };
  const started = attempt(() => f.writeBack!(0, 256 << 10));
  const empty = attempt(() => f.writeBack!(0, 0));
  f.close();
  const closed = attempt(() => f.writeBack!(0, 4096));
  const batch = attempt(() => {
    const b = REAL_FS.beginSyncBatch!(dirname(file));
    if (b === undefined) return false;
    b.commit();
    b.close();
    return true;
  });
  process.stdout.write(`${JSON.stringify({ started, empty, closed, batch })}\n`);
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
