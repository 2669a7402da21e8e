/**
 * `venue demo`: the matching engine alone on a built-in demo order flow and prints what happened: each instrument's book,
 * trade statistics, a sample of trades, a few margin accounts and positions, and the
 * throughput. The demo instruments are money instruments (margin and commission), every
 * demo account is funded, and every instrument is marked to market every 50,000 commands.
 * Options are validated with clear errors; long work shows progress.
 */

import { Engine, DEFAULT_ENGINE_CONFIG } from "../engine/engine.ts";
import { EventKind, EventView } from "../schema/event.ts";
import { Buf, NO_INSTRUMENT } from "../schema/layout.ts";
import { Side } from "../schema/codes.ts";
import { MAX_COMMAND_SIZE, writeMark } from "../schema/command.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../sim/order_flow.ts";

export interface StartOptions {
  commands: string | undefined;
  seed: string | undefined;
}

const DEFAULT_COMMANDS = 300_000;
const MAX_COMMANDS = 20_000_000;
const INSTRUMENTS = 4;
const ACCOUNTS = 1000;
const MARK_EVERY = 50_000;
/** Each demo account's deposit, in minor units. */
const DEPOSIT = 50_000_000_000;

interface Stats {
  trades: number;
  volume: number;
  last: number;
  high: number;
  low: number;
}

function parseIntOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  return n;
}

export class UsageError extends Error {
  override readonly name = "UsageError";
}

export function startCommand(options: StartOptions, out: NodeJS.WritableStream = process.stdout): number {
  let commands: number;
  let seed: number;
  try {
    commands = parseIntOption("commands", options.commands, DEFAULT_COMMANDS, 1, MAX_COMMANDS);
    seed = parseIntOption("seed", options.seed, 1, 0, 0xffffffff);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`venue demo: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const say = (line = ""): void => { out.write(line + "\n"); };
  say("Venue: the matching engine on a demo order flow");
  say("(the engine alone, no journal or gateway: `venue start` runs the node)");
  say();
  say(`generating ${fmt(commands)} commands over ${INSTRUMENTS} instruments, seed ${seed} ...`);
  const flow = generateFlow({ seed, commands, instruments: INSTRUMENTS });

  const engine = new Engine(DEFAULT_ENGINE_CONFIG);
  const firstSeq = defineInstruments(engine, instrumentCommands(INSTRUMENTS), { money: DEMO_MONEY, accounts: ACCOUNTS, deposit: DEPOSIT });
  const { buf, offsets } = encodeFlow(flow, engine, { firstSeq });
  const mark = Buf.alloc(MAX_COMMAND_SIZE);
  writeMark(mark, 0, NO_INSTRUMENT);
  const stats: Stats[] = Array.from({ length: INSTRUMENTS }, () => ({ trades: 0, volume: 0, last: 0, high: -Infinity, low: Infinity }));
  const sample: string[] = [];
  const ev = new EventView(Buf.alloc(8));
  let events = 0;
  let applyMs = 0;
  const step = Math.max(1, Math.floor(commands / 10));
  for (let from = 0; from < commands; from += step) {
    const to = Math.min(commands, from + step);
    const t0 = performance.now();
    for (let i = from; i < to; i++) {
      engine.apply(buf, offsets[i]!);
      const o = engine.out;
      for (let at = 0; at < o.length; at += ev.size) {
        ev.wrap(o.buf, at);
        events++;
        if (ev.kind === EventKind.trade) record(ev, stats, sample, engine);
      }
      o.clear();
      if (i % MARK_EVERY === MARK_EVERY - 1) {
        engine.apply(mark, 0);
        events += o.count;
        o.clear();
      }
    }
    applyMs += performance.now() - t0;
    if (process.stderr.isTTY === true) process.stderr.write(`\r  applied ${fmt(to)} / ${fmt(commands)}`);
  }
  if (process.stderr.isTTY === true) process.stderr.write("\n");
  say(`applied ${fmt(commands)} commands in ${(applyMs / 1000).toFixed(2)} s: ${(commands / applyMs / 1000).toFixed(2)}M commands/s, ` +
    `${(events / commands).toFixed(2)} events per command (one thread, accounts and risk on, events read in place)`);
  say();
  for (let i = 0; i < INSTRUMENTS; i++) printBook(say, engine, i, stats[i]!);
  say("first trades:");
  for (const line of sample) say(line);
  say();
  printAccounts(say, engine);
  say("next: `npx venue replay FILE --final-book` replays your own commands (docs/formats/commands-jsonl.md);");
  say("      `npm run bench` measures the engine beside nodejs-order-book (docs/BENCHMARKS.md).");
  return 0;
}

/** The three accounts with the most margin in use: their money and positions. */
function printAccounts(say: (line?: string) => void, engine: Engine): void {
  const acc = engine.accounts;
  const rows: Array<{ a: number; margin: number }> = [];
  for (let a = 0; a < acc.moneyCount; a++) rows.push({ a, margin: acc.field(a, "margin") });
  rows.sort((x, y) => y.margin - x.margin);
  say("accounts with the most margin in use (CNY minor units):");
  say(`  ${"account".padEnd(8)} ${"balance".padStart(16)} ${"margin".padStart(14)} ${"frozen".padStart(12)} ${"available".padStart(16)} ${"close P&L".padStart(12)} ${"position P&L".padStart(13)} ${"risk".padStart(7)}`);
  for (const { a } of rows.slice(0, 3)) {
    const frozen = acc.field(a, "frozenMargin") + acc.field(a, "frozenCommission");
    say(`  ${engine.accountName(acc.accountOfMoney(a)).padEnd(8)} ${fmt(acc.balance(a)).padStart(16)} ${fmt(acc.field(a, "margin")).padStart(14)} ${fmt(frozen).padStart(12)} ` +
      `${fmt(acc.available(a)).padStart(16)} ${fmt(acc.field(a, "closeProfit")).padStart(12)} ${fmt(acc.field(a, "positionProfit")).padStart(13)} ${(acc.riskRatioBp(a) / 100).toFixed(2).padStart(6)}%`);
  }
  say();
}

function record(ev: EventView, stats: Stats[], sample: string[], engine: Engine): void {
  const s = stats[ev.instrument]!;
  const price = ev.price;
  s.trades++;
  s.volume += ev.qty;
  s.last = price;
  if (price > s.high) s.high = price;
  if (price < s.low) s.low = price;
  if (sample.length < 5) {
    sample.push(`  seq ${ev.seq}  ${engine.instruments.symbols[ev.instrument]}  ${ev.qty} @ ${fmt(price)}  ` +
      `aggressor ${ev.aggressorSide === Side.buy ? "buy" : "sell"}  maker #${ev.makerOrderNo}  taker #${ev.takerOrderNo}`);
  }
}

function printBook(say: (line?: string) => void, engine: Engine, i: number, s: Stats): void {
  const symbol = engine.instruments.symbols[i]!;
  const bids = engine.depth(i, Side.buy);
  const asks = engine.depth(i, Side.sell);
  say(`${symbol}: ${fmt(s.trades)} trades, volume ${fmt(s.volume)}, last ${fmt(s.last)}, range ${fmt(s.low)}..${fmt(s.high)}; ` +
    `${bids.length} bid and ${asks.length} ask levels, ${fmt(bids.reduce((n, l) => n + l[2], 0) + asks.reduce((n, l) => n + l[2], 0))} resting orders`);
  say(`  ${"orders".padStart(7)} ${"bid qty".padStart(9)} ${"bid".padStart(11)} | ${"ask".padEnd(11)} ${"ask qty".padStart(9)} ${"orders".padStart(7)}`);
  for (let k = 0; k < 5; k++) {
    const b = bids[k];
    const a = asks[k];
    const left = b === undefined ? " ".repeat(29) : `${fmt(b[2]).padStart(7)} ${fmt(b[1]).padStart(9)} ${fmt(b[0]).padStart(11)}`;
    const right = a === undefined ? "" : `${fmt(a[0]).padEnd(11)} ${fmt(a[1]).padStart(9)} ${fmt(a[2]).padStart(7)}`;
    say(`  ${left} | ${right}`);
  }
  say();
}

function fmt(n: number): string {
  return n.toLocaleString("en-US");
}
