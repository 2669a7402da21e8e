/**
 * The audit file: the gateway's audit lines (logins and their refusals, sessions closed,
 * admin requests), kept apart from the node's log in `DATA/audit/audit.log` so that they
 * outlive whatever happens to stdout. One JSON object per line, `{"time": ISO, "msg": text}`,
 * the same text as the log's `audit` lines.
 *
 * Bounded on disk and in memory: the file is rotated when a line would take it past
 * `maxBytes` (renamed `audit-<time>.log`; lines still waiting for the disk reach it, and a
 * new `audit.log` is opened at once) and only the newest `keep` rotated files stay; writes
 * go through pino's asynchronous destination over a descriptor opened here, with at most
 * `maxBufferBytes` waiting, beyond which lines are dropped, counted, and said once in the log
 * (a disk that stalls must not grow the main thread's memory).
 *
 * Main thread only (the node's log callback); a line costs a small buffered write.
 */

import { fstatSync, mkdirSync, openSync, readdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { pino } from "pino";

export const AUDIT_DIR = "audit";
export const AUDIT_FILE = "audit.log";
const ROTATED = /^audit-(\d{8}T\d{9}Z)(-\d+)?\.log$/;

export interface AuditFileOptions {
  /** Bytes a file holds before it is rotated (default 64 MiB). */
  maxBytes?: number;
  /** Rotated files kept, newest first (default 16). */
  keep?: number;
  /** Bytes waiting for the disk at most; more is dropped and counted (default 8 MiB). */
  maxBufferBytes?: number;
  /** Where the audit file says what it did (a rotation's failure, dropped lines). */
  log?: (line: string, level?: "info" | "warn") => void;
  /** The clock for the lines' times and the rotated names (tests). */
  nowMs?: () => number;
}

export class AuditFile {
  readonly dir: string;
  readonly path: string;
  /** Lines dropped because too much was waiting for the disk. */
  dropped = 0;
  rotations = 0;
  rotateFailures = 0;
  private bytes: number;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly nowMs: () => number;
  private readonly log: (line: string, level?: "info" | "warn") => void;
  private readonly maxBufferBytes: number;
  private out: ReturnType<typeof pino.destination>;
  /** Destinations of rotated files still writing what was waiting (close waits for them). */
  private readonly ending = new Set<Promise<void>>();
  private closed = false;

  constructor(dataDir: string, o: AuditFileOptions = {}) {
    this.dir = join(dataDir, AUDIT_DIR);
    this.path = join(this.dir, AUDIT_FILE);
    this.maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    this.keep = o.keep ?? 16;
    this.nowMs = o.nowMs ?? Date.now;
    this.log = o.log ?? (() => {});
    this.maxBufferBytes = o.maxBufferBytes ?? 8 * 1024 * 1024;
    mkdirSync(this.dir, { recursive: true });
    this.bytes = 0;
    this.out = this.open();
  }

  /** A destination over `audit.log`, opened now for appending (its size read into `bytes`). */
  private open(): ReturnType<typeof pino.destination> {
    const fd = openSync(this.path, "a");
    this.bytes = fstatSync(fd).size;
    const out = pino.destination({ fd, sync: false, maxLength: this.maxBufferBytes });
    out.on("drop", () => {
      if (this.dropped++ === 0) this.log("audit file: the disk is not keeping up; audit lines are being dropped from the file (the log still has them)", "warn");
    });
    out.on("error", (err: Error) => this.log(`audit file: ${err.message}`, "warn"));
    return out;
  }

  /** Ends destination `out`: what it holds is written, then its descriptor closed. */
  private end(out: ReturnType<typeof pino.destination>): Promise<void> {
    const done = new Promise<void>((resolve) => {
      out.once("close", () => resolve());
      out.end();
    });
    this.ending.add(done);
    void done.then(() => this.ending.delete(done));
    return done;
  }

  /** Appends one audit line. */
  write(msg: string): void {
    if (this.closed) return;
    const line = `${JSON.stringify({ time: new Date(this.nowMs()).toISOString(), msg })}\n`;
    const n = Buffer.byteLength(line);
    if (this.bytes > 0 && this.bytes + n > this.maxBytes) this.rotate();
    this.out.write(line);
    this.bytes += n;
  }

  /** The rotated files, oldest first. */
  rotated(): string[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const key = (n: string): [string, number] => {
      const m = ROTATED.exec(n)!;
      return [m[1]!, m[2] === undefined ? 0 : Number(m[2].slice(1))];
    };
    return names
      .filter((n) => ROTATED.test(n))
      .sort((a, b) => {
        const [sa, ka] = key(a);
        const [sb, kb] = key(b);
        return sa < sb ? -1 : sa > sb ? 1 : ka - kb;
      });
  }

  /** Writes what is waiting and closes the file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    void this.end(this.out);
    await Promise.all([...this.ending]);
  }

  private rotate(): void {
    const stamp = new Date(this.nowMs()).toISOString().replaceAll(/[-:.]/g, "");
    let name = `audit-${stamp}.log`;
    for (let k = 1; this.rotated().includes(name); k++) name = `audit-${stamp}-${k}.log`;
    try {
      // Lines still waiting reach the renamed file (the descriptor follows it); later ones the new one.
      renameSync(this.path, join(this.dir, name));
      const next = this.open(); // if this fails, lines go on to the renamed file
      void this.end(this.out);
      this.out = next;
      this.rotations++;
    } catch (err) {
      // Said once: every later line tries again.
      if (this.rotateFailures++ === 0) this.log(`audit file: could not rotate ${this.path}: ${err instanceof Error ? err.message : String(err)}; lines go on to the file open now`, "warn");
      return;
    }
    const old = this.rotated();
    for (const n of old.slice(0, Math.max(0, old.length - this.keep))) rmSync(join(this.dir, n), { force: true });
  }
}
