/**
 * Writes and reads the market-data checkpoint (layout: src/schema/market_checkpoint.ts).
 * A checkpoint is a manifest, `market.checkpoint`, naming one part file per instrument.
 * `MarketCheckpointWriter` writes a part only for an instrument that changed since its last
 * checkpoint (its `checkpointKey` differs) and names the others' parts again, so a venue
 * of many instruments, most of them quiet in any minute, rewrites only the busy ones.
 *
 * Crash safety: new parts are written under new names (the writer's generation) and
 * fsynced, then the directory; the manifest is replaced whole (a temporary file, fsync,
 * rename, directory fsync); only then are parts no manifest names removed. A crash leaves
 * the old manifest with every part it names, or the new one with every part it names.
 * The file operations run on libuv's threads: the caller's thread only copies and encodes.
 */

import { existsSync, mkdirSync, readFileSync, readdirSync } from "node:fs";
import { open as openAsync, readdir as readdirAsync, rename as renameAsync, rm as rmAsync } from "node:fs/promises";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import {
  MARKET_CHECKPOINT_NAME, decodeMarketCheckpointFile, decodeMarketPart, encodeMarketManifest, encodeMarketPart,
  marketPartGeneration, marketPartName, type MarketManifest, type MarketPartEntry,
} from "../schema/market_checkpoint.ts";
import type { InstrumentCheckpoint, MarketCheckpoint } from "./market.ts";

/** What a checkpoint is taken from: a MarketData model, or a MarketCheckpoint already copied. */
export interface CheckpointSource {
  readonly tradingDay: string;
  readonly instrumentSlots: number;
  /** Equal keys, equal checkpoints; undefined: no instrument at this index. */
  checkpointKey(index: number): string | undefined;
  instrumentCheckpoint(index: number): InstrumentCheckpoint | undefined;
}

let copies = 0;

/** A MarketCheckpoint as a source (each instrument's key names this object and its index: each is written once per writer). */
export function checkpointSourceOf(cp: MarketCheckpoint): CheckpointSource {
  const id = `copy:${++copies}`;
  return {
    tradingDay: cp.day,
    instrumentSlots: cp.instruments.length,
    checkpointKey: (i) => (cp.instruments[i] ? `${id}:${i}` : undefined),
    instrumentCheckpoint: (i) => cp.instruments[i] ?? undefined,
  };
}

/** A checkpoint encoded on the caller's thread, to be written by `MarketCheckpointWriter.write`. */
export interface PreparedCheckpoint {
  seq: number;
  manifest: Buffer;
  /** The parts to write: instruments that changed. */
  files: Array<{ index: number; key: string; entry: MarketPartEntry; bytes: Buffer }>;
  /** Every part the manifest names. */
  parts: Array<MarketPartEntry | null>;
  /** Instruments in the checkpoint, and bytes written for it (the manifest and new parts). */
  instruments: number;
  bytes: number;
}

export class MarketCheckpointWriter {
  private generation: number;
  /** Per instrument index, the part the last manifest written names, and the key it was written at. */
  private written: Array<{ key: string; entry: MarketPartEntry } | undefined> = [];
  /** A prepared checkpoint not yet written: the next is prepared only after it (its parts are compared with what is on disk). */
  private pending = false;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    // Above every part in the directory, named or left by a crash: a part is never rewritten.
    let g = 0;
    for (const n of readdirSync(dir)) g = Math.max(g, marketPartGeneration(n));
    this.generation = g + 1;
  }

  /** Copies and encodes, on this thread, the instruments whose key changed since the last write, and the manifest of `seq`. */
  prepare(seq: number, src: CheckpointSource): PreparedCheckpoint {
    if (this.pending) throw new Error("a market checkpoint is prepared and not yet written: write it first");
    const gen = this.generation++;
    const files: PreparedCheckpoint["files"] = [];
    const parts: Array<MarketPartEntry | null> = [];
    let instruments = 0;
    let bytes = 0;
    for (let i = 0; i < src.instrumentSlots; i++) {
      const key = src.checkpointKey(i);
      if (key === undefined) {
        parts.push(null);
        continue;
      }
      instruments++;
      const was = this.written[i];
      if (was !== undefined && was.key === key) {
        parts.push(was.entry);
        continue;
      }
      const part = src.instrumentCheckpoint(i)!;
      const b = encodeMarketPart(seq, part);
      const entry: MarketPartEntry = { symbol: part.symbol, file: marketPartName(i, gen), bytes: b.length, crc32: crc32(b) };
      files.push({ index: i, key, entry, bytes: b });
      parts.push(entry);
      bytes += b.length;
    }
    const manifest = encodeMarketManifest(seq, { day: src.tradingDay, parts } satisfies MarketManifest);
    this.pending = true;
    return { seq, manifest, files, parts, instruments, bytes: bytes + manifest.length };
  }

  /** Writes a prepared checkpoint (file operations on libuv's threads); resolves once it is durable and the parts no longer named are removed. */
  async write(p: PreparedCheckpoint): Promise<void> {
    try {
      for (const f of p.files) await writeSynced(join(this.dir, f.entry.file), f.bytes);
      if (p.files.length > 0) await syncDir(this.dir);
      await writeMarketCheckpointBytes(this.dir, p.manifest);
    } finally {
      this.pending = false;
    }
    // On disk now: what each instrument's part was written at (a failed write changes nothing here, so the next rewrites what changed since the last that held).
    const was = this.written;
    this.written = p.parts.map((e, i) => (e === null ? undefined : was[i]));
    for (const f of p.files) this.written[f.index] = { key: f.key, entry: f.entry };
    const named = new Set(p.parts.flatMap((e) => (e === null ? [] : [e.file])));
    // Parts of earlier checkpoints, and any a crash left unnamed (not fsynced: a part that comes back is removed next time).
    for (const n of await readdirAsync(this.dir)) if (marketPartGeneration(n) >= 0 && !named.has(n)) await rmAsync(join(this.dir, n), { force: true });
  }
}

/** Writes a whole checkpoint of `seq` (every instrument); resolves with the bytes written once it is durable. */
export async function writeMarketCheckpoint(dir: string, seq: number, cp: MarketCheckpoint): Promise<number> {
  const w = new MarketCheckpointWriter(dir);
  const p = w.prepare(seq, checkpointSourceOf(cp));
  await w.write(p);
  return p.bytes;
}

/** Writes `bytes` as the file at `path` (opened with `flag`) and fsyncs it. */
async function writeSynced(path: string, bytes: Uint8Array, flag = "w"): Promise<void> {
  const f = await openAsync(path, flag);
  try {
    let done = 0;
    while (done < bytes.length) done += (await f.write(bytes, done, bytes.length - done, done)).bytesWritten;
    await f.sync();
  } finally {
    await f.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  const d = await openAsync(dir, "r");
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * Replaces `market.checkpoint` with `bytes`: a temporary file, fsync, rename, directory
 * fsync, with the file operations on libuv's threads. Resolves when the file is durable.
 */
export async function writeMarketCheckpointBytes(dir: string, bytes: Uint8Array): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  const tmp = `${path}.tmp`;
  await rmAsync(tmp, { force: true }); // left by an interrupted attempt
  await writeSynced(tmp, bytes, "wx");
  await renameAsync(tmp, path);
  await syncDir(dir);
}

/**
 * The checkpoint in `dir`: undefined if there is none, or why it cannot be used (naming the
 * file). Version 3's parts are read and checked against the manifest (size, CRC32, symbol).
 */
export function readMarketCheckpoint(dir: string): { seq: number; checkpoint: MarketCheckpoint } | { error: string } | undefined {
  const path = join(dir, MARKET_CHECKPOINT_NAME);
  if (!existsSync(path)) return undefined;
  const r = decodeMarketCheckpointFile(readFileSync(path));
  if ("error" in r) return { error: `${path}: ${r.error}` };
  if ("checkpoint" in r) return r;
  const instruments: Array<InstrumentCheckpoint | null> = [];
  for (const e of r.manifest.parts) {
    if (e === null) {
      instruments.push(null);
      continue;
    }
    const file = join(dir, e.file);
    if (!existsSync(file)) return { error: `${file}: missing (the manifest names it)` };
    const b = readFileSync(file);
    if (b.length !== e.bytes || crc32(b) !== e.crc32) return { error: `${file}: not the part the manifest names (size or CRC32 differs)` };
    const p = decodeMarketPart(b);
    if ("error" in p) return { error: `${file}: ${p.error}` };
    if (p.part.symbol !== e.symbol) return { error: `${file}: holds ${p.part.symbol}, the manifest says ${e.symbol}` };
    instruments.push(p.part);
  }
  return { seq: r.seq, checkpoint: { day: r.manifest.day, instruments } };
}
