/**
 * Password records and the hasher: the record carries N = 2^17, r = 8, p = 1, a 16-byte salt
 * and a 32-byte key; verify accepts the password and nothing else; an unknown user costs a
 * real derivation; hashing runs on the hasher's own pool, capped, and keeps going while
 * libuv's shared thread pool is completely blocked. Real scrypt at production cost (a few
 * hundred milliseconds per hash), a dozen hashes in all; no timed assertions.
 */

import { execFileSync } from "node:child_process";
import { scryptSync } from "node:crypto";
import { constants, closeSync, openSync, promises as fsp, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkPassword, describePasswordRecord, formatPasswordRecord, needsRehash, parsePasswordRecord, PasswordError, PasswordHasher,
} from "../../src/catalog/password.ts";
import { tempDir } from "./catalog_kit.ts";

const hasher = new PasswordHasher();
afterAll(() => hasher.close());

async function code(p: Promise<unknown>): Promise<string | undefined> {
  const err: unknown = await p.then(() => undefined, (e: unknown) => e);
  return err instanceof PasswordError ? err.code : String(err);
}

describe("password records", () => {
  it("hash stores the parameters, a 16-byte salt and a 32-byte key; verify accepts only the password", async () => {
    const record = await hasher.hash("correct horse");
    expect(record).toMatch(/^scrypt\$17\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
    const rec = parsePasswordRecord(record);
    expect([rec.log2N, rec.r, rec.p, rec.salt.byteLength, rec.key.byteLength]).toEqual([17, 8, 1, 16, 32]);
    // The key is scrypt itself, as anyone can recompute it from the record.
    const expected = scryptSync("correct horse", rec.salt, 32, { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 });
    expect(Buffer.from(rec.key).equals(expected)).toBe(true);
    expect(describePasswordRecord(record)).toBe("scrypt N=2^17 r=8 p=1");
    expect(needsRehash(record)).toBe(false);
    expect(await hasher.verify(record, "correct horse")).toBe(true);
    expect(await hasher.verify(record, "correct horsf")).toBe(false);
  });

  it("verifies a record of older parameters by its own parameters, and flags it for rehash", async () => {
    const salt = new Uint8Array(16).fill(7);
    const key = new Uint8Array(scryptSync("old", salt, 32, { N: 2 ** 14, r: 8, p: 1 }));
    const old = formatPasswordRecord({ log2N: 14, r: 8, p: 1, salt, key });
    expect(needsRehash(old)).toBe(true);
    expect(await hasher.verify(old, "old")).toBe(true);
    expect(await hasher.verify(old, "new")).toBe(false);
  });

  it("an unknown user (no record) costs one real derivation and is refused", async () => {
    const before = hasher.completedCount;
    expect(await hasher.verify(undefined, "anything")).toBe(false);
    expect(hasher.completedCount).toBe(before + 1);
  });

  it("passwords are 1 to 64 characters: hash rejects others, verify refuses them without hashing", async () => {
    expect(() => checkPassword("")).toThrow(/password must be 1 to 64 characters, not 0/);
    expect(() => checkPassword("x".repeat(65))).toThrow(/not 65/);
    expect(() => checkPassword("😀".repeat(64))).not.toThrow();
    expect(await code(hasher.hash(""))).toBe("invalid-password");
    const before = hasher.completedCount;
    expect(await hasher.verify(undefined, "x".repeat(65))).toBe(false);
    expect(hasher.completedCount).toBe(before);
  });

  it("a malformed stored record is an error, not a refusal", async () => {
    expect(await code(hasher.verify("plain", "plain"))).toBe("invalid-record");
  });

  it("rejects bad options with clear errors", () => {
    expect(() => new PasswordHasher({ maxThreads: 0 })).toThrow(/maxThreads must be an integer from 1 to 16, not 0/);
    expect(() => new PasswordHasher({ maxPending: 1.5 })).toThrow(/maxPending must be an integer/);
  });
});

describe("the hashing pool", () => {
  it("runs concurrent hashes one at a time on one worker thread with maxThreads 1 (each with a fresh salt)", async () => {
    const pool = new PasswordHasher({ maxThreads: 1 });
    try {
      const hashes = ["same", "same", "same", "same"].map((pw) => pool.hash(pw));
      expect(pool.pendingCount).toBe(4);
      const records = await Promise.all(hashes);
      expect(new Set(records).size).toBe(4);
      expect(pool.threadCount).toBe(1);
      expect(pool.completedCount).toBe(4);
      expect(pool.pendingCount).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it("refuses work beyond maxPending at once with busy, and everything after close", async () => {
    const pool = new PasswordHasher({ maxPending: 1 });
    const held = pool.hash("a");
    expect(await code(pool.hash("b"))).toBe("busy");
    expect(await code(pool.verify(undefined, "b"))).toBe("busy");
    expect(parsePasswordRecord(await held).log2N).toBe(17);
    await pool.close();
    expect(await code(pool.hash("d"))).toBe("closed");
  });

  it("hashes on threads of lower priority (nice 10 by default), the scheduler preferring the node's other threads", async () => {
    // Each thread's nice value is field 19 of /proc/self/task/<tid>/stat (after the name in parentheses).
    // Threads of earlier tests' pools may still be here: count only the new ones.
    const niceThreads = (): Set<string> => new Set(readdirSync("/proc/self/task").filter((tid) => {
      try {
        const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
        return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]) === 10;
      } catch {
        return false; // the thread ended meanwhile
      }
    }));
    const before = niceThreads();
    const pool = new PasswordHasher({ maxThreads: 2 });
    await Promise.all([pool.hash("p-1"), pool.hash("p-2")]);
    expect([...niceThreads()].filter((tid) => !before.has(tid)).length).toBe(2);
    await pool.close();
    expect(() => new PasswordHasher({ nice: 20 })).toThrow(/nice must be an integer from 0 to 19/);
  });

  it("keeps hashing while every libuv thread-pool thread is blocked", async () => {
    const pool = new PasswordHasher();
    const fifo = join(tempDir("venue-fifo-"), "block");
    execFileSync("mkfifo", [fifo]);
    let writer: number | undefined;
    const release = (): void => {
      writer ??= openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK); // a writer frees every blocked reader
    };
    try {
      await pool.hash("warm up"); // the worker loads its modules through libuv's pool; do that first
      // Opening a FIFO for reading blocks its libuv thread until a writer opens it. Take every thread.
      const threads = Number(process.env["UV_THREADPOOL_SIZE"] ?? 4);
      const blockers = Array.from({ length: threads }, () => fsp.open(fifo, "r").then((fh) => fh.close()));
      let canaryDone = false;
      const canary = fsp.stat(fifo).then(() => (canaryDone = true));
      const record = await pool.hash("while blocked");
      expect(canaryDone).toBe(false); // the shared pool was still blocked: the hash did not use it
      expect(parsePasswordRecord(record).key.byteLength).toBe(32);
      release();
      await Promise.all([...blockers, canary]);
      expect(canaryDone).toBe(true);
    } finally {
      release();
      closeSync(writer!);
      await pool.close();
    }
  });
});
