/**
 * `venue replay FILE [--final-book]`: commands as JSON lines in, events as JSON lines out.
 * Reads FILE (or standard input for "-") as a stream and writes with backpressure, so a
 * replay of any length runs in bounded memory.
 */

import { createReadStream, constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { Replayer } from "../replay/replayer.ts";

/** A file the command was asked to read cannot be read; `venue` prints it and exits 1. */
export class InputError extends Error {
  override readonly name = "InputError";
  constructor(message: string, readonly code: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export async function replayCommand(file: string, finalBook: boolean, output: Writable = process.stdout): Promise<void> {
  if (file !== "-") {
    try {
      await access(file, constants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "EIO";
      throw new InputError(`cannot read ${file} (${code})`, code, { cause: err });
    }
    if ((await stat(file)).isDirectory()) throw new InputError(`cannot read ${file} (EISDIR)`, "EISDIR");
  }
  const input = file === "-" ? process.stdin : createReadStream(file, { encoding: "utf8" });
  const lines = createInterface({ input, crlfDelay: Infinity });
  const replayer = new Replayer();
  let pending: string[] = [];
  let pendingBytes = 0;
  const emit = (line: string): void => {
    pending.push(line);
    pendingBytes += line.length + 1;
  };
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const chunk = pending.join("\n") + "\n";
    pending = [];
    pendingBytes = 0;
    if (!output.write(chunk)) await once(output, "drain");
  };
  for await (const line of lines) {
    replayer.feed(line, emit);
    if (pendingBytes >= 1 << 16) await flush();
  }
  if (finalBook) replayer.finalBook(emit);
  await flush();
}
