/**
 * The settings of `venue start`, each defined once: its name (the key in a config file),
 * its flag and environment variable (both derived from the name), its type, default,
 * limits and description. Everything else is generated from that one table: the parser,
 * the errors, `venue start --help` and the table in docs/configuration.md (a test fails
 * if the document is stale).
 *
 * A setting's value comes from, first to last: its flag (`--snapshot-every N`), its
 * environment variable (`VENUE_SNAPSHOT_EVERY`), the config file (`--config FILE` or
 * `VENUE_CONFIG`: one JSON object keyed by setting name), its default. Every source is
 * checked whole, even where a higher one overrides it: a broken file is an error whether or
 * not a flag hides the broken value. An error is one line naming the setting as that source
 * spells it, what a valid value is, the value found and the source.
 *
 * Called on the main thread before the node is built; pure apart from reading the file.
 */

import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { assert } from "../stdx/assert.ts";
import { DEFAULT_WAIT } from "../bus/wait.ts";
import { DEFAULT_THREAD_SCHEDULING } from "../node/threads.ts";
import { TOPIC_RING_BYTES } from "../schema/topics.ts";
import { RING_CAPACITY_MAX } from "../schema/ring.ts";
import { DEFAULT_SEGMENT_BYTES } from "../wal/writer.ts";
import { HASH_THREADS_DEFAULT, HASH_THREADS_MAX } from "../catalog/password.ts";
import { DEFAULT_SERVER_OPTIONS } from "../gateway/server.ts";
import { DEFAULT_GATEWAY_OPTIONS } from "../gateway/gateway.ts";
import { DEFAULT_SESSION_LIMITS } from "../gateway/session.ts";
import { parseClockTime } from "../node/schedule.ts";
import { HOLIDAYS_MAX, holidayListError } from "../market/calendar.ts";
import { validTradingDay } from "../market/time.ts";
import { WARM_UP_COMMANDS_MAX } from "../node/warmup.ts";

/** A usage error in the configuration: `venue start` prints it on one line and exits 2. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
}

const KiB = 1 << 10;
const MiB = 1 << 20;
const GiB = 1 << 30;

/** How one setting's values are read, checked and shown. */
export interface Kind<T> {
  /** The type as help shows it: integer, size, boolean, string, list, date, or the choices. */
  readonly type: string;
  /** The placeholder after the flag in help. */
  readonly metavar: string;
  /** What a valid value is, completing "X must be ...". */
  readonly expected: string;
  /** A value from a flag or the environment; undefined when it is not valid. */
  fromText(raw: string): T | undefined;
  /** A value from the config file (parsed JSON); undefined when it is not valid. */
  fromJson(value: unknown): T | undefined;
  /** The value as a flag or variable would spell it. */
  format(value: T): string;
}

function integer(min: number, max: number): Kind<number> {
  const check = (n: number): number | undefined => (Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined);
  return {
    type: "integer",
    metavar: "N",
    expected: `an integer from ${formatInt(min)} to ${formatInt(max)}`,
    fromText: (raw) => (/^-?\d+(_\d+)*$/.test(raw) ? check(Number(raw.replaceAll("_", ""))) : undefined),
    fromJson: (v) => (typeof v === "number" ? check(v) : undefined),
    format: (n) => String(n),
  };
}

const SIZE_UNITS: Record<string, number> = { "": 1, KiB, MiB, GiB };

/** A byte count: a plain integer, or an integer with KiB, MiB or GiB (`64MiB`). */
function size(min: number, max: number, powerOfTwo: boolean): Kind<number> {
  const check = (n: number): number | undefined =>
    Number.isSafeInteger(n) && n >= min && n <= max && (!powerOfTwo || (n & (n - 1)) === 0) ? n : undefined;
  const fromText = (raw: string): number | undefined => {
    const m = /^(\d+)\s*(KiB|MiB|GiB)?$/.exec(raw);
    return m === null ? undefined : check(Number(m[1]) * SIZE_UNITS[m[2] ?? ""]!);
  };
  return {
    type: "size",
    metavar: "SIZE",
    expected: `a size from ${formatBytes(min)} to ${formatBytes(max)}${powerOfTwo ? ", a power of two" : ""} (bytes, or a number with KiB, MiB or GiB)`,
    fromText,
    fromJson: (v) => (typeof v === "number" ? check(v) : typeof v === "string" ? fromText(v) : undefined),
    format: formatBytes,
  };
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

function boolean(): Kind<boolean> {
  return {
    type: "boolean",
    metavar: "",
    expected: "true or false",
    fromText: (raw) => (TRUE_WORDS.has(raw.toLowerCase()) ? true : FALSE_WORDS.has(raw.toLowerCase()) ? false : undefined),
    fromJson: (v) => (typeof v === "boolean" ? v : undefined),
    format: (b) => String(b),
  };
}

function text(metavar: string, expected: string, valid: (s: string) => boolean): Kind<string> {
  const check = (s: string): string | undefined => (valid(s) ? s : undefined);
  return { type: "string", metavar, expected, fromText: check, fromJson: (v) => (typeof v === "string" ? check(v) : undefined), format: (s) => s };
}

function oneOf<const T extends string>(choices: readonly T[]): Kind<T> {
  const check = (s: string): T | undefined => choices.find((c) => c === s);
  return {
    type: choices.join(" | "),
    metavar: choices.join("|"),
    expected: `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`,
    fromText: check,
    fromJson: (v) => (typeof v === "string" ? check(v) : undefined),
    format: (s) => s,
  };
}

/** Strings: comma-separated in a flag or variable, a JSON array in the file. */
function list(metavar: string, expected: string, validItem: (s: string) => boolean): Kind<readonly string[]> {
  const check = (items: readonly unknown[]): readonly string[] | undefined =>
    items.length > 0 && items.every((s) => typeof s === "string" && validItem(s)) ? (items as readonly string[]) : undefined;
  return {
    type: "list",
    metavar,
    expected,
    fromText: (raw) => check(raw.split(",").map((s) => s.trim())),
    fromJson: (v) => (Array.isArray(v) ? check(v) : undefined),
    format: (items) => items.join(","),
  };
}

/** A trading day: `auto` (today in China, UTC+8, at start) or a date as YYYYMMDD. */
function tradingDay(): Kind<string> {
  return { ...text("YYYYMMDD", `"auto" or a date as YYYYMMDD`, (s) => s === "auto" || validTradingDay(s)), type: "date" };
}

/** Holidays, dates as YYYYMMDD: comma-separated in a flag or variable (`none` for no dates), a JSON array in the file. */
function holidayDates(): Kind<readonly string[]> {
  const check = (items: readonly unknown[]): readonly string[] | undefined =>
    items.every((s) => typeof s === "string") && holidayListError(items as string[]) === undefined ? [...(items as string[])].sort() : undefined;
  return {
    type: "dates",
    metavar: "YYYYMMDD,...",
    expected: `none, or at most ${formatInt(HOLIDAYS_MAX)} dates as YYYYMMDD, comma-separated (a JSON array of them in the file)`,
    fromText: (raw) => (raw.trim() === "none" || raw.trim() === "" ? [] : check(raw.split(",").map((s) => s.trim()))),
    fromJson: (v) => (Array.isArray(v) ? check(v) : undefined),
    format: (items) => (items.length === 0 ? "none" : items.join(",")),
  };
}

/** The groups help and the document list settings in, in this order. */
export const GROUPS = ["node", "journal and snapshots", "threads and rings", "gateway"] as const;
export type Group = (typeof GROUPS)[number];

export interface Setting<T> {
  readonly group: Group;
  readonly kind: Kind<T>;
  readonly default: T;
  readonly description: string;
  /** A path: one from the config file is taken relative to the file's folder. */
  readonly path?: boolean;
}

function setting<T>(s: Setting<T>): Setting<T> {
  return s;
}

/** An origin a browser sends (`http://host:8080`), with `:*` for any port, or `*` for any origin. */
const ORIGIN = /^[a-z][a-z0-9+.-]*:\/\/[^/\s,*]+(:\*)?$/i;
/** What DIFF carries as a broker id: no spaces and none of `=#|;/`. */
const BROKER_ID = /^[^=#|;/\s]{1,64}$/;

assert(DEFAULT_WAIT.kind === "spinPark", "the default wait strategy is spin-then-park");

/**
 * Every setting of `venue start`. A default here that is also a default inside the node
 * comes from the node's own constant where it exports one, so the two cannot drift.
 */
export const SETTINGS = {
  // node
  data: setting({
    group: "node", kind: text("DIR", "a folder path", (s) => s.length > 0), default: "data", path: true,
    description: "The data folder: journal, snapshots, event store, market-data checkpoint and catalog (created if missing).",
  }),
  demo: setting({
    group: "node", kind: boolean(), default: true,
    description: "Seed an empty catalog with demo users (printed with their passwords) and demo instruments, and fund the demo accounts. Off: add users with `venue user add`.",
  }),
  demoFlow: setting({
    group: "node", kind: integer(0, 10_000), default: 0,
    description: "Orders a second of the demo order flow (a plugin with a market maker and a taker of its own on the catalog's instruments), so clients see a live market; 0: off.",
  }),
  warmUpCommands: setting({
    group: "node", kind: integer(0, WARM_UP_COMMANDS_MAX), default: 50_000,
    description: "Synthetic commands run through a scratch engine and engine loop before recovery and before the first command, so that V8 has compiled the engine's code for the paths it takes (the first 100,000 commands ran 1.7x faster after one of 50,000; docs/BENCHMARKS.md). Nothing of it is kept. 0: none.",
  }),
  markEveryMs: setting({
    group: "node", kind: integer(0, 3_600_000), default: 1_000,
    description: "Milliseconds between timed marks of every instrument: positions valued at the last trade price, margins re-priced, risk ratios rated and breaches liquidated (docs/ARCHITECTURE.md, accounts). 0: none (an admin marks on demand: POST /admin/mark).",
  }),
  settleAt: setting({
    group: "node", kind: text("HH:MM", "a time of day as HH:MM (00:00 to 23:59), or off", (s) => s === "off" || parseClockTime(s) !== undefined), default: "15:30",
    description: "The time of day, China time (UTC+8), of the daily settlement, Monday to Friday less the holidays: good-for-day orders expire, today's positions become earlier ones, balances roll and the trading day ends. A node down at that time settles at the next one. off: none (an admin settles on demand: POST /admin/settle).",
  }),
  holidays: setting({
    group: "node", kind: holidayDates(), default: [],
    description: "Weekdays that do not trade, China dates (the exchanges publish each year's): no settlement on them, and after a settlement the trading day moves to the next weekday that is not one. none: Monday to Friday all trade.",
  }),
  eventStore: setting({
    group: "node", kind: boolean(), default: true,
    description: "Keep every event in the event store (DATA/events), written by the storage worker.",
  }),
  memtableBytes: setting({
    group: "node", kind: size(64 * KiB, GiB, false), default: 32 * MiB,
    description: "The event store's MemTable: events held in memory before they are flushed to a table.",
  }),
  maxOpenTables: setting({
    group: "node", kind: integer(0, 60_000), default: 0,
    description: "The event store's tables kept open for reads, each a memory mapping (Linux allows 65,530 a process by default, vm.max_map_count) or, without the native addon, a descriptor: past it the least recently read are closed and opened again when next read. 0: 20,000 mapped, 1,000 with descriptors.",
  }),
  logFormat: setting({
    group: "node", kind: oneOf(["auto", "pretty", "json"]), default: "auto",
    description: "How the log is written to stdout: json (one JSON object per line, from pino), pretty (plain lines for a person), or auto: pretty when stdout is a terminal, json otherwise (docs/operations.md).",
  }),
  // journal and snapshots
  segmentBytes: setting({
    group: "journal and snapshots", kind: size(MiB, GiB, false), default: DEFAULT_SEGMENT_BYTES,
    description: "The size of each journal segment file (allocated up front).",
  }),
  prepareSegments: setting({
    group: "journal and snapshots", kind: boolean(), default: true,
    description: "Make each next journal segment ahead, on a thread of its own, written with zeros while the journal is quiet, so that group commits into it write data only (faster fdatasyncs than into fallocated blocks). Off: segments are made when needed.",
  }),
  prepareBytesPerSecond: setting({
    group: "journal and snapshots", kind: size(MiB, 16 * GiB, false), default: 128 * MiB,
    description: "How fast the next segment is written with zeros, at most (bytes a second), when the journal is quiet.",
  }),
  snapshotEvery: setting({
    group: "journal and snapshots", kind: integer(0, 1_000_000_000), default: 1_000_000,
    description: "Commands between engine snapshots; 0 takes none (recovery then replays the whole journal).",
  }),
  pruneJournal: setting({
    group: "journal and snapshots", kind: boolean(), default: false,
    description: "Delete journal segments no snapshot or the event store still needs. Off keeps the whole journal as an audit log.",
  }),
  journalStallMs: setting({
    group: "journal and snapshots", kind: integer(100, 3_600_000), default: 10_000,
    description: "How long the journal writer may hold the engine (a stalled disk) before the node is fenced.",
  }),
  // threads and rings
  wait: setting({
    group: "threads and rings", kind: oneOf(["auto", "spin", "spin-park", "park"]), default: "auto",
    description: "How the engine loop, the journal writer and plugins wait for work (the gateway and storage workers always park): spin owns a core (lowest latency); spin-park spins, then parks; park parks at once; auto is park on 2 cores or fewer (spinning threads there take the cores the journal, gateway and store need: docs/BENCHMARKS.md, end-to-end latency) and spin-park above.",
  }),
  waitSpins: setting({
    group: "threads and rings", kind: integer(1, 1_000_000_000), default: DEFAULT_WAIT.spins,
    description: "With spin-park: spins before a thread parks.",
  }),
  waitParkMs: setting({
    group: "threads and rings", kind: integer(1, 1_000), default: DEFAULT_WAIT.parkMs,
    description: "With spin-park or park: the longest park before a thread checks again.",
  }),
  criticalSliceUs: setting({
    group: "threads and rings", kind: integer(0, 100_000), default: DEFAULT_THREAD_SCHEDULING.criticalSliceUs,
    description: "The scheduler slice (µs) of the engine loop, the journal writer and the gateway, the threads an acknowledgement waits on: on Linux 6.12 and later a shorter slice lets them run as soon as they wake instead of waiting out another thread's (the kernel's default is ~0.7-3 ms); their share of the CPU is unchanged. 0 keeps the kernel's default.",
  }),
  bulkNice: setting({
    group: "threads and rings", kind: integer(0, 19), default: DEFAULT_THREAD_SCHEDULING.bulkNice,
    description: "The nice value of the event store's threads (storage, flushes, compactions), the snapshot writer and the segment preparer: when they compete with the engine loop or the journal for a core, they yield. 0 leaves them at normal priority.",
  }),
  hashThreads: setting({
    group: "threads and rings", kind: integer(1, HASH_THREADS_MAX), default: HASH_THREADS_DEFAULT,
    description: "Password hashing threads for logins (each holds 128 MiB while it hashes).",
  }),
  journalRingBytes: setting({
    group: "threads and rings", kind: size(64 * KiB, RING_CAPACITY_MAX, true), default: 16 * MiB,
    description: "The ring of applied commands the journal writer reads.",
  }),
  inboundRingBytes: setting({
    group: "threads and rings", kind: size(64 * KiB, RING_CAPACITY_MAX, true), default: MiB,
    description: "Each inbound ring: commands from one source (the gateway, a driver, a plugin) to the engine. The trading schedule's ring (marks, settlements) is 64 KiB whatever this says.",
  }),
  tradesRingBytes: setting({
    group: "threads and rings", kind: size(64 * KiB, RING_CAPACITY_MAX, true), default: TOPIC_RING_BYTES.trades,
    description: "The trades topic ring (engine to consumers).",
  }),
  accountsRingBytes: setting({
    group: "threads and rings", kind: size(64 * KiB, RING_CAPACITY_MAX, true), default: TOPIC_RING_BYTES.accounts,
    description: "The accounts topic ring (engine to consumers).",
  }),
  l2RingBytes: setting({
    group: "threads and rings", kind: size(64 * KiB, RING_CAPACITY_MAX, true), default: TOPIC_RING_BYTES.l2,
    description: "The l2 (order book) topic ring (engine to consumers).",
  }),
  // gateway
  host: setting({
    group: "gateway", kind: text("HOST", "a host name or IP address", (s) => /^[^\s/]+$/.test(s)), default: DEFAULT_SERVER_OPTIONS.host,
    description: "The address the DIFF gateway listens on (0.0.0.0: every interface).",
  }),
  port: setting({
    group: "gateway", kind: integer(0, 65535), default: DEFAULT_SERVER_OPTIONS.port,
    description: "The gateway's port: WebSocket /md and /trade, HTTP /health and /metrics; 0 takes a free port.",
  }),
  allowedOrigins: setting({
    group: "gateway", kind: list("ORIGINS", "a list of origins like http://example.com, http://localhost:* (any port) or * (any origin)", (s) => s === "*" || ORIGIN.test(s)),
    default: DEFAULT_SERVER_OPTIONS.allowedOrigins,
    description: "Origins a browser may connect from. Clients that send no Origin (SDKs) are not affected.",
  }),
  maxConnections: setting({
    group: "gateway", kind: integer(1, 1_000_000), default: DEFAULT_SERVER_OPTIONS.maxConnections,
    description: "Open WebSocket connections; one more is refused with 503.",
  }),
  maxConnectionsPerIp: setting({
    group: "gateway", kind: integer(1, 1_000_000), default: DEFAULT_SERVER_OPTIONS.maxConnectionsPerIp,
    description: "Open WebSocket connections from one remote address; one more is refused with 503.",
  }),
  connectionsPerSecondPerIp: setting({
    group: "gateway", kind: integer(1, 1_000_000), default: DEFAULT_SERVER_OPTIONS.connectionsPerSecondPerIp,
    description: "New WebSocket connections a second from one remote address (bursts of twice that); more are refused with 429 before any handshake.",
  }),
  maxFrameBytes: setting({
    group: "gateway", kind: size(KiB, 16 * MiB, false), default: DEFAULT_SERVER_OPTIONS.maxPayload,
    description: "The largest message a client may send; a larger one closes the connection (1009).",
  }),
  maxBufferedBytes: setting({
    group: "gateway", kind: size(64 * KiB, GiB, false), default: DEFAULT_SESSION_LIMITS.maxBufferedBytes,
    description: "Bytes a client may leave unread on its socket before it is disconnected.",
  }),
  messagesPerSecond: setting({
    group: "gateway", kind: integer(1, 1_000_000), default: DEFAULT_GATEWAY_OPTIONS.messagesPerSecond,
    description: "Messages per second per connection (bursts of twice that).",
  }),
  ordersPerSecond: setting({
    group: "gateway", kind: integer(1, 1_000_000), default: DEFAULT_GATEWAY_OPTIONS.ordersPerSecond,
    description: "Orders and cancels per second per account (bursts of twice that).",
  }),
  maxFinishedOrders: setting({
    group: "gateway", kind: integer(100, 1_000_000), default: DEFAULT_GATEWAY_OPTIONS.maxFinishedOrders,
    description: "Finished orders each account's DIFF tree keeps for the day (oldest dropped first, from the view only); with maxTrades, it bounds the gateway's memory per account.",
  }),
  maxTrades: setting({
    group: "gateway", kind: integer(100, 1_000_000), default: DEFAULT_GATEWAY_OPTIONS.maxTrades,
    description: "Trades each account's DIFF tree keeps for the day (oldest dropped first, from the view only).",
  }),
  maxTreeRecords: setting({
    group: "gateway", kind: integer(1_000, 100_000_000), default: DEFAULT_GATEWAY_OPTIONS.maxTreeRecords,
    description: "Finished orders and trades all accounts' DIFF trees keep together (the oldest of any account dropped first, from the view only): it bounds the gateway's memory per node, at roughly 0.5 to 1 KB a record.",
  }),
  pingMs: setting({
    group: "gateway", kind: integer(1_000, 3_600_000), default: DEFAULT_SERVER_OPTIONS.pingMs,
    description: "A ping to every connection this often; one that has not answered the last ping is dropped.",
  }),
  headersTimeoutMs: setting({
    group: "gateway", kind: integer(1_000, 600_000), default: DEFAULT_SERVER_OPTIONS.headersTimeoutMs,
    description: "How long a client may take to send its handshake.",
  }),
  brokerId: setting({
    group: "gateway", kind: text("ID", "1 to 64 characters without spaces or =#|;/", (s) => BROKER_ID.test(s)), default: DEFAULT_GATEWAY_OPTIONS.brokerId,
    description: "The broker id the gateway announces (rtn_brokers) and clients log in with (bid).",
  }),
  auditFile: setting({
    group: "gateway", kind: boolean(), default: true,
    description: "Also append the audit lines (logins and their refusals, closed sessions, admin requests) to DATA/audit/audit.log, one JSON object a line, rotated at 64 MiB with the newest 16 files kept.",
  }),
  tradingDay: setting({
    group: "gateway", kind: tradingDay(), default: "auto",
    description: "The trading day clients see; auto: today's date in China (UTC+8) when the node starts, or on a weekend or holiday the next trading day.",
  }),
  selfTransfers: setting({
    group: "gateway", kind: boolean(), default: true,
    description: "Clients may deposit to and withdraw from their own accounts (the demo); off: admins only. Turn it off before exposing the node.",
  }),
} as const;

export type SettingName = keyof typeof SETTINGS;
type ValueOf<S> = S extends Setting<infer T> ? T : never;
/** A whole configuration: every setting with its value. */
export type StartConfig = { readonly [K in SettingName]: ValueOf<(typeof SETTINGS)[K]> };
export type Source = "default" | "file" | "environment" | "flag";

export const SETTING_NAMES = Object.keys(SETTINGS) as SettingName[];
/** The environment variable naming the config file (the flag is --config). */
export const CONFIG_ENV = "VENUE_CONFIG";

/** `snapshotEvery` -> `--snapshot-every`. */
export function flagOf(name: SettingName): string {
  return `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** `snapshotEvery` -> `VENUE_SNAPSHOT_EVERY`. */
export function envOf(name: SettingName): string {
  return `VENUE_${name.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;
}

function kindOf(name: SettingName): Kind<unknown> {
  return SETTINGS[name].kind as Kind<unknown>;
}

export function formatDefault(name: SettingName): string {
  return kindOf(name).format(SETTINGS[name].default);
}

/** What `venue start` was asked for: help, or a configuration and where each value came from. */
export type StartRequest =
  | { readonly help: true }
  | { readonly help: false; readonly config: StartConfig; readonly sources: Readonly<Record<SettingName, Source>>; readonly configFile: string | undefined };

export interface ResolveInput {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
  /** Relative paths from flags and the environment are resolved against it. */
  cwd: string;
  readFile?: (path: string) => string;
}

/** Reads every source, checks every value, and merges them by precedence. Throws ConfigError. */
export function resolveStartConfig(input: ResolveInput): StartRequest {
  const args = parseFlags(input.argv);
  if (args.help) return { help: true };
  const configPath = args.config ?? nonEmpty(input.env[CONFIG_ENV]);
  const configFile = configPath === undefined ? undefined : resolve(input.cwd, configPath);
  const layers: Array<[Source, Partial<Record<SettingName, unknown>>]> = [
    ["file", configFile === undefined ? {} : readConfigFile(configFile, input.readFile ?? ((p) => readFileSync(p, "utf8")))],
    ["environment", fromEnvironment(input.env)],
    ["flag", fromFlags(args.values)],
  ];
  const config: Record<string, unknown> = {};
  const sources = {} as Record<SettingName, Source>;
  for (const name of SETTING_NAMES) {
    config[name] = SETTINGS[name].default;
    sources[name] = "default";
    for (const [source, values] of layers) {
      if (!(name in values)) continue;
      config[name] = values[name];
      sources[name] = source;
    }
    const s: Setting<unknown> = SETTINGS[name];
    if (s.path === true && sources[name] !== "file") config[name] = resolve(input.cwd, config[name] as string);
  }
  return { help: false, config: config as StartConfig, sources, configFile };
}

function nonEmpty(s: string | undefined): string | undefined {
  return s === undefined || s === "" ? undefined : s;
}

interface ParsedFlags {
  help: boolean;
  config: string | undefined;
  /** Raw text per setting; a bare boolean flag is "true", its --no- form "false". */
  values: Map<SettingName, string>;
}

const BY_FLAG = new Map(SETTING_NAMES.map((n) => [flagOf(n), n]));

/** `--name value`, `--name=value`, `--flag` / `--no-flag` for booleans; the last of repeats wins. */
function parseFlags(argv: readonly string[]): ParsedFlags {
  const out: ParsedFlags = { help: false, config: undefined, values: new Map() };
  if (argv.includes("--help") || argv.includes("-h")) {
    out.help = true;
    return out;
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("--")) throw new ConfigError(`unexpected argument ${JSON.stringify(arg)}: venue start takes only options (venue start --help lists them)`);
    const eq = arg.indexOf("=");
    const flag = eq < 0 ? arg : arg.slice(0, eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    const negated = flag.startsWith("--no-") ? BY_FLAG.get(`--${flag.slice(5)}`) : undefined;
    if (negated !== undefined && SETTINGS[negated].kind.type === "boolean") {
      if (inline !== undefined) throw new ConfigError(`${flag} takes no value`);
      out.values.set(negated, "false");
      continue;
    }
    const name = BY_FLAG.get(flag);
    if (flag !== "--config" && name === undefined) throw new ConfigError(`unknown option ${flag}${suggest(flag, [...BY_FLAG.keys(), "--config"])} (venue start --help lists the settings)`);
    const isBoolean = name !== undefined && SETTINGS[name].kind.type === "boolean";
    let value = inline;
    if (value === undefined && isBoolean) value = "true";
    if (value === undefined) {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith("--")) throw new ConfigError(`${flag} needs a value`);
      value = next;
      i++;
    }
    if (name === undefined) out.config = value;
    else out.values.set(name, value);
  }
  return out;
}

function fromFlags(raw: Map<SettingName, string>): Partial<Record<SettingName, unknown>> {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const [name, text] of raw) out[name] = parseText(name, text, flagOf(name), "the command line");
  return out;
}

/** Variables set to the empty string count as unset. VENUE_* names not listed are not read. */
function fromEnvironment(env: Readonly<Record<string, string | undefined>>): Partial<Record<SettingName, unknown>> {
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const name of SETTING_NAMES) {
    const text = nonEmpty(env[envOf(name)]);
    if (text !== undefined) out[name] = parseText(name, text, envOf(name), "the environment");
  }
  return out;
}

function parseText(name: SettingName, raw: string, label: string, source: string): unknown {
  const kind = kindOf(name);
  const value = kind.fromText(raw);
  if (value === undefined) throw new ConfigError(`${label} must be ${kind.expected}, not ${JSON.stringify(raw)} (from ${source})`);
  return value;
}

function readConfigFile(file: string, read: (path: string) => string): Partial<Record<SettingName, unknown>> {
  let textOfFile: string;
  try {
    textOfFile = read(file);
  } catch (err) {
    const code = err instanceof Error && "code" in err ? String(err.code) : String(err);
    throw new ConfigError(`cannot read config file ${file} (${code})`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(textOfFile);
  } catch (err) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new ConfigError(`config file ${file} must hold one JSON object of settings, not ${describeJson(json)}`);
  }
  const out: Partial<Record<SettingName, unknown>> = {};
  for (const [key, raw] of Object.entries(json)) {
    if (!Object.hasOwn(SETTINGS, key)) throw new ConfigError(`unknown setting ${JSON.stringify(key)} in config file ${file}${suggest(key, SETTING_NAMES)} (venue start --help lists the settings)`);
    const name = key as SettingName;
    const kind = kindOf(name);
    const value = kind.fromJson(raw);
    if (value === undefined) throw new ConfigError(`${name} must be ${kind.expected}, not ${describeJson(raw)} (from config file ${file})`);
    const s: Setting<unknown> = SETTINGS[name];
    out[name] = s.path === true ? resolve(dirname(file), value as string) : value;
  }
  return out;
}

/** A JSON value named with its type, so that `"7788"` reads as the string it is. */
function describeJson(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return `the array ${truncate(JSON.stringify(v))}`;
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${truncate(JSON.stringify(v))}`;
  if (typeof v === "number") return `the number ${String(v)}`;
  return String(v);
}

function truncate(s: string): string {
  return s.length <= 60 ? s : `${s.slice(0, 57)}...`;
}

/** `; did you mean "port"?` for a near miss (at most two edits), else nothing. */
function suggest(word: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const k of known) {
    const d = editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best === undefined ? "" : `; did you mean ${best.startsWith("--") ? best : JSON.stringify(best)}?`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length]!;
}

/** Digits grouped from a million up, where they stop being easy to count. */
function formatInt(n: number): string {
  return Math.abs(n) < 1_000_000 ? String(n) : n.toLocaleString("en-US");
}

/** The largest unit that divides the count exactly: 16MiB, 1536KiB, 100. */
function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB}GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB}MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB}KiB`;
  return String(n);
}

/**
 * One line per source that set anything, in the source's own spelling, for the start
 * banner: `config file /etc/venue.json: snapshotEvery 500000, wait spin`,
 * `environment: VENUE_PORT=7789`, `flags: --data /srv/d`.
 */
export function describeOverrides(request: Extract<StartRequest, { help: false }>): string[] {
  const file: string[] = [];
  const env: string[] = [];
  const flags: string[] = [];
  for (const name of SETTING_NAMES) {
    const value = kindOf(name).format(request.config[name]);
    const source = request.sources[name];
    if (source === "file") file.push(`${name} ${value}`);
    else if (source === "environment") env.push(`${envOf(name)}=${value}`);
    else if (source === "flag") flags.push(`${flagOf(name)} ${value}`);
  }
  const lines: string[] = [];
  if (file.length > 0) lines.push(`config file ${request.configFile ?? "?"}: ${file.join(", ")}`);
  if (env.length > 0) lines.push(`environment: ${env.join(" ")}`);
  if (flags.length > 0) lines.push(`flags: ${flags.join(" ")}`);
  return lines;
}

const HELP_INTRO = `usage: venue start [--config FILE] [--SETTING VALUE ...]

Runs the node: the engine, the journal, snapshots, the event store and the DIFF gateway.
SIGINT or SIGTERM stops it gracefully.

Each setting comes from, first to last: its flag, its environment variable, the config
file (--config FILE or ${CONFIG_ENV}: one JSON object keyed by setting name, unknown keys
refused; a relative path in it is taken from the file's folder), its default. Boolean
flags take no value (--prune-journal, --no-prune-journal); variables accept true/false,
1/0, yes/no, on/off. Sizes are bytes or a number with KiB, MiB or GiB (64MiB). Lists are
comma-separated in a flag or variable and a JSON array in the file. A variable set to the
empty string counts as unset. docs/configuration.md explains each setting.`;

/** `venue start --help`: the generated table, one block per group. */
export function startHelp(): string {
  const rows = SETTING_NAMES.map((n) => ({
    name: n,
    flag: `${flagOf(n)}${kindOf(n).metavar === "" ? "" : ` ${kindOf(n).metavar}`}`,
    env: envOf(n),
    def: formatDefault(n),
  }));
  const w = {
    name: Math.max(...rows.map((r) => r.name.length)),
    flag: Math.max(...rows.map((r) => r.flag.length)),
    env: Math.max(...rows.map((r) => r.env.length)),
  };
  const lines = [HELP_INTRO, ""];
  lines.push(`  ${"SETTING".padEnd(w.name)}  ${"FLAG".padEnd(w.flag)}  ${"ENVIRONMENT".padEnd(w.env)}  DEFAULT`);
  for (const group of GROUPS) {
    lines.push("", `${group}:`);
    for (const r of rows) {
      if (SETTINGS[r.name].group !== group) continue;
      lines.push(`  ${r.name.padEnd(w.name)}  ${r.flag.padEnd(w.flag)}  ${r.env.padEnd(w.env)}  ${r.def}`);
      for (const line of wrap(SETTINGS[r.name].description, 84)) lines.push(`      ${line}`);
    }
  }
  return lines.join("\n");
}

function wrap(s: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of s.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === "" ? word : `${line} ${word}`;
  }
  if (line !== "") lines.push(line);
  return lines;
}

/** The settings tables of docs/configuration.md (between its generated-block markers). */
export function settingsMarkdown(): string {
  const out: string[] = [];
  for (const group of GROUPS) {
    out.push(`### ${group[0]!.toUpperCase()}${group.slice(1)}`, "", "| setting | flag | environment | default | valid values | description |", "|---|---|---|---|---|---|");
    for (const n of SETTING_NAMES) {
      const s: Setting<unknown> = SETTINGS[n];
      if (s.group !== group) continue;
      const cell = (t: string): string => t.replaceAll("|", "\\|");
      out.push(`| \`${n}\` | \`${flagOf(n)}\` | \`${envOf(n)}\` | \`${cell(formatDefault(n))}\` | ${cell(s.kind.expected)} | ${cell(s.description)} |`);
    }
    out.push("");
  }
  return out.join("\n").trimEnd();
}
