/**
 * Tidy: the boundaries STYLE.md sets, checked over the source tree as text.
 *
 * - The engine (src/engine/) is deterministic: no clock, no randomness, no I/O, no
 *   Node built-in modules, no timers.
 * - Raw `Atomics` calls live only in src/bus/.
 * - No `any`, no `enum`, no default exports anywhere in src/, test/, bench/, workers/.
 * - File names are snake_case; every source file opens with a comment (its contract).
 */

import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..");

function walk(dir: string, out: string[] = []): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out; // a top-level folder that does not exist yet holds no files to check
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".ts")) out.push(path);
  }
  return out;
}

const sources = ["src", "test", "bench", "workers"].flatMap((d) => walk(join(ROOT, d)));
const rel = (p: string): string => relative(ROOT, p);

/** Source text with comments and string literals blanked, so that prose does not trip the rules. */
function code(path: string): string {
  return readFileSync(path, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, " "))
    .replace(/\/\/.*$/gm, "")
    .replace(/"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`(?:[^`\\]|\\.)*`/g, '""');
}

function violations(files: string[], rules: Array<[RegExp, string]>): string[] {
  const found: string[] = [];
  for (const f of files) {
    const lines = code(f).split("\n");
    lines.forEach((line, i) => {
      for (const [re, why] of rules) if (re.test(line)) found.push(`${rel(f)}:${i + 1}: ${why}`);
    });
  }
  return found;
}

describe("tidy", () => {
  it("finds the sources", () => {
    expect(sources.some((f) => rel(f).startsWith("src/engine/"))).toBe(true);
  });

  it("keeps the engine free of clocks, randomness, timers and I/O", () => {
    const engine = sources.filter((f) => rel(f).startsWith("src/engine/"));
    const found = violations(engine, [
      [/\bDate\b/, "Date reads the clock"],
      [/\bperformance\b/, "performance reads the clock"],
      [/\bprocess\b/, "process is I/O and environment"],
      [/\bhrtime\b/, "hrtime reads the clock"],
      [/Math\.random/, "Math.random is randomness"],
      [/\bcrypto\b/, "crypto is randomness"],
      [/\b(setTimeout|setInterval|setImmediate|queueMicrotask)\b/, "timers"],
      [/\b(async|await|Promise)\b/, "the engine is synchronous"],
      [/\brequire\s*\(/, "require"],
    ]);
    const imports = engine.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/from\s+"([^"]+)"/g)]
        .map((m) => m[1]!)
        .filter((spec) => !spec.startsWith("."))
        .map((spec) => `${rel(f)}: imports ${spec}; the engine imports only project modules`),
    );
    const stdxFromEngine = engine.flatMap((f) =>
      [...readFileSync(f, "utf8").matchAll(/from\s+"([^"]*stdx\/prng[^"]*)"/g)].map(() => `${rel(f)}: imports the PRNG`),
    );
    expect([...found, ...imports, ...stdxFromEngine]).toEqual([]);
  });

  it("keeps raw Atomics inside src/bus/", () => {
    const outside = sources.filter((f) => !rel(f).startsWith("src/bus/") && rel(f).startsWith("src/"));
    expect(violations(outside, [[/\bAtomics\./, "raw Atomics outside src/bus/"]])).toEqual([]);
  });

  it("uses no any, no enum and no default export", () => {
    const found = violations(sources.filter((f) => !f.endsWith("tidy.test.ts")), [
      [/(:\s*any\b|<any>|\bas any\b|any\[\])/, "any"],
      [/^\s*(export\s+)?(const\s+)?enum\s/, "enum"],
      [/\bexport\s+default\b/, "default export"],
    ]);
    expect(found).toEqual([]);
  });

  it("names files in snake_case and opens each with a comment", () => {
    const bad: string[] = [];
    for (const f of sources) {
      const base = f.split("/").pop()!;
      if (!/^[a-z0-9_]+(\.[a-z]+)*\.ts$/.test(base)) bad.push(`${rel(f)}: file name not snake_case`);
      const head = readFileSync(f, "utf8").trimStart();
      if (!head.startsWith("/*") && !head.startsWith("//")) bad.push(`${rel(f)}: no opening comment`);
    }
    expect(bad).toEqual([]);
  });
});
