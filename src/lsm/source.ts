/**
 * Opens a table file for reading. For now positioned reads (each call returns fresh
 * bytes); the mapped path arrives with the native addon.
 */

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { TableSource } from "./table_reader.ts";

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
