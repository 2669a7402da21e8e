/**
 * Event layouts: what the engine emits. Owned here; grammar in docs/formats/events.md.
 *
 * Every event is one record (header in layout.ts) whose seq and timestamp are those of the
 * command that caused it; the events of one command appear in the order the engine
 * produced them. Orders are named by their order number (unique for the life of the
 * venue, assigned at acceptance) and their account index; the `accepted` and `rejected`
 * events also carry the account and client order id bytes, from which a consumer learns
 * the mapping.
 *
 *   kind        v  body (offsets from the record start)                         size
 *   accepted    1  24 u8 side · 25 u8 type · 26 u8 tif · 27 u8 flags · 28 u8 stp   64+ids
 *                  29 u8 offset · 30 u8 accountLen · 31 u8 orderIdLen
 *                  32 i64 price · 40 i64 qty · 48 i64 orderNo · 56 u32 account
 *                  64 account bytes, order id bytes
 *   rejected    1  24 u8 reason · 25 u8 commandKind · 26 u8 side · 27 u8 type       64+ids
 *                  28 u8 tif · 29 u8 offset (a newOrder's; 0 otherwise)
 *                  30 u8 accountLen · 31 u8 orderIdLen · 32 i64 orderNo (0: none)
 *                  40 u32 account (NO_ACCOUNT: unknown) · 48 i64 price · 56 i64 qty
 *                  64 account bytes, order id bytes
 *   trade       2  24 u8 aggressorSide · 32 i64 tradeNo · 40 i64 price · 48 i64 qty  128
 *                  56 i64 makerOrderNo · 64 i64 takerOrderNo · 72 u32 makerAccount
 *                  76 u32 takerAccount · 80 i64 makerLeftQty · 88 i64 takerLeftQty
 *                  96 i64 makerCommission · 104 i64 takerCommission
 *                  112 i64 makerCloseProfit · 120 i64 takerCloseProfit
 *   updated     1  24 u8 status · 25 u8 reason · 26 u8 side · 28 u32 account          64
 *                  32 i64 orderNo · 40 i64 price · 48 i64 leftQty · 56 i64 filledQty
 *   l2          1  24 u8 side · 28 u32 orderCount · 32 i64 price · 40 i64 qty         48
 *   tradingState 1 24 u8 state                                                       32
 *   instrument  1,2 as the defineInstrument command (same version), header instrument = its index
 *   account     2  25 currency (3 ASCII) · 28 u32 account · 32.. f64 fields (ACCOUNT_FIELD)  144
 *   position    2  header instrument · 28 u32 account · 32.. f64 fields (POSITION_FIELD)   184
 *   riskBreach  1  25 currency · 24 u8 action · 28 u32 account · 32 i64 riskRatioBp          56
 *                  40 i64 balance · 48 i64 margin
 *   transfer    1  24 u8 direction (1 deposit, 2 withdraw) · 25 currency · 28 u32 account 48+id
 *                  32 i64 amount · 40 u8 accountLen · 48 account bytes
 *   dayEnded    1  header instrument 0xFFFFFFFF · 24 zero[8]                            32
 *
 * Money is in integer minor units of the currency; a risk ratio is margin / balance in
 * basis points (0 when balance is 0 or less and there is no margin; RISK_RATIO_MAX when
 * balance is 0 or less with margin).
 */

import { assert } from "../stdx/assert.ts";
import {
  Buf,
  H_SEQ,
  H_TIMESTAMP,
  align8,
  readI64,
  readU64,
  readUtf8,
  recordInstrument,
  recordKind,
  recordSize,
  recordVersion,
  writeI64Words,
  HOST_LITTLE_ENDIAN,
} from "./layout.ts";

export const EventKind = {
  accepted: 1,
  rejected: 2,
  trade: 3,
  updated: 4,
  l2: 5,
  tradingState: 6,
  instrument: 7,
  account: 8,
  position: 9,
  riskBreach: 10,
  transfer: 11,
  dayEnded: 12,
} as const;
export type EventKind = (typeof EventKind)[keyof typeof EventKind];

export const EVENT_VERSION = 1;
export const TRADE_VERSION = 2;
/**
 * Account and position events from version 2 hold their fields as f64 (integers, exact below
 * 2^53): the engine's own numbers, stored with one write each. Version 1 held them as i64;
 * `EventView.figure` reads both, so events stored before the change still read.
 */
export const FIGURES_VERSION = 2;
export const NO_ACCOUNT = 0xffffffff;
export const RISK_RATIO_MAX = 0x7fffffff;

/** Offsets of the fields of an account event (f64 each; see FIGURES_VERSION). */
export const ACCOUNT_FIELD = {
  preBalance: 32, deposit: 40, withdraw: 48, staticBalance: 56, closeProfit: 64, commission: 72,
  positionProfit: 80, floatProfit: 88, balance: 96, margin: 104, frozenMargin: 112, frozenCommission: 120,
  available: 128, riskRatioBp: 136,
} as const;
export const ACCOUNT_SIZE = 144;

/** Offsets of the fields of a position event (f64 each). */
export const POSITION_FIELD = {
  longToday: 32, longHis: 40, shortToday: 48, shortHis: 56,
  longFrozenToday: 64, longFrozenHis: 72, shortFrozenToday: 80, shortFrozenHis: 88,
  openCostLong: 96, openCostShort: 104, positionCostLong: 112, positionCostShort: 120,
  marginLong: 128, marginShort: 136, positionProfitLong: 144, positionProfitShort: 152,
  floatProfitLong: 160, floatProfitShort: 168, markPrice: 176,
} as const;
export const POSITION_SIZE = 184;
/** How many fields each has: field j is at byte 32 + 8j (f64 word 4 + j of the record). */
export const ACCOUNT_FIELD_COUNT = 14;
export const POSITION_FIELD_COUNT = 19;
assert(Object.values(ACCOUNT_FIELD).every((f, j) => f === 32 + 8 * j) && ACCOUNT_SIZE === 32 + 8 * ACCOUNT_FIELD_COUNT, "account fields out of order");
assert(Object.values(POSITION_FIELD).every((f, j) => f === 32 + 8 * j) && POSITION_SIZE === 32 + 8 * POSITION_FIELD_COUNT, "position fields out of order");

const E_CURRENCY = 25;
const E_MONEY_ACCOUNT = 28;
const E_RISK_ACTION = 24;
const RISK_BREACH_SIZE = 56;
const E_TRANSFER_AMOUNT = 32;
const E_TRANSFER_ACCOUNT_LEN = 40;
const E_TRANSFER_ACCOUNT = 48;

const E_SIDE = 24;
const E_TYPE = 25;
const E_TIF = 26;
const E_FLAGS = 27;
const E_STP = 28;
const E_OFFSET = 29;
const E_ACCOUNT_LEN = 30;
const E_ORDER_ID_LEN = 31;
const E_ACC_PRICE = 32;
const E_ACC_QTY = 40;
const E_ACC_ORDER_NO = 48;
const E_ACC_ACCOUNT = 56;
const E_IDS = 64;

const E_REASON = 24;
const E_COMMAND_KIND = 25;
const E_REJ_SIDE = 26;
const E_REJ_TYPE = 27;
const E_REJ_TIF = 28;
const E_REJ_OFFSET = 29;
const E_REJ_ORDER_NO = 32;
const E_REJ_ACCOUNT = 40;
const E_REJ_PRICE = 48;
const E_REJ_QTY = 56;

const E_AGGRESSOR = 24;
const E_TRADE_NO = 32;
const E_TRADE_PRICE = 40;
const E_TRADE_QTY = 48;
const E_MAKER_NO = 56;
const E_TAKER_NO = 64;
const E_MAKER_ACCOUNT = 72;
const E_TAKER_ACCOUNT = 76;
const E_MAKER_LEFT = 80;
const E_TAKER_LEFT = 88;
const E_MAKER_COMMISSION = 96;
const E_TAKER_COMMISSION = 104;
const E_MAKER_CLOSE_PROFIT = 112;
const E_TAKER_CLOSE_PROFIT = 120;
const TRADE_SIZE = 128;

const E_STATUS = 24;
const E_UPD_REASON = 25;
const E_UPD_SIDE = 26;
const E_UPD_ACCOUNT = 28;
const E_UPD_ORDER_NO = 32;
const E_UPD_PRICE = 40;
const E_UPD_LEFT = 48;
const E_UPD_FILLED = 56;
const UPDATED_SIZE = 64;

const E_L2_SIDE = 24;
const E_L2_COUNT = 28;
const E_L2_PRICE = 32;
const E_L2_QTY = 40;
const L2_SIZE = 48;

const E_STATE = 24;

// The writers pack the one-byte fields of bytes 24..31 into two word stores, lowest byte
// first (see `EventBuffer`): the byte offsets above must be the ones those stores fill.
assert(
  E_TYPE === E_SIDE + 1 && E_TIF === E_SIDE + 2 && E_FLAGS === E_SIDE + 3 && E_STP === E_SIDE + 4 && E_OFFSET === E_STP + 1 &&
    E_ACCOUNT_LEN === E_STP + 2 && E_ORDER_ID_LEN === E_STP + 3 &&
    E_COMMAND_KIND === E_REASON + 1 && E_REJ_SIDE === E_REASON + 2 && E_REJ_TYPE === E_REASON + 3 && E_REJ_TIF === E_REASON + 4 && E_REJ_OFFSET === E_REJ_TIF + 1 &&
    E_UPD_REASON === E_STATUS + 1 && E_UPD_SIDE === E_STATUS + 2 && (E_SIDE & 3) === 0 && (E_STP & 3) === 0 && (E_REASON & 3) === 0 && (E_STATUS & 3) === 0,
  "event byte fields out of the order the writers pack them in",
);
const TRADING_STATE_SIZE = 32;
const DAY_ENDED_SIZE = 32;

/**
 * Flyweight reader over one event record. Reads in place; allocates nothing except in
 * the string helpers, which are for edge code.
 */
export class EventView {
  dv: DataView;
  u8: Uint8Array;
  offset = 0;

  constructor(buf: Buf) {
    this.dv = buf.dv;
    this.u8 = buf.u8;
  }

  wrap(buf: Buf, offset: number): this {
    this.dv = buf.dv;
    this.u8 = buf.u8;
    this.offset = offset;
    return this;
  }

  get kind(): number { return recordKind(this.dv, this.offset); }
  get version(): number { return recordVersion(this.dv, this.offset); }
  get size(): number { return recordSize(this.dv, this.offset); }
  get instrument(): number { return recordInstrument(this.dv, this.offset); }
  get seq(): number { return readU64(this.dv, this.offset + H_SEQ); }
  get timestampNs(): bigint { return this.dv.getBigUint64(this.offset + H_TIMESTAMP, true); }

  // accepted / rejected
  get side(): number {
    return this.dv.getUint8(this.offset + (this.kind === EventKind.rejected ? E_REJ_SIDE : this.kind === EventKind.updated ? E_UPD_SIDE : E_SIDE));
  }
  get orderType(): number { return this.dv.getUint8(this.offset + E_TYPE); }
  /** A rejected newOrder's type, tif and offset as sent (0 for other commands). */
  get rejectedType(): number { return this.dv.getUint8(this.offset + E_REJ_TYPE); }
  get rejectedTif(): number { return this.dv.getUint8(this.offset + E_REJ_TIF); }
  get rejectedOffset(): number { return this.dv.getUint8(this.offset + E_REJ_OFFSET); }
  get tif(): number { return this.dv.getUint8(this.offset + E_TIF); }
  get flags(): number { return this.dv.getUint8(this.offset + E_FLAGS); }
  get stp(): number { return this.dv.getUint8(this.offset + E_STP); }
  get orderOffset(): number { return this.dv.getUint8(this.offset + E_OFFSET); }
  get accountLen(): number { return this.dv.getUint8(this.offset + E_ACCOUNT_LEN); }
  get orderIdLen(): number { return this.dv.getUint8(this.offset + E_ORDER_ID_LEN); }
  get accountIdOffset(): number { return this.offset + E_IDS; }
  get orderIdOffset(): number { return this.offset + E_IDS + this.accountLen; }

  get price(): number {
    const k = this.kind;
    const o = k === EventKind.accepted ? E_ACC_PRICE : k === EventKind.rejected ? E_REJ_PRICE : k === EventKind.trade ? E_TRADE_PRICE : k === EventKind.updated ? E_UPD_PRICE : E_L2_PRICE;
    return readI64(this.dv, this.offset + o);
  }
  get qty(): number {
    const k = this.kind;
    const o = k === EventKind.accepted ? E_ACC_QTY : k === EventKind.rejected ? E_REJ_QTY : k === EventKind.trade ? E_TRADE_QTY : E_L2_QTY;
    return readI64(this.dv, this.offset + o);
  }
  get orderNo(): number {
    const k = this.kind;
    const o = k === EventKind.accepted ? E_ACC_ORDER_NO : k === EventKind.rejected ? E_REJ_ORDER_NO : E_UPD_ORDER_NO;
    return readI64(this.dv, this.offset + o);
  }
  get account(): number {
    const k = this.kind;
    const o = k === EventKind.accepted ? E_ACC_ACCOUNT : k === EventKind.rejected ? E_REJ_ACCOUNT : E_UPD_ACCOUNT;
    return this.dv.getUint32(this.offset + o, true);
  }

  // rejected
  get reason(): number { return this.dv.getUint8(this.offset + (this.kind === EventKind.updated ? E_UPD_REASON : E_REASON)); }
  get commandKind(): number { return this.dv.getUint8(this.offset + E_COMMAND_KIND); }

  // trade
  get aggressorSide(): number { return this.dv.getUint8(this.offset + E_AGGRESSOR); }
  get tradeNo(): number { return readI64(this.dv, this.offset + E_TRADE_NO); }
  get makerOrderNo(): number { return readI64(this.dv, this.offset + E_MAKER_NO); }
  get takerOrderNo(): number { return readI64(this.dv, this.offset + E_TAKER_NO); }
  get makerAccount(): number { return this.dv.getUint32(this.offset + E_MAKER_ACCOUNT, true); }
  get takerAccount(): number { return this.dv.getUint32(this.offset + E_TAKER_ACCOUNT, true); }
  get makerLeftQty(): number { return readI64(this.dv, this.offset + E_MAKER_LEFT); }
  get takerLeftQty(): number { return readI64(this.dv, this.offset + E_TAKER_LEFT); }
  get makerCommission(): number { return readI64(this.dv, this.offset + E_MAKER_COMMISSION); }
  get takerCommission(): number { return readI64(this.dv, this.offset + E_TAKER_COMMISSION); }
  get makerCloseProfit(): number { return readI64(this.dv, this.offset + E_MAKER_CLOSE_PROFIT); }
  get takerCloseProfit(): number { return readI64(this.dv, this.offset + E_TAKER_CLOSE_PROFIT); }

  // account / position / riskBreach
  /** The i64 at `field` (an offset in this event). */
  i64(field: number): number { return readI64(this.dv, this.offset + field); }
  /** A field of an account or position event (an ACCOUNT_FIELD or POSITION_FIELD offset), of either version. */
  figure(field: number): number {
    return this.version >= FIGURES_VERSION ? this.dv.getFloat64(this.offset + field, true) : readI64(this.dv, this.offset + field);
  }
  get moneyAccount(): number { return this.dv.getUint32(this.offset + E_MONEY_ACCOUNT, true); }
  get currency(): number {
    const o = this.offset + E_CURRENCY;
    return this.dv.getUint8(o) | (this.dv.getUint8(o + 1) << 8) | (this.dv.getUint8(o + 2) << 16);
  }
  get riskAction(): number { return this.dv.getUint8(this.offset + E_RISK_ACTION); }
  // transfer
  get direction(): number { return this.dv.getUint8(this.offset + E_RISK_ACTION); }
  get amount(): number { return readI64(this.dv, this.offset + E_TRANSFER_AMOUNT); }
  transferAccountId(): string { return readUtf8(this.u8, this.offset + E_TRANSFER_ACCOUNT, this.dv.getUint8(this.offset + E_TRANSFER_ACCOUNT_LEN)); }

  // updated
  get status(): number { return this.dv.getUint8(this.offset + E_STATUS); }
  get leftQty(): number { return readI64(this.dv, this.offset + E_UPD_LEFT); }
  get filledQty(): number { return readI64(this.dv, this.offset + E_UPD_FILLED); }

  // l2
  get orderCount(): number { return this.dv.getUint32(this.offset + E_L2_COUNT, true); }

  // tradingState / instrument
  get state(): number { return this.dv.getUint8(this.offset + E_STATE); }

  accountId(): string { return readUtf8(this.u8, this.accountIdOffset, this.accountLen); }
  orderId(): string { return readUtf8(this.u8, this.orderIdOffset, this.orderIdLen); }
}

/**
 * Where an EventBuffer writes its records instead of its own memory (`writeTo`): the node's
 * topic rings. `claim` finds room for an event of `kind` and `size` bytes, points `buf`,
 * `i32` and `f64` at the buffer that room is in, and returns its offset there; the buffer
 * then writes the record in place. A record is complete when the next `claim` is made, or
 * when its owner ends the command.
 */
export interface EventSink {
  claim(kind: number, size: number): number;
  buf: Buf;
  i32: Int32Array;
  f64: Float64Array;
}

/**
 * An append-only buffer of event records with one writer method per event kind.
 *
 * The engine is its only writer. `begin(cmd)` copies the command's seq and timestamp
 * (raw 64-bit halves, no precision loss); every event written until the next `begin`
 * carries them. The owner reads the records (`buf`, 0 .. `length`) and calls `clear()`.
 * The buffer grows by doubling, up to `maxBytes`; after warm-up it no longer allocates.
 *
 * Or the records go straight where their readers are (`writeTo(sink)`): each is written in
 * place in the room the sink claims for it, and this buffer only counts them (`count`;
 * `length` stays 0). The node's engine loop does that with its topic rings, so no event is
 * copied from here to there.
 */
export class EventBuffer {
  buf: Buf;
  /** The same bytes as 32-bit words: records and their i64 fields are 8-aligned. */
  private i32: Int32Array;
  /** The same bytes as 64-bit floats, for the fields of account and position events (see `account`). */
  figures: Float64Array;
  private capacity: number;
  length = 0;
  count = 0;
  private seqLo = 0;
  private seqHi = 0;
  private tsLo = 0;
  private tsHi = 0;
  /** Where records go instead of `own` (see `writeTo`), or null. */
  private sink: EventSink | null = null;
  /** This buffer's own memory, which `buf`, `i32` and `figures` are views of when there is no sink. */
  private own: Buf;

  constructor(initialBytes = 1 << 16, readonly maxBytes = 1 << 30) {
    assert(initialBytes >= 256 && initialBytes <= maxBytes, "bad event buffer size");
    assert(HOST_LITTLE_ENDIAN, "events are written on little-endian hosts only");
    this.own = this.buf = Buf.alloc(initialBytes);
    this.i32 = this.buf.i32;
    this.figures = this.buf.f64;
    this.capacity = initialBytes;
  }

  /**
   * Sends every record from now on to `sink` (or, with null, back to this buffer). Only
   * between commands, with nothing unread here.
   */
  writeTo(sink: EventSink | null): void {
    assert(this.length === 0, "event buffer: records not yet read");
    this.sink = sink;
    this.buf = this.own;
    this.i32 = this.own.i32;
    this.figures = this.own.f64;
  }

  clear(): void {
    this.length = 0;
    this.count = 0;
  }

  /** The seq of the command being read (from `begin`). */
  get seq(): number {
    return this.seqHi * 4294967296 + this.seqLo;
  }

  /** Takes seq and timestamp from the command record at `offset` of `dv`. */
  begin(dv: DataView, offset: number): void {
    this.seqLo = dv.getUint32(offset + H_SEQ, true);
    this.seqHi = dv.getUint32(offset + H_SEQ + 4, true);
    this.tsLo = dv.getUint32(offset + H_TIMESTAMP, true);
    this.tsHi = dv.getUint32(offset + H_TIMESTAMP + 4, true);
  }

  private claim(kind: EventKind, size: number, instrument: number, version = EVENT_VERSION): number {
    assert((size & 7) === 0 && size <= 0xffff, "event size must be a multiple of 8 below 64 KiB");
    let o: number;
    const sink = this.sink;
    if (sink === null) {
      if (this.length + size > this.capacity) this.grow(this.length + size);
      o = this.length;
      this.length += size;
    } else {
      o = sink.claim(kind, size);
      this.buf = sink.buf;
      this.i32 = sink.i32;
      this.figures = sink.f64;
    }
    // The header as six word stores (o is 8-aligned): kind | version << 8 | size << 16, then
    // instrument, seq and timestamp halves. Same bytes as writeHeader.
    const w = this.i32;
    const k = o >> 2;
    w[k] = kind | (version << 8) | (size << 16);
    w[k + 1] = instrument;
    w[k + 2] = this.seqLo;
    w[k + 3] = this.seqHi;
    w[k + 4] = this.tsLo;
    w[k + 5] = this.tsHi;
    this.count++;
    return o;
  }

  private grow(needed: number): void {
    let size = this.capacity * 2;
    while (size < needed) size *= 2;
    assert(size <= this.maxBytes, "event buffer over its limit: the owner must drain it more often");
    const next = Buf.alloc(size);
    next.u8.set(this.buf.u8.subarray(0, this.length));
    this.own = this.buf = next;
    this.i32 = next.i32;
    this.figures = next.f64;
    this.capacity = size;
  }

  /** Copies account and order id bytes from a command into the event at `o + E_IDS`, zero-padded to 8 (lengths at 30, 31: the caller's). */
  private ids(o: number, src: Uint8Array, accountOffset: number, accountLen: number, orderIdOffset: number, orderIdLen: number): void {
    const u8 = this.buf.u8;
    for (let i = 0; i < accountLen; i++) u8[o + E_IDS + i] = src[accountOffset + i]!;
    for (let i = 0; i < orderIdLen; i++) u8[o + E_IDS + accountLen + i] = src[orderIdOffset + i]!;
    const end = o + E_IDS + accountLen + orderIdLen;
    const padEnd = o + align8(E_IDS + accountLen + orderIdLen);
    for (let i = end; i < padEnd; i++) u8[i] = 0;
  }

  // The writers below store whole 32-bit words (bytes 24..27 as one word, lowest byte
  // first) and i64 fields as two words: the same bytes as the layouts above on the
  // little-endian hosts this buffer runs on.

  accepted(
    instrument: number, side: number, orderType: number, tif: number, flags: number, stp: number, orderOffset: number,
    price: number, qty: number, orderNo: number, account: number,
    src: Uint8Array, accountOffset: number, accountLen: number, orderIdOffset: number, orderIdLen: number,
  ): void {
    const o = this.claim(EventKind.accepted, align8(E_IDS + accountLen + orderIdLen), instrument);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_SIDE >> 2)] = (side & 0xff) | ((orderType & 0xff) << 8) | ((tif & 0xff) << 16) | ((flags & 0xff) << 24);
    w[k + (E_STP >> 2)] = (stp & 0xff) | ((orderOffset & 0xff) << 8) | (accountLen << 16) | (orderIdLen << 24);
    writeI64Words(w, k + (E_ACC_PRICE >> 2), price);
    writeI64Words(w, k + (E_ACC_QTY >> 2), qty);
    writeI64Words(w, k + (E_ACC_ORDER_NO >> 2), orderNo);
    w[k + (E_ACC_ACCOUNT >> 2)] = account;
    w[k + (E_ACC_ACCOUNT >> 2) + 1] = 0;
    this.ids(o, src, accountOffset, accountLen, orderIdOffset, orderIdLen);
  }

  rejected(
    instrument: number, reason: number, commandKind: number, side: number, orderNo: number, account: number,
    price: number, qty: number,
    src: Uint8Array, accountOffset: number, accountLen: number, orderIdOffset: number, orderIdLen: number,
    orderType = 0, tif = 0, offset = 0,
  ): void {
    const o = this.claim(EventKind.rejected, align8(E_IDS + accountLen + orderIdLen), instrument);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_REASON >> 2)] = (reason & 0xff) | ((commandKind & 0xff) << 8) | ((side & 0xff) << 16) | ((orderType & 0xff) << 24);
    w[k + (E_REJ_TIF >> 2)] = (tif & 0xff) | ((offset & 0xff) << 8) | (accountLen << 16) | (orderIdLen << 24);
    writeI64Words(w, k + (E_REJ_ORDER_NO >> 2), orderNo);
    w[k + (E_REJ_ACCOUNT >> 2)] = account;
    w[k + (E_REJ_ACCOUNT >> 2) + 1] = 0;
    // price and qty are echoed as sent; an unsafe int64 from a bad command is clamped to 0.
    writeI64Words(w, k + (E_REJ_PRICE >> 2), Number.isSafeInteger(price) ? price : 0);
    writeI64Words(w, k + (E_REJ_QTY >> 2), Number.isSafeInteger(qty) ? qty : 0);
    this.ids(o, src, accountOffset, accountLen, orderIdOffset, orderIdLen);
  }

  trade(
    instrument: number, aggressorSide: number, tradeNo: number, price: number, qty: number,
    makerOrderNo: number, takerOrderNo: number, makerAccount: number, takerAccount: number,
    makerLeftQty: number, takerLeftQty: number,
    makerCommission = 0, takerCommission = 0, makerCloseProfit = 0, takerCloseProfit = 0,
  ): void {
    const o = this.claim(EventKind.trade, TRADE_SIZE, instrument, TRADE_VERSION);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_AGGRESSOR >> 2)] = aggressorSide & 0xff; // u8 plus three zero bytes
    w[k + 7] = 0;
    writeI64Words(w, k + (E_TRADE_NO >> 2), tradeNo);
    writeI64Words(w, k + (E_TRADE_PRICE >> 2), price);
    writeI64Words(w, k + (E_TRADE_QTY >> 2), qty);
    writeI64Words(w, k + (E_MAKER_NO >> 2), makerOrderNo);
    writeI64Words(w, k + (E_TAKER_NO >> 2), takerOrderNo);
    w[k + (E_MAKER_ACCOUNT >> 2)] = makerAccount;
    w[k + (E_TAKER_ACCOUNT >> 2)] = takerAccount;
    writeI64Words(w, k + (E_MAKER_LEFT >> 2), makerLeftQty);
    writeI64Words(w, k + (E_TAKER_LEFT >> 2), takerLeftQty);
    writeI64Words(w, k + (E_MAKER_COMMISSION >> 2), makerCommission);
    writeI64Words(w, k + (E_TAKER_COMMISSION >> 2), takerCommission);
    writeI64Words(w, k + (E_MAKER_CLOSE_PROFIT >> 2), makerCloseProfit);
    writeI64Words(w, k + (E_TAKER_CLOSE_PROFIT >> 2), takerCloseProfit);
  }

  updated(
    instrument: number, status: number, reason: number, side: number, account: number,
    orderNo: number, price: number, leftQty: number, filledQty: number,
  ): void {
    const o = this.claim(EventKind.updated, UPDATED_SIZE, instrument);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_STATUS >> 2)] = (status & 0xff) | ((reason & 0xff) << 8) | ((side & 0xff) << 16); // byte 27 zero
    w[k + (E_UPD_ACCOUNT >> 2)] = account;
    writeI64Words(w, k + (E_UPD_ORDER_NO >> 2), orderNo);
    writeI64Words(w, k + (E_UPD_PRICE >> 2), price);
    writeI64Words(w, k + (E_UPD_LEFT >> 2), leftQty);
    writeI64Words(w, k + (E_UPD_FILLED >> 2), filledQty);
  }

  l2(instrument: number, side: number, price: number, qty: number, orderCount: number): void {
    const o = this.claim(EventKind.l2, L2_SIZE, instrument);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_L2_SIDE >> 2)] = side;
    w[k + (E_L2_COUNT >> 2)] = orderCount;
    writeI64Words(w, k + (E_L2_PRICE >> 2), price);
    writeI64Words(w, k + (E_L2_QTY >> 2), qty);
  }

  tradingState(instrument: number, state: number): void {
    const o = this.claim(EventKind.tradingState, TRADING_STATE_SIZE, instrument);
    const w = this.i32;
    const k = o >> 2;
    w[k + (E_STATE >> 2)] = state;
    w[k + 7] = 0;
  }

  /** The trading day ended with this command: orders finished before it are the previous day's. */
  dayEnded(): void {
    const o = this.claim(EventKind.dayEnded, DAY_ENDED_SIZE, NO_ACCOUNT);
    const w = this.i32;
    const k = o >> 2;
    w[k + 6] = 0;
    w[k + 7] = 0;
  }

  /** Copies a defineInstrument command's body (same layout version), re-labelled with the instrument's index. */
  instrument(instrument: number, cmdU8: Uint8Array, cmdOffset: number, cmdSize: number): void {
    const o = this.claim(EventKind.instrument, cmdSize, instrument, cmdU8[cmdOffset + 1]!);
    this.buf.u8.set(cmdU8.subarray(cmdOffset + 24, cmdOffset + cmdSize), o + 24);
  }

  /**
   * Claims an account event and writes its keys; returns the index in `figures` of its first
   * field. The caller writes the ACCOUNT_FIELD_COUNT fields there, in ACCOUNT_FIELD order,
   * before it claims another event.
   *
   * Account and position events are most of the accounts topic (one per touched account and
   * position per command, thousands per mark), so their fields are written where they go:
   * f64 stores, one per field, straight from the caller's own numbers (no staging, no split
   * into 32-bit halves, and no double passed through a call, which V8 boxes when it does not
   * inline the call). Every value must be an integer within +-2^53, as the account model's
   * arithmetic keeps them. The header and keys are word stores, as in `claim`.
   */
  account(currency: number, account: number): number {
    const o = this.claim(EventKind.account, ACCOUNT_SIZE, 0xffffffff, FIGURES_VERSION);
    const w = this.i32;
    const k = o >> 2;
    w[k + 6] = (currency & 0xffffff) << 8; // byte 24 zero, 25..27 the currency
    w[k + 7] = account;
    return (o >> 3) + 4;
  }

  /** As `account`, for a position event: POSITION_FIELD_COUNT fields, in POSITION_FIELD order. */
  position(instrument: number, account: number): number {
    const o = this.claim(EventKind.position, POSITION_SIZE, instrument, FIGURES_VERSION);
    const w = this.i32;
    const k = o >> 2;
    w[k + 6] = 0;
    w[k + 7] = account;
    return (o >> 3) + 4;
  }

  /** A deposit (direction 1) or withdrawal (2) that was applied, with the account's id bytes. */
  transfer(direction: number, currency: number, account: number, amount: number, src: Uint8Array, accountOffset: number, accountLen: number): void {
    const o = this.claim(EventKind.transfer, align8(E_TRANSFER_ACCOUNT + accountLen), 0xffffffff);
    const w = this.i32;
    const k = o >> 2;
    w[k + 6] = ((currency & 0xffffff) << 8) | (direction & 0xff);
    w[k + (E_MONEY_ACCOUNT >> 2)] = account;
    writeI64Words(w, k + (E_TRANSFER_AMOUNT >> 2), amount);
    w[k + (E_TRANSFER_ACCOUNT_LEN >> 2)] = accountLen & 0xff; // then zeros up to the id
    w[k + (E_TRANSFER_ACCOUNT_LEN >> 2) + 1] = 0;
    const u8 = this.buf.u8;
    for (let i = 0; i < accountLen; i++) u8[o + E_TRANSFER_ACCOUNT + i] = src[accountOffset + i]!;
    for (let i = o + E_TRANSFER_ACCOUNT + accountLen; i < o + align8(E_TRANSFER_ACCOUNT + accountLen); i++) u8[i] = 0;
  }

  riskBreach(currency: number, account: number, action: number, riskRatioBp: number, balance: number, margin: number): void {
    const o = this.claim(EventKind.riskBreach, RISK_BREACH_SIZE, 0xffffffff);
    const w = this.i32;
    const k = o >> 2;
    w[k + 6] = ((currency & 0xffffff) << 8) | (action & 0xff);
    w[k + (E_MONEY_ACCOUNT >> 2)] = account;
    writeI64Words(w, k + 8, riskRatioBp);
    writeI64Words(w, k + 10, balance);
    writeI64Words(w, k + 12, margin);
  }
}
