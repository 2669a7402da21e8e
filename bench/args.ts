/**
 * Command-line options every benchmark shares: `--quick` (a short run that proves the
 * benchmark works; CI uses it), `--commands`, `--rounds`, `--seed`, plus each benchmark's
 * own. Numbers are validated with a clear error.
 */

import { parseArgs } from "node:util";

export interface BenchArgs {
  quick: boolean;
  commands: number;
  rounds: number;
  seed: number;
  /** Further integer options the benchmark declared, by name (undefined when absent). */
  extra: Record<string, number | undefined>;
  /** Further on/off options the benchmark declared, by name. */
  flags: Record<string, boolean>;
}

export function benchArgs(defaults: { commands: number; quickCommands: number; rounds?: number; seed?: number }, extraOptions: string[] = [], extraFlags: string[] = []): BenchArgs {
  const options: Record<string, { type: "string" } | { type: "boolean"; default: boolean }> = {
    quick: { type: "boolean", default: false },
    commands: { type: "string" },
    rounds: { type: "string" },
    seed: { type: "string" },
  };
  for (const name of extraOptions) options[name] = { type: "string" };
  for (const name of extraFlags) options[name] = { type: "boolean", default: false };
  const { values } = parseArgs({ options });
  const int = (name: string, fallback: number | undefined): number | undefined => {
    const v = values[name];
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`--${name}: expected a positive integer, got ${String(v)}`);
    return n;
  };
  const quick = values["quick"] === true;
  const extra: Record<string, number | undefined> = {};
  for (const name of extraOptions) extra[name] = int(name, undefined);
  const flags: Record<string, boolean> = {};
  for (const name of extraFlags) flags[name] = values[name] === true;
  return {
    quick,
    commands: int("commands", quick ? defaults.quickCommands : defaults.commands)!,
    rounds: int("rounds", defaults.rounds ?? 3)!,
    seed: int("seed", defaults.seed ?? 20261124)!,
    extra,
    flags,
  };
}
