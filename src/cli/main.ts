/**
 * The `venue` command line. Each subcommand lives in its own module; this file only
 * parses the first word and dispatches. Exit codes: 0 success, 1 operating fault, 2 usage.
 */

import { parseArgs } from "node:util";
import { InputError, replayCommand } from "./replay.ts";
import { startCommand } from "./start.ts";
import { nodeStartCommand } from "./node_start.ts";
import { inspectSst, inspectWal, verifyDir } from "./inspect.ts";
import { accountCommand, instrumentCommand, userCommand } from "./catalog_cmd.ts";
import { benchCommand } from "./bench.ts";
import { VenueError } from "../stdx/errors.ts";

const USAGE = `usage: venue <command> [options]

commands:
  start [--config FILE] [--data DIR] [--host H] [--port P] [--SETTING VALUE ...]
                             run the node: journal, event store and the DIFF gateway (default ./data,
                             ws://127.0.0.1:7788/md and /trade); the first start seeds demo users and
                             instruments and prints them; Ctrl-C stops it gracefully; every setting
                             (flag, VENUE_* variable, JSON config file): venue start --help
  bench latency [--quick] [--rates 10000,100000,500000,max] [--gateway] [...]
                             open-loop orders through the whole node: per-stage latency from each order's
                             scheduled time beside the disk's raw fdatasync; a table, latency.json and
                             latency.svg (every option: venue bench latency --help)
  demo [--commands N] [--seed S]
                             the matching engine alone on a generated order flow: books, trades, accounts, throughput
  replay FILE [--final-book] apply commands from a JSON-lines FILE ("-" for stdin), print events as JSON lines
  inspect wal FILE [--records N]
                             print a journal segment: header, records (first N, default 20), how it ends
  inspect sst FILE [--records N]
                             print an event-store table: properties, entries (first N), after checking every block
  verify DIR                 check every file of a data directory as recovery would, changing nothing
  user add NAME [--role R ...] (--password-stdin | --password-env VAR)
                             add a user (roles: trader, readonly, admin; default trader) with its default account NAME
  user list                  list users: roles, status, password parameters (never the hash), accounts
  user passwd NAME (--password-stdin | --password-env VAR)
                             set a user's password
  user role NAME --role R ...
                             set a user's roles
  user disable NAME | user enable NAME
                             refuse or allow a user's logins
  account add ID --owner USER
                             add an account USER.UNIT to a user
  account list [--owner USER]
                             list accounts, or one user's
  instrument add SYMBOL --tick N --decs N --multiple N [--margin N] [--margin-rate-bp N]
      [--commission N] [--commission-rate-bp N] [--lower N --upper N] [--class C] [--name TEXT]
      [--product P] [--currency CCY] [--min-volume N] [--max-volume N] [--position-limit N]
      [--close-today-distinct] [--replace]
                             add an instrument (DIFF units: prices and money as decimals)
  instrument list            list instruments
                             user, account and instrument take --data DIR (default ./data; the catalog is DIR/catalog)
  help                       this text

docs: README.md, docs/ARCHITECTURE.md, docs/configuration.md, docs/formats/commands-jsonl.md`;

export async function main(argv: string[]): Promise<number> {
  try {
    return await dispatch(argv);
  } catch (err) {
    // parseArgs rejects unknown options and missing values with a TypeError carrying a code.
    if (err instanceof TypeError && "code" in err && String(err.code).startsWith("ERR_PARSE_ARGS")) return usage(err.message);
    // What the operator can act on (a path that is a directory, a file that is not a table,
    // a damaged file) is one line; anything else keeps its stack, as a fault of the program.
    if (err instanceof VenueError || isSystemError(err)) {
      process.stderr.write(`venue: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

async function dispatch(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "replay": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { "final-book": { type: "boolean", default: false } } });
      if (positionals.length !== 1) return usage("replay takes exactly one FILE");
      try {
        await replayCommand(positionals[0]!, values["final-book"] === true);
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        process.stderr.write(`venue replay: ${err.message}\n`);
        return 1;
      }
      return 0;
    }
    case "inspect": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { records: { type: "string" } } });
      if ((positionals[0] !== "wal" && positionals[0] !== "sst") || positionals.length !== 2) return usage("inspect takes: wal FILE, or sst FILE");
      const n = values.records === undefined ? 20 : Number(values.records);
      if (!Number.isInteger(n) || n < 0) return usage("--records must be an integer >= 0");
      return positionals[0] === "wal" ? inspectWal(positionals[1]!, n) : inspectSst(positionals[1]!, n);
    }
    case "verify": {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true, options: {} });
      if (positionals.length !== 1) return usage("verify takes exactly one DIR");
      return verifyDir(positionals[0]!);
    }
    case "user":
      return userCommand(rest);
    case "account":
      return accountCommand(rest);
    case "instrument":
      return instrumentCommand(rest);
    case "start": {
      return nodeStartCommand(rest);
    }
    case "bench":
      return benchCommand(rest);
    case "demo": {
      const { values } = parseArgs({ args: rest, options: { commands: { type: "string" }, seed: { type: "string" } } });
      return startCommand({ commands: values.commands, seed: values.seed });
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE + "\n");
      return 0;
    default:
      return usage(`unknown command: ${command}`);
  }
}

/** An error from a system call (ENOENT, EISDIR, ENOTDIR, EACCES, ...), as Node's fs throws them. */
function isSystemError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === "string" && typeof (err as NodeJS.ErrnoException).code === "string";
}

function usage(message: string): number {
  process.stderr.write(`venue: ${message}\n\n${USAGE}\n`);
  return 2;
}
