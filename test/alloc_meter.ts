/**
 * What allocation probes measure: run `work` with garbage collected beforehand, counting
 * the collections during it and the heap it grew by. Both probes (engine, market) run in
 * processes of their own started with --expose-gc.
 *
 * The heap's growth leaves out V8's code spaces (machine code of functions optimized late,
 * which a loaded machine's compiler threads deliver later): that is not allocation by the
 * code measured. It is reported apart, as `codeGrowthBytes`.
 */

import { PerformanceObserver, constants } from "node:perf_hooks";
import { getHeapSpaceStatistics } from "node:v8";

export interface AllocationMeasure<T> {
  result: T;
  ms: number;
  heapGrowthBytes: number;
  /** Growth of the code spaces, not in heapGrowthBytes. */
  codeGrowthBytes: number;
  minorGcs: number;
  majorGcs: number;
}

export async function measureAllocation<T>(work: () => T): Promise<AllocationMeasure<T>> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with --expose-gc");
  gc();
  gc();
  let minorGcs = 0;
  let majorGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === constants.NODE_PERFORMANCE_GC_MINOR) minorGcs++;
      else majorGcs++;
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  const before = heapUsed();
  const t0 = performance.now();
  const result = work();
  const ms = performance.now() - t0;
  const after = heapUsed();
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return { result, ms, heapGrowthBytes: after.data - before.data, codeGrowthBytes: after.code - before.code, minorGcs, majorGcs };
}

/** Bytes in use in the heap's code spaces and in all its other spaces. */
function heapUsed(): { code: number; data: number } {
  let code = 0;
  let data = 0;
  for (const s of getHeapSpaceStatistics()) {
    if (s.space_name.startsWith("code")) code += s.space_used_size;
    else data += s.space_used_size;
  }
  return { code, data };
}
