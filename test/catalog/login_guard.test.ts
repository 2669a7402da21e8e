/**
 * Login throttling on a fake clock: free failures, then a lock that doubles per failure up
 * to the cap; success clears a key; quiet keys are forgotten; memory stays within maxKeys.
 * Then `login` end to end on a real catalog and hasher: one derivation per attempt whether
 * or not the user exists, the same refusal for every reason, and the guard fed both keys.
 */

import { afterAll, describe, expect, it } from "vitest";
import { Catalog } from "../../src/catalog/catalog.ts";
import { addressKey, login, userKey } from "../../src/catalog/login.ts";
import { LoginGuard } from "../../src/catalog/login_guard.ts";
import { PasswordHasher } from "../../src/catalog/password.ts";
import { tempDir } from "./catalog_kit.ts";

function fakeClock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe("LoginGuard", () => {
  it("allows 4 failures, locks 1 s at the 5th, doubles per failure, caps at 15 min", () => {
    const clock = fakeClock();
    const g = new LoginGuard({ nowMs: clock.now });
    for (let i = 0; i < 4; i++) expect(g.fail("u")).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(g.check("u")).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(g.fail("u")).toEqual({ allowed: false, retryAfterMs: 1_000 });
    clock.advance(999);
    expect(g.check("u")).toEqual({ allowed: false, retryAfterMs: 1 });
    clock.advance(1);
    expect(g.check("u")).toEqual({ allowed: true, retryAfterMs: 0 });
    const locks: number[] = [];
    for (let i = 0; i < 12; i++) {
      locks.push(g.fail("u").retryAfterMs);
      clock.advance(locks[i]!);
    }
    expect(locks).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000, 900_000, 900_000, 900_000]);
    expect(g.failures("u")).toBe(17);
  });

  it("keeps keys apart, and a success clears its key", () => {
    const clock = fakeClock();
    const g = new LoginGuard({ nowMs: clock.now, freeFailures: 2 });
    g.fail("a");
    g.fail("a");
    expect(g.check("a").allowed).toBe(false);
    expect(g.check("b").allowed).toBe(true);
    g.succeed("a");
    expect(g.check("a")).toEqual({ allowed: true, retryAfterMs: 0 });
    expect(g.failures("a")).toBe(0);
  });

  it("forgets a key after forgetAfterMs without failures, but never while it is locked", () => {
    const clock = fakeClock();
    const g = new LoginGuard({ nowMs: clock.now, freeFailures: 1, baseLockMs: 1_000, maxLockMs: 10_000, forgetAfterMs: 10_000 });
    for (let i = 0; i < 4; i++) g.fail("u"); // locked 8 s
    clock.advance(9_999);
    expect(g.failures("u")).toBe(4);
    clock.advance(1);
    expect(g.failures("u")).toBe(0);
    expect(g.fail("u").retryAfterMs).toBe(1_000); // starts over
  });

  it("tracks at most maxKeys keys, evicting the one whose last failure is oldest", () => {
    const g = new LoginGuard({ nowMs: fakeClock().now, maxKeys: 3 });
    for (const k of ["a", "b", "c"]) g.fail(k);
    g.fail("a"); // a is now the newest
    g.fail("d");
    expect(g.size).toBe(3);
    expect(["a", "b", "c", "d"].map((k) => g.failures(k))).toEqual([2, 0, 1, 1]);
    for (let i = 0; i < 1_000; i++) g.fail(`flood${i}`);
    expect(g.size).toBe(3);
  });

  it("rejects bad options with clear errors", () => {
    expect(() => new LoginGuard({ freeFailures: 0 })).toThrow(/freeFailures must be a whole number >= 1, not 0/);
    expect(() => new LoginGuard({ baseLockMs: 2_000, maxLockMs: 1_000 })).toThrow(/maxLockMs \(1000\) must be >= baseLockMs \(2000\)/);
    expect(() => new LoginGuard({ maxLockMs: 60_000, forgetAfterMs: 1_000 })).toThrow(/forgetAfterMs \(1000\) must be >= maxLockMs/);
  });
});

describe("login", () => {
  const hasher = new PasswordHasher();
  const catalog = Catalog.open(tempDir());
  afterAll(async () => {
    await catalog.close();
    await hasher.close();
  });

  it("one derivation per attempt, the same refusal for every reason, and the guard fed", async () => {
    const record = await hasher.hash("pw");
    await catalog.addUser("alice", ["trader"], record);
    await catalog.addUser("gone", ["trader"], record);
    await catalog.disableUser("gone");
    const clock = fakeClock();
    const guard = new LoginGuard({ nowMs: clock.now, freeFailures: 2 });

    let before = hasher.completedCount;
    const ok = await login(catalog, hasher, guard, "alice", "pw", "10.0.0.1");
    expect(ok).toMatchObject({ ok: true, rehash: false, user: { name: "alice" } });
    const refusals = [
      await login(catalog, hasher, guard, "alice", "wrong", "10.0.0.1"),
      await login(catalog, hasher, guard, "nobody", "pw", "10.0.0.2"),
      await login(catalog, hasher, guard, "gone", "pw", "10.0.0.3"),
    ];
    expect(refusals.map((r) => [r.ok, !r.ok && r.reason])).toEqual([[false, "denied"], [false, "denied"], [false, "denied"]]);
    expect(refusals.map((r) => !r.ok && r.detail)).toEqual(["bad-password", "unknown-user", "disabled"]);
    expect(hasher.completedCount).toBe(before + 4);
    expect([guard.failures(userKey("alice")), guard.failures(userKey("nobody")), guard.failures(addressKey("10.0.0.2"))]).toEqual([1, 1, 1]);

    // One more failure locks alice; a locked key is refused before any hashing.
    await login(catalog, hasher, guard, "alice", "wrong", "10.0.0.4");
    before = hasher.completedCount;
    const locked = await login(catalog, hasher, guard, "alice", "pw", "10.0.0.6");
    expect(locked).toEqual({ ok: false, reason: "locked", retryAfterMs: 1_000, detail: "user:alice" });
    expect(hasher.completedCount).toBe(before);
    clock.advance(1_000);
    expect((await login(catalog, hasher, guard, "alice", "pw", "10.0.0.6")).ok).toBe(true);
    expect(guard.failures(userKey("alice"))).toBe(0);
  });
});
