/**
 * A real file layer that notes, at every fdatasync and fsync of a file it created, how many
 * bytes the file had been written to by then: for tests that files are synced as they are
 * written rather than in one burst at the end. Given `writeBacks`, its files can also write
 * back (`JournalFile.writeBack`): each range is noted there and passed to the real file.
 */

import { REAL_FS, type JournalFile, type JournalFs } from "../src/wal/file.ts";

export function syncLoggingFs(log: number[], writeBacks?: Array<[offset: number, length: number]>): JournalFs {
  return {
    ...REAL_FS,
    create(path: string): JournalFile {
      const f = REAL_FS.create(path);
      let end = 0;
      return {
        pwrite: (src, offset, len, position) => {
          const n = f.pwrite(src, offset, len, position);
          end = Math.max(end, position + n);
          return n;
        },
        fdatasync: () => {
          log.push(end);
          f.fdatasync();
        },
        fsync: () => {
          log.push(end);
          f.fsync();
        },
        ftruncate: (size) => f.ftruncate(size),
        close: () => f.close(),
        ...(writeBacks === undefined
          ? {}
          : {
              writeBack: (offset: number, length: number) => {
                writeBacks.push([offset, length]);
                f.writeBack?.(offset, length); // where the addon is missing, a no-op: the layer still can
                return true;
              },
            }),
      };
    },
  };
}

/** Checks a sync log: the last sync at `size`, and every one before it after at least `every` and under twice that more bytes. */
export function syncedEvery(log: readonly number[], size: number, every: number): string | undefined {
  if (log.at(-1) !== size) return `last sync at ${log.at(-1)}, not at the size ${size}`;
  if (log.length < Math.floor(size / every)) return `${log.length} syncs for ${size} bytes`;
  let prev = 0;
  for (const at of log.slice(0, -1)) {
    if (at - prev < every || at - prev >= 2 * every) return `a sync after ${at - prev} more bytes`;
    prev = at;
  }
  return undefined;
}

/**
 * Checks a write-back log: ranges that follow each other from byte 0, each at most `piece`
 * bytes, up to within one piece of `size` (the rest is synced in the final sync).
 */
export function wroteBackInPieces(ranges: ReadonlyArray<readonly [number, number]>, size: number, piece: number): string | undefined {
  let at = 0;
  for (const [offset, length] of ranges) {
    if (offset !== at) return `a write-back from ${offset}, the last ended at ${at}`;
    if (length <= 0 || length > piece) return `a write-back of ${length} bytes`;
    at += length;
  }
  if (at > size || size - at > piece) return `written back up to ${at} of ${size} bytes`;
  return undefined;
}
