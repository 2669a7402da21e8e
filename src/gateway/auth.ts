/**
 * Logins for the gateway, from the catalog: a DIFF `user_name` is a user (who then trades
 * as their own account, of the same name) or an account `user.unit` the user owns; the
 * password is the user's. Every attempt hashes (a dummy record for unknown users, so
 * known and unknown names take the same time); failures back off per user name and per
 * remote address (LoginGuard); the answer to a refused login is the same generic text
 * whatever the cause.
 */

import { Catalog } from "../catalog/catalog.ts";
import { PasswordHasher } from "../catalog/password.ts";
import { LoginGuard } from "../catalog/login_guard.ts";
import { login as checkLogin } from "../catalog/login.ts";
import type { GatewayAuth, LoginResult } from "./gateway.ts";
import type { Role } from "./session.ts";
import type { AdminAuth } from "./admin.ts";

export interface Auth extends GatewayAuth, AdminAuth {
  readonly catalog: Catalog;
  close(): Promise<void>;
}

const REFUSED = "login refused: wrong user name or password";

export async function openAuth(catalogDir: string, o: { threads: number; nice?: number }): Promise<Auth> {
  const catalog = Catalog.open(catalogDir);
  const hasher = new PasswordHasher({ maxThreads: o.threads, ...(o.nice === undefined ? {} : { nice: o.nice }) });
  const guard = new LoginGuard();
  return {
    catalog,
    async login(name: string, password: string, remote: string): Promise<LoginResult | { refused: string }> {
      const host = remote.slice(0, remote.lastIndexOf(":"));
      const dot = name.indexOf(".");
      const userName = dot > 0 ? name.slice(0, dot) : name;
      const r = await checkLogin(catalog, hasher, guard, userName, password, host);
      if (!r.ok) return { refused: r.reason === "locked" ? `too many failed logins: try again in ${Math.ceil(r.retryAfterMs / 1000)} s` : REFUSED };
      if (r.rehash) void hasher.hash(password).then((rec) => catalog.setPassword(r.user.name, rec)).catch(() => {});
      // The account: the user's own, or one of its units.
      if (!catalog.canUse(r.user.name, name)) return { refused: REFUSED };
      return { user: r.user.name, account: name, roles: r.user.roles as readonly Role[] };
    },
    async changePassword(user: string, oldPassword: string, newPassword: string, remote: string): Promise<{ ok: true } | { refused: string }> {
      const host = remote.slice(0, remote.lastIndexOf(":"));
      const r = await checkLogin(catalog, hasher, guard, user, oldPassword, host);
      if (!r.ok) return { refused: r.reason === "locked" ? `too many failed attempts: try again in ${Math.ceil(r.retryAfterMs / 1000)} s` : "password not changed: the old password is wrong" };
      await catalog.setPassword(r.user.name, await hasher.hash(newPassword));
      return { ok: true };
    },
    async checkPassword(name: string, password: string, remoteHost: string) {
      const r = await checkLogin(catalog, hasher, guard, name, password, remoteHost);
      return r.ok ? { user: r.user } : { refused: REFUSED };
    },
    hashPassword: (password: string) => hasher.hash(password),
    async close(): Promise<void> {
      await hasher.close();
      await catalog.close();
    },
  };
}
