/**
 * The disk's floor: a raw loop of small appended writes, each followed by fdatasync, on a
 * file in the directory under test: what one durable write costs on this device with no
 * journal code around it. The file is zero-filled and fsynced first (so the loop measures
 * the flush, not block allocation), written with 64-byte records at rising offsets, and
 * deleted afterwards. Runs on the calling thread; blocks it for the whole loop.
 */

import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { RecordableHistogram } from "node:perf_hooks";
import { nowNs } from "./clock.ts";

export const FLOOR_RECORD_BYTES = 64;

/** Runs `samples` write + fdatasync pairs in `dir`, recording each fdatasync's ns into `h`; returns fsyncs/s. */
export function measureFdatasync(dir: string, samples: number, h: RecordableHistogram): number {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `fdatasync-floor-${process.pid}.tmp`);
  const bytes = Math.ceil(((samples + 1) * FLOOR_RECORD_BYTES) / 4096) * 4096;
  const fd = openSync(path, "w+");
  try {
    const zeros = new Uint8Array(Math.min(bytes, 1 << 20));
    for (let at = 0; at < bytes; at += zeros.byteLength) writeSync(fd, zeros, 0, Math.min(zeros.byteLength, bytes - at), at);
    fsyncSync(fd);
    const record = new Uint8Array(FLOOR_RECORD_BYTES).fill(0x5a);
    const t0 = nowNs();
    for (let k = 0; k < samples; k++) {
      writeSync(fd, record, 0, FLOOR_RECORD_BYTES, k * FLOOR_RECORD_BYTES);
      const a = nowNs();
      fdatasyncSync(fd);
      h.record(Math.max(1, Math.round(nowNs() - a)));
    }
    return samples / ((nowNs() - t0) / 1e9);
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
}
