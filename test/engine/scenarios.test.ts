/**
 * Data-driven matching scenarios: the readable specification of the engine.
 *
 * Each file in scenarios/ holds a preamble (commands applied first, their events not
 * checked) and cases. A case is a `### title` line, command lines (JSONL), a `----` line and
 * the expected event lines. An expected line matches an actual event when every key it
 * names has the same value (keys it leaves out are not checked), and the events must
 * match one for one, in order. `#! only: trade,rejected` in a case's commands keeps only
 * those event kinds before comparing; `#! book` appends the final book lines to the
 * events. Lines starting with `#` are comments.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { replayText } from "../../src/replay/replayer.ts";

interface Case {
  file: string;
  title: string;
  commands: string[];
  expected: string[];
  only: string[] | undefined;
  book: boolean;
}

const DIR = join(import.meta.dirname, "scenarios");

function parse(file: string): Case[] {
  const lines = readFileSync(join(DIR, file), "utf8").split("\n");
  const preamble: string[] = [];
  const cases: Case[] = [];
  let current: Case | undefined;
  let inExpected = false;
  for (const raw of lines) {
    const line = raw.trim();
    if (line.startsWith("### ")) {
      current = { file, title: line.slice(4), commands: [], expected: [], only: undefined, book: false };
      cases.push(current);
      inExpected = false;
    } else if (line.startsWith("#! only:")) {
      if (current !== undefined) current.only = line.slice(8).split(",").map((s) => s.trim());
    } else if (line === "#! book") {
      if (current !== undefined) current.book = true;
    } else if (line === "" || line.startsWith("#")) {
      continue;
    } else if (line === "----") {
      inExpected = true;
    } else if (current === undefined) {
      preamble.push(line);
    } else if (inExpected) {
      current.expected.push(line);
    } else {
      current.commands.push(line);
    }
  }
  for (const c of cases) c.commands = [...preamble.map((l) => `${l}`), "#preamble-end", ...c.commands];
  return cases;
}

function run(c: Case): Record<string, unknown>[] {
  const cut = c.commands.indexOf("#preamble-end");
  const pre = c.commands.slice(0, cut);
  const body = c.commands.slice(cut + 1);
  const all = replayText([...pre, ...body].join("\n"), { finalBook: c.book });
  const preEvents = replayText(pre.join("\n")).length;
  let events = all.slice(preEvents).map((l) => JSON.parse(l) as Record<string, unknown>);
  if (c.only !== undefined) {
    const keep = new Set([...c.only, ...(c.book ? ["book"] : [])]);
    events = events.filter((e) => keep.has(String(e["ev"])));
  }
  return events;
}

function matches(expected: Record<string, unknown>, actual: Record<string, unknown>): boolean {
  for (const [k, v] of Object.entries(expected)) {
    if (JSON.stringify(actual[k]) !== JSON.stringify(v)) return false;
  }
  return true;
}

const files = readdirSync(DIR).filter((f) => f.endsWith(".txt")).sort();

describe("matching scenarios", () => {
  it("has scenario files", () => {
    expect(files.length).toBeGreaterThan(0);
  });
  for (const file of files) {
    describe(file, () => {
      for (const c of parse(file)) {
        it(c.title, () => {
          const actual = run(c);
          const expected = c.expected.map((l) => JSON.parse(l) as Record<string, unknown>);
          const show = (): string =>
            `\nexpected:\n${c.expected.join("\n")}\nactual:\n${actual.map((e) => JSON.stringify(e)).join("\n")}`;
          expect(actual.length, `event count differs${show()}`).toBe(expected.length);
          expected.forEach((e, i) => {
            expect(matches(e, actual[i]!), `event ${i + 1} differs${show()}`).toBe(true);
          });
        });
      }
    });
  }
});
