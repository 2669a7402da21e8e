/**
 * `venue user ...`, `venue account ...` and `venue instrument ...`: the operator's commands on
 * the catalog (src/catalog/). Each opens DATA/catalog (`--data DIR`, default ./data), makes
 * one change or prints one list, and closes it; the node may be running meanwhile (LMDB
 * lets several processes share the catalog).
 *
 * Passwords come from stdin (`--password-stdin`, one trailing newline dropped) or from an
 * environment variable (`--password-env VAR`), never from the command line, where `ps` and
 * shell history would show them. Password records are never printed, only their parameters.
 *
 * Exit codes: 0 done; 1 a fault or a refusal by the state of the catalog (exists, not found,
 * damaged, unwritable); 2 usage, including input that breaks a rule (a bad name, role or
 * field), with a message naming the rule.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Catalog, CatalogError, ROLES, type Role } from "../catalog/catalog.ts";
import { type InstrumentInfo } from "../catalog/instrument.ts";
import { checkPassword, describePasswordRecord, PasswordError, PasswordHasher } from "../catalog/password.ts";
import { canonicalRoles, checkUserName } from "../catalog/records.ts";

const DEFAULT_DATA_DIR = "data";
/** More than any valid password (64 characters of up to 4 bytes) plus a newline. */
const PASSWORD_INPUT_BYTES_MAX = 1024;
/** Without --lower/--upper: lower is one tick, upper this many ticks. */
const DEFAULT_UPPER_TICKS = 1e9;

class UsageError extends Error {
  override readonly name = "UsageError";
}

type Say = (line: string) => void;
const say: Say = (line) => process.stdout.write(line + "\n");

/** Runs one catalog command; maps its errors to exit codes and messages. */
async function run(command: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (err) {
    const isUsage = err instanceof UsageError || (err instanceof CatalogError && err.code === "invalid") || (err instanceof PasswordError && err.code === "invalid-password");
    if (isUsage) {
      process.stderr.write(`venue ${command}: ${err.message}\n`);
      return 2;
    }
    if (err instanceof CatalogError || err instanceof PasswordError) {
      process.stderr.write(`venue ${command}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

function catalogDir(data: string | undefined): string {
  return join(data ?? DEFAULT_DATA_DIR, "catalog");
}

/** Opens the catalog for a change, closing it after `fn`. */
async function withCatalog<T>(data: string | undefined, fn: (c: Catalog) => Promise<T> | T): Promise<T> {
  const catalog = Catalog.open(catalogDir(data));
  try {
    return await fn(catalog);
  } finally {
    await catalog.close();
  }
}

/** Like withCatalog for a listing, but a catalog that does not exist lists as empty instead of being created. */
async function readCatalog<T>(data: string | undefined, empty: T, fn: (c: Catalog) => T): Promise<T> {
  if (!existsSync(join(catalogDir(data), "data.mdb"))) {
    // Said on stderr, so that a mistyped --data does not pass for an empty catalog.
    process.stderr.write(`venue: no catalog in ${catalogDir(data)} yet (nothing added there, or not the data folder meant)\n`);
    return empty;
  }
  return withCatalog(data, fn);
}

async function withHasher<T>(fn: (h: PasswordHasher) => Promise<T>): Promise<T> {
  const hasher = new PasswordHasher();
  try {
    return await fn(hasher);
  } finally {
    await hasher.close();
  }
}

function oneName(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`takes exactly one ${what}`);
  return positionals[0]!;
}

function roles(raw: string[] | undefined, fallback: Role[] | undefined): Role[] {
  if (raw === undefined || raw.length === 0) {
    if (fallback === undefined) throw new UsageError(`needs --role (${ROLES.join(", ")}; repeat it for several)`);
    return fallback;
  }
  const out = raw.flatMap((r) => r.split(","));
  for (const r of out) if (!(ROLES as readonly string[]).includes(r)) throw new UsageError(`unknown role ${JSON.stringify(r)}: roles are ${ROLES.join(", ")}`);
  return out as Role[];
}

async function readPassword(values: { "password-stdin"?: boolean | undefined; "password-env"?: string | undefined }): Promise<string> {
  const fromStdin = values["password-stdin"] === true;
  const envName = values["password-env"];
  if (fromStdin === (envName !== undefined)) throw new UsageError("needs the password from exactly one of --password-stdin or --password-env VAR");
  if (envName !== undefined) {
    const pw = process.env[envName];
    if (pw === undefined) throw new UsageError(`environment variable ${envName} is not set`);
    return pw;
  }
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of process.stdin) {
    const b = chunk as Buffer;
    bytes += b.byteLength;
    if (bytes > PASSWORD_INPUT_BYTES_MAX) throw new UsageError(`the password on stdin is longer than ${PASSWORD_INPUT_BYTES_MAX} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c]!))).join("  "));
}

function isoNs(ns: bigint): string {
  return new Date(Number(ns / 1_000_000n)).toISOString();
}

const DATA = { data: { type: "string" } } as const;
const PASSWORD = { "password-stdin": { type: "boolean" }, "password-env": { type: "string" } } as const;

// ---- venue user -------------------------------------------------------------------------

export function userCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const cmd = `user ${sub ?? ""}`.trim();
  return run(cmd, async () => {
    switch (sub) {
      case "add": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA, ...PASSWORD, role: { type: "string", multiple: true } } });
        const name = oneName(positionals, "NAME");
        const r = canonicalRoles(roles(values.role, ["trader"]));
        checkUserName(name);
        const password = await readPassword(values);
        checkPassword(password);
        const user = await withCatalog(values.data, async (c) => {
          // Refuse a taken name before a third of a second of hashing; addUser checks again in its transaction.
          if (c.getUser(name) !== undefined) throw new CatalogError("exists", `user ${JSON.stringify(name)} already exists`);
          return c.addUser(name, r, await withHasher((h) => h.hash(password)));
        });
        say(`added user ${user.name} (${user.roles.join(", ")}) with its default account ${user.name}`);
        return;
      }
      case "list": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA } });
        if (positionals.length !== 0) throw new UsageError("takes no arguments");
        const rows = await readCatalog(values.data, [] as string[][], (c) =>
          c.listUsers().map((u) => [u.name, u.roles.join(","), u.disabled ? "disabled" : "enabled", isoNs(u.createdNs), describePasswordRecord(u.password), c.accountsOf(u.name).map((a) => a.id).join(",")]),
        );
        if (rows.length === 0) return say("no users");
        for (const line of table([["NAME", "ROLES", "STATUS", "CREATED", "PASSWORD", "ACCOUNTS"], ...rows])) say(line);
        return;
      }
      case "passwd": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA, ...PASSWORD } });
        const name = oneName(positionals, "NAME");
        const password = await readPassword(values);
        checkPassword(password);
        // Check the user first, so a typo in the name fails before a third of a second of hashing.
        await withCatalog(values.data, async (c) => {
          if (c.getUser(name) === undefined) throw new CatalogError("not-found", `no user ${JSON.stringify(name)}`);
          const record = await withHasher((h) => h.hash(password));
          await c.setPassword(name, record);
        });
        say(`changed the password of ${name}`);
        return;
      }
      case "role": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA, role: { type: "string", multiple: true } } });
        const name = oneName(positionals, "NAME");
        const r = roles(values.role, undefined);
        const user = await withCatalog(values.data, (c) => c.setRoles(name, r));
        say(`${user.name} now has roles ${user.roles.join(", ")}`);
        return;
      }
      case "disable":
      case "enable": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA } });
        const name = oneName(positionals, "NAME");
        await withCatalog(values.data, (c) => (sub === "disable" ? c.disableUser(name) : c.enableUser(name)));
        say(`${sub}d user ${name}`);
        return;
      }
      default:
        throw new UsageError(sub === undefined ? "needs a subcommand: add, list, passwd, role, disable, enable" : `unknown subcommand ${JSON.stringify(sub)}: add, list, passwd, role, disable, enable`);
    }
  });
}

// ---- venue account ----------------------------------------------------------------------

export function accountCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const cmd = `account ${sub ?? ""}`.trim();
  return run(cmd, async () => {
    switch (sub) {
      case "add": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA, owner: { type: "string" } } });
        const id = oneName(positionals, "ID");
        if (values.owner === undefined) throw new UsageError("needs --owner USER");
        const account = await withCatalog(values.data, (c) => c.addAccount(id, values.owner!));
        say(`added account ${account.id} owned by ${account.owner}`);
        return;
      }
      case "list": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA, owner: { type: "string" } } });
        if (positionals.length !== 0) throw new UsageError("takes no arguments");
        const rows = await readCatalog(values.data, [] as string[][], (c) =>
          (values.owner === undefined ? c.listAccounts() : c.accountsOf(values.owner)).map((a) => [a.id, a.owner]),
        );
        if (rows.length === 0) return say("no accounts");
        for (const line of table([["ID", "OWNER"], ...rows])) say(line);
        return;
      }
      default:
        throw new UsageError(sub === undefined ? "needs a subcommand: add, list" : `unknown subcommand ${JSON.stringify(sub)}: add, list`);
    }
  });
}

// ---- venue instrument -------------------------------------------------------------------

const INSTRUMENT_OPTIONS = {
  ...DATA,
  tick: { type: "string" },
  decs: { type: "string" },
  multiple: { type: "string" },
  "margin-rate-bp": { type: "string" },
  margin: { type: "string" },
  commission: { type: "string" },
  "commission-rate-bp": { type: "string" },
  lower: { type: "string" },
  upper: { type: "string" },
  "min-volume": { type: "string" },
  "max-volume": { type: "string" },
  "position-limit": { type: "string" },
  class: { type: "string" },
  name: { type: "string" },
  product: { type: "string" },
  currency: { type: "string" },
  "close-today-distinct": { type: "boolean" },
  replace: { type: "boolean" },
} as const;

function number(option: string, raw: string | undefined, fallback?: number): number {
  if (raw === undefined) {
    if (fallback === undefined) throw new UsageError(`needs --${option} N`);
    return fallback;
  }
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n)) throw new UsageError(`--${option} must be a number, not ${JSON.stringify(raw)}`);
  return n;
}

type InstrumentValues = { [K in keyof typeof INSTRUMENT_OPTIONS]?: (typeof INSTRUMENT_OPTIONS)[K]["type"] extends "boolean" ? boolean : string };

/** The InstrumentInfo the options describe; the catalog checks every field when it is stored. */
function instrumentFrom(symbol: string, v: InstrumentValues): InstrumentInfo {
  const dot = symbol.indexOf(".");
  if (dot <= 0) throw new UsageError(`SYMBOL must be EXCHANGE.CODE, not ${JSON.stringify(symbol)}`);
  const insId = symbol.slice(dot + 1);
  const priceTick = number("tick", v.tick);
  const priceDecs = number("decs", v.decs);
  if ((v.lower === undefined) !== (v.upper === undefined)) throw new UsageError("--lower and --upper go together");
  return {
    symbol, exchangeId: symbol.slice(0, dot), insId, productId: v.product ?? (/^[A-Za-z]+/.exec(insId)?.[0] ?? insId),
    name: v.name ?? insId, insClass: v.class ?? "FUTURE",
    priceTick, priceDecs, volumeMultiple: number("multiple", v.multiple), currency: v.currency ?? "CNY",
    marginPerLot: number("margin", v.margin, 0), marginRateBp: number("margin-rate-bp", v["margin-rate-bp"], 0),
    commissionPerLot: number("commission", v.commission, 0), commissionRateBp: number("commission-rate-bp", v["commission-rate-bp"], 0),
    positionLimit: number("position-limit", v["position-limit"], 0),
    lowerLimit: number("lower", v.lower, priceTick),
    upperLimit: number("upper", v.upper, Number.isInteger(priceDecs) && priceDecs >= 0 && priceDecs <= 20 ? Number((priceTick * DEFAULT_UPPER_TICKS).toFixed(priceDecs)) : priceTick),
    minOrderVolume: number("min-volume", v["min-volume"], 1), maxOrderVolume: number("max-volume", v["max-volume"], 1000),
    closeTodayDistinct: v["close-today-distinct"] === true,
    tradingTime: { day: [], night: [] },
  };
}

export function instrumentCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  const cmd = `instrument ${sub ?? ""}`.trim();
  return run(cmd, async () => {
    switch (sub) {
      case "add": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: INSTRUMENT_OPTIONS });
        const info = instrumentFrom(oneName(positionals, "SYMBOL"), values);
        const stored = await withCatalog(values.data, (c) => c.putInstrument(info, values.replace === true ? "upsert" : "insert"));
        say(`${values.replace === true ? "stored" : "added"} instrument ${stored.symbol}`);
        return;
      }
      case "list": {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { ...DATA } });
        if (positionals.length !== 0) throw new UsageError("takes no arguments");
        const rows = await readCatalog(values.data, [] as string[][], (c) =>
          c.listInstruments().map((i) => [
            i.symbol, i.insClass, String(i.priceTick), String(i.priceDecs), String(i.volumeMultiple), i.currency,
            `${i.marginPerLot}+${i.marginRateBp}bp`, `${i.commissionPerLot}+${i.commissionRateBp}bp`, `${i.lowerLimit}..${i.upperLimit}`,
            `${i.minOrderVolume}..${i.maxOrderVolume}`, i.name,
          ]),
        );
        if (rows.length === 0) return say("no instruments");
        for (const line of table([["SYMBOL", "CLASS", "TICK", "DECS", "MULTIPLE", "CCY", "MARGIN", "COMMISSION", "PRICES", "VOLUME", "NAME"], ...rows])) say(line);
        return;
      }
      default:
        throw new UsageError(sub === undefined ? "needs a subcommand: add, list" : `unknown subcommand ${JSON.stringify(sub)}: add, list`);
    }
  });
}
