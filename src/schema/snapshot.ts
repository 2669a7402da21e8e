/**
 * The engine snapshot file layout. Owned here; src/wal/snapshot_file.ts writes and reads
 * it; docs/formats/snapshot.md is its grammar. Little-endian.
 *
 *   header (64 bytes)
 *     0   4  magic "VSNP"
 *     4   2  version (1)
 *     6   2  header size (64)
 *     8   8  seq: the state is the engine's after applying every command up to it
 *     16  4  shape bytes (UTF-8 JSON, see src/engine/state.ts)
 *     20  4  blob count
 *     24  8  file size
 *     32  8  created, ns since the epoch
 *     40  20 zero
 *     60  4  CRC32 of bytes 0..59
 *   blob table: per blob, u64 offset and u64 length (16 bytes each)
 *   shape JSON, zero-padded to 8
 *   blobs, each at an 8-aligned offset
 *   trailer (8 bytes): u32 CRC32 of every byte before it, u32 zero
 *
 * Files are named `snapshot-<seq, 16 digits>.snap`; one being written is `.tmp` until it is
 * complete, fsynced and renamed.
 */

export const SNAP_MAGIC = 0x504e5356; // "VSNP"
export const SNAP_VERSION = 1;
export const SNAP_HEADER_BYTES = 64;
export const SNAP_TRAILER_BYTES = 8;

export const SH_MAGIC = 0;
export const SH_VERSION = 4;
export const SH_HEADER_SIZE = 6;
export const SH_SEQ = 8;
export const SH_SHAPE_BYTES = 16;
export const SH_BLOBS = 20;
export const SH_FILE_SIZE = 24;
export const SH_CREATED = 32;
export const SH_CRC = 60;

export function snapshotName(seq: number): string {
  return `snapshot-${String(seq).padStart(16, "0")}.snap`;
}

/** The seq in a snapshot's name, or -1 if the name is not a finished snapshot's. */
export function snapshotSeq(name: string): number {
  const m = /^snapshot-(\d{16})\.snap$/.exec(name);
  return m === null ? -1 : Number(m[1]);
}
