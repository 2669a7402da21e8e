/**
 * The journal (write-ahead log) layout: segment files of framed command records. Owned
 * here; src/wal/ reads and writes it; docs/formats/wal.md is its grammar.
 *
 * A segment is named `journal-<first seq, 16 digits>.wal` and starts with a 64-byte header:
 *
 *   offset  size  field
 *   0       4     magic "VWAL"
 *   4       2     version (1)
 *   6       2     header size (64)
 *   8       8     segment number (0, 1, 2, ...)
 *   16      4     salt: random per journal, the seed of every record's CRC in it
 *   20      4     CRC of the last record of the previous segment (0 for the first)
 *   24      8     first seq this segment holds (the previous segment's last + 1)
 *   32      8     created, ns since the epoch
 *   40      20    zero
 *   60      4     CRC32 of bytes 0..59
 *
 * then records, back to back from offset 64, each 8-aligned:
 *
 *   0       4     payload length (bytes, a multiple of 8)
 *   4       1     type (1 = command)
 *   5       3     records before this one in its group (u24): a group is what one write
 *                 and one fdatasync made durable, so recovery can tell damage inside the
 *                 last, unsynced group (a torn tail) from damage to an earlier one
 *   8       8     seq
 *   16      len   payload: the command record exactly as the engine applied it
 *   16+len  4     CRC32 (seeded with the salt) of bytes 0 .. 16+len of this frame
 *   20+len  4     zero
 *
 * After the last record the file holds zeros (segments are sized up front), so a zero
 * length word ends the records. Integers are little-endian.
 */

export const WAL_MAGIC = 0x4c415756; // "VWAL"
export const WAL_VERSION = 1;
export const WAL_HEADER_BYTES = 64;
export const WAL_FRAME_OVERHEAD = 24;
export const WAL_TYPE_COMMAND = 1;
/**
 * The most bytes one group (one write, one fdatasync) may hold. Recovery relies on it: a
 * group is written only after the one before it is synced, so whatever a crash can leave
 * after the last whole record lies within one group's length of it, and a later group
 * starts within one group's length of any damage. Recovery reads that far past the end.
 */
export const WAL_GROUP_BYTES_MAX = 1 << 20;

export const WH_MAGIC = 0;
export const WH_VERSION = 4;
export const WH_HEADER_SIZE = 6;
export const WH_SEGMENT = 8;
export const WH_SALT = 16;
export const WH_PREV_CRC = 20;
export const WH_FIRST_SEQ = 24;
export const WH_CREATED = 32;
export const WH_CRC = 60;

export const WF_LENGTH = 0;
export const WF_TYPE = 4;
/** The u24 "records before this one in its group", in bytes 5..7 (the type word's upper 24 bits). */
export const WF_GROUP_INDEX_SHIFT = 8;
export const WF_SEQ = 8;
export const WF_PAYLOAD = 16;

/** Bytes a frame of a `payload`-byte record takes on disk. */
export function frameBytes(payload: number): number {
  return payload + WAL_FRAME_OVERHEAD;
}

export function segmentName(firstSeq: number): string {
  return `journal-${String(firstSeq).padStart(16, "0")}.wal`;
}

/**
 * The next segment, made ahead: every byte zero, written and synced, so that a group commit
 * into it writes data blocks only. Written as PREPARING_SEGMENT_NAME, renamed to
 * PREPARED_SEGMENT_NAME once whole and synced (so a file by that name is whole, across a
 * crash or a restart too). Neither is a segment: recovery and `venue verify` pass them by
 * (recovery removes an unfinished one); the writer renames a prepared one to a segment's
 * name when it takes it.
 */
export const PREPARING_SEGMENT_NAME = "journal-next.tmp";
export const PREPARED_SEGMENT_NAME = "journal-next.zero";

/** The first seq in a segment's name, or -1 if the name is not a segment's. */
export function segmentFirstSeq(name: string): number {
  const m = /^journal-(\d{16})\.wal$/.exec(name);
  return m === null ? -1 : Number(m[1]);
}
