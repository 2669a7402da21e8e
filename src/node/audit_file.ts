/**
 * The audit file: the gateway's audit lines (logins and their refusals, sessions closed,
 * admin requests), kept apart from the node's log in `DATA/audit/audit.log` so that they
 * outlive whatever happens to stdout. One JSON object per line, `{"time": ISO, "msg": text}`,
 * the same text as the log's `audit` lines.
 *
 * Bounded on disk and in memory: the file is rotated when it would pass `maxBytes`
 * (renamed `audit-<time>.log`, a new `audit.log` opened; not before the file is first open,
 * which takes a turn of the event loop) and only the newest `keep`
 * rotated files stay; writes go through pino's asynchronous destination with at most
 * `maxBufferBytes` waiting, beyond which lines are dropped, counted, and said once in the log
 * (a disk that stalls must not grow the main thread's memory).
 *
 * Main thread only (the node's log callback); a line costs a small buffered write.
 */

import { readdirSync, renameSync, rmSync, statSync } from "node:fs";
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
  private bytes: number;
  private readonly maxBytes: number;
  private readonly keep: number;
  private readonly nowMs: () => number;
  private readonly log: (line: string, level?: "info" | "warn") => void;
  private readonly out: ReturnType<typeof pino.destination>;
  private closed = false;
  /** The file is open (pino's destination opens it asynchronously): before that, no rotation. */
  private ready = false;

  constructor(dataDir: string, o: AuditFileOptions = {}) {
    this.dir = join(dataDir, AUDIT_DIR);
    this.path = join(this.dir, AUDIT_FILE);
    this.maxBytes = o.maxBytes ?? 64 * 1024 * 1024;
    this.keep = o.keep ?? 16;
    this.nowMs = o.nowMs ?? Date.now;
    this.log = o.log ?? (() => {});
    this.out = pino.destination({ dest: this.path, sync: false, mkdir: true, append: true, maxLength: o.maxBufferBytes ?? 8 * 1024 * 1024 });
    this.out.on("drop", () => {
      if (this.dropped++ === 0) this.log("audit file: the disk is not keeping up; audit lines are being dropped from the file (the log still has them)", "warn");
    });
    this.out.on("error", (err: Error) => this.log(`audit file: ${err.message}`, "warn"));
    this.out.once("ready", () => (this.ready = true));
    this.bytes = sizeOf(this.path);
  }

  /** Appends one audit line. */
  write(msg: string): void {
    if (this.closed) return;
    const line = `${JSON.stringify({ time: new Date(this.nowMs()).toISOString(), msg })}\n`;
    const n = Buffer.byteLength(line);
    if (this.ready && this.bytes > 0 && this.bytes + n > this.maxBytes) this.rotate();
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
  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => {
      this.out.once("close", () => resolve());
      this.out.end();
    });
  }

  private rotate(): void {
    const stamp = new Date(this.nowMs()).toISOString().replaceAll(/[-:.]/g, "");
    let name = `audit-${stamp}.log`;
    for (let k = 1; this.rotated().includes(name); k++) name = `audit-${stamp}-${k}.log`;
    try {
      // Lines still waiting reach the renamed file (the descriptor follows it); later ones the new one.
      renameSync(this.path, join(this.dir, name));
      this.out.reopen();
      this.bytes = 0;
      this.rotations++;
    } catch (err) {
      this.log(`audit file: could not rotate ${this.path}: ${err instanceof Error ? err.message : String(err)}; appending to it`, "warn");
      return;
    }
    const old = this.rotated();
    for (const n of old.slice(0, Math.max(0, old.length - this.keep))) rmSync(join(this.dir, n), { force: true });
  }
}

function sizeOf(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
