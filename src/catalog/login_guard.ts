/**
 * Login throttling: failed-login counters per key (a user name, a remote address) with an
 * exponential lockout. The first `freeFailures - 1` failures cost nothing; failure number
 * `freeFailures` locks the key for `baseLockMs`, and each further failure doubles the lock,
 * up to `maxLockMs`:
 *
 *     failures  1..4   5    6    7   ...  15+
 *     locked    0      1 s  2 s  4 s ...  15 min   (defaults)
 *
 * A success clears the key; a key with no failure for `forgetAfterMs` starts over. Memory is
 * bounded: at most `maxKeys` keys are tracked, and adding one more evicts the key whose last
 * failure is oldest (a Map keeps insertion order; a failure moves its key to the end).
 *
 * The clock is injected (`nowMs`), so tests drive it without sleeping. Single-threaded: the
 * thread that logs users in owns the guard.
 */

export interface LoginGuardOptions {
  /** Failures before the first lock (default 5). */
  freeFailures?: number;
  baseLockMs?: number;
  maxLockMs?: number;
  /** A key with no failure for this long is forgotten (default 1 h; at least maxLockMs). */
  forgetAfterMs?: number;
  /** Keys tracked at once (default 100,000, about 20 MB at worst). */
  maxKeys?: number;
  nowMs?: () => number;
}

export interface GuardCheck {
  allowed: boolean;
  /** 0 when allowed; otherwise how long until the key may try again. */
  retryAfterMs: number;
}

interface Entry {
  failures: number;
  lastFailMs: number;
  lockedUntilMs: number;
}

export const LOGIN_FREE_FAILURES = 5;
export const LOGIN_BASE_LOCK_MS = 1_000;
export const LOGIN_MAX_LOCK_MS = 15 * 60_000;
export const LOGIN_FORGET_AFTER_MS = 60 * 60_000;
export const LOGIN_KEYS_MAX = 100_000;

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`LoginGuard ${name} must be a whole number >= 1, not ${String(value)}`);
  return value;
}

export class LoginGuard {
  readonly freeFailures: number;
  readonly baseLockMs: number;
  readonly maxLockMs: number;
  readonly forgetAfterMs: number;
  readonly maxKeys: number;
  private readonly nowMs: () => number;
  private readonly entries = new Map<string, Entry>();

  constructor(options: LoginGuardOptions = {}) {
    this.freeFailures = positiveInt("freeFailures", options.freeFailures, LOGIN_FREE_FAILURES);
    this.baseLockMs = positiveInt("baseLockMs", options.baseLockMs, LOGIN_BASE_LOCK_MS);
    this.maxLockMs = positiveInt("maxLockMs", options.maxLockMs, LOGIN_MAX_LOCK_MS);
    this.forgetAfterMs = positiveInt("forgetAfterMs", options.forgetAfterMs, Math.max(LOGIN_FORGET_AFTER_MS, this.maxLockMs));
    this.maxKeys = positiveInt("maxKeys", options.maxKeys, LOGIN_KEYS_MAX);
    if (this.maxLockMs < this.baseLockMs) throw new RangeError(`LoginGuard maxLockMs (${this.maxLockMs}) must be >= baseLockMs (${this.baseLockMs})`);
    if (this.forgetAfterMs < this.maxLockMs) throw new RangeError(`LoginGuard forgetAfterMs (${this.forgetAfterMs}) must be >= maxLockMs (${this.maxLockMs})`);
    this.nowMs = options.nowMs ?? Date.now;
  }

  /** May this key try to log in now? */
  check(key: string): GuardCheck {
    const now = this.nowMs();
    const e = this.current(key, now);
    const wait = e === undefined ? 0 : Math.max(0, e.lockedUntilMs - now);
    return { allowed: wait === 0, retryAfterMs: wait };
  }

  /** Counts a failed login; returns the key's state after it. */
  fail(key: string): GuardCheck {
    const now = this.nowMs();
    const e = this.current(key, now) ?? { failures: 0, lastFailMs: now, lockedUntilMs: 0 };
    e.failures++;
    e.lastFailMs = now;
    if (e.failures >= this.freeFailures) {
      const doublings = Math.min(e.failures - this.freeFailures, 40);
      e.lockedUntilMs = now + Math.min(this.maxLockMs, this.baseLockMs * 2 ** doublings);
    }
    this.entries.delete(key);
    this.entries.set(key, e);
    if (this.entries.size > this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    return { allowed: e.lockedUntilMs <= now, retryAfterMs: Math.max(0, e.lockedUntilMs - now) };
  }

  /** A successful login clears the key. */
  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Keys tracked now. */
  get size(): number {
    return this.entries.size;
  }

  /** Failures counted for the key (0 when it is not tracked or was forgotten). */
  failures(key: string): number {
    return this.current(key, this.nowMs())?.failures ?? 0;
  }

  private current(key: string, now: number): Entry | undefined {
    const e = this.entries.get(key);
    if (e !== undefined && now - e.lastFailMs >= this.forgetAfterMs && e.lockedUntilMs <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }
}
