/**
 * `venue start` as a child process for the CLI tests: its output gathered, the gateway's URL
 * once the whole banner is out, and its exit code. `ulimit` (a shell's ulimit options) runs
 * it under those limits through `sh`.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { join } from "node:path";

const BIN = join(import.meta.dirname, "..", "..", "bin", "venue.js");

export interface VenueChild {
  child: ChildProcess;
  output: () => string;
  url: Promise<string>;
  exit: Promise<number | null>;
}

export function startVenue(args: readonly string[], ulimit?: string): VenueChild {
  const child =
    ulimit === undefined
      ? spawn(process.execPath, [BIN, "start", ...args], { stdio: ["ignore", "pipe", "pipe"] })
      : spawn("sh", ["-c", `ulimit ${ulimit} && exec ${[process.execPath, BIN, "start", ...args].map((a) => `'${a}'`).join(" ")}`], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => (out += String(d)));
  child.stderr!.on("data", (d) => (out += String(d)));
  const url = new Promise<string>((res, rej) => {
    const t = setInterval(() => {
      // The URL, once the whole banner is out (its last line): the output comes in chunks.
      const m = /DIFF gateway: (ws:\/\/[\d.]+:\d+)\/md/.exec(out);
      if (m !== null && out.includes("Ctrl-C stops the node gracefully")) {
        clearInterval(t);
        res(m[1]!);
      }
    }, 50);
    child.once("exit", () => {
      clearInterval(t);
      rej(new Error(`venue start exited early:\n${out}`));
    });
  });
  const exit = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  return { child, output: () => out, url, exit };
}
