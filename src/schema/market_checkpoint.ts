/**
 * The market-data checkpoint file layout. Owned here; src/market/checkpoint_file.ts writes
 * and reads it; docs/formats/market-checkpoint.md is its grammar.
 *
 * Two lines of UTF-8 text:
 *
 *   {"format":"venue-market-checkpoint","version":1,"seq":S,"bytes":N,"crc32":C}\n
 *   <body: N bytes of JSON, a MarketCheckpoint>\n
 *
 * `seq`: the model holds every trade of every command up to it and none after. `crc32`:
 * zlib's CRC32 of the body's N bytes. In the body every Float64Array is written as
 * {"f64": "<base64 of its little-endian doubles>"}, so NaN and every double come back
 * exactly.
 */

import { crc32 } from "node:zlib";
import type { MarketCheckpoint } from "../market/market.ts";

export const MARKET_CHECKPOINT_FORMAT = "venue-market-checkpoint";
export const MARKET_CHECKPOINT_VERSION = 1;
export const MARKET_CHECKPOINT_NAME = "market.checkpoint";

interface Header {
  format: string;
  version: number;
  seq: number;
  bytes: number;
  crc32: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function replacer(_key: string, value: unknown): unknown {
  if (value instanceof Float64Array) {
    if (!LITTLE_ENDIAN) throw new Error("market checkpoints are written on little-endian machines only");
    return { f64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  return value;
}

function reviver(_key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const f = (value as { f64?: unknown }).f64;
    if (typeof f === "string" && Object.keys(value).length === 1) {
      const bytes = Buffer.from(f, "base64");
      if (bytes.length % 8 !== 0) throw new Error("a Float64Array of the checkpoint is not a whole number of doubles");
      const out = new Float64Array(bytes.length / 8);
      new Uint8Array(out.buffer).set(bytes);
      return out;
    }
  }
  return value;
}

/** The file's bytes for the model state `cp` as of `seq`. */
export function encodeMarketCheckpoint(seq: number, cp: MarketCheckpoint): Buffer {
  const body = Buffer.from(JSON.stringify(cp, replacer), "utf8");
  const header: Header = { format: MARKET_CHECKPOINT_FORMAT, version: MARKET_CHECKPOINT_VERSION, seq, bytes: body.length, crc32: crc32(body) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), body, Buffer.from("\n", "utf8")]);
}

/** The state and seq in a file's bytes, or why they cannot be used. */
export function decodeMarketCheckpoint(file: Buffer): { seq: number; checkpoint: MarketCheckpoint } | { error: string } {
  const nl = file.indexOf(10);
  if (nl < 0) return { error: "no header line" };
  let h: Header;
  try {
    h = JSON.parse(file.subarray(0, nl).toString("utf8")) as Header;
  } catch {
    return { error: "the header is not JSON" };
  }
  if (h.format !== MARKET_CHECKPOINT_FORMAT) return { error: `not a market checkpoint (format ${JSON.stringify(h.format)})` };
  if (h.version !== MARKET_CHECKPOINT_VERSION) return { error: `version ${h.version}, this build reads ${MARKET_CHECKPOINT_VERSION}` };
  if (!Number.isSafeInteger(h.seq) || h.seq < 0 || !Number.isSafeInteger(h.bytes) || h.bytes < 0) return { error: "a bad seq or size in the header" };
  const body = file.subarray(nl + 1, nl + 1 + h.bytes);
  if (body.length !== h.bytes || file.length !== nl + 1 + h.bytes + 1 || file[file.length - 1] !== 10) return { error: `the file is ${file.length} bytes, the header says ${nl + 1 + h.bytes + 1}` };
  if (crc32(body) !== h.crc32) return { error: "the body's CRC32 does not match" };
  try {
    return { seq: h.seq, checkpoint: JSON.parse(body.toString("utf8"), reviver) as MarketCheckpoint };
  } catch (e) {
    return { error: `the body does not decode: ${(e as Error).message}` };
  }
}
