/**
 * The admin HTTP API beside the DIFF endpoints: users, instruments, trading state,
 * transfers, marking to market and the daily settlement, for operators and their tools. JSON in and out, under `/admin/`.
 *
 * Authentication: `POST /admin/login` with an admin user's name and password (the same
 * check as a DIFF login: scrypt on the catalog's pool, back-off per user and address)
 * gives a bearer token, 32 random bytes, valid for `tokenTtlMs` unless revoked by
 * `POST /admin/logout`. Every request re-reads the user from the catalog, so disabling a
 * user or taking its admin role ends its tokens at once. Anything refused for identity
 * gets the same 401 `{"error":"not authorised"}`, whatever the cause (no token, unknown,
 * expired, revoked, not an admin). Every request is audit-logged with the user, the
 * remote address, what it asked and the answer.
 *
 * Disabling a user also closes its open DIFF sessions (close code 4001): a disabled user
 * keeps no socket.
 */

import { randomBytes, createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { CatalogError, canonicalRoles, checkInstrument, type User } from "../catalog/records.ts";
import type { Catalog } from "../catalog/catalog.ts";
import { engineParams, engineMoney } from "../catalog/instrument.ts";
import { CommandKind, type InstrumentParams } from "../schema/command.ts";
import { TradingState, currencyCode } from "../schema/codes.ts";
import { NO_INSTRUMENT } from "../schema/layout.ts";
import type { Gateway } from "./gateway.ts";

export interface AdminSink {
  defineInstrument(p: InstrumentParams): void;
  setTradingState(instrument: number, state: TradingState): void;
  /** Marks one instrument (or NO_INSTRUMENT: every one) to market at its last trade price. */
  mark(instrument: number): void;
  /** The daily settlement: ends the trading day. */
  settle(): void;
  transfer(kind: typeof CommandKind.deposit | typeof CommandKind.withdraw, account: string, currency: number, amount: number): void;
  flush(): void;
}

export interface AdminAuth {
  readonly catalog: Catalog;
  /** Checks a user's password as a DIFF login does (back-off included). */
  checkPassword(user: string, password: string, remoteHost: string): Promise<{ user: User } | { refused: string }>;
  hashPassword(password: string): Promise<string>;
}

export interface AdminOptions {
  /** How long a token lives (default 15 minutes). */
  tokenTtlMs: number;
  /** Live tokens at most (the oldest goes first; default 1,000). */
  maxTokens: number;
  /** Request bodies at most (default 16 KiB). */
  maxBodyBytes: number;
}

export const DEFAULT_ADMIN_OPTIONS: AdminOptions = { tokenTtlMs: 15 * 60_000, maxTokens: 1_000, maxBodyBytes: 16 * 1024 };

const STATES: Record<string, TradingState> = { open: TradingState.open, halted: TradingState.halted, cancel_only: TradingState.cancelOnly };
const NOT_AUTHORISED = "not authorised";

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** A token's key in the table: its SHA-256, so the table holds no usable token. */
const tokenKey = (token: string): string => createHash("sha256").update(token).digest("base64url");

export class AdminApi {
  private readonly tokens = new Map<string, { user: string; expiresMs: number }>();
  readonly o: AdminOptions;

  constructor(
    private readonly auth: AdminAuth,
    private readonly gw: Gateway,
    private readonly sink: AdminSink,
    private readonly nowMs: () => number,
    private readonly log: (line: string) => void,
    options: Partial<AdminOptions> = {},
  ) {
    this.o = { ...DEFAULT_ADMIN_OPTIONS, ...options };
  }

  /** Handles a request under /admin/; false for any other path. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? "/").split("?")[0]!;
    if (path !== "/admin" && !path.startsWith("/admin/")) return false;
    const remote = req.socket.remoteAddress ?? "?";
    let user = "-";
    const answer = (status: number, body: unknown): void => {
      this.log(`audit: admin ${user} from ${remote}: ${req.method} ${path.slice(0, 200)} -> ${status}`);
      if (res.headersSent) return;
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(body === undefined ? "" : JSON.stringify(body));
    };
    void this.route(req, path, remote, (u) => (user = u))
      .then((r) => answer(r.status, r.body))
      .catch((err: unknown) => {
        if (err instanceof HttpError) return answer(err.status, { error: err.message });
        if (err instanceof CatalogError) return answer(err.code === "not-found" ? 404 : err.code === "exists" ? 409 : err.code === "invalid" ? 400 : 500, { error: err.message });
        answer(500, { error: "internal error" });
        this.log(`gateway: admin request failed: ${String(err)}`);
      });
    return true;
  }

  /** Tokens of `user` end (its role or state changed). */
  revokeUser(user: string): void {
    for (const [k, t] of this.tokens) if (t.user === user) this.tokens.delete(k);
  }

  private async route(req: IncomingMessage, path: string, remote: string, who: (u: string) => void): Promise<{ status: number; body?: unknown }> {
    const method = req.method ?? "GET";
    const parts = path.split("/").slice(2).map(decodeURIComponent);
    if (parts[0] === "login" && parts.length === 1) {
      if (method !== "POST") throw new HttpError(405, "use POST");
      const body = await readJson(req, this.o.maxBodyBytes);
      const name = body["user_name"];
      const password = body["password"];
      if (typeof name !== "string" || typeof password !== "string") throw new HttpError(400, "user_name and password must be strings");
      who(name.slice(0, 64));
      const r = await this.auth.checkPassword(name, password, remote);
      if ("refused" in r || !r.user.roles.includes("admin")) throw new HttpError(401, NOT_AUTHORISED);
      return { status: 200, body: this.issue(r.user.name) };
    }
    const me = this.authorise(req);
    who(me.name);
    if (parts[0] === "logout" && parts.length === 1) {
      if (method !== "POST") throw new HttpError(405, "use POST");
      this.tokens.delete(tokenKey(bearer(req)!));
      return { status: 200, body: { ok: true } };
    }
    const catalog = this.auth.catalog;
    switch (parts[0]) {
      case "users": {
        if (parts.length === 1 && method === "GET") return { status: 200, body: catalog.listUsers().map(userJson) };
        if (parts.length === 1 && method === "POST") {
          const b = await readJson(req, this.o.maxBodyBytes);
          const password = b["password"];
          if (typeof password !== "string" || password.length < 8 || password.length > 1024) throw new HttpError(400, "password must be a string of 8 to 1024 characters");
          const roles = canonicalRoles(b["roles"] ?? ["trader"]);
          const u = await catalog.addUser(b["name"] as string, roles, await this.auth.hashPassword(password));
          return { status: 201, body: userJson(u) };
        }
        const name = parts[1];
        if (name === undefined || parts.length !== 3 || method !== "POST") break;
        const existing = catalog.getUser(name);
        if (existing === undefined) throw new HttpError(404, `no user ${name}`);
        switch (parts[2]) {
          case "disable": {
            const u = await catalog.disableUser(name);
            this.revokeUser(name);
            const closed = this.gw.closeUser(name, 4001, "user disabled");
            return { status: 200, body: { ...userJson(u), sessionsClosed: closed } };
          }
          case "enable":
            return { status: 200, body: userJson(await catalog.enableUser(name)) };
          case "roles": {
            const b = await readJson(req, this.o.maxBodyBytes);
            const u = await catalog.setRoles(name, canonicalRoles(b["roles"]));
            this.revokeUser(name);
            return { status: 200, body: userJson(u) };
          }
          case "password": {
            const b = await readJson(req, this.o.maxBodyBytes);
            const password = b["password"];
            if (typeof password !== "string" || password.length < 8 || password.length > 1024) throw new HttpError(400, "password must be a string of 8 to 1024 characters");
            return { status: 200, body: userJson(await catalog.setPassword(name, await this.auth.hashPassword(password))) };
          }
        }
        break;
      }
      case "instruments": {
        if (parts.length === 1 && method === "GET") {
          return { status: 200, body: catalog.listInstruments().map((i) => ({ ...i, defined: this.gw.instrumentIndex(i.symbol) >= 0 })) };
        }
        if (parts.length === 1 && method === "POST") {
          const info = checkInstrument(await readJson(req, this.o.maxBodyBytes));
          const defined = this.gw.instrumentIndex(info.symbol) >= 0;
          if (defined) throw new HttpError(409, `${info.symbol} is defined in the engine already; its parameters cannot change while it trades`);
          const params = engineParams(info);
          await catalog.putInstrument(info);
          this.sink.defineInstrument(params);
          this.sink.flush();
          return { status: 202, body: { symbol: info.symbol, defining: true } };
        }
        const symbol = parts[1];
        if (symbol !== undefined && parts.length === 3 && parts[2] === "state" && method === "POST") {
          const b = await readJson(req, this.o.maxBodyBytes);
          const state = STATES[b["state"] as string];
          if (state === undefined) throw new HttpError(400, `state must be one of ${Object.keys(STATES).join(", ")}`);
          const index = this.gw.instrumentIndex(symbol);
          if (index < 0) throw new HttpError(404, `no instrument ${symbol} in the engine`);
          this.sink.setTradingState(index, state);
          this.sink.flush();
          return { status: 202, body: { symbol, state: b["state"] } };
        }
        break;
      }
      case "mark": {
        // Every instrument, or the one named: a sequenced command, applied in its turn.
        if (parts.length !== 1 || method !== "POST") break;
        const b = await readJson(req, this.o.maxBodyBytes, true);
        const symbol = b["symbol"];
        if (symbol !== undefined && typeof symbol !== "string") throw new HttpError(400, "symbol must be a string");
        const index = symbol === undefined ? NO_INSTRUMENT : this.gw.instrumentIndex(symbol);
        if (index < 0) throw new HttpError(404, `no instrument ${symbol} in the engine`);
        this.sink.mark(index);
        this.sink.flush();
        return { status: 202, body: { marking: symbol ?? "all" } };
      }
      case "settle": {
        if (parts.length !== 1 || method !== "POST") break;
        await readJson(req, this.o.maxBodyBytes, true);
        this.sink.settle();
        this.sink.flush();
        return { status: 202, body: { settling: true } };
      }
      case "accounts": {
        const account = parts[1];
        const kind = parts[2] === "deposit" ? CommandKind.deposit : parts[2] === "withdraw" ? CommandKind.withdraw : undefined;
        if (account === undefined || parts.length !== 3 || kind === undefined || method !== "POST") break;
        if (catalog.getAccount(account) === undefined) throw new HttpError(404, `no account ${account}`);
        const b = await readJson(req, this.o.maxBodyBytes);
        const amount = b["amount"];
        const currency = b["currency"] ?? "CNY";
        if (typeof amount !== "number" || !Number.isFinite(amount) || amount <= 0 || amount > 1e15) throw new HttpError(400, "amount must be a number above 0");
        if (typeof currency !== "string" || !/^[A-Z]{3}$/.test(currency)) throw new HttpError(400, "currency must be three capital letters");
        const minor = engineMoney(amount);
        if (!Number.isSafeInteger(minor) || minor <= 0) throw new HttpError(400, "amount has more decimals than the currency");
        this.sink.transfer(kind, account, currencyCode(currency), minor);
        this.sink.flush();
        return { status: 202, body: { account, [parts[2]!]: amount, currency } };
      }
    }
    throw new HttpError(404, `no such admin operation: ${method} ${path.slice(0, 200)}`);
  }

  private issue(user: string): { token: string; expires_in_ms: number } {
    const now = this.nowMs();
    for (const [k, t] of this.tokens) if (t.expiresMs <= now) this.tokens.delete(k);
    while (this.tokens.size >= this.o.maxTokens) this.tokens.delete(this.tokens.keys().next().value!);
    const token = randomBytes(32).toString("base64url");
    this.tokens.set(tokenKey(token), { user, expiresMs: now + this.o.tokenTtlMs });
    return { token, expires_in_ms: this.o.tokenTtlMs };
  }

  /** The admin user of a request's token, or a 401. */
  private authorise(req: IncomingMessage): User {
    const token = bearer(req);
    const t = token === undefined ? undefined : this.tokens.get(tokenKey(token));
    if (t === undefined) throw new HttpError(401, NOT_AUTHORISED);
    if (t.expiresMs <= this.nowMs()) {
      this.tokens.delete(tokenKey(token!));
      throw new HttpError(401, NOT_AUTHORISED);
    }
    const u = this.auth.catalog.getUser(t.user);
    if (u === undefined || u.disabled || !u.roles.includes("admin")) throw new HttpError(401, NOT_AUTHORISED);
    return u;
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (h === undefined || !h.startsWith("Bearer ")) return undefined;
  const t = h.slice(7).trim();
  return t.length > 0 && t.length <= 128 ? t : undefined;
}

function userJson(u: User): { name: string; roles: readonly string[]; disabled: boolean } {
  return { name: u.name, roles: u.roles, disabled: u.disabled };
}

/** A JSON object body of at most `max` bytes (413 beyond, 400 if not an object); with `optional`, an empty body is `{}`. */
async function readJson(req: IncomingMessage, max: number, optional = false): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > max) throw new HttpError(413, `request body above ${max} bytes`);
    chunks.push(c as Buffer);
  }
  if (optional && size === 0) return Object.create(null) as Record<string, unknown>;
  let v: unknown;
  try {
    v = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "the body must be JSON");
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new HttpError(400, "the body must be a JSON object");
  // No key a client sends reaches a prototype: copy into a null-prototype object.
  const out = Object.create(null) as Record<string, unknown>;
  for (const k of Object.keys(v)) if (k !== "__proto__" && k !== "constructor" && k !== "prototype") out[k] = (v as Record<string, unknown>)[k];
  return out;
}
