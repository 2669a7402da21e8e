/**
 * `venue replay FILE [--final-book]`: commands as JSON lines in, events as JSON lines out.
 * Reads FILE (or standard input for "-") as a stream and writes with backpressure, so a
 * replay of any length runs in bounded memory.
 */

import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { once } from "node:events";
import type { Writable } from "node:stream";
import { Replayer } from "../replay/replayer.ts";

export async function replayCommand(file: string, finalBook: boolean, output: Writable = process.stdout): Promise<void> {
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
