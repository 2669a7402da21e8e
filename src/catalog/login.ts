/**
 * One login, in the order that keeps it safe: the guard first (a locked user name or remote
 * address is refused before any hashing), then one scrypt verification whether or not the
 * user exists (an unknown user is checked against the hasher's dummy record), then the
 * outcome. Every refusal looks the same to the caller's client ("denied" or "locked", never
 * "no such user" or "disabled"); `detail` says why, for the audit log only.
 *
 * A failure counts against both the user-name key and the address key. A success clears the
 * user-name key only: clearing the address key would let one valid login reset a guessing
 * run from that address.
 */

import type { Catalog, User } from "./catalog.ts";
import type { LoginGuard } from "./login_guard.ts";
import { needsRehash, type PasswordHasher } from "./password.ts";

export type LoginResult =
  | { ok: true; user: User; /** The record uses old parameters: store hasher.hash(password) now. */ rehash: boolean }
  | { ok: false; reason: "locked"; retryAfterMs: number; detail: string }
  | { ok: false; reason: "denied"; detail: "unknown-user" | "bad-password" | "disabled" };

export const userKey = (name: string): string => `user:${name}`;
export const addressKey = (address: string): string => `addr:${address}`;

export async function login(catalog: Catalog, hasher: PasswordHasher, guard: LoginGuard, name: string, password: string, remoteAddress: string): Promise<LoginResult> {
  const keys = [userKey(name), addressKey(remoteAddress)];
  for (const key of keys) {
    const c = guard.check(key);
    if (!c.allowed) return { ok: false, reason: "locked", retryAfterMs: c.retryAfterMs, detail: key };
  }
  const user = catalog.getUser(name);
  const match = await hasher.verify(user?.password, password);
  if (user === undefined || !match || user.disabled) {
    for (const key of keys) guard.fail(key);
    return { ok: false, reason: "denied", detail: user === undefined ? "unknown-user" : !match ? "bad-password" : "disabled" };
  }
  guard.succeed(keys[0]!);
  return { ok: true, user, rehash: needsRehash(user.password) };
}
