/**
 * How the event store opens its tables: through src/native/mmap.ts, which maps a table
 * read-only (the native addon; views of the mapping, no copy) or reads it with pread
 * where the addon is not built. A point read touches few blocks, so tables are advised
 * for random access; a compaction reads its inputs from start to end.
 */

import { openReadOnly, type OpenOptions } from "../native/mmap.ts";
import type { TableSource } from "./table_reader.ts";

/** A table for point reads and scans. */
export function openTableSource(path: string, opts?: OpenOptions): TableSource {
  const f = openReadOnly(path, opts);
  f.advise("random");
  return f;
}

/** A table a compaction reads whole, once, in order. */
export function readWholeTable(path: string): TableSource {
  const f = openReadOnly(path);
  f.advise("sequential");
  return f;
}
