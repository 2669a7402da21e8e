/**
 * The market-data checkpoint file layout. Owned here; src/market/checkpoint_file.ts writes
 * and reads it; docs/formats/market-checkpoint.md is its grammar.
 *
 * Every file is a header line and a body:
 *
 *   {"format":F,"version":V,"seq":S,"bytes":N,"json":J,"crc32":C}\n
 *   <body: N bytes>\n
 *
 * The body is J bytes of UTF-8 JSON (every Float64Array in it written as
 * {"f64":[first, count]}), zero bytes up to the next multiple of 8, then the doubles of all
 * those arrays, little-endian, back to back: array i is `count` doubles from double `first`
 * of that section. So the arrays are copied, not encoded, and every double (NaN too) comes
 * back exactly. `crc32`: zlib's CRC32 of the body's N bytes.
 *
 * Version 3 (written): `market.checkpoint` (format "venue-market-checkpoint") holds a
 * MarketManifest: the trading day and, per instrument index, the name, size and CRC32 of a
 * part file (format "venue-market-instrument", version 1) holding that instrument's
 * InstrumentCheckpoint. `seq`: the model holds every trade of every command up to it and
 * none after. A part is named by instrument index and the writer's generation
 * (`part-<index>-<generation>.bin`) and never rewritten: a checkpoint writes parts only for
 * the instruments that changed since the one before, and names the others' parts again.
 *
 * Version 2 (still read): one file, `market.checkpoint`, whose body holds the whole
 * MarketCheckpoint. Version 1 (still read): the same header without `json`, and a body of
 * JSON only, each Float64Array as {"f64": "<base64 of its little-endian doubles>"}.
 */

import { crc32 } from "node:zlib";
import type { InstrumentCheckpoint, MarketCheckpoint } from "../market/market.ts";

export const MARKET_CHECKPOINT_FORMAT = "venue-market-checkpoint";
export const MARKET_CHECKPOINT_VERSION = 3;
export const MARKET_CHECKPOINT_NAME = "market.checkpoint";
export const MARKET_PART_FORMAT = "venue-market-instrument";
export const MARKET_PART_VERSION = 1;

/** A version 3 checkpoint's part of one instrument, as the manifest names it. */
export interface MarketPartEntry {
  symbol: string;
  /** The part file's name, in the checkpoint's directory. */
  file: string;
  /** The whole file's size and zlib CRC32. */
  bytes: number;
  crc32: number;
}

/** What a version 3 `market.checkpoint` holds. */
export interface MarketManifest {
  day: string;
  /** By instrument index; null where none is defined. */
  parts: Array<MarketPartEntry | null>;
}

/** The part file name of an instrument index and a writer's generation. */
export function marketPartName(index: number, generation: number): string {
  return `part-${index}-${generation}.bin`;
}

/** The generation in a part file's name, or -1 if it is not one. */
export function marketPartGeneration(name: string): number {
  const m = /^part-(\d+)-(\d+)\.bin$/.exec(name);
  return m === null ? -1 : Number(m[2]);
}

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

/** A file of `format` and `version` holding `value` as of `seq` (the layout above). */
function encodeFile(format: string, version: number, seq: number, value: unknown): Buffer {
  if (!LITTLE_ENDIAN) throw new Error("market checkpoints are written on little-endian machines only");
  const arrays: Float64Array[] = [];
  let doubles = 0;
  const json = Buffer.from(
    JSON.stringify(value, (_key: string, v: unknown): unknown => {
      if (!(v instanceof Float64Array)) return v;
      arrays.push(v);
      const ref = { f64: [doubles, v.length] };
      doubles += v.length;
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
  const header: Header = { format, version, seq, bytes: body.length, json: json.length, crc32: crc32(body) };
  return Buffer.concat([Buffer.from(`${JSON.stringify(header)}\n`, "utf8"), body, Buffer.from("\n", "utf8")]);
}

/** A version 2 file: the whole model state `cp` as of `seq` in one file (read still; tests and benchmarks write it). */
export function encodeMarketCheckpoint(seq: number, cp: MarketCheckpoint): Buffer {
  return encodeFile(MARKET_CHECKPOINT_FORMAT, 2, seq, cp);
}

/** A version 3 `market.checkpoint`: the manifest naming each instrument's part. */
export function encodeMarketManifest(seq: number, m: MarketManifest): Buffer {
  return encodeFile(MARKET_CHECKPOINT_FORMAT, MARKET_CHECKPOINT_VERSION, seq, m);
}

/** A part file: one instrument's checkpoint as of `seq`. */
export function encodeMarketPart(seq: number, part: InstrumentCheckpoint): Buffer {
  return encodeFile(MARKET_PART_FORMAT, MARKET_PART_VERSION, seq, part);
}

/** A part file's instrument checkpoint, or why it cannot be used. */
export function decodeMarketPart(file: Buffer): { seq: number; part: InstrumentCheckpoint } | { error: string } {
  const r = decodeFile(file, MARKET_PART_FORMAT, [MARKET_PART_VERSION]);
  return "error" in r ? r : { seq: r.seq, part: r.value as InstrumentCheckpoint };
}

/**
 * The state and seq in a `market.checkpoint` file's bytes: the whole state (versions 1 and
 * 2), the manifest (version 3, whose parts the caller reads), or why they cannot be used.
 */
export function decodeMarketCheckpointFile(file: Buffer): { seq: number; checkpoint: MarketCheckpoint } | { seq: number; manifest: MarketManifest } | { error: string } {
  const r = decodeFile(file, MARKET_CHECKPOINT_FORMAT, [1, 2, MARKET_CHECKPOINT_VERSION]);
  if ("error" in r) return r;
  if (r.version < 3) return { seq: r.seq, checkpoint: r.value as MarketCheckpoint };
  const m = r.value as MarketManifest;
  if (typeof m !== "object" || m === null || typeof m.day !== "string" || !Array.isArray(m.parts)) return { error: "the manifest is not a day and a list of parts" };
  for (const p of m.parts) {
    if (p === null) continue;
    if (typeof p !== "object" || typeof p.symbol !== "string" || typeof p.file !== "string" || marketPartGeneration(p.file) < 0 || !Number.isSafeInteger(p.bytes) || !Number.isSafeInteger(p.crc32)) {
      return { error: `the manifest names a part badly: ${JSON.stringify(p)}` };
    }
  }
  return { seq: r.seq, manifest: m };
}

/** A version 1 or 2 file's whole state (tests and tools; a start reads through checkpoint_file.ts). */
export function decodeMarketCheckpoint(file: Buffer): { seq: number; checkpoint: MarketCheckpoint } | { error: string } {
  const r = decodeMarketCheckpointFile(file);
  return "manifest" in r ? { error: "a version 3 checkpoint: its parts are separate files" } : r;
}

/** The value in a file's bytes, of `format` and one of `versions`, or why it cannot be used. */
function decodeFile(file: Buffer, format: string, versions: readonly number[]): { seq: number; version: number; value: unknown } | { error: string } {
  const nl = file.indexOf(10);
  if (nl < 0) return { error: "no header line" };
  let h: Header;
  try {
    h = JSON.parse(file.subarray(0, nl).toString("utf8")) as Header;
  } catch {
    return { error: "the header is not JSON" };
  }
  if (h.format !== format) return { error: `not a ${format === MARKET_PART_FORMAT ? "market checkpoint part" : "market checkpoint"} (format ${JSON.stringify(h.format)})` };
  if (!versions.includes(h.version)) return { error: `version ${h.version}, this build reads ${versions.join(", ")}` };
  if (!Number.isSafeInteger(h.seq) || h.seq < 0 || !Number.isSafeInteger(h.bytes) || h.bytes < 0) return { error: "a bad seq or size in the header" };
  const body = file.subarray(nl + 1, nl + 1 + h.bytes);
  if (body.length !== h.bytes || file.length !== nl + 1 + h.bytes + 1 || file[file.length - 1] !== 10) return { error: `the file is ${file.length} bytes, the header says ${nl + 1 + h.bytes + 1}` };
  if (crc32(body) !== h.crc32) return { error: "the body's CRC32 does not match" };
  try {
    if (h.version === 1 && format === MARKET_CHECKPOINT_FORMAT) return { seq: h.seq, version: 1, value: JSON.parse(body.toString("utf8"), reviverV1) };
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
    return { seq: h.seq, version: h.version, value: JSON.parse(body.subarray(0, json).toString("utf8"), reviver) };
  } catch (e) {
    return { error: `the body does not decode: ${(e as Error).message}` };
  }
}
