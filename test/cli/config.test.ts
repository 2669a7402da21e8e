/**
 * The settings of `venue start` (src/cli/config.ts): defaults, the precedence flag >
 * environment > config file > default, every value form, an error for every way a value
 * can be wrong (one line naming the setting, the valid values, the value and its source),
 * the generated help, the node options a configuration becomes, and docs/configuration.md
 * kept in step with the code (VENUE_UPDATE_DOCS=1 rewrites its generated block).
 */

import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { availableParallelism } from "node:os";
import { describe, expect, it } from "vitest";
import {
  ConfigError,
  SETTINGS,
  SETTING_NAMES,
  describeOverrides,
  envOf,
  flagOf,
  formatDefault,
  resolveStartConfig,
  settingsMarkdown,
  startHelp,
  type Kind,
  type StartConfig,
  type StartRequest,
} from "../../src/cli/config.ts";
import { nodeOptions } from "../../src/cli/node_start.ts";
import { DEFAULT_SERVER_OPTIONS } from "../../src/gateway/server.ts";
import { DEFAULT_SESSION_LIMITS } from "../../src/gateway/session.ts";

const ROOT = join(import.meta.dirname, "..", "..");
const CWD = "/work/here";
const FILE = "/etc/venue/venue.json";

interface Input {
  argv?: string[];
  env?: Record<string, string>;
  /** The config file's text, read when --config or VENUE_CONFIG names FILE. */
  file?: string;
}

function request({ argv = [], env = {}, file }: Input): StartRequest {
  return resolveStartConfig({
    argv,
    env,
    cwd: CWD,
    readFile: (path) => {
      if (path !== FILE || file === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: "ENOENT" });
      return file;
    },
  });
}

function resolved(input: Input): Extract<StartRequest, { help: false }> {
  const r = request(input);
  if (r.help) throw new Error("asked for help");
  return r;
}

function config(input: Input): StartConfig {
  return resolved(input).config;
}

function error(input: Input): string {
  try {
    request(input);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error("no error");
}

describe("venue start configuration", () => {
  it("takes every default when nothing is set, the data folder relative to the working directory", () => {
    const r = resolved({});
    for (const name of SETTING_NAMES) {
      expect(r.sources[name]).toBe("default");
      if (name !== "data") expect(r.config[name]).toEqual(SETTINGS[name].default);
    }
    expect(r.config.data).toBe(`${CWD}/data`);
    expect(r.config.port).toBe(7788);
    expect(r.config.host).toBe("127.0.0.1");
    expect(r.configFile).toBeUndefined();
    expect(describeOverrides(r)).toEqual([]);
  });

  it("takes a flag over the environment over the config file over the default, setting by setting", () => {
    const file = JSON.stringify({ port: 1001, host: "10.0.0.1", snapshotEvery: 5, brokerId: "FILE" });
    const env = { VENUE_CONFIG: FILE, VENUE_PORT: "1002", VENUE_HOST: "10.0.0.2" };
    const r = resolved({ argv: ["--port", "1003"], env, file });
    expect(r.config.port).toBe(1003);
    expect(r.config.host).toBe("10.0.0.2");
    expect(r.config.snapshotEvery).toBe(5);
    expect(r.config.maxConnections).toBe(DEFAULT_SERVER_OPTIONS.maxConnections);
    expect(r.sources).toMatchObject({ port: "flag", host: "environment", snapshotEvery: "file", brokerId: "file", maxConnections: "default" });
    expect(r.configFile).toBe(FILE);
    expect(describeOverrides(r)).toEqual([
      "config file /etc/venue/venue.json: snapshotEvery 5, brokerId FILE",
      "environment: VENUE_HOST=10.0.0.2",
      "flags: --port 1003",
    ]);
  });

  it("takes --config over VENUE_CONFIG, and a relative --config from the working directory", () => {
    expect(error({ argv: ["--config", "venue.json"], env: { VENUE_CONFIG: FILE }, file: "{}" })).toBe("cannot read config file /work/here/venue.json (ENOENT)");
    expect(config({ argv: ["--config=/etc/venue/venue.json"], file: '{"port": 9}' }).port).toBe(9);
  });

  it("takes a relative data folder in the file from the file's folder, and from a flag or variable from the working directory", () => {
    expect(config({ argv: ["--config", FILE], file: '{"data": "d"}' }).data).toBe("/etc/venue/d");
    expect(config({ argv: ["--config", FILE], file: '{"data": "/srv/d"}' }).data).toBe("/srv/d");
    expect(config({ env: { VENUE_DATA: "../d" } }).data).toBe("/work/d");
    expect(config({ argv: ["--data", "x"], env: { VENUE_DATA: "/y" } }).data).toBe("/work/here/x");
  });

  it("reads every value form: sizes with units, booleans, lists, grouped integers, choices, dates", () => {
    const c = config({
      argv: ["--segment-bytes", "256MiB", "--memtable-bytes=1048576", "--no-demo", "--prune-journal", "--self-transfers=false", "--wait", "park", "--trading-day", "20240229"],
      env: { VENUE_SNAPSHOT_EVERY: "1_000", VENUE_EVENT_STORE: "off", VENUE_ALLOWED_ORIGINS: "https://a.example, http://localhost:*,*", VENUE_L2_RING_BYTES: "1GiB" },
    });
    expect(c).toMatchObject({ segmentBytes: 256 << 20, memtableBytes: 1 << 20, demo: false, pruneJournal: true, selfTransfers: false, wait: "park", tradingDay: "20240229", snapshotEvery: 1000, eventStore: false, l2RingBytes: 1 << 30 });
    expect(c.allowedOrigins).toEqual(["https://a.example", "http://localhost:*", "*"]);
    const f = config({ argv: ["--config", FILE], file: JSON.stringify({ segmentBytes: "4MiB", journalRingBytes: 65536, demo: false, allowedOrigins: ["http://x.example:8080"], wait: "spin" }) });
    expect(f).toMatchObject({ segmentBytes: 4 << 20, journalRingBytes: 65536, demo: false, wait: "spin" });
    expect(f.allowedOrigins).toEqual(["http://x.example:8080"]);
    // Holidays: a list of dates, sorted; none (or a JSON []) for no dates.
    expect(config({ argv: ["--holidays", "20270101, 20261231"] }).holidays).toEqual(["20261231", "20270101"]);
    expect(config({ env: { VENUE_HOLIDAYS: "none" } }).holidays).toEqual([]);
    expect(config({ argv: ["--config", FILE], file: '{"holidays": ["20271001"]}' }).holidays).toEqual(["20271001"]);
    expect(config({ argv: ["--config", FILE], file: '{"holidays": []}' }).holidays).toEqual([]);
    for (const [word, value] of [["TRUE", true], ["1", true], ["yes", true], ["on", true], ["false", false], ["0", false], ["No", false], ["off", false]] as const) {
      expect(config({ env: { VENUE_PRUNE_JOURNAL: word } }).pruneJournal).toBe(value);
    }
  });

  it("lets the last of a repeated flag win, a --no- flag included", () => {
    expect(config({ argv: ["--port", "1", "--port", "2"] }).port).toBe(2);
    expect(config({ argv: ["--demo", "--no-demo"] }).demo).toBe(false);
    expect(config({ argv: ["--no-demo", "--demo"] }).demo).toBe(true);
  });

  it("counts a variable set to the empty string as unset", () => {
    expect(resolved({ env: { VENUE_PORT: "", VENUE_CONFIG: "" } }).sources.port).toBe("default");
  });

  it("ignores VENUE_* variables that are not settings", () => {
    expect(config({ env: { VENUE_KILLS: "200", VENUE_RUNS: "x" } }).port).toBe(7788);
  });

  // input, ----, the one-line error
  const errors: Array<[string, Input, string]> = [
    ["flag out of range", { argv: ["--port", "65536"] }, '--port must be an integer from 0 to 65535, not "65536" (from the command line)'],
    ["flag not a number", { argv: ["--port", "http"] }, '--port must be an integer from 0 to 65535, not "http" (from the command line)'],
    ["variable not a number", { env: { VENUE_PORT: "abc" } }, 'VENUE_PORT must be an integer from 0 to 65535, not "abc" (from the environment)'],
    ["no fractions", { env: { VENUE_SNAPSHOT_EVERY: "1.5" } }, 'VENUE_SNAPSHOT_EVERY must be an integer from 0 to 1,000,000,000, not "1.5" (from the environment)'],
    ["no exponents", { argv: ["--max-connections", "1e3"] }, '--max-connections must be an integer from 1 to 1,000,000, not "1e3" (from the command line)'],
    ["ring not a power of two", { argv: ["--l2-ring-bytes", "3MiB"] }, '--l2-ring-bytes must be a size from 64KiB to 1GiB, a power of two (bytes, or a number with KiB, MiB or GiB), not "3MiB" (from the command line)'],
    ["ring too big", { env: { VENUE_TRADES_RING_BYTES: "2GiB" } }, 'VENUE_TRADES_RING_BYTES must be a size from 64KiB to 1GiB, a power of two (bytes, or a number with KiB, MiB or GiB), not "2GiB" (from the environment)'],
    ["unknown size unit", { argv: ["--segment-bytes", "64MB"] }, '--segment-bytes must be a size from 1MiB to 1GiB (bytes, or a number with KiB, MiB or GiB), not "64MB" (from the command line)'],
    ["not a choice", { argv: ["--wait", "spinny"] }, '--wait must be one of "auto", "spin", "spin-park", "park", not "spinny" (from the command line)'],
    ["no such date", { argv: ["--trading-day", "20250230"] }, '--trading-day must be "auto" or a date as YYYYMMDD, not "20250230" (from the command line)'],
    ["a holiday that is no date", { argv: ["--holidays", "20270101,20270230"] }, '--holidays must be none, or at most 1000 dates as YYYYMMDD, comma-separated (a JSON array of them in the file), not "20270101,20270230" (from the command line)'],
    ["a holiday as a number in the file", { argv: ["--config", FILE], file: '{"holidays": [20270101]}' }, "holidays must be none, or at most 1000 dates as YYYYMMDD, comma-separated (a JSON array of them in the file), not the array [20270101] (from config file /etc/venue/venue.json)"],
    ["not a boolean", { env: { VENUE_DEMO: "maybe" } }, 'VENUE_DEMO must be true or false, not "maybe" (from the environment)'],
    ["boolean flag with a bad value", { argv: ["--demo=maybe"] }, '--demo must be true or false, not "maybe" (from the command line)'],
    ["--no- flag with a value", { argv: ["--no-demo=true"] }, "--no-demo takes no value"],
    ["origin with a path", { argv: ["--allowed-origins", "http://x.example/app"] }, '--allowed-origins must be a list of origins like http://example.com, http://localhost:* (any port) or * (any origin), not "http://x.example/app" (from the command line)'],
    ["empty list item", { env: { VENUE_ALLOWED_ORIGINS: "http://a.example,," } }, 'VENUE_ALLOWED_ORIGINS must be a list of origins like http://example.com, http://localhost:* (any port) or * (any origin), not "http://a.example,," (from the environment)'],
    ["broker id with a separator", { argv: ["--broker-id", "A|B"] }, '--broker-id must be 1 to 64 characters without spaces or =#|;/, not "A|B" (from the command line)'],
    ["empty flag value", { argv: ["--host", ""] }, '--host must be a host name or IP address, not "" (from the command line)'],
    ["a value missing", { argv: ["--port"] }, "--port needs a value"],
    ["a value missing before the next flag", { argv: ["--config", "--port", "1"] }, "--config needs a value"],
    ["unknown flag, near miss", { argv: ["--prot", "1"] }, "unknown option --prot; did you mean --port? (venue start --help lists the settings)"],
    ["unknown flag", { argv: ["--colour", "red"] }, "unknown option --colour (venue start --help lists the settings)"],
    ["--no- of a setting that is not a boolean", { argv: ["--no-port"] }, "unknown option --no-port (venue start --help lists the settings)"],
    ["a positional argument", { argv: ["now"] }, 'unexpected argument "now": venue start takes only options (venue start --help lists them)'],
    ["unknown key", { argv: ["--config", FILE], file: '{"prot": 1}' }, 'unknown setting "prot" in config file /etc/venue/venue.json; did you mean "port"? (venue start --help lists the settings)'],
    ["unknown key, far from any", { argv: ["--config", FILE], file: '{"colour": "red"}' }, 'unknown setting "colour" in config file /etc/venue/venue.json (venue start --help lists the settings)'],
    ["a flag's spelling as a key", { argv: ["--config", FILE], file: '{"snapshot-every": 1}' }, 'unknown setting "snapshot-every" in config file /etc/venue/venue.json; did you mean "snapshotEvery"? (venue start --help lists the settings)'],
    ["a string for an integer", { argv: ["--config", FILE], file: '{"port": "7788"}' }, 'port must be an integer from 0 to 65535, not the string "7788" (from config file /etc/venue/venue.json)'],
    ["a fraction", { argv: ["--config", FILE], file: '{"port": 77.5}' }, "port must be an integer from 0 to 65535, not the number 77.5 (from config file /etc/venue/venue.json)"],
    ["a string for a boolean", { argv: ["--config", FILE], file: '{"demo": "false"}' }, 'demo must be true or false, not the string "false" (from config file /etc/venue/venue.json)'],
    ["a string for a list", { argv: ["--config", FILE], file: '{"allowedOrigins": "*"}' }, 'allowedOrigins must be a list of origins like http://example.com, http://localhost:* (any port) or * (any origin), not the string "*" (from config file /etc/venue/venue.json)'],
    ["an empty list", { argv: ["--config", FILE], file: '{"allowedOrigins": []}' }, "allowedOrigins must be a list of origins like http://example.com, http://localhost:* (any port) or * (any origin), not the array [] (from config file /etc/venue/venue.json)"],
    ["null", { argv: ["--config", FILE], file: '{"host": null}' }, "host must be a host name or IP address, not null (from config file /etc/venue/venue.json)"],
    ["an object for a size", { argv: ["--config", FILE], file: '{"segmentBytes": {"MiB": 64}}' }, "segmentBytes must be a size from 1MiB to 1GiB (bytes, or a number with KiB, MiB or GiB), not an object (from config file /etc/venue/venue.json)"],
    ["not JSON", { argv: ["--config", FILE], file: '{"port": 1,}' }, "config file /etc/venue/venue.json is not valid JSON: "],
    ["not an object", { env: { VENUE_CONFIG: FILE }, file: "[1]" }, "config file /etc/venue/venue.json must hold one JSON object of settings, not the array [1]"],
    ["no such file", { argv: ["--config", "/nope.json"] }, "cannot read config file /nope.json (ENOENT)"],
    ["a bad file value hidden by a flag", { argv: ["--config", FILE, "--port", "1"], file: '{"port": -1}' }, "port must be an integer from 0 to 65535, not the number -1 (from config file /etc/venue/venue.json)"],
    ["a bad variable hidden by a flag", { argv: ["--port", "1"], env: { VENUE_PORT: "x" } }, 'VENUE_PORT must be an integer from 0 to 65535, not "x" (from the environment)'],
  ];

  for (const [what, input, message] of errors) {
    it(`refuses ${what}`, () => {
      const m = error(input);
      if (message.endsWith(": ")) expect(m.startsWith(message)).toBe(true);
      else expect(m).toBe(message);
      expect(m).not.toContain("\n");
    });
  }

  it("answers --help (or -h) before checking anything else", () => {
    expect(request({ argv: ["--port", "nope", "--help"] })).toEqual({ help: true });
    expect(request({ argv: ["-h"], env: { VENUE_PORT: "nope" } })).toEqual({ help: true });
  });
});

describe("the settings table", () => {
  it("derives distinct flags and VENUE_ variables from the names", () => {
    expect(flagOf("snapshotEvery")).toBe("--snapshot-every");
    expect(envOf("snapshotEvery")).toBe("VENUE_SNAPSHOT_EVERY");
    expect(flagOf("l2RingBytes")).toBe("--l2-ring-bytes");
    expect(envOf("l2RingBytes")).toBe("VENUE_L2_RING_BYTES");
    const flags = SETTING_NAMES.map(flagOf);
    const envs = SETTING_NAMES.map(envOf);
    expect(new Set(flags).size).toBe(SETTING_NAMES.length);
    expect(new Set(envs).size).toBe(SETTING_NAMES.length);
    expect(flags).not.toContain("--config");
    expect(flags).not.toContain("--help");
    expect(envs).not.toContain("VENUE_CONFIG");
  });

  it("holds defaults that its own checks accept, and that read back as they print", () => {
    for (const name of SETTING_NAMES) {
      const kind = SETTINGS[name].kind as Kind<unknown>;
      expect(kind.fromText(formatDefault(name)), name).toEqual(SETTINGS[name].default);
      expect(kind.fromJson(JSON.parse(JSON.stringify(SETTINGS[name].default))), name).toEqual(SETTINGS[name].default);
      expect(SETTINGS[name].description.endsWith("."), `${name}: a description is a sentence`).toBe(true);
    }
  });

  it("prints every setting in --help with its flag, variable and default", () => {
    const help = startHelp();
    expect(help).toMatch(/^usage: venue start \[--config FILE\]/);
    for (const name of SETTING_NAMES) {
      const row = help.split("\n").find((l) => l.trimStart().startsWith(`${name} `));
      expect(row, name).toBeDefined();
      expect(row!.split(/\s{2,}/).filter((c) => c !== "")).toEqual([name, `${flagOf(name)}${SETTINGS[name].kind.metavar === "" ? "" : ` ${SETTINGS[name].kind.metavar}`}`, envOf(name), formatDefault(name)]);
    }
    expect(help.split("\n").filter((l) => l.startsWith("      ") && l.length > 90), "descriptions wrap at 90 columns").toEqual([]);
  });
});

describe("venue start's node options", () => {
  const at = Date.UTC(2025, 0, 1, 17, 0); // 01:00 on 2 January in China
  const options = (input: Input): ReturnType<typeof nodeOptions> => nodeOptions(config(input), () => {}, at);

  it("carries every setting to the node, the journal, the event store and the gateway", () => {
    const o = options({ argv: ["--data", "/d", "--port", "0", "--wait", "spin", "--max-frame-bytes", "32KiB", "--max-buffered-bytes", "1MiB", "--no-event-store", "--hash-threads", "2"] });
    expect(o).toMatchObject({ dataDir: "/d", wait: { kind: "spin" }, eventStore: false, snapshotEvery: 1_000_000, segmentBytes: 1 << 30, storeMemtableBytes: 32 << 20 });
    expect(o.ringBytes).toEqual({ journal: 16 << 20, inbound: 1 << 20, trades: 16 << 20, accounts: 16 << 20, l2: 64 << 20 });
    expect(o.gateway).toMatchObject({ catalogDir: "/d/catalog", hashThreads: 2, server: { host: "127.0.0.1", port: 0, maxPayload: 32 << 10 } });
    expect(o.gateway?.options).toMatchObject({ tradingDay: "20250102", selfTransfers: true, brokerId: "VENUE" });
    expect(o.gateway?.options?.limits).toEqual({ ...DEFAULT_SESSION_LIMITS, maxBufferedBytes: 1 << 20 });
  });

  it("builds each wait strategy and keeps a fixed trading day", () => {
    // auto: park on 2 cores or fewer, spin-park above.
    expect(options({}).wait).toEqual(availableParallelism() <= 2 ? { kind: "park", parkMs: 1 } : { kind: "spinPark", spins: 2_000, parkMs: 1 });
    expect(options({ env: { VENUE_WAIT: "park", VENUE_WAIT_PARK_MS: "5" } }).wait).toEqual({ kind: "park", parkMs: 5 });
    expect(options({ argv: ["--wait", "spin-park", "--wait-spins", "10"] }).wait).toEqual({ kind: "spinPark", spins: 10, parkMs: 1 });
    expect(options({ argv: ["--wait", "spin"] }).wait).toEqual({ kind: "spin" });
    expect(options({ argv: ["--trading-day", "20240102"] }).gateway?.options?.tradingDay).toBe("20240102");
    // auto on a holiday: the next trading day (2 January 2025 in China is a Thursday).
    const closed = options({ argv: ["--holidays", "20250102,20250103"] });
    expect(closed.gateway?.options).toMatchObject({ tradingDay: "20250106", holidays: ["20250102", "20250103"] });
    expect(closed.holidays).toEqual(["20250102", "20250103"]);
    expect(options({}).holidays).toEqual([]);
    expect(options({ argv: ["--max-finished-orders", "500", "--max-tree-records", "2000"], env: { VENUE_MAX_TRADES: "800" } }).gateway?.options).toMatchObject({ maxFinishedOrders: 500, maxTrades: 800, maxTreeRecords: 2000 });
  });
});

describe("docs/configuration.md", () => {
  const DOC = join(ROOT, "docs", "configuration.md");
  const BLOCK = /(<!-- settings:begin[^\n]*-->\n)[\s\S]*?(<!-- settings:end -->)/;

  it("holds the generated settings table as the code has it", () => {
    const generated = settingsMarkdown();
    if (process.env["VENUE_UPDATE_DOCS"] === "1") {
      writeFileSync(DOC, readFileSync(DOC, "utf8").replace(BLOCK, (_m, begin: string, end: string) => `${begin}\n${generated}\n\n${end}`));
    }
    const doc = readFileSync(DOC, "utf8");
    const block = BLOCK.exec(doc);
    expect(block, "the generated-block markers").not.toBeNull();
    expect(block![0], "stale: rerun with VENUE_UPDATE_DOCS=1").toContain(`\n${generated}\n`);
    for (const name of SETTING_NAMES) expect(doc).toContain(`| \`${name}\` | \`${flagOf(name)}\` | \`${envOf(name)}\` |`);
  });
});

describe("venue start as a user runs it", () => {
  const BIN = join(ROOT, "bin", "venue.js");
  const venue = (args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  it("prints the table on --help (exit 0) and a bad setting on one line (exit 2) before opening anything", () => {
    const help = venue(["start", "--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("VENUE_SNAPSHOT_EVERY");
    const bad = venue(["start", "--data", "/nonexistent/never/made"], { VENUE_PORT: "abc" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe('venue start: VENUE_PORT must be an integer from 0 to 65535, not "abc" (from the environment)\n');
    expect(bad.stdout).toBe("");
  });
});
