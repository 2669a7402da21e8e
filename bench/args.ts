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

/** A benchmark's own integer option: its name (at least 1), or its name and least value. */
export type ExtraOption = string | { name: string; min: number };

export function benchArgs(defaults: { commands: number; quickCommands: number; rounds?: number; seed?: number }, extraOptionSpecs: ExtraOption[] = [], extraFlags: string[] = []): BenchArgs {
  const least = new Map(extraOptionSpecs.map((o) => (typeof o === "string" ? [o, 1] : [o.name, o.min])));
  const extraOptions = [...least.keys()];
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
    const min = least.get(name) ?? 1;
    if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`--${name}: expected ${min === 1 ? "a positive integer" : `an integer of at least ${min}`}, got ${String(v)}`);
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
