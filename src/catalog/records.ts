/**
 * The catalog's records (user, account, instrument), the rules each must satisfy, and their
 * stored form. Every check that can reject input lives here, so the rules read in one place
 * and catalog.ts only stores what passed. Pure functions; any thread may call them.
 *
 * Stored form (JSON, one value per key; see docs/catalog.md):
 *   users/<name>        {"name","roles":[...],"password":"scrypt$...","createdNs":"<decimal>","disabled":false,"version":1}
 *   accounts/<id>       {"id","owner"}
 *   instruments/<sym>   an InstrumentInfo, field for field
 * createdNs is a decimal string because nanoseconds since 1970 exceed 2^53.
 */

import { MAX_ACCOUNT_ID_BYTES, MAX_SYMBOL_BYTES } from "../schema/command.ts";
import { VenueError } from "../stdx/errors.ts";
import { engineParams, InstrumentError, type InstrumentInfo, type TradingTime } from "./instrument.ts";
import { parsePasswordRecord, PasswordError } from "./password.ts";

export const CatalogErrorCode = {
  /** Input breaks a rule; the message names the field and the rule. */
  invalid: "invalid",
  exists: "exists",
  notFound: "not-found",
  /** A stored value does not decode: the database was damaged or written by something else. */
  corrupt: "corrupt",
  closed: "closed",
  /** The database could not be opened or written (permissions, disk). */
  io: "io",
} as const;
export type CatalogErrorCode = (typeof CatalogErrorCode)[keyof typeof CatalogErrorCode];

export class CatalogError extends VenueError {
  override readonly name = "CatalogError";

  constructor(override readonly code: CatalogErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export const ROLES = ["trader", "readonly", "admin"] as const;
export type Role = (typeof ROLES)[number];

export interface User {
  name: string;
  /** Canonical order (trader, readonly, admin), no repeats, at least one. */
  roles: readonly Role[];
  /** A scrypt record (password.ts); never shown in full. */
  password: string;
  createdNs: bigint;
  disabled: boolean;
  /** 1 when added, +1 on every change: a session may compare it to notice a changed password, roles or status. */
  version: number;
}

export interface Account {
  id: string;
  owner: string;
}

/** Most characters in a user name (and bytes, so that it fits as its own account id). */
export const USER_NAME_MAX = 64;
export const INSTRUMENT_NAME_MAX = 64;
export const INS_CLASSES = ["FUTURE", "OPTION", "FUTURE_OPTION", "SPOT", "STOCK", "BOND", "FUND"] as const;
/** Largest price_decs: 10^8 keeps engine prices of any sane instrument far below 2^53. */
export const PRICE_DECS_MAX = 8;
export const RATE_BP_MAX = 10_000;

/** `.` splits an account id (user.unit); `=#|;/`, whitespace and control characters are DIFF's separators or unsafe. */
const NAME_FORBIDDEN = /[=#|;/.\s\p{Cc}\p{Cf}]/u;

function invalid(message: string): CatalogError {
  return new CatalogError("invalid", message);
}

function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, "utf8");
}

/** A user name, or the unit part of an account id: 1-64 characters and bytes, none forbidden, not starting with `_`. */
function checkNamePart(what: string, name: unknown): asserts name is string {
  if (typeof name !== "string") throw invalid(`${what} must be a string`);
  const chars = [...name].length;
  if (chars < 1 || chars > USER_NAME_MAX || utf8Bytes(name) > USER_NAME_MAX) throw invalid(`${what} must be 1 to ${USER_NAME_MAX} characters (and at most ${USER_NAME_MAX} bytes of UTF-8), not ${JSON.stringify(name)}`);
  const bad = NAME_FORBIDDEN.exec(name);
  if (bad !== null) throw invalid(`${what} ${JSON.stringify(name)} contains ${JSON.stringify(bad[0])}: no whitespace, control characters or any of = # | ; / .`);
  if (name.startsWith("_")) throw invalid(`${what} ${JSON.stringify(name)} must not start with "_" (reserved)`);
}

export function checkUserName(name: unknown): asserts name is string {
  checkNamePart("user name", name);
}

/** True when the name is well formed (reads answer "not found" for names that could not exist). */
export function isUserName(name: unknown): name is string {
  try {
    checkUserName(name);
    return true;
  } catch (err) {
    if (err instanceof CatalogError) return false;
    throw err;
  }
}

/** The roles in canonical order; rejects an empty set, unknown roles, and readonly with trader. */
export function canonicalRoles(roles: unknown): Role[] {
  if (!Array.isArray(roles) || roles.length === 0) throw invalid(`roles must list at least one of ${ROLES.join(", ")}`);
  for (const r of roles) if (!(ROLES as readonly unknown[]).includes(r)) throw invalid(`unknown role ${JSON.stringify(r)}: roles are ${ROLES.join(", ")}`);
  const out = ROLES.filter((r) => roles.includes(r));
  if (out.includes("readonly") && out.includes("trader")) throw invalid("roles readonly and trader exclude each other");
  return out;
}

export function checkPasswordRecord(record: unknown): asserts record is string {
  try {
    parsePasswordRecord(record as string);
  } catch (err) {
    if (err instanceof PasswordError) throw new CatalogError("invalid", err.message, { cause: err });
    throw err;
  }
}

/** An account id is its owner's name (the default account) or `owner.unit`; at most 64 bytes. */
export function checkAccountId(id: unknown, owner: string): asserts id is string {
  if (typeof id !== "string") throw invalid("account id must be a string");
  if (utf8Bytes(id) > MAX_ACCOUNT_ID_BYTES) throw invalid(`account id ${JSON.stringify(id)} is longer than ${MAX_ACCOUNT_ID_BYTES} bytes of UTF-8`);
  if (id === owner) return;
  if (!id.startsWith(owner + ".")) throw invalid(`account id ${JSON.stringify(id)} must be the owner's name ${JSON.stringify(owner)} or ${JSON.stringify(owner + ".UNIT")}`);
  checkNamePart("account unit", id.slice(owner.length + 1));
}

/** The owner an account id names (the part before the first dot), or undefined if it cannot be an account id. */
export function ownerPart(id: string): string | undefined {
  const dot = id.indexOf(".");
  const owner = dot < 0 ? id : id.slice(0, dot);
  return isUserName(owner) && utf8Bytes(id) <= MAX_ACCOUNT_ID_BYTES ? owner : undefined;
}

// ---- instruments ----------------------------------------------------------------------

const INSTRUMENT_FIELDS = [
  "symbol", "exchangeId", "insId", "productId", "name", "insClass", "priceTick", "priceDecs", "volumeMultiple", "currency",
  "marginPerLot", "marginRateBp", "commissionPerLot", "commissionRateBp", "positionLimit", "lowerLimit", "upperLimit",
  "minOrderVolume", "maxOrderVolume", "closeTodayDistinct", "tradingTime",
] as const satisfies ReadonlyArray<keyof InstrumentInfo>;

const CLOCK = /^([0-3]\d|4[0-7]):[0-5]\d:[0-5]\d$/;

type Fields = Record<string, unknown>;

function str(o: Fields, k: string, re: RegExp, rule: string): string {
  const v = o[k];
  if (typeof v !== "string" || !re.test(v)) throw invalid(`instrument ${k} must be ${rule}, not ${JSON.stringify(v)}`);
  return v;
}

function num(o: Fields, k: string, positive: boolean): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (positive && v === 0)) throw invalid(`instrument ${k} must be a finite number ${positive ? "> 0" : ">= 0"}, not ${JSON.stringify(v)}`);
  return v;
}

function int(o: Fields, k: string, min: number, max: number): number {
  const v = o[k];
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) throw invalid(`instrument ${k} must be a whole number from ${min} to ${max}, not ${JSON.stringify(v)}`);
  return v;
}

function bool(o: Fields, k: string): boolean {
  const v = o[k];
  if (typeof v !== "boolean") throw invalid(`instrument ${k} must be true or false, not ${JSON.stringify(v)}`);
  return v;
}

function sessions(k: string, v: unknown): Array<[string, string]> {
  if (!Array.isArray(v)) throw invalid(`instrument tradingTime.${k} must be a list of [start, end] pairs`);
  return v.map((pair: unknown, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((t) => typeof t === "string" && CLOCK.test(t)) || !(pair[0] < pair[1])) {
      throw invalid(`instrument tradingTime.${k}[${i}] must be ["HH:MM:SS", "HH:MM:SS"] with start < end (hours up to 47 for night sessions), not ${JSON.stringify(pair)}`);
    }
    return [pair[0] as string, pair[1] as string];
  });
}

function tradingTime(v: unknown): TradingTime {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw invalid("instrument tradingTime must be {day: [...], night: [...]}");
  const t = v as Fields;
  for (const k of Object.keys(t)) if (k !== "day" && k !== "night") throw invalid(`instrument tradingTime has an unknown field ${JSON.stringify(k)}`);
  return { day: sessions("day", t["day"]), night: sessions("night", t["night"]) };
}

/** A checked copy of the instrument with exactly its known fields; throws CatalogError(invalid) naming the field. */
export function checkInstrument(input: unknown): InstrumentInfo {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw invalid("instrument must be an object");
  const o = input as Fields;
  for (const k of Object.keys(o)) if (!(INSTRUMENT_FIELDS as readonly string[]).includes(k)) throw invalid(`instrument has an unknown field ${JSON.stringify(k)}`);
  const info: InstrumentInfo = {
    symbol: str(o, "symbol", /^[A-Z][A-Z0-9]*\.[A-Za-z0-9][A-Za-z0-9_-]*$/, "EXCHANGE.CODE (letters, digits, _ and - in the code)"),
    exchangeId: str(o, "exchangeId", /^[A-Z][A-Z0-9]{0,15}$/, "1 to 16 capital letters and digits"),
    insId: str(o, "insId", /^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/, "1 to 31 letters, digits, _ and -"),
    productId: str(o, "productId", /^[A-Za-z0-9_]{1,16}$/, "1 to 16 letters, digits and _"),
    name: str(o, "name", /^[^\p{Cc}\p{Cf}]{1,64}$/u, `1 to ${INSTRUMENT_NAME_MAX} characters with no control characters`),
    insClass: str(o, "insClass", new RegExp(`^(${INS_CLASSES.join("|")})$`), `one of ${INS_CLASSES.join(", ")}`),
    priceTick: num(o, "priceTick", true),
    priceDecs: int(o, "priceDecs", 0, PRICE_DECS_MAX),
    volumeMultiple: num(o, "volumeMultiple", true),
    currency: str(o, "currency", /^[A-Z]{3}$/, "a three-letter currency code"),
    marginPerLot: num(o, "marginPerLot", false),
    marginRateBp: int(o, "marginRateBp", 0, RATE_BP_MAX),
    commissionPerLot: num(o, "commissionPerLot", false),
    commissionRateBp: int(o, "commissionRateBp", 0, RATE_BP_MAX),
    positionLimit: int(o, "positionLimit", 0, Number.MAX_SAFE_INTEGER),
    lowerLimit: num(o, "lowerLimit", true),
    upperLimit: num(o, "upperLimit", true),
    minOrderVolume: int(o, "minOrderVolume", 1, Number.MAX_SAFE_INTEGER),
    maxOrderVolume: int(o, "maxOrderVolume", 1, Number.MAX_SAFE_INTEGER),
    closeTodayDistinct: bool(o, "closeTodayDistinct"),
    tradingTime: tradingTime(o["tradingTime"]),
  };
  if (info.symbol !== `${info.exchangeId}.${info.insId}`) throw invalid(`instrument symbol ${JSON.stringify(info.symbol)} must be exchangeId.insId (${info.exchangeId}.${info.insId})`);
  if (utf8Bytes(info.symbol) > MAX_SYMBOL_BYTES) throw invalid(`instrument symbol ${JSON.stringify(info.symbol)} is longer than ${MAX_SYMBOL_BYTES} bytes`);
  try {
    engineParams(info);
  } catch (err) {
    if (err instanceof InstrumentError) throw new CatalogError("invalid", `instrument ${info.symbol}: ${err.message}`, { cause: err });
    throw err;
  }
  return info;
}

// ---- stored form ----------------------------------------------------------------------

export interface StoredUser {
  name: string;
  roles: Role[];
  password: string;
  createdNs: string;
  disabled: boolean;
  version: number;
}

export function storeUser(u: User): StoredUser {
  return { name: u.name, roles: [...u.roles], password: u.password, createdNs: u.createdNs.toString(), disabled: u.disabled, version: u.version };
}

function corrupt(what: string, err?: unknown): CatalogError {
  return new CatalogError("corrupt", `stored ${what} does not decode: the catalog is damaged or was written by something else`, { cause: err });
}

export function loadUser(key: string, v: unknown): User {
  try {
    const s = v as StoredUser;
    checkUserName(s.name);
    if (s.name !== key || !/^\d{1,20}$/.test(s.createdNs) || typeof s.disabled !== "boolean" || !Number.isSafeInteger(s.version) || s.version < 1) throw corrupt(`user ${JSON.stringify(key)}`);
    checkPasswordRecord(s.password);
    return Object.freeze({ name: s.name, roles: Object.freeze(canonicalRoles(s.roles)), password: s.password, createdNs: BigInt(s.createdNs), disabled: s.disabled, version: s.version });
  } catch (err) {
    if (err instanceof CatalogError && err.code === "corrupt") throw err;
    throw corrupt(`user ${JSON.stringify(key)}`, err);
  }
}

export function loadAccount(key: string, v: unknown): Account {
  const a = v as Partial<Account> | null;
  if (a === null || typeof a !== "object" || a.id !== key || typeof a.owner !== "string" || ownerPart(key) !== a.owner) throw corrupt(`account ${JSON.stringify(key)}`);
  return Object.freeze({ id: a.id, owner: a.owner });
}

export function loadInstrument(key: string, v: unknown): InstrumentInfo {
  try {
    const info = checkInstrument(v);
    if (info.symbol !== key) throw corrupt(`instrument ${JSON.stringify(key)}`);
    return info;
  } catch (err) {
    if (err instanceof CatalogError && err.code === "corrupt") throw err;
    throw corrupt(`instrument ${JSON.stringify(key)}`, err);
  }
}
