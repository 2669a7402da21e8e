/**
 * The market-data checkpoint file layout. Owned here; src/market/checkpoint_file.ts writes
 * and reads it; docs/formats/market-checkpoint.md is its grammar.
 *
 * Version 2 (written), a header line and a body:
 *
 *   {"format":"venue-market-checkpoint","version":2,"seq":S,"bytes":N,"json":J,"crc32":C}\n
 *   <body: N bytes>\n
 *
 * The body is J bytes of UTF-8 JSON (a MarketCheckpoint whose every Float64Array is written
 * as {"f64":[first, count]}), zero bytes up to the next multiple of 8, then the doubles of
 * all those arrays, little-endian, back to back: array i is `count` doubles from double
 * `first` of that section. So the arrays are copied, not encoded, and every double (NaN
 * too) comes back exactly. `seq`: the model holds every trade of every command up to it and
 * none after. `crc32`: zlib's CRC32 of the body's N bytes.
 *
 * Version 1 (still read): the same header without `json`, and a body of JSON only, each
 * Float64Array as {"f64": "<base64 of its little-endian doubles>"}.
 */

import { crc32 } from "node:zlib";
import type { MarketCheckpoint } from "../market/market.ts";

export const MARKET_CHECKPOINT_FORMAT = "venue-market-checkpoint";
export const MARKET_CHECKPOINT_VERSION = 2;
export const MARKET_CHECKPOINT_NAME = "market.checkpoint";

interface Header {
  format: string;
  version: number;
  seq: number;
  bytes: number;
  /** Version 2: the JSON part's length. */
  json?: number;
  crc32: number;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Version 1's arrays: base64 text in the JSON. */
function reviverV1(_key: string, value: unknown): unknown {
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

const align8 = (n: number): number => (n + 7) & ~7;

/** The file's bytes for the model state `cp` as of `seq` (version 2). */
export function encodeMarketCheckpoint(seq: number, cp: MarketCheckpoint): Buffer {
  if (!LITTLE_ENDIAN) throw new Error("market checkpoints are written on little-endian machines only");
  const arrays: Float64Array[] = [];
  let doubles = 0;
  const json = Buffer.from(
    JSON.stringify(cp, (_key: string, value: unknown): unknown => {
      if (!(value instanceof Float64Array)) return value;
      arrays.push(value);
      const ref = { f64: [doubles, value.length] };
      doubles += value.length;
      return ref;
    }),
    "utf8",
  );
  const at = align8(json.length);
  const body = Buffer.alloc(at + doubles * 8);
  json.copy(body, 0);
  let o = at;
  for (const a of arrays) {
    body.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), o);
    o += a.byteLength;
  }
  const header: Header = { format: MARKET_CHECKPOINT_FORMAT, version: MARKET_CHECKPOINT_VERSION, seq, bytes: body.length, json: json.length, crc32: crc32(body) };
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
  if (h.version !== 1 && h.version !== 2) return { error: `version ${h.version}, this build reads 1 and 2` };
  if (!Number.isSafeInteger(h.seq) || h.seq < 0 || !Number.isSafeInteger(h.bytes) || h.bytes < 0) return { error: "a bad seq or size in the header" };
  const body = file.subarray(nl + 1, nl + 1 + h.bytes);
  if (body.length !== h.bytes || file.length !== nl + 1 + h.bytes + 1 || file[file.length - 1] !== 10) return { error: `the file is ${file.length} bytes, the header says ${nl + 1 + h.bytes + 1}` };
  if (crc32(body) !== h.crc32) return { error: "the body's CRC32 does not match" };
  try {
    if (h.version === 1) return { seq: h.seq, checkpoint: JSON.parse(body.toString("utf8"), reviverV1) as MarketCheckpoint };
    const json = h.json;
    if (!Number.isSafeInteger(json) || json! < 0 || align8(json!) > body.length || (body.length - align8(json!)) % 8 !== 0) return { error: "a bad JSON length in the header" };
    const at = align8(json!);
    const doubles = (body.length - at) / 8;
    const reviver = (_key: string, value: unknown): unknown => {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return value;
      const f = (value as { f64?: unknown }).f64;
      if (!Array.isArray(f) || Object.keys(value).length !== 1) return value;
      const [first, count] = f as unknown[];
      if (!Number.isSafeInteger(first) || !Number.isSafeInteger(count) || (first as number) < 0 || (count as number) < 0 || (first as number) + (count as number) > doubles) {
        throw new Error("an array of the checkpoint lies outside its doubles");
      }
      const out = new Float64Array(count as number);
      new Uint8Array(out.buffer).set(body.subarray(at + 8 * (first as number), at + 8 * ((first as number) + (count as number))));
      return out;
    };
    return { seq: h.seq, checkpoint: JSON.parse(body.subarray(0, json).toString("utf8"), reviver) as MarketCheckpoint };
  } catch (e) {
    return { error: `the body does not decode: ${(e as Error).message}` };
  }
}
