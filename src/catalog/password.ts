/**
 * Password storage: scrypt records and the hasher that makes and checks them.
 *
 * A record is one ASCII string that carries its own parameters, so that they can be raised
 * later without losing the users already stored (see `needsRehash`):
 *
 *     scrypt$<log2 N>$<r>$<p>$<salt, base64>$<key, base64>
 *     scrypt$17$8$1$q0Jm9T2...==$Zk3c...=
 *
 * New records use N = 2^17, r = 8, p = 1 (128 MiB and ~0.1-0.4 s per hash), a 16-byte random
 * salt and a 32-byte key; scrypt may use at most 256 MiB.
 *
 * Threads. A hash costs 128 MiB of memory and a few hundred milliseconds of CPU. It runs as
 * `scryptSync` on a small dedicated piscina pool (workers/password.mjs), never on libuv's
 * shared thread pool: the journal's file I/O runs there, and a login flood must not queue
 * ahead of a commit. `maxThreads` caps the hashes running at once (and so the memory);
 * `maxPending` caps the hashes waiting, beyond which a call fails at once with code `busy`.
 *
 * Verification compares keys with `timingSafeEqual`. `verify(undefined, pw)` (an unknown
 * user) derives a key against a dummy record with the current parameters before answering
 * false, so a known and an unknown user name take the same time.
 *
 * Any thread may create a PasswordHasher; its promises resolve on the creating thread.
 */

import { randomBytes, timingSafeEqual } from "node:crypto";
import { Piscina } from "piscina";
import { VenueError } from "../stdx/errors.ts";
import type { ScryptJob } from "./scrypt_job.ts";
import { DEFAULT_THREAD_SCHEDULING, planFor } from "../node/threads.ts";

/** The parameters of new records. */
export const SCRYPT_LOG2N = 17;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_SALT_BYTES = 16;
export const SCRYPT_KEY_BYTES = 32;
export const SCRYPT_MAXMEM_BYTES = 256 * 1024 * 1024;
/** DIFF's limit on a password, in characters (code points). */
export const PASSWORD_CHARS_MAX = 64;
/** Default bounds of the hashing pool. */
export const HASH_THREADS_DEFAULT = 1;
export const HASH_THREADS_MAX = 16;
export const HASH_PENDING_DEFAULT = 64;

const ENTRY = new URL("../../workers/password.mjs", import.meta.url).href;
const RECORD = /^scrypt\$(\d{1,2})\$(\d{1,2})\$(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

export const PasswordErrorCode = {
  /** The password breaks the rules (length). */
  invalidPassword: "invalid-password",
  /** A stored record does not parse or its parameters are out of bounds. */
  invalidRecord: "invalid-record",
  /** The hasher's pending queue is full: try again later. */
  busy: "busy",
  closed: "closed",
  invalidOption: "invalid-option",
} as const;
export type PasswordErrorCode = (typeof PasswordErrorCode)[keyof typeof PasswordErrorCode];

export class PasswordError extends VenueError {
  override readonly name = "PasswordError";

  constructor(override readonly code: PasswordErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface ScryptParams {
  log2N: number;
  r: number;
  p: number;
}

export interface PasswordRecord extends ScryptParams {
  salt: Uint8Array;
  key: Uint8Array;
}

/** Throws PasswordError(invalid-password) unless the password has 1 to 64 characters. */
export function checkPassword(password: string): void {
  if (typeof password !== "string") throw new PasswordError("invalid-password", "password must be a string");
  const chars = [...password].length;
  if (chars < 1 || chars > PASSWORD_CHARS_MAX) {
    throw new PasswordError("invalid-password", `password must be 1 to ${PASSWORD_CHARS_MAX} characters, not ${chars}`);
  }
}

/** Memory scrypt needs for these parameters, as OpenSSL counts it against maxmem. */
function scryptMemBytes(log2N: number, r: number, p: number): number {
  return 128 * r * p + 128 * r * (2 ** log2N + 2);
}

function base64Strict(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? new Uint8Array(bytes) : undefined;
}

/** Parses a stored record; throws PasswordError(invalid-record) with the reason. */
export function parsePasswordRecord(record: string): PasswordRecord {
  const m = typeof record === "string" ? RECORD.exec(record) : null;
  if (m === null) throw new PasswordError("invalid-record", "password record is not of the form scrypt$logN$r$p$salt$key");
  const [log2N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = base64Strict(m[4]!);
  const key = base64Strict(m[5]!);
  if (log2N < 10 || r < 1 || r > 64 || p < 1 || p > 16) throw new PasswordError("invalid-record", `password record parameters out of bounds: N=2^${log2N} r=${r} p=${p}`);
  if (scryptMemBytes(log2N, r, p) > SCRYPT_MAXMEM_BYTES) throw new PasswordError("invalid-record", `password record needs more than ${SCRYPT_MAXMEM_BYTES} bytes: N=2^${log2N} r=${r}`);
  if (salt === undefined || salt.byteLength < 16 || salt.byteLength > 64) throw new PasswordError("invalid-record", "password record salt must be 16 to 64 bytes of base64");
  if (key === undefined || key.byteLength < 16 || key.byteLength > 64) throw new PasswordError("invalid-record", "password record key must be 16 to 64 bytes of base64");
  return { log2N, r, p, salt, key };
}

export function formatPasswordRecord(rec: PasswordRecord): string {
  return `scrypt$${rec.log2N}$${rec.r}$${rec.p}$${Buffer.from(rec.salt).toString("base64")}$${Buffer.from(rec.key).toString("base64")}`;
}

/** The record's parameters as an operator may see them (never the salt or key). */
export function describePasswordRecord(record: string): string {
  const rec = parsePasswordRecord(record);
  return `scrypt N=2^${rec.log2N} r=${rec.r} p=${rec.p}`;
}

/** True when the record was made with parameters other than today's: rehash it at the next successful login. */
export function needsRehash(record: string): boolean {
  const rec = parsePasswordRecord(record);
  return rec.log2N !== SCRYPT_LOG2N || rec.r !== SCRYPT_R || rec.p !== SCRYPT_P || rec.salt.byteLength !== SCRYPT_SALT_BYTES || rec.key.byteLength !== SCRYPT_KEY_BYTES;
}

export interface PasswordHasherOptions {
  /** Hashes running at once (default 1); each holds 128 MiB while it runs. */
  maxThreads?: number;
  /** Hashes accepted but not finished, beyond which calls fail with `busy` (default 64). */
  maxPending?: number;
  /**
   * The hashing threads' nice value (default 10; 0 to 19): the scheduler then prefers the
   * engine, the journal and the gateway when they compete for a core (through the native
   * addon; without it the threads run at normal priority).
   */
  nice?: number;
}

export const HASH_NICE_DEFAULT = 10;

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) throw new PasswordError("invalid-option", `${name} must be an integer from ${min} to ${max}, not ${String(value)}`);
  return value;
}

export class PasswordHasher {
  readonly maxThreads: number;
  readonly maxPending: number;
  readonly nice: number;
  private pool: Piscina | undefined;
  private pending = 0;
  private completed = 0;
  private closed = false;
  /** Unknown users are checked against this: a random salt and a random key nobody knows. */
  private readonly dummy: PasswordRecord;

  constructor(options: PasswordHasherOptions = {}) {
    this.maxThreads = intOption("maxThreads", options.maxThreads, HASH_THREADS_DEFAULT, 1, HASH_THREADS_MAX);
    this.maxPending = intOption("maxPending", options.maxPending, HASH_PENDING_DEFAULT, 1, 1_000_000);
    this.nice = intOption("nice", options.nice, HASH_NICE_DEFAULT, 0, 19);
    this.dummy = { log2N: SCRYPT_LOG2N, r: SCRYPT_R, p: SCRYPT_P, salt: randomBytes(SCRYPT_SALT_BYTES), key: randomBytes(SCRYPT_KEY_BYTES) };
  }

  /** A new record for the password, with a fresh salt and today's parameters. */
  async hash(password: string): Promise<string> {
    checkPassword(password);
    const salt = new Uint8Array(randomBytes(SCRYPT_SALT_BYTES));
    const params = { log2N: SCRYPT_LOG2N, r: SCRYPT_R, p: SCRYPT_P };
    const key = await this.derive(password, params, salt, SCRYPT_KEY_BYTES);
    return formatPasswordRecord({ ...params, salt, key });
  }

  /**
   * True when the password matches the record. With no record (an unknown user) it does the
   * same work against the dummy record and answers false. A password that breaks the rules
   * answers false without hashing: that does not depend on the user, so it reveals nothing.
   */
  async verify(record: string | undefined, password: string): Promise<boolean> {
    const rec = record === undefined ? this.dummy : parsePasswordRecord(record);
    try {
      checkPassword(password);
    } catch (err) {
      if (err instanceof PasswordError) return false;
      throw err;
    }
    const key = await this.derive(password, rec, rec.salt, rec.key.byteLength);
    const same = timingSafeEqual(key, rec.key);
    return record !== undefined && same;
  }

  /** Hashes waiting or running now. */
  get pendingCount(): number {
    return this.pending;
  }

  /** Derivations finished since the hasher was made (hashes and verifications alike). */
  get completedCount(): number {
    return this.completed;
  }

  /** Worker threads the pool holds now (0 before the first hash). */
  get threadCount(): number {
    return this.pool?.threads.length ?? 0;
  }

  /** Stops the pool; calls after this fail with `closed`, calls in flight are rejected. */
  async close(): Promise<void> {
    this.closed = true;
    const pool = this.pool;
    this.pool = undefined;
    if (pool !== undefined) await pool.destroy();
  }

  private async derive(password: string, params: ScryptParams, salt: Uint8Array, keyBytes: number): Promise<Uint8Array> {
    if (this.closed) throw new PasswordError("closed", "the password hasher is closed");
    if (this.pending >= this.maxPending) throw new PasswordError("busy", `${this.pending} password hashes are pending (the limit): try again later`);
    this.pool ??= new Piscina({ filename: ENTRY, minThreads: this.maxThreads, maxThreads: this.maxThreads, idleTimeout: 60_000, workerData: { thread: planFor("hash", DEFAULT_THREAD_SCHEDULING, this.nice) } });
    const job: ScryptJob = { password, salt, log2N: params.log2N, r: params.r, p: params.p, keyBytes, maxmemBytes: SCRYPT_MAXMEM_BYTES };
    this.pending++;
    try {
      const key = (await this.pool.run(job, { name: "scrypt" })) as Uint8Array;
      this.completed++;
      return key;
    } finally {
      this.pending--;
    }
  }
}
