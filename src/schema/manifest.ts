/**
 * The event store's manifest: which tables are live, at which level, and how far the
 * store is flushed. Owned here; src/lsm/manifest.ts reads and writes it;
 * docs/formats/manifest.md is its grammar.
 *
 * `CURRENT` holds the name of the live manifest file and a newline. It is replaced only
 * by writing `CURRENT.tmp`, fsyncing it, renaming it over `CURRENT` and fsyncing the
 * directory.
 *
 * A manifest file `MANIFEST-<number, 6 digits>` is a sequence of edits, each written with
 * one write and made durable with one fsync before anything depends on it:
 *
 *   0       4     payload length (u32, at most MANIFEST_EDIT_MAX)
 *   4       4     CRC32 of the payload
 *   8       len   payload: one edit, UTF-8 JSON (below)
 *
 * The first edit of a file is a full description (`"base": true`); each later one applies
 * to the state before it:
 *
 *   { "v": 1, "base"?: true,
 *     "add"?: [ { "n": file number, "level", "size", "entries", "deletions",
 *                 "smallest": hex, "largest": hex, "maxSeq" } ],
 *     "del"?: [ file number ],
 *     "nextFile"?: the next unused file number,
 *     "flushedSeq"?: the largest sequence written with an entry in a live table,
 *     "mark"?: the writer's own JSON record of how far it is flushed, as of that edit }
 *
 * An edit too large for one frame spans several (`more`, below), written with one write
 * and one fsync like any edit.
 *
 * Only the last edit can be torn (a crash during its write): damage there, with nothing
 * valid after it, is cut off at open, and so is an edit whose frames stop before its last;
 * damage anywhere else is corruption.
 */

export const MANIFEST_VERSION = 1;
export const MANIFEST_EDIT_MAX = 1 << 20;
export const MANIFEST_FRAME = 8;
export const CURRENT_NAME = "CURRENT";

export function manifestName(n: number): string {
  return `MANIFEST-${String(n).padStart(6, "0")}`;
}

export function manifestNumber(name: string): number {
  const m = /^MANIFEST-(\d{6,})$/.exec(name);
  return m === null ? -1 : Number(m[1]);
}

export interface ManifestFileEntry {
  n: number;
  level: number;
  size: number;
  entries: number;
  deletions: number;
  smallest: string;
  largest: string;
  maxSeq: number;
}

export interface ManifestEdit {
  v: number;
  base?: true;
  add?: ManifestFileEntry[];
  del?: number[];
  nextFile?: number;
  flushedSeq?: number;
  /** The writer's own record of how far it is flushed (the event store: a seq per topic). */
  mark?: unknown;
  /**
   * The edit goes on in the next frame (an edit whose payload would pass MANIFEST_EDIT_MAX,
   * such as the base edit of a store with many thousand tables): the frames' `add` lists
   * are joined, the other fields are those of the last frame (the one without `more`), and
   * the edit applies only once that frame is read.
   */
  more?: true;
}
