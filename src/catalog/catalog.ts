/**
 * The catalog: who may log in (users, their roles and password records), which accounts each
 * user owns, and the instruments the node lists. It is an LMDB environment in one directory
 * (conventionally DATA/catalog) with four named databases:
 *
 *   users        user name   -> user record      (records.ts, StoredUser)
 *   accounts     account id  -> {id, owner}
 *   instruments  symbol      -> InstrumentInfo   (DIFF units)
 *   meta         "format"    -> 1
 *
 * Reads are synchronous (LMDB maps the file; a read is a B-tree walk in memory). Writes are
 * asynchronous: each runs in a child transaction on LMDB's write batch, checks its
 * preconditions inside the transaction and then writes, so a rejected or failed write leaves
 * nothing behind, and a write that changes several records (a user and its default account)
 * commits all of them or none. The promise resolves once the commit is durable.
 *
 * Several processes may open the same catalog at once (the node and `venue user ...`); LMDB
 * serialises their writers, and a reader sees another process's commit from its next event
 * turn on.
 *
 * Invariants: every stored record passes records.ts's rules; every user has its default
 * account (id = name); every account's owner exists and is the id's part before the dot.
 * Users are never deleted (disable them), so account owners never dangle.
 */

import { mkdirSync } from "node:fs";
import { open, type Database, type RootDatabase } from "lmdb";
import { DEMO_INSTRUMENTS, type InstrumentInfo } from "./instrument.ts";
import type { PasswordHasher } from "./password.ts";
import {
  canonicalRoles, CatalogError, checkAccountId, checkInstrument, checkPasswordRecord, checkUserName, isUserName, loadAccount,
  loadInstrument, loadUser, ownerPart, storeUser, type Account, type Role, type StoredUser, type User,
} from "./records.ts";

export { CatalogError, CatalogErrorCode, ROLES, type Account, type Role, type User } from "./records.ts";

/** Settlement statements kept per account (the newest; about four months of trading days). */
export const STATEMENTS_KEPT = 90;

interface Statement {
  text: string;
  createdNs: string;
}

/** A trading day as DIFF writes one: an integer YYYYMMDD. */
export function isTradingDay(day: unknown): day is number {
  return Number.isSafeInteger(day) && (day as number) >= 19000101 && (day as number) <= 99991231 && (day as number) % 100 >= 1 && (day as number) % 100 <= 31 && Math.floor((day as number) / 100) % 100 >= 1 && Math.floor((day as number) / 100) % 100 <= 12;
}

/** Statement keys sort by account, then day (eight digits sort as the days do). */
function statementKey(account: string, tradingDay: number): string {
  return `${account}\u0000${tradingDay}`;
}

/** On-disk format of the catalog; a catalog of another format is refused at open. */
export const CATALOG_FORMAT = 1;
const MAX_DBS = 8;

export interface CatalogOptions {
  /** Clock for createdNs (default: the wall clock). */
  nowNs?: () => bigint;
}

/** A user to add with `seed`: a name, roles and a password record. */
export interface NewUser {
  name: string;
  roles: readonly Role[];
  password: string;
}

export type PutMode = "upsert" | "insert";

export class Catalog {
  private closed = false;

  private constructor(
    private readonly env: RootDatabase,
    private readonly users: Database<StoredUser, string>,
    private readonly accounts: Database<Account, string>,
    private readonly instruments: Database<InstrumentInfo, string>,
    private readonly meta: Database<number, string>,
    private readonly statements: Database<Statement, string>,
    private readonly nowNs: () => bigint,
  ) {}

  /** Opens (creating if absent) the catalog in `dir`. Throws CatalogError: `io` if it cannot, `corrupt` if it is of another format. */
  static open(dir: string, options: CatalogOptions = {}): Catalog {
    let env: RootDatabase;
    try {
      mkdirSync(dir, { recursive: true });
      env = open({ path: dir, maxDbs: MAX_DBS, encoding: "json" });
    } catch (err) {
      throw new CatalogError("io", `cannot open the catalog in ${dir}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const db = <V>(name: string): Database<V, string> => env.openDB<V, string>(name, { encoding: "json" });
    const catalog = new Catalog(env, db("users"), db("accounts"), db("instruments"), db("meta"), db("statements"), options.nowNs ?? (() => BigInt(Date.now()) * 1_000_000n));
    const format = catalog.meta.get("format");
    if (format !== undefined && format !== CATALOG_FORMAT) {
      void env.close();
      throw new CatalogError("corrupt", `the catalog in ${dir} has format ${JSON.stringify(format)}; this build reads format ${CATALOG_FORMAT}`);
    }
    return catalog;
  }

  // ---- users ----------------------------------------------------------------------------

  getUser(name: string): User | undefined {
    this.live();
    if (!isUserName(name)) return undefined;
    const v = this.users.get(name);
    return v === undefined ? undefined : loadUser(name, v);
  }

  listUsers(): User[] {
    this.live();
    return [...this.users.getRange()].map(({ key, value }) => loadUser(key, value));
  }

  hasUsers(): boolean {
    this.live();
    return this.users.getKeysCount({ limit: 1 }) > 0;
  }

  /** Adds a user and its default account (id = name) together. */
  async addUser(name: string, roles: readonly Role[], passwordRecord: string): Promise<User> {
    this.live();
    checkUserName(name);
    checkPasswordRecord(passwordRecord);
    const user: User = { name, roles: Object.freeze(canonicalRoles(roles)), password: passwordRecord, createdNs: this.nowNs(), disabled: false, version: 1 };
    return this.write(() => {
      this.insertUser(user);
      return Object.freeze(user);
    });
  }

  async setRoles(name: string, roles: readonly Role[]): Promise<User> {
    const canonical = canonicalRoles(roles);
    return await this.updateUser(name, (u) => ({ ...u, roles: canonical }));
  }

  async setPassword(name: string, passwordRecord: string): Promise<User> {
    checkPasswordRecord(passwordRecord);
    return await this.updateUser(name, (u) => ({ ...u, password: passwordRecord }));
  }

  async disableUser(name: string): Promise<User> {
    return await this.updateUser(name, (u) => ({ ...u, disabled: true }));
  }

  async enableUser(name: string): Promise<User> {
    return await this.updateUser(name, (u) => ({ ...u, disabled: false }));
  }

  // ---- accounts -------------------------------------------------------------------------

  /** Adds `owner.unit` for an existing user (the default account comes with addUser). */
  async addAccount(id: string, owner: string): Promise<Account> {
    this.live();
    checkUserName(owner);
    checkAccountId(id, owner);
    const account: Account = Object.freeze({ id, owner });
    return this.write(() => {
      if (this.users.get(owner) === undefined) throw new CatalogError("not-found", `no user ${JSON.stringify(owner)} to own account ${JSON.stringify(id)}`);
      if (this.accounts.get(id) !== undefined) throw new CatalogError("exists", `account ${JSON.stringify(id)} already exists`);
      this.accounts.putSync(id, { id, owner });
      return account;
    });
  }

  getAccount(id: string): Account | undefined {
    this.live();
    if (typeof id !== "string" || ownerPart(id) === undefined) return undefined;
    const v = this.accounts.get(id);
    return v === undefined ? undefined : loadAccount(id, v);
  }

  /** The user's accounts: the default one first, then `user.unit` ones in key order. */
  accountsOf(user: string): Account[] {
    this.live();
    if (!isUserName(user)) return [];
    const own = this.getAccount(user);
    // Keys compare as UTF-8 bytes and "/" follows "." directly, so [user + ".", user + "/") is exactly user.*.
    const units = [...this.accounts.getRange({ start: user + ".", end: user + "/" })].map(({ key, value }) => loadAccount(key, value));
    return own === undefined ? units : [own, ...units];
  }

  listAccounts(): Account[] {
    this.live();
    return [...this.accounts.getRange()].map(({ key, value }) => loadAccount(key, value));
  }

  ownerOf(accountId: string): string | undefined {
    return this.getAccount(accountId)?.owner;
  }

  /** True when the user exists, is enabled and owns the account (whatever its roles: readonly users may watch their own accounts). */
  canUse(user: string, accountId: string): boolean {
    const u = this.getUser(user);
    return u !== undefined && !u.disabled && this.ownerOf(accountId) === u.name;
  }

  /** canUse, and the user holds the trader role. */
  canTrade(user: string, accountId: string): boolean {
    return this.canUse(user, accountId) && this.getUser(user)!.roles.includes("trader");
  }

  // ---- instruments ----------------------------------------------------------------------

  /** Stores the instrument (checked first: every field, and that it translates to engine parameters). `insert` refuses an existing symbol. */
  async putInstrument(info: InstrumentInfo, mode: PutMode = "upsert"): Promise<InstrumentInfo> {
    this.live();
    const checked = checkInstrument(info);
    return this.write(() => {
      if (mode === "insert" && this.instruments.get(checked.symbol) !== undefined) throw new CatalogError("exists", `instrument ${checked.symbol} already exists`);
      this.instruments.putSync(checked.symbol, checked);
      return checked;
    });
  }

  getInstrument(symbol: string): InstrumentInfo | undefined {
    this.live();
    if (typeof symbol !== "string" || symbol.length === 0 || Buffer.byteLength(symbol) > 64) return undefined;
    const v = this.instruments.get(symbol);
    return v === undefined ? undefined : loadInstrument(symbol, v);
  }

  listInstruments(): InstrumentInfo[] {
    this.live();
    return [...this.instruments.getRange()].map(({ key, value }) => loadInstrument(key, value));
  }

  // ---- seeding and lifetime -------------------------------------------------------------

  /**
   * If the catalog has no users: adds these users (each with its default account) and those
   * of the instruments not yet present, in one transaction. Returns what it added, or
   * undefined (changing nothing) when users already exist.
   */
  async seed(users: readonly NewUser[], instruments: readonly InstrumentInfo[]): Promise<{ users: User[]; instruments: InstrumentInfo[] } | undefined> {
    this.live();
    const now = this.nowNs();
    const newUsers = users.map((u): User => {
      checkUserName(u.name);
      checkPasswordRecord(u.password);
      return Object.freeze({ name: u.name, roles: Object.freeze(canonicalRoles(u.roles)), password: u.password, createdNs: now, disabled: false, version: 1 });
    });
    const newInstruments = instruments.map(checkInstrument);
    return this.write(() => {
      if (this.users.getKeysCount({ limit: 1 }) > 0) return undefined;
      for (const u of newUsers) this.insertUser(u);
      const added = newInstruments.filter((i) => this.instruments.get(i.symbol) === undefined);
      for (const i of added) this.instruments.putSync(i.symbol, i);
      return { users: newUsers, instruments: added };
    });
  }

  // ---- settlement statements -------------------------------------------------------------

  /**
   * Keeps the settlement statement of `account` for `tradingDay` (YYYYMMDD), replacing one
   * of the same day, and drops the account's oldest past STATEMENTS_KEPT.
   */
  async putStatement(account: string, tradingDay: number, text: string): Promise<void> {
    this.live();
    if (ownerPart(account) === undefined) throw new CatalogError("invalid", `bad account id ${JSON.stringify(account)?.slice(0, 80)}`);
    if (!isTradingDay(tradingDay)) throw new CatalogError("invalid", `bad trading day ${tradingDay}`);
    await this.write(() => {
      this.statements.putSync(statementKey(account, tradingDay), { text, createdNs: String(this.nowNs()) });
      const keys = [...this.statements.getKeys({ start: account + "\u0000", end: account + "\u0001" })];
      for (const k of keys.slice(0, Math.max(0, keys.length - STATEMENTS_KEPT))) this.statements.removeSync(k);
    });
  }

  /** The settlement statement of `account` for `tradingDay`, or undefined. */
  getStatement(account: string, tradingDay: number): string | undefined {
    this.live();
    if (typeof account !== "string" || ownerPart(account) === undefined || !isTradingDay(tradingDay)) return undefined;
    return this.statements.get(statementKey(account, tradingDay))?.text;
  }

  /** Closes the environment after writes in flight commit; every later call throws `closed`. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.env.close();
  }

  private live(): void {
    if (this.closed) throw new CatalogError("closed", "the catalog is closed");
  }

  /** Inside a write: the user and its default account, or `exists`. */
  private insertUser(user: User): void {
    if (this.users.get(user.name) !== undefined) throw new CatalogError("exists", `user ${JSON.stringify(user.name)} already exists`);
    if (this.accounts.get(user.name) !== undefined) throw new CatalogError("exists", `account ${JSON.stringify(user.name)} already exists`);
    this.users.putSync(user.name, storeUser(user));
    this.accounts.putSync(user.name, { id: user.name, owner: user.name });
  }

  private async updateUser(name: string, change: (u: User) => User): Promise<User> {
    this.live();
    checkUserName(name);
    return this.write(() => {
      const stored = this.users.get(name);
      if (stored === undefined) throw new CatalogError("not-found", `no user ${JSON.stringify(name)}`);
      const current = loadUser(name, stored);
      const next = change(current);
      const same = next.password === current.password && next.disabled === current.disabled && next.roles.join() === current.roles.join();
      if (same) return current;
      const saved: User = Object.freeze({ ...next, version: current.version + 1 });
      this.users.putSync(name, storeUser(saved));
      return saved;
    });
  }

  /**
   * Runs `fn` in a child transaction of the next write batch: reads inside it see the
   * transaction, and if it throws, everything it wrote is rolled back and the error is
   * this call's rejection. Resolves once the batch has committed durably.
   */
  private async write<T>(fn: () => T): Promise<T> {
    this.live();
    try {
      return await this.env.childTransaction(() => {
        if (this.meta.get("format") === undefined) this.meta.putSync("format", CATALOG_FORMAT);
        return fn();
      });
    } catch (err) {
      if (err instanceof CatalogError) throw err;
      throw new CatalogError("io", `catalog write failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

// ---- demo seed --------------------------------------------------------------------------

/** Demo users and their fixed passwords: a localhost demo only, printed by `venue start`. */
export const DEMO_USERS: readonly { name: string; roles: readonly Role[]; password: string }[] = [
  { name: "admin", roles: ["trader", "admin"], password: "admin-pass" },
  { name: "demo1", roles: ["trader"], password: "demo1-pass" },
  { name: "demo2", roles: ["trader"], password: "demo2-pass" },
];

export interface SeedResult {
  /** The users added, with their plain demo passwords and default accounts (empty if the catalog had users). */
  users: Array<{ name: string; roles: readonly Role[]; password: string; account: string }>;
  /** Symbols of the instruments added. */
  instruments: string[];
}

/** If the catalog has no users, adds the demo users and DEMO_INSTRUMENTS; returns what it added. */
export async function seedDemo(catalog: Catalog, hasher: PasswordHasher): Promise<SeedResult> {
  if (catalog.hasUsers()) return { users: [], instruments: [] };
  const records = await Promise.all(DEMO_USERS.map((u) => hasher.hash(u.password)));
  const added = await catalog.seed(DEMO_USERS.map((u, i) => ({ name: u.name, roles: u.roles, password: records[i]! })), DEMO_INSTRUMENTS);
  if (added === undefined) return { users: [], instruments: [] };
  return {
    users: DEMO_USERS.map((u) => ({ name: u.name, roles: canonicalRoles(u.roles), password: u.password, account: u.name })),
    instruments: added.instruments.map((i) => i.symbol),
  };
}
