/**
 * A real file layer that notes, at every fdatasync and fsync of a file it created, how many
 * bytes the file had been written to by then: for tests that files are synced as they are
 * written rather than in one burst at the end.
 */

import { REAL_FS, type JournalFile, type JournalFs } from "../src/wal/file.ts";

export function syncLoggingFs(log: number[]): JournalFs {
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
