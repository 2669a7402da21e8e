/**
 * The crash tests' harness: starts test/wal/crash_child.ts on a data directory as a real
 * process and SIGKILLs it at a chosen point.
 */

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { Buf } from "../../src/schema/layout.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { commandFor } from "./crash_commands.ts";

const CHILD = fileURLToPath(new URL("./crash_child.ts", import.meta.url));

/**
 * Runs the child until it has reported `killAt` as durable (or more), and a snapshot if
 * `needSnapshot`, then SIGKILLs it (with `killOnSnapshot`, also as soon as it reports a
 * snapshot); returns the last durable it reported.
 */
export function runAndKill(dataDir: string, childArgs: readonly string[], killAt: number, needSnapshot: boolean, killOnSnapshot = false): Promise<{ recovered: number; durable: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dataDir, ...childArgs], { stdio: ["ignore", "pipe", "pipe"] });
    let recovered = -1;
    let durable = 0;
    let out = "";
    let err = "";
    let killed = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not reach durable ${killAt} in time (durable ${durable}); stderr: ${err}`));
    }, 60_000);
    child.stderr.on("data", (b: Buffer) => void (err += b.toString()));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString();
      let nl;
      while ((nl = out.indexOf("\n")) >= 0) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        const [word, n] = line.split(" ");
        if (word === "recovered") recovered = Number(n);
        if (word === "durable") durable = Math.max(durable, Number(n));
        if (word === "snapshot") needSnapshot = false;
        if (((durable >= killAt && !needSnapshot) || (word === "snapshot" && killOnSnapshot)) && !killed) {
          killed = true;
          child.kill("SIGKILL");
        }
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL") resolve({ recovered, durable });
      else reject(new Error(`child exited by itself (code ${code}); stderr: ${err}`));
    });
  });
}

/**
 * Recovers the journal in `journalDir` (a torn tail is cut, as a start would) and checks P2 on it: its records are
 * seqs first..last with none missing or reordered, each exactly the command submitted for
 * that seq (seq and timestamp, bytes 8..23, are stamped by the loop). Returns first and last.
 */
export function checkJournal(journalDir: string): { first: number; last: number } {
  const check = Buf.alloc(512);
  let first = -1;
  let last = -1;
  // Plain checks per record, not expect(): the full run's journal grows past a million
  // records, and with an expect() per field this check took 36 s at 775,000 records (2 s now).
  recoverJournal(journalDir, (buf, offset, size, seq) => {
    const want = commandFor(check, 0, seq);
    if (size !== want) throw new Error(`seq ${seq}: a record of ${size} bytes where ${want} were submitted`);
    const same = (from: number, to: number): boolean => Buffer.compare(buf.u8.subarray(offset + from, offset + to), check.u8.subarray(from, to)) === 0;
    if (!same(0, 8) || !same(24, size)) throw new Error(`seq ${seq}: the recovered command differs from the one submitted`);
    const stamped = buf.dv.getUint32(offset + 8, true);
    if (stamped !== seq) throw new Error(`seq ${seq}: the record is stamped ${stamped}`);
    if (first >= 0 && seq !== last + 1) throw new Error(`journal seqs run with a gap: ${last} then ${seq}`);
    if (first < 0) first = seq;
    last = seq;
  });
  return { first, last };
}
