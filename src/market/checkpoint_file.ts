/**
 * Writes and reads the market-data checkpoint (layout: src/schema/market_checkpoint.ts):
 * one file in its directory, replaced whole (a temporary file, fsync, rename, directory
 * fsync), so a crash leaves the old one or the new one.
 */

import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { open as openAsync, rename as renameAsync, rm as rmAsync } from "node:fs/promises";
import { join } from "node:path";
import { MARKET_CHECKPOINT_NAME, decodeMarketCheckpoint, encodeMarketCheckpoint } from "../schema/market_checkpoint.ts";
import type { MarketCheckpoint } from "./market.ts";

/** Writes the checkpoint of `seq` (as `writeMarketCheckpointBytes`); resolves with its size in bytes once it is durable. */
export async function writeMarketCheckpoint(dir: string, seq: number, cp: MarketCheckpoint): Promise<number> {
  const bytes = encodeMarketCheckpoint(seq, cp);
  await writeMarketCheckpointBytes(dir, bytes);
  return bytes.length;
}

/**
 * Writes checkpoint bytes made by `encodeMarketCheckpoint`: a temporary file, fsync, rename,
 * directory fsync, with the file operations on libuv's threads, so the market worker's
 * thread only encodes. Resolves when the file is durable.
 */
export async function writeMarketCheckpointBytes(dir: string, bytes: Uint8Array): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  const tmp = `${path}.tmp`;
  await rmAsync(tmp, { force: true }); // left by an interrupted attempt
  const f = await openAsync(tmp, "wx");
  try {
    let done = 0;
    while (done < bytes.length) done += (await f.write(bytes, done, bytes.length - done, done)).bytesWritten;
    await f.sync();
  } finally {
    await f.close();
  }
  await renameAsync(tmp, path);
  const d = await openAsync(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/** The checkpoint in `dir`: undefined if there is none, or why it cannot be used. */
export function readMarketCheckpoint(dir: string): { seq: number; checkpoint: MarketCheckpoint } | { error: string } | undefined {
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  if (!existsSync(path)) return undefined;
  const r = decodeMarketCheckpoint(readFileSync(path));
  return "error" in r ? { error: `${path}: ${r.error}` } : r;
}
