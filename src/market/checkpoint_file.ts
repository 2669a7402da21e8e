/**
 * Writes and reads the market-data checkpoint (layout: src/schema/market_checkpoint.ts):
 * one file in its directory, replaced whole (a temporary file, fsync, rename, directory
 * fsync), so a crash leaves the old one or the new one.
 */

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REAL_FS, type JournalFs } from "../wal/file.ts";
import { MARKET_CHECKPOINT_NAME, decodeMarketCheckpoint, encodeMarketCheckpoint } from "../schema/market_checkpoint.ts";
import type { MarketCheckpoint } from "./market.ts";

/** Writes the checkpoint of `seq`; returns its size in bytes. */
export function writeMarketCheckpoint(dir: string, seq: number, cp: MarketCheckpoint, fs: JournalFs = REAL_FS): number {
  mkdirSync(dir, { recursive: true });
  const bytes = encodeMarketCheckpoint(seq, cp);
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  const tmp = `${path}.tmp`;
  fs.unlink(tmp); // left by an interrupted attempt
  const f = fs.create(tmp);
  try {
    let done = 0;
    while (done < bytes.length) done += f.pwrite(bytes, done, bytes.length - done, done);
    f.fsync();
  } finally {
    f.close();
  }
  fs.rename(tmp, path);
  fs.fsyncDir(dir);
  return bytes.length;
}

/** The checkpoint in `dir`: undefined if there is none, or why it cannot be used. */
export function readMarketCheckpoint(dir: string): { seq: number; checkpoint: MarketCheckpoint } | { error: string } | undefined {
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  if (!existsSync(path)) return undefined;
  const r = decodeMarketCheckpoint(readFileSync(path));
  return "error" in r ? { error: `${path}: ${r.error}` } : r;
}
