/**
 * The event store's keys. Owned here; src/store/ writes and reads them;
 * docs/formats/sstable.md describes them with the tables that hold them.
 *
 * Events are stored in entries under 16-byte keys, compared as unsigned bytes, so that one
 * instrument's history on one topic is one contiguous range in sequence order:
 *
 *   offset  size  field (big-endian)
 *   0       1     topic: 1 trades, 2 accounts, 3 l2
 *   1       4     instrument (the event header's instrument field)
 *   5       8     seq (of the command that caused the event)
 *   13      2     index: the first event's place among its command's events on this topic
 *   15      1     zero
 *
 * and an entry's value is one or more event records exactly as the engine emitted them,
 * back to back (each record's header gives its size): consecutive events of that command,
 * topic and instrument, the first at `index`, the next at `index + 1`, and so on. Entries of
 * one seq may overlap (a store that writes a seq again after a restart may gather its events
 * into entries differently); an event's bytes are the same in every entry that holds it, and
 * a reader takes each index once, from the first entry in key order that holds it. A store
 * that held one event per entry reads the same way.
 *
 * A time index maps command time to sequence: key [0, timestamp (u64, ns), seq (u64)]
 * (17 bytes) with an empty value, for the first seq stamped with each timestamp (and a few
 * more; src/store/event_store.ts). A time range is found as the seq range between two seeks
 * in it.
 */

import { HEADER_SIZE, H_SIZE } from "./layout.ts";

export const STORE_KEY_BYTES = 16;
export const TIME_KEY_BYTES = 17;
export const TIME_INDEX_TOPIC = 0;
/** Topic numbers in keys, by ring name. */
export const STORE_TOPIC = { trades: 1, accounts: 2, l2: 3 } as const;

export function putU64BE(k: Uint8Array, at: number, v: number): void {
  const hi = Math.floor(v / 4294967296);
  const lo = v >>> 0;
  k[at] = hi >>> 24;
  k[at + 1] = (hi >>> 16) & 0xff;
  k[at + 2] = (hi >>> 8) & 0xff;
  k[at + 3] = hi & 0xff;
  k[at + 4] = lo >>> 24;
  k[at + 5] = (lo >>> 16) & 0xff;
  k[at + 6] = (lo >>> 8) & 0xff;
  k[at + 7] = lo & 0xff;
}

export function getU64BE(k: Uint8Array, at: number): number {
  const hi = ((k[at]! << 24) | (k[at + 1]! << 16) | (k[at + 2]! << 8) | k[at + 3]!) >>> 0;
  const lo = ((k[at + 4]! << 24) | (k[at + 5]! << 16) | (k[at + 6]! << 8) | k[at + 7]!) >>> 0;
  return hi * 4294967296 + lo;
}

/** Writes the event key into `k` (16 bytes). */
export function eventKey(k: Uint8Array, topic: number, instrument: number, seq: number, index: number): Uint8Array {
  k[0] = topic;
  k[1] = instrument >>> 24;
  k[2] = (instrument >>> 16) & 0xff;
  k[3] = (instrument >>> 8) & 0xff;
  k[4] = instrument & 0xff;
  putU64BE(k, 5, seq);
  k[13] = index >>> 8;
  k[14] = index & 0xff;
  k[15] = 0;
  return k;
}

/** The time-index key; the timestamp is a bigint (ns since the epoch exceed 2^53). */
export function timeKey(k: Uint8Array, timestampNs: bigint, seq: number): Uint8Array {
  k[0] = TIME_INDEX_TOPIC;
  const t = BigInt.asUintN(64, timestampNs);
  putU64BE(k, 1, 0);
  for (let i = 0; i < 8; i++) k[1 + i] = Number((t >> BigInt(56 - 8 * i)) & 0xffn);
  putU64BE(k, 9, seq);
  return k;
}

/** The same key from a record's little-endian timestamp bytes, without a bigint. */
export function timeKeyFromRecord(k: Uint8Array, record: Uint8Array, tsOffset: number, seq: number): Uint8Array {
  k[0] = TIME_INDEX_TOPIC;
  for (let i = 0; i < 8; i++) k[1 + i] = record[tsOffset + 7 - i]!;
  putU64BE(k, 9, seq);
  return k;
}

/**
 * The size of the event record at byte `at` of an entry's value (its header's size field),
 * or -1 where that is not a whole record within the value.
 */
export function entryRecordSize(value: Uint8Array, at: number): number {
  const size = value[at + H_SIZE]! | (value[at + H_SIZE + 1]! << 8);
  return size < HEADER_SIZE || at + size > value.length ? -1 : size;
}
