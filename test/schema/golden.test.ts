/**
 * Golden samples of every binary layout. Each record kind is written with fixed values and
 * compared byte for byte with test/schema/golden/*.txt. A layout change fails here until
 * the golden file is regenerated on purpose (VENUE_UPDATE_GOLDEN=1) and the change reviewed:
 * on-disk and in-ring values never change meaning silently.
 */

import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Buf, stamp } from "../../src/schema/layout.ts";
import {
  CommandView,
  writeAmend,
  writeCancel,
  writeDefineInstrument,
  writeExpireGfd,
  writeMassCancel,
  writeNewOrder,
  writeSetTradingState,
  writeDefineInstrumentV1,
  writeMark,
  writeSettle,
  writeTransfer,
} from "../../src/schema/command.ts";
import { ACCOUNT_FIELD, ACCOUNT_FIELD_COUNT, EventBuffer, EventKind, EventView, POSITION_FIELD_COUNT } from "../../src/schema/event.ts";
import { Offset, OrderStatus, OrderType, Reason, RiskAction, Side, Stp, Tif, TradingState, currencyCode } from "../../src/schema/codes.ts";
import { CommandKind } from "../../src/schema/command.ts";

const DIR = join(import.meta.dirname, "golden");
const SEQ = 0x123456789a;
const TS = 1730772001000000123n;

function hex(u8: Uint8Array, from: number, to: number): string {
  return Buffer.from(u8.subarray(from, to)).toString("hex");
}

function commandSamples(): Array<[string, string]> {
  const buf = Buf.alloc(4096);
  const out: Array<[string, string]> = [];
  const add = (name: string, size: number): void => {
    stamp(buf.dv, 0, SEQ, TS);
    out.push([name, hex(buf.u8, 0, size)]);
  };
  add("defineInstrument", writeDefineInstrument(buf, 0, { symbol: "SHFE.cu2501", tickSize: 10, lotSize: 1, minQty: 1, maxQty: 1000, priceLow: 60000, priceHigh: 90000, state: TradingState.open }));
  add("defineInstrumentV1", writeDefineInstrumentV1(buf, 0, { symbol: "SHFE.cu2501", tickSize: 10, lotSize: 1, minQty: 1, maxQty: 1000, priceLow: 60000, priceHigh: 90000 }));
  add("defineInstrumentV2", writeDefineInstrument(buf, 0, {
    symbol: "SHFE.cu2501", tickSize: 10, lotSize: 1, minQty: 1, maxQty: 1000, priceLow: 60000, priceHigh: 90000, state: TradingState.open,
    currency: currencyCode("CNY"), closeTodayDistinct: true, multiplier: 500, marginPerLot: 0, marginRateBp: 1000, commissionPerLot: 300, commissionRateBp: 1, positionLimit: 5000,
  }));
  add("newOrder", writeNewOrder(buf, 0, { instrument: 3, account: "acct-1", orderId: "PYSDK_insert_01", side: Side.sell, orderType: OrderType.limit, tif: Tif.gfd, postOnly: true, stp: Stp.decrement, offset: Offset.closeToday, price: -1234567890123, qty: 4294967297 }));
  add("cancel", writeCancel(buf, 0, { account: "acct-1", orderId: "o1" }));
  add("amend", writeAmend(buf, 0, { account: "acct-1", orderId: "o1", price: 75000, qty: 3 }));
  add("massCancel", writeMassCancel(buf, 0, 7, "acct-2"));
  add("setTradingState", writeSetTradingState(buf, 0, 2, TradingState.cancelOnly));
  add("expireGfd", writeExpireGfd(buf, 0, 0xffffffff));
  add("deposit", writeTransfer(buf, 0, CommandKind.deposit, "acct-1", currencyCode("CNY"), 100_000_000));
  add("withdraw", writeTransfer(buf, 0, CommandKind.withdraw, "acct-1", currencyCode("CNY"), 2_500));
  add("mark", writeMark(buf, 0, 3));
  add("settle", writeSettle(buf, 0));
  return out;
}

function eventSamples(): Array<[string, string]> {
  const cmd = Buf.alloc(256);
  const size = writeNewOrder(cmd, 0, { instrument: 1, account: "acct-1", orderId: "o-42", side: Side.buy, price: 100, qty: 5 });
  stamp(cmd.dv, 0, SEQ, TS);
  const v = new CommandView(cmd).wrap(cmd, 0);
  const ev = new EventBuffer(4096);
  ev.begin(cmd.dv, 0);
  const out: Array<[string, string]> = [];
  const add = (name: string, write: () => void): void => {
    const from = ev.length;
    write();
    out.push([name, hex(ev.buf.u8, from, ev.length)]);
  };
  add("accepted", () => ev.accepted(1, Side.buy, OrderType.limit, Tif.gtc, 1, Stp.cancelBoth, Offset.open, 100, 5, 42, 9, cmd.u8, v.accountOffset, v.accountLen, v.orderIdOffset, v.orderIdLen));
  add("rejected", () => ev.rejected(1, Reason.priceOffTick, CommandKind.newOrder, Side.buy, 0, 9, 101, 5, cmd.u8, v.accountOffset, v.accountLen, v.orderIdOffset, v.orderIdLen, OrderType.limit, Tif.gfd, Offset.close));
  add("trade", () => ev.trade(1, Side.sell, 77, 105, 3, 40, 42, 8, 9, 2, 0, 15, 16, -2500, 0));
  add("updated", () => ev.updated(1, OrderStatus.partiallyFilled, Reason.none, Side.buy, 9, 42, 100, 2, 3));
  add("l2", () => ev.l2(1, Side.sell, 105, 12, 3));
  add("tradingState", () => ev.tradingState(1, TradingState.halted));
  const def = Buf.alloc(256);
  const defSize = writeDefineInstrument(def, 0, { symbol: "X.T", tickSize: 5, lotSize: 1, minQty: 1, maxQty: 10, priceLow: 50, priceHigh: 200 });
  add("instrument", () => ev.instrument(4, def.u8, 0, defSize));
  add("account", () => {
    // Field j (from 0, in ACCOUNT_FIELD order) holds -1000 (j + 1).
    const q = ev.account(currencyCode("CNY"), 9);
    for (let j = 0; j < ACCOUNT_FIELD_COUNT; j++) ev.figures[q + j] = -1000 * (j + 1);
  });
  add("position", () => {
    const q = ev.position(1, 9);
    for (let j = 0; j < POSITION_FIELD_COUNT; j++) ev.figures[q + j] = 7 * (j + 1);
  });
  add("riskBreach", () => ev.riskBreach(currencyCode("CNY"), 9, RiskAction.liquidation, 10_500, 95_000, 99_750));
  add("transfer", () => ev.transfer(1, currencyCode("CNY"), 9, 1_000_000, cmd.u8, v.accountOffset, v.accountLen));
  add("dayEnded", () => ev.dayEnded());
  void size;
  return out;
}

function check(file: string, samples: Array<[string, string]>): void {
  const path = join(DIR, file);
  const text = samples.map(([n, h]) => `${n} ${h}`).join("\n") + "\n";
  if (process.env["VENUE_UPDATE_GOLDEN"] === "1") {
    mkdirSync(DIR, { recursive: true });
    writeFileSync(path, text);
  }
  expect(existsSync(path), `${path} missing: run with VENUE_UPDATE_GOLDEN=1 once and review it`).toBe(true);
  expect(text).toBe(readFileSync(path, "utf8"));
}

describe("binary layouts", () => {
  it("commands match their golden bytes", () => check("commands.txt", commandSamples()));
  it("events match their golden bytes", () => check("events.txt", eventSamples()));

  it("reads back what the writers wrote", () => {
    const buf = Buf.alloc(256);
    writeNewOrder(buf, 0, { instrument: 3, account: "acct-1", orderId: "PYSDK_insert_01", side: Side.sell, tif: Tif.fok, price: -1234567890123, qty: 4294967297 });
    stamp(buf.dv, 0, SEQ, TS);
    const c = new CommandView(buf).wrap(buf, 0);
    expect([c.kind, c.instrument, c.side, c.tif, c.price, c.qty, c.accountId(), c.orderId()]).toEqual([
      CommandKind.newOrder, 3, Side.sell, Tif.fok, -1234567890123, 4294967297, "acct-1", "PYSDK_insert_01",
    ]);
    const ev = new EventBuffer(1024);
    ev.begin(buf.dv, 0);
    ev.trade(3, Side.sell, 77, -105, 3, 40, 42, 8, 9, 2, 0);
    const e = new EventView(ev.buf).wrap(ev.buf, 0);
    expect([e.kind, e.seq, e.timestampNs, e.price, e.makerOrderNo, e.takerAccount]).toEqual([EventKind.trade, SEQ, TS, -105, 40, 9]);
  });

  it("reads the fields of account events of both versions (f64 from version 2, i64 before)", () => {
    const ev = new EventBuffer(1024);
    const big = 2 ** 53 - 1;
    const q = ev.account(currencyCode("CNY"), 9);
    for (let j = 0; j < ACCOUNT_FIELD_COUNT; j++) ev.figures[q + j] = j === 0 ? -big : -1000 * (j + 1);
    const v2 = new EventView(ev.buf).wrap(ev.buf, 0);
    expect(v2.version).toBe(2);
    expect(Object.values(ACCOUNT_FIELD).map((f) => v2.figure(f))).toEqual(Array.from({ length: ACCOUNT_FIELD_COUNT }, (_, j) => (j === 0 ? -big : -1000 * (j + 1))));
    // An event stored by a build before version 2: the golden bytes of that build.
    const v1hex = "08019000ffffffff9a785634120000007b0acc02f7ef041800434e590900000018fcffffffffffff30f8ffffffffffff48f4ffffffffffff60f0ffffffffffff78ecffffffffffff90e8ffffffffffffa8e4ffffffffffffc0e0ffffffffffffd8dcfffffffffffff0d8ffffffffffff08d5ffffffffffff20d1ffffffffffff38cdffffffffffff50c9ffffffffffff";
    const old = Buf.alloc(256);
    old.u8.set(Buffer.from(v1hex, "hex"));
    const v1 = new EventView(old).wrap(old, 0);
    expect([v1.kind, v1.version, v1.moneyAccount]).toEqual([EventKind.account, 1, 9]);
    expect(Object.values(ACCOUNT_FIELD).map((f) => v1.figure(f))).toEqual(Array.from({ length: ACCOUNT_FIELD_COUNT }, (_, j) => -1000 * (j + 1)));
  });
});
