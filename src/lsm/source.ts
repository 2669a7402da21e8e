/**
 * Opens a table file for reading. For now positioned reads (each call returns fresh
 * bytes); the mapped path arrives with the native addon.
 */

import { closeSync, fstatSync, openSync, readFileSync, readSync } from "node:fs";
import type { TableSource } from "./table_reader.ts";

/** The whole file read into memory at once (a compaction reads every byte of its inputs). */
export function readWholeTable(path: string): TableSource {
  const bytes = new Uint8Array(readFileSync(path));
  return {
    size: bytes.length,
    bytes: (offset: number, length: number): Uint8Array => {
      if (offset + length > bytes.length) throw new RangeError(`${path}: read past the end at ${offset + length}`);
      return bytes.subarray(offset, offset + length);
    },
    close: (): void => {},
  };
}

export function openTableSource(path: string): TableSource {
  const fd = openSync(path, "r");
  const size = fstatSync(fd).size;
  let open = true;
  return {
    size,
    bytes(offset: number, length: number): Uint8Array {
      const out = new Uint8Array(length);
      let at = 0;
      while (at < length) {
        const n = readSync(fd, out, at, length - at, offset + at);
        if (n === 0) throw new RangeError(`${path}: read past the end at ${offset + at}`);
        at += n;
      }
      return out;
    },
    close(): void {
      if (open) closeSync(fd);
      open = false;
    },
  };
}
