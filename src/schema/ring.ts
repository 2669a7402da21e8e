/**
 * The ring layout: one SharedArrayBuffer per ring, a header of 128-byte lines (so no two
 * threads' hot cells share a cache line, with room for adjacent-line prefetch) followed
 * by the data area. Owned here; src/bus/ring.ts is its only reader and writer, and
 * docs/formats/ring.md is its grammar.
 *
 *   line  cells (i32 index within the header)        written by
 *   0     0 magic  1 version  2 capacity  3 slots      the creator, once
 *   1     32 published: end of the published records   the producer
 *   2     64 claimed: end of what the producer may     the producer (ahead of writing)
 *               be writing (lossy consumers check it)
 *   3     96 parked consumers (count)                  consumers
 *   4     128 producer parked (0 or 1)                 the producer
 *   5+s   consumer slot s: +0 cursor, +1 state,        the consumer (cursor), the owner and
 *         +2 critical, +3 overruns                     the producer (state)
 *
 * Positions (published, claimed, cursors) are byte counts since the ring was made, kept
 * modulo 2^32 in an i32 and compared with wrap-safe differences: `(a - b) | 0`. The data
 * area holds `capacity` bytes (a power of two, at most 2^30), so a position's offset is
 * `position & (capacity - 1)` and every difference that matters is below 2^31.
 *
 * The data area holds records exactly as src/schema lays them out (commands or events:
 * the 24-byte header with kind, version and size, 8-aligned sizes). A record never
 * straddles the end of the area: when one does not fit, the producer writes a padding
 * record (kind 0, version 1, size = bytes to the end) and the record starts at offset 0.
 */

export const RING_MAGIC = 0x474e4952; // "RING" little-endian
export const RING_VERSION = 1;
export const RING_LINE_BYTES = 128;
const LINE = RING_LINE_BYTES / 4;

export const R_MAGIC = 0;
export const R_VERSION = 1;
export const R_CAPACITY = 2;
export const R_SLOTS = 3;
export const R_PUBLISHED = LINE;
export const R_CLAIMED = 2 * LINE;
export const R_PARKED_CONSUMERS = 3 * LINE;
export const R_PRODUCER_PARKED = 4 * LINE;
const FIRST_SLOT_LINE = 5;

/** Cells of a consumer slot, relative to slotCell(s). */
export const S_CURSOR = 0;
export const S_STATE = 1;
export const S_CRITICAL = 2;
export const S_OVERRUNS = 3;

/** Consumer slot states. */
export const SlotState = {
  /** No consumer: ignored by the producer. */
  free: 0,
  /** Holds the producer back when it lags a whole ring (backpressure, no loss). */
  gating: 1,
  /** Never holds the producer back; detects being overrun and skips to the live position. */
  lossy: 2,
  /** A gating consumer the producer stopped waiting for; it must rejoin (see RingConsumer). */
  cutOff: 3,
  /** Closed by the owner (its worker died or left): ignored by the producer. */
  closed: 4,
} as const;
export type SlotState = (typeof SlotState)[keyof typeof SlotState];

/** Record kind 0 in a ring is padding to the end of the data area. */
export const RING_PADDING_KIND = 0;
export const RING_SLOTS_MAX = 64;
export const RING_CAPACITY_MIN = 1 << 12;
export const RING_CAPACITY_MAX = 1 << 30;
/** The largest record a ring takes: a record's size is a u16, 8-aligned. */
export const RING_RECORD_MAX = 0xfff8;

export function slotCell(slot: number): number {
  return (FIRST_SLOT_LINE + slot) * LINE;
}

export function ringHeaderBytes(slots: number): number {
  return (FIRST_SLOT_LINE + slots) * RING_LINE_BYTES;
}

/** Word 0 of a padding record: kind 0, version 1, size. */
export function paddingWord(size: number): number {
  return RING_PADDING_KIND | (1 << 8) | (size << 16);
}
