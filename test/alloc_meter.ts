/**
 * What allocation probes measure: run `work` with garbage collected beforehand, counting
 * the collections during it and the heap it grew by. Both probes (engine, market) run in
 * processes of their own started with --expose-gc.
 */

import { PerformanceObserver, constants } from "node:perf_hooks";

export interface AllocationMeasure<T> {
  result: T;
  ms: number;
  heapGrowthBytes: number;
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
  const before = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  const result = work();
  const ms = performance.now() - t0;
  const after = process.memoryUsage().heapUsed;
  // GC entries are delivered asynchronously.
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();
  return { result, ms, heapGrowthBytes: after - before, minorGcs, majorGcs };
}
