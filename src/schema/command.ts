/**
 * Command layouts: what enters the engine. Owned here; grammar in docs/formats/commands.md.
 *
 * Every command is one record (header in layout.ts) of a kind from CommandKind. Account and
 * client order ids travel as bounded UTF-8 bytes inside the record, so a journal of commands
 * is enough to rebuild the engine's id tables on replay.
 *
 *   kind             v  body (offsets from the record start)
 *   defineInstrument 1  24 u8 state · 31 u8 symbolLen · 32 i64 tickSize · 40 i64 lotSize
 *                       48 i64 minQty · 56 i64 maxQty · 64 i64 priceLow · 72 i64 priceHigh
 *                       80 symbol bytes
 *   newOrder         1  24 u8 side · 25 u8 type · 26 u8 tif · 27 u8 flags · 28 u8 stp
 *                       29 u8 offset · 30 u8 accountLen · 31 u8 orderIdLen
 *                       32 i64 price · 40 i64 qty · 48 account bytes, order id bytes
 *   cancel           1  30 u8 accountLen · 31 u8 orderIdLen · 32 account bytes, order id bytes
 *   amend            1  30 u8 accountLen · 31 u8 orderIdLen · 32 i64 price · 40 i64 qty
 *                       48 account bytes, order id bytes
 *   massCancel       1  header instrument (NO_INSTRUMENT: every instrument)
 *                       30 u8 accountLen (0: every account) · 32 account bytes
 *   setTradingState  1  24 u8 state
 *   expireGfd        1  header instrument (NO_INSTRUMENT: every instrument); no body
 *
 * Bytes between fields are zero. Records are padded with zeros to a multiple of 8.
 */

import { assert } from "../stdx/assert.ts";
import {
  Buf,
  HEADER_SIZE,
  NO_INSTRUMENT,
  align8,
  readI64,
  isSafeI64,
  recordInstrument,
  recordKind,
  recordSize,
  recordVersion,
  writeHeader,
  writeI64,
  writeUtf8,
  utf8Length,
  readUtf8,
} from "./layout.ts";
import { Offset, OrderType, Stp, Tif, TradingState, type Side } from "./codes.ts";

export const CommandKind = {
  defineInstrument: 1,
  newOrder: 2,
  cancel: 3,
  amend: 4,
  massCancel: 5,
  setTradingState: 6,
  expireGfd: 7,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/** Current layout version of each command kind. */
export const COMMAND_VERSION = 1;

export const MAX_ACCOUNT_ID_BYTES = 64;
export const MAX_ORDER_ID_BYTES = 64;
export const MAX_SYMBOL_BYTES = 32;
/** The largest command record: a new order with both ids at their limit. */
export const MAX_COMMAND_SIZE = align8(48 + MAX_ACCOUNT_ID_BYTES + MAX_ORDER_ID_BYTES);

// Field offsets. Named once; the flyweight and the writers below are their only users.
const C_STATE = 24;
const C_SIDE = 24;
const C_TYPE = 25;
const C_TIF = 26;
const C_FLAGS = 27;
const C_STP = 28;
const C_OFFSET = 29;
const C_ACCOUNT_LEN = 30;
const C_ORDER_ID_LEN = 31;
const C_SYMBOL_LEN = 31;
const C_PRICE = 32;
const C_QTY = 40;
const C_IDS_ORDER = 48; // newOrder, amend
const C_IDS_SHORT = 32; // cancel, massCancel
const C_TICK = 32;
const C_LOT = 40;
const C_MIN_QTY = 48;
const C_MAX_QTY = 56;
const C_PRICE_LOW = 64;
const C_PRICE_HIGH = 72;
const C_SYMBOL = 80;

/**
 * Flyweight over one command record: reads fields in place, allocates nothing. Wrap it
 * over a buffer and an offset, read, move on. Getters that do not apply to the wrapped
 * kind read zeros or neighbouring fields: check `kind` first.
 */
export class CommandView {
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

  get side(): number { return this.dv.getUint8(this.offset + C_SIDE); }
  get orderType(): number { return this.dv.getUint8(this.offset + C_TYPE); }
  get tif(): number { return this.dv.getUint8(this.offset + C_TIF); }
  get flags(): number { return this.dv.getUint8(this.offset + C_FLAGS); }
  get stp(): number { return this.dv.getUint8(this.offset + C_STP); }
  get orderOffset(): number { return this.dv.getUint8(this.offset + C_OFFSET); }
  get state(): number { return this.dv.getUint8(this.offset + C_STATE); }
  get price(): number { return readI64(this.dv, this.offset + C_PRICE); }
  get qty(): number { return readI64(this.dv, this.offset + C_QTY); }
  /** False when price holds an int64 outside ±2^53 (reading it would be inexact). */
  get priceSafe(): boolean { return isSafeI64(this.dv, this.offset + C_PRICE); }
  get qtySafe(): boolean { return isSafeI64(this.dv, this.offset + C_QTY); }
  get priceQtySafe(): boolean { return this.priceSafe && this.qtySafe; }

  get accountLen(): number { return this.dv.getUint8(this.offset + C_ACCOUNT_LEN); }
  get orderIdLen(): number {
    const kind = this.kind;
    return kind === CommandKind.massCancel ? 0 : this.dv.getUint8(this.offset + C_ORDER_ID_LEN);
  }
  /** Byte offset (in the buffer) of the account id; the order id follows it. */
  get accountOffset(): number {
    const kind = this.kind;
    return this.offset + (kind === CommandKind.newOrder || kind === CommandKind.amend ? C_IDS_ORDER : C_IDS_SHORT);
  }
  get orderIdOffset(): number { return this.accountOffset + this.accountLen; }

  // defineInstrument
  get tickSize(): number { return readI64(this.dv, this.offset + C_TICK); }
  get lotSize(): number { return readI64(this.dv, this.offset + C_LOT); }
  get minQty(): number { return readI64(this.dv, this.offset + C_MIN_QTY); }
  get maxQty(): number { return readI64(this.dv, this.offset + C_MAX_QTY); }
  get priceLow(): number { return readI64(this.dv, this.offset + C_PRICE_LOW); }
  get priceHigh(): number { return readI64(this.dv, this.offset + C_PRICE_HIGH); }
  get instrumentParamsSafe(): boolean {
    for (let o = C_TICK; o <= C_PRICE_HIGH; o += 8) if (!isSafeI64(this.dv, this.offset + o)) return false;
    return true;
  }
  get symbolLen(): number { return this.dv.getUint8(this.offset + C_SYMBOL_LEN); }
  get symbolOffset(): number { return this.offset + C_SYMBOL; }

  // Edge helpers (allocate strings): never on the hot path.
  accountId(): string { return readUtf8(this.u8, this.accountOffset, this.accountLen); }
  orderId(): string { return readUtf8(this.u8, this.orderIdOffset, this.orderIdLen); }
  symbol(): string { return readUtf8(this.u8, this.symbolOffset, this.symbolLen); }
}

// ---------------------------------------------------------------------------------------
// Writers. Each writes one whole record at `offset` (zeroing padding) and returns its size.
// They take plain objects: they are edge code (gateway, replay, tests, benchmark set-up).

export interface InstrumentParams {
  symbol: string;
  tickSize: number;
  lotSize: number;
  minQty: number;
  maxQty: number;
  priceLow: number;
  priceHigh: number;
  state?: TradingState;
}

export interface NewOrderFields {
  instrument: number;
  account: string;
  orderId: string;
  side: Side;
  orderType?: OrderType;
  tif?: Tif;
  postOnly?: boolean;
  stp?: Stp;
  offset?: Offset;
  price: number;
  qty: number;
}

export interface CancelFields {
  instrument?: number;
  account: string;
  orderId: string;
}

export interface AmendFields extends CancelFields {
  price: number;
  qty: number;
}

function idBytes(account: string, orderId: string): [number, number] {
  const a = utf8Length(account);
  const o = utf8Length(orderId);
  if (a > MAX_ACCOUNT_ID_BYTES) throw new RangeError(`account id longer than ${MAX_ACCOUNT_ID_BYTES} bytes`);
  if (o > MAX_ORDER_ID_BYTES) throw new RangeError(`order id longer than ${MAX_ORDER_ID_BYTES} bytes`);
  return [a, o];
}

function begin(buf: Buf, offset: number, kind: CommandKind, size: number, instrument: number): void {
  assert(offset + size <= buf.byteLength, "command does not fit the buffer");
  buf.u8.fill(0, offset, offset + size);
  writeHeader(buf.dv, offset, kind, COMMAND_VERSION, size, instrument);
}

export function defineInstrumentSize(p: InstrumentParams): number {
  return align8(C_SYMBOL + utf8Length(p.symbol));
}

export function writeDefineInstrument(buf: Buf, offset: number, p: InstrumentParams): number {
  const symLen = utf8Length(p.symbol);
  if (symLen > MAX_SYMBOL_BYTES) throw new RangeError(`symbol longer than ${MAX_SYMBOL_BYTES} bytes`);
  const size = align8(C_SYMBOL + symLen);
  begin(buf, offset, CommandKind.defineInstrument, size, NO_INSTRUMENT);
  const dv = buf.dv;
  dv.setUint8(offset + C_STATE, p.state ?? TradingState.open);
  dv.setUint8(offset + C_SYMBOL_LEN, symLen);
  writeI64OrUnsafe(dv, offset + C_TICK, p.tickSize);
  writeI64OrUnsafe(dv, offset + C_LOT, p.lotSize);
  writeI64OrUnsafe(dv, offset + C_MIN_QTY, p.minQty);
  writeI64OrUnsafe(dv, offset + C_MAX_QTY, p.maxQty);
  writeI64OrUnsafe(dv, offset + C_PRICE_LOW, p.priceLow);
  writeI64OrUnsafe(dv, offset + C_PRICE_HIGH, p.priceHigh);
  writeUtf8(buf.u8, offset + C_SYMBOL, p.symbol, symLen);
  return size;
}

/**
 * Writes an int64 that no safe integer has (2^62): edge code uses it for a number it could
 * not read (fractional, not a number, too large), so that the engine rejects the command
 * with a reason instead of the edge inventing a value.
 */
export function writeUnsafeI64(dv: DataView, offset: number): void {
  dv.setUint32(offset, 0, true);
  dv.setInt32(offset + 4, 0x40000000, true);
}

function writeI64OrUnsafe(dv: DataView, offset: number, value: number): void {
  if (Number.isSafeInteger(value)) writeI64(dv, offset, value);
  else writeUnsafeI64(dv, offset);
}

export function newOrderSize(f: Pick<NewOrderFields, "account" | "orderId">): number {
  const [a, o] = idBytes(f.account, f.orderId);
  return align8(C_IDS_ORDER + a + o);
}

export function writeNewOrder(buf: Buf, offset: number, f: NewOrderFields): number {
  const [a, o] = idBytes(f.account, f.orderId);
  const size = align8(C_IDS_ORDER + a + o);
  begin(buf, offset, CommandKind.newOrder, size, f.instrument);
  const dv = buf.dv;
  dv.setUint8(offset + C_SIDE, f.side);
  dv.setUint8(offset + C_TYPE, f.orderType ?? OrderType.limit);
  dv.setUint8(offset + C_TIF, f.tif ?? Tif.gtc);
  dv.setUint8(offset + C_FLAGS, f.postOnly === true ? 1 : 0);
  dv.setUint8(offset + C_STP, f.stp ?? Stp.none);
  dv.setUint8(offset + C_OFFSET, f.offset ?? Offset.none);
  dv.setUint8(offset + C_ACCOUNT_LEN, a);
  dv.setUint8(offset + C_ORDER_ID_LEN, o);
  writeI64OrUnsafe(dv, offset + C_PRICE, f.price);
  writeI64OrUnsafe(dv, offset + C_QTY, f.qty);
  writeUtf8(buf.u8, offset + C_IDS_ORDER, f.account, a);
  writeUtf8(buf.u8, offset + C_IDS_ORDER + a, f.orderId, o);
  return size;
}

export function writeCancel(buf: Buf, offset: number, f: CancelFields): number {
  const [a, o] = idBytes(f.account, f.orderId);
  const size = align8(C_IDS_SHORT + a + o);
  begin(buf, offset, CommandKind.cancel, size, f.instrument ?? NO_INSTRUMENT);
  buf.dv.setUint8(offset + C_ACCOUNT_LEN, a);
  buf.dv.setUint8(offset + C_ORDER_ID_LEN, o);
  writeUtf8(buf.u8, offset + C_IDS_SHORT, f.account, a);
  writeUtf8(buf.u8, offset + C_IDS_SHORT + a, f.orderId, o);
  return size;
}

export function writeAmend(buf: Buf, offset: number, f: AmendFields): number {
  const [a, o] = idBytes(f.account, f.orderId);
  const size = align8(C_IDS_ORDER + a + o);
  begin(buf, offset, CommandKind.amend, size, f.instrument ?? NO_INSTRUMENT);
  const dv = buf.dv;
  dv.setUint8(offset + C_ACCOUNT_LEN, a);
  dv.setUint8(offset + C_ORDER_ID_LEN, o);
  writeI64OrUnsafe(dv, offset + C_PRICE, f.price);
  writeI64OrUnsafe(dv, offset + C_QTY, f.qty);
  writeUtf8(buf.u8, offset + C_IDS_ORDER, f.account, a);
  writeUtf8(buf.u8, offset + C_IDS_ORDER + a, f.orderId, o);
  return size;
}

/** Cancels every live order of `account` (all accounts when empty) on `instrument` (all when NO_INSTRUMENT). */
export function writeMassCancel(buf: Buf, offset: number, instrument: number, account: string): number {
  const [a] = idBytes(account, "");
  const size = align8(C_IDS_SHORT + a);
  begin(buf, offset, CommandKind.massCancel, size, instrument);
  buf.dv.setUint8(offset + C_ACCOUNT_LEN, a);
  writeUtf8(buf.u8, offset + C_IDS_SHORT, account, a);
  return size;
}

export function writeSetTradingState(buf: Buf, offset: number, instrument: number, state: TradingState): number {
  const size = 32;
  begin(buf, offset, CommandKind.setTradingState, size, instrument);
  buf.dv.setUint8(offset + C_STATE, state);
  return size;
}

export function writeExpireGfd(buf: Buf, offset: number, instrument: number): number {
  const size = HEADER_SIZE;
  begin(buf, offset, CommandKind.expireGfd, size, instrument);
  return size;
}
