/**
 * LOBSTER conformance: real NASDAQ order flow (AAPL, 2012-06-21, the first 999 messages
 * after 09:30 — the data README says 998, but its own per-type counts sum to 999 and both
 * files have 999 rows; shared/data/lobster beside the repo) converted by src/sim/lobster.ts and
 * replayed through the Replayer. Checks, after every message:
 *   - the engine's top N levels per side equal that row of the order book file, exactly;
 *   - every visible execution (type 4) traded only against the order LOBSTER names, or,
 *     for an order that predates the sample, against a stand-in resting at that side and
 *     price, for exactly the executed size at that price; nothing else trades;
 *   - no command is rejected, and the engine's invariants hold.
 * Also checks that the converter's hidden-depth adjustments touch only prices beyond the
 * previous row's Nth level, i.e. never a level the book file showed before the message.
 */

import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { Replayer } from "../../src/replay/replayer.ts";
import { Side } from "../../src/schema/codes.ts";
import {
  EMPTY_PRICE,
  MARKET_ACCOUNT,
  STAND_IN_ACCOUNT,
  accountOf,
  lobsterConversion,
  type BookLevel,
  type BookRow,
  type LobsterConversion,
} from "../../src/sim/lobster.ts";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const dataDir = path.resolve(repoRoot, "../shared/data/lobster");

type Ev = Record<string, unknown>;

interface Outcome {
  conversion: LobsterConversion;
  rowsCompared: number;
  firstMismatch: string | null;
  executionsChecked: number;
  preSampleExecutionsChecked: number;
  executionFailures: string[];
  /** Trades of any order other than an execution's IOC (a crossing add, say). */
  strayTrades: string[];
  rejections: string[];
}

function formatSide(levels: readonly BookLevel[]): string {
  return levels.map(([p, q]) => `${p}x${q}`).join(" ");
}

function formatBook(row: BookRow): string {
  return `    asks: ${formatSide(row.asks)}\n    bids: ${formatSide(row.bids)}`;
}

function replay(): Outcome {
  if (!existsSync(dataDir)) {
    throw new Error(
      `LOBSTER sample not found at ${dataDir}: the conformance test needs shared/data/lobster beside the repository ` +
        `clone (CI checks it out there). Refusing to skip.`,
    );
  }
  const conversion = lobsterConversion(dataDir);
  const r = new Replayer();
  const rejections: string[] = [];
  /** `${account}/${id}` -> the accepted order's side and price. */
  const accepted = new Map<string, { side: string; price: number }>();
  const feed = (command: object, where: string): Ev[] => {
    const events: Ev[] = [];
    r.feed(JSON.stringify(command), (line) => {
      const ev = JSON.parse(line) as Ev;
      events.push(ev);
      if (ev["ev"] === "rejected" || ev["ev"] === "error") rejections.push(`${where}: ${JSON.stringify(command)} -> ${line}`);
      if (ev["ev"] === "accepted") accepted.set(`${String(ev["account"])}/${String(ev["id"])}`, { side: String(ev["side"]), price: Number(ev["price"]) });
    });
    return events;
  };
  for (const c of conversion.setup) feed(c, "setup");
  const instr = r.engine.instrumentIndex(conversion.symbol);
  const n = conversion.levels;
  const top = (side: Side): BookLevel[] => {
    const levels: BookLevel[] = r.engine.depth(instr, side, n).map(([p, q]) => [p, q] as const);
    const empty = side === Side.sell ? EMPTY_PRICE : -EMPTY_PRICE;
    while (levels.length < n) levels.push([empty, 0]);
    return levels;
  };

  let rowsCompared = 0;
  let firstMismatch: string | null = null;
  let executionsChecked = 0;
  let preSampleExecutionsChecked = 0;
  const executionFailures: string[] = [];
  const strayTrades: string[] = [];
  for (const cm of conversion.messages) {
    const m = cm.message;
    const where = `row ${m.row}`;
    const events = cm.commands.flatMap((c) => feed(c, where));
    r.engine.checkInvariants();

    const x = cm.execution;
    for (const e of events) {
      if (e["ev"] === "trade" && (x === null || e["taker"] !== x.takerId)) strayTrades.push(`${where}: ${JSON.stringify(e)}`);
    }
    if (x !== null) {
      const trades = events.filter((e) => e["ev"] === "trade" && e["taker"] === x.takerId && e["takerAccount"] === MARKET_ACCOUNT);
      const filled = trades.reduce((s, t) => s + Number(t["qty"]), 0);
      const problems: string[] = [];
      if (filled !== x.size) problems.push(`traded ${filled} of ${x.size}`);
      for (const t of trades) {
        if (t["price"] !== x.price) problems.push(`trade at ${String(t["price"])}, not ${x.price}`);
        const makerKey = `${String(t["makerAccount"])}/${String(t["maker"])}`;
        if (x.preSample) {
          const o = accepted.get(makerKey);
          const ok = t["makerAccount"] === STAND_IN_ACCOUNT && o !== undefined && o.side === x.side && o.price === x.price;
          if (!ok) problems.push(`maker ${makerKey} is not a stand-in at ${x.side} ${x.price} for pre-sample order ${x.named}`);
        } else if (t["maker"] !== x.named || t["makerAccount"] !== accountOf(Number(x.named))) {
          problems.push(`maker ${makerKey}, LOBSTER names ${x.named}`);
        }
      }
      if (problems.length > 0) executionFailures.push(`${where} ${JSON.stringify(m)}: ${problems.join("; ")}`);
      executionsChecked++;
      if (x.preSample) preSampleExecutionsChecked++;
    }

    const expected = conversion.book[m.row - 1]!;
    const actual: BookRow = { asks: top(Side.sell), bids: top(Side.buy) };
    rowsCompared++;
    if (firstMismatch === null && JSON.stringify(actual) !== JSON.stringify(expected)) {
      firstMismatch =
        `first mismatch at row ${m.row} of ${conversion.book.length}, after message ${JSON.stringify(m)}\n` +
        `  order book file:\n${formatBook(expected)}\n  engine:\n${formatBook(actual)}`;
    }
  }
  return { conversion, rowsCompared, firstMismatch, executionsChecked, preSampleExecutionsChecked, executionFailures, strayTrades, rejections };
}

/** Replayed once, on first use: a missing data directory fails every test, none is skipped. */
let cached: Outcome | undefined;
function outcome(): Outcome {
  if (cached === undefined) {
    cached = replay();
    console.log("lobster conversion:", JSON.stringify(cached.conversion.stats));
  }
  return cached;
}

describe("LOBSTER AAPL sample", () => {
  it("converts every message without anomalies", () => {
    const c = outcome().conversion;
    expect(c.anomalies).toEqual([]);
    // The per-type counts the data README states for this prefix (they sum to 999).
    expect(c.stats.messagesByType).toEqual({ "1": 471, "3": 369, "4": 98, "5": 61 });
    expect(c.messages.length).toBe(999);
    expect(c.book.length).toBe(999);
  });

  it("accepts every command", () => {
    const out = outcome();
    expect(out.rejections).toEqual([]);
  });

  it("reproduces every recorded book exactly", () => {
    const out = outcome();
    expect(out.firstMismatch, out.firstMismatch ?? "").toBeNull();
    expect(out.rowsCompared).toBe(out.conversion.book.length);
  });

  it("fills every execution against the order LOBSTER names (or its stand-in)", () => {
    const out = outcome();
    expect(out.executionFailures).toEqual([]);
    expect(out.strayTrades).toEqual([]);
    expect(out.executionsChecked).toBe(98);
    expect(out.preSampleExecutionsChecked).toBe(out.conversion.stats.preSampleExecutions);
  });

  it("adjusts hidden depth only beyond the previous row's last level", () => {
    const c = outcome().conversion;
    const bad: string[] = [];
    for (const cm of c.messages) {
      const prev = c.book[cm.message.row - 2] ?? c.book[0]!;
      for (const h of cm.hidden) {
        const levels = (h.side === "buy" ? prev.bids : prev.asks).filter(([, q]) => q > 0);
        const last = levels[levels.length - 1];
        const beyond = levels.length === c.levels && last !== undefined && (h.side === "buy" ? h.price < last[0] : h.price > last[0]);
        if (!beyond) bad.push(`row ${cm.message.row}: ${JSON.stringify(h)}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
