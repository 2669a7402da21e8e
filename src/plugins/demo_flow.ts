/**
 * The demo order flow: a plugin that makes a live market on the demo instruments, so a
 * newcomer who starts the node and opens a DIFF client sees quotes move, trades print and
 * k-lines grow (`venue start --demo-flow RATE`).
 *
 * Two accounts of its own: `demo-mm` quotes a bid and an ask around a mid price that takes
 * a random walk in ticks (each new pair of quotes replaces the last), and `demo-flow`
 * sends small IOC orders that take one side or the other. Both are funded once, at start,
 * with more than years of this flow can use. Order ids carry the start time, so a restart
 * never reuses one. Prices stay inside each instrument's band.
 *
 * Options (from the node): `rate` (orders a second, all instruments together) and
 * `instruments`: for each, its symbol, tick, band and a starting price, in engine units.
 * It reads the l2 topic (lossy) only to learn instruments defined after it started.
 */

import type { Plugin, PluginContext } from "./api.ts";
import { EventKind, type EventView } from "../schema/event.ts";
import { CommandView } from "../schema/command.ts";
import { Buf } from "../schema/layout.ts";
import type { Topic } from "../schema/topics.ts";
import { Offset, OrderType, Side, Tif, currencyCode } from "../schema/codes.ts";
import { Prng } from "../stdx/prng.ts";

export interface DemoFlowInstrument {
  symbol: string;
  tick: number;
  low: number;
  high: number;
  start: number;
}

export interface DemoFlowOptions {
  rate: number;
  instruments: DemoFlowInstrument[];
  seed?: number;
}

export const DEMO_MM = "demo-mm";
export const DEMO_TAKER = "demo-flow";
/** Each demo flow account's deposit (minor units): 10^10 CNY. */
const FUNDS = 1e12;

interface Book {
  index: number;
  spec: DemoFlowInstrument;
  mid: number;
  bid: string;
  ask: string;
}

export function createPlugin(ctx: PluginContext): Plugin {
  const o = ctx.options as unknown as DemoFlowOptions;
  const rate = Number(o.rate);
  if (!(rate > 0 && rate <= 10_000)) throw new RangeError(`demo flow: rate must be above 0 and at most 10,000 orders a second, not ${String(o.rate)}`);
  const books: Book[] = [];
  const wanted = new Map((o.instruments ?? []).map((spec) => [spec.symbol, spec]));
  const add = (symbol: string, index: number): void => {
    const spec = wanted.get(symbol);
    if (spec === undefined || books.some((b) => b.index === index)) return;
    books.push({ index, spec, mid: spec.start, bid: "", ask: "" });
  };
  for (const [symbol, index] of ctx.instruments) add(symbol, index);
  const cmd = new CommandView(Buf.alloc(8));
  const prng = new Prng(o.seed ?? (Date.now() >>> 0));
  const run = Date.now().toString(36);
  let next = 0;
  let started = -1;
  let sent = 0;
  const cny = currencyCode("CNY");
  const clamp = (b: Book, p: number): number => Math.min(b.spec.high - b.spec.tick, Math.max(b.spec.low + b.spec.tick, p));

  const step = (b: Book): void => {
    const { tick } = b.spec;
    if (prng.chance(0.6)) {
      // The maker: the mid walks a tick, the quotes follow it.
      b.mid = clamp(b, b.mid + prng.int(-1, 1) * tick);
      for (const id of [b.bid, b.ask]) if (id !== "") ctx.submit.cancel({ instrument: b.index, account: DEMO_MM, orderId: id });
      b.bid = `mm-${run}-${++next}`;
      b.ask = `mm-${run}-${++next}`;
      const spread = prng.int(1, 2) * tick;
      ctx.submit.newOrder({ instrument: b.index, account: DEMO_MM, orderId: b.bid, side: Side.buy, orderType: OrderType.limit, tif: Tif.gfd, offset: Offset.open, price: clamp(b, b.mid - spread), qty: prng.int(1, 5) });
      ctx.submit.newOrder({ instrument: b.index, account: DEMO_MM, orderId: b.ask, side: Side.sell, orderType: OrderType.limit, tif: Tif.gfd, offset: Offset.open, price: clamp(b, b.mid + spread), qty: prng.int(1, 5) });
    } else {
      // The taker: a small IOC through the maker's quote on one side.
      const buy = prng.chance(0.5);
      ctx.submit.newOrder({
        instrument: b.index, account: DEMO_TAKER, orderId: `tk-${run}-${++next}`, side: buy ? Side.buy : Side.sell, orderType: OrderType.limit,
        tif: Tif.ioc, offset: Offset.open, price: clamp(b, b.mid + (buy ? 3 : -3) * tick), qty: prng.int(1, 3),
      });
    }
  };

  return {
    onEvent(_topic: Topic, e: EventView): void {
      // An instrument defined after the start (its event carries the define command's body).
      if (e.kind === EventKind.instrument) add(cmd.wrap(new Buf(e.u8.buffer, e.u8.byteOffset, e.u8.byteLength), e.offset).symbol(), e.instrument);
    },
    onIdle(): void {
      if (books.length === 0) return;
      const now = performance.now();
      if (started < 0) {
        started = now;
        ctx.submit.deposit(DEMO_MM, cny, FUNDS);
        ctx.submit.deposit(DEMO_TAKER, cny, FUNDS);
        ctx.log(`making a market on ${books.map((b) => b.spec.symbol).join(", ")} at about ${rate} orders a second`);
      }
      // What the rate owes by now; after a pause, at most a second's worth (no burst).
      const due = Math.floor(((now - started) / 1000) * rate);
      if (due - sent > rate) sent = due - Math.ceil(rate);
      for (; sent < due; sent++) step(books[prng.int(0, books.length - 1)]!);
    },
  };
}
