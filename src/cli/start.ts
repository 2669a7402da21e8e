/**
 * `venue start`: until the whole node exists (journal, bus, gateway), this runs the matching
 * engine on a built-in demo order flow and prints what happened: each instrument's book,
 * trade statistics, a sample of trades, and the throughput. Options are validated with
 * clear errors; long work shows progress.
 */

import { Engine, DEFAULT_ENGINE_CONFIG } from "../engine/engine.ts";
import { EventKind, EventView } from "../schema/event.ts";
import { Buf } from "../schema/layout.ts";
import { Side } from "../schema/codes.ts";
import { defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../sim/order_flow.ts";

export interface StartOptions {
  commands: string | undefined;
  seed: string | undefined;
}

const DEFAULT_COMMANDS = 300_000;
const MAX_COMMANDS = 20_000_000;
const INSTRUMENTS = 4;

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
      process.stderr.write(`venue start: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const say = (line = ""): void => { out.write(line + "\n"); };
  say("Venue: the matching engine on a demo order flow");
  say("(the journal, ring bus and DIFF gateway that make this a node are not built yet; see README.md)");
  say();
  say(`generating ${fmt(commands)} commands over ${INSTRUMENTS} instruments, seed ${seed} ...`);
  const flow = generateFlow({ seed, commands, instruments: INSTRUMENTS });

  const engine = new Engine(DEFAULT_ENGINE_CONFIG);
  const firstSeq = defineInstruments(engine, instrumentCommands(INSTRUMENTS));
  const { buf, offsets } = encodeFlow(flow, engine, { firstSeq });
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
    }
    applyMs += performance.now() - t0;
    if (process.stderr.isTTY === true) process.stderr.write(`\r  applied ${fmt(to)} / ${fmt(commands)}`);
  }
  if (process.stderr.isTTY === true) process.stderr.write("\n");
  say(`applied ${fmt(commands)} commands in ${(applyMs / 1000).toFixed(2)} s: ${(commands / applyMs / 1000).toFixed(2)}M commands/s, ` +
    `${(events / commands).toFixed(2)} events per command (one thread, events read in place)`);
  say();
  for (let i = 0; i < INSTRUMENTS; i++) printBook(say, engine, i, stats[i]!);
  say("first trades:");
  for (const line of sample) say(line);
  say();
  say("next: `npx venue replay FILE --final-book` replays your own commands (docs/formats/commands-jsonl.md);");
  say("      `npm run bench` measures the engine beside nodejs-order-book (docs/BENCHMARKS.md).");
  return 0;
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
