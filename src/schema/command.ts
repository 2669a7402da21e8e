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
 *                       80 symbol bytes                      (a pure-matching instrument)
 *   defineInstrument 2  as v1, and 25 currency (3 ASCII bytes) · 28 u8 flags
 *                       80 i64 multiplier · 88 i64 marginPerLot · 96 i64 commissionPerLot
 *                       104 u32 marginRateBp · 108 u32 commissionRateBp
 *                       112 i64 positionLimit · 120 symbol bytes
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
 *   deposit          1  25 currency (3 ASCII bytes) · 30 u8 accountLen · 32 i64 amount
 *                       40 account bytes
 *   withdraw         1  as deposit
 *   mark             1  header instrument (NO_INSTRUMENT: every instrument); no body
 *   settle           1  no body
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
  deposit: 8,
  withdraw: 9,
  mark: 10,
  settle: 11,
} as const;
export type CommandKind = (typeof CommandKind)[keyof typeof CommandKind];

/** Current layout version of the command kinds (defineInstrument is at 2; it still reads 1). */
export const COMMAND_VERSION = 1;
export const DEFINE_INSTRUMENT_VERSION = 2;

/** True when the engine reads this version of this kind. */
export function commandVersionKnown(kind: number, version: number): boolean {
  return version === 1 || (kind === CommandKind.defineInstrument && version === 2);
}

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
const C_SYMBOL_V1 = 80;
const C_CURRENCY = 25;
const C_INSTRUMENT_FLAGS = 28;
const C_MULTIPLIER = 80;
const C_MARGIN_PER_LOT = 88;
const C_COMMISSION_PER_LOT = 96;
const C_MARGIN_RATE = 104;
const C_COMMISSION_RATE = 108;
const C_POSITION_LIMIT = 112;
const C_SYMBOL_V2 = 120;
const C_TRANSFER_ACCOUNT_LEN = 30;
const C_AMOUNT = 32;
const C_TRANSFER_ACCOUNT = 40;

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
    return kind === CommandKind.massCancel || kind === CommandKind.deposit || kind === CommandKind.withdraw
      ? 0
      : this.dv.getUint8(this.offset + C_ORDER_ID_LEN);
  }
  /** Byte offset (in the buffer) of the account id; the order id follows it. */
  get accountOffset(): number {
    const kind = this.kind;
    if (kind === CommandKind.newOrder || kind === CommandKind.amend) return this.offset + C_IDS_ORDER;
    if (kind === CommandKind.deposit || kind === CommandKind.withdraw) return this.offset + C_TRANSFER_ACCOUNT;
    return this.offset + C_IDS_SHORT;
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
  get symbolOffset(): number { return this.offset + (this.version >= 2 ? C_SYMBOL_V2 : C_SYMBOL_V1); }
  // defineInstrument v2 (a v1 instrument reads as zeros here: no money, pure matching)
  get currency(): number {
    const v2 = this.kind !== CommandKind.defineInstrument || this.version >= 2;
    return v2 ? this.dv.getUint8(this.offset + C_CURRENCY) | (this.dv.getUint8(this.offset + C_CURRENCY + 1) << 8) | (this.dv.getUint8(this.offset + C_CURRENCY + 2) << 16) : 0;
  }
  get instrumentFlags(): number { return this.version >= 2 ? this.dv.getUint8(this.offset + C_INSTRUMENT_FLAGS) : 0; }
  get multiplier(): number { return this.version >= 2 ? readI64(this.dv, this.offset + C_MULTIPLIER) : 0; }
  get marginPerLot(): number { return this.version >= 2 ? readI64(this.dv, this.offset + C_MARGIN_PER_LOT) : 0; }
  get commissionPerLot(): number { return this.version >= 2 ? readI64(this.dv, this.offset + C_COMMISSION_PER_LOT) : 0; }
  get marginRateBp(): number { return this.version >= 2 ? this.dv.getUint32(this.offset + C_MARGIN_RATE, true) : 0; }
  get commissionRateBp(): number { return this.version >= 2 ? this.dv.getUint32(this.offset + C_COMMISSION_RATE, true) : 0; }
  get positionLimit(): number { return this.version >= 2 ? readI64(this.dv, this.offset + C_POSITION_LIMIT) : 0; }
  get moneyParamsSafe(): boolean {
    if (this.version < 2) return true;
    return isSafeI64(this.dv, this.offset + C_MULTIPLIER) && isSafeI64(this.dv, this.offset + C_MARGIN_PER_LOT) &&
      isSafeI64(this.dv, this.offset + C_COMMISSION_PER_LOT) && isSafeI64(this.dv, this.offset + C_POSITION_LIMIT);
  }
  // deposit / withdraw
  get amount(): number { return readI64(this.dv, this.offset + C_AMOUNT); }
  get amountSafe(): boolean { return isSafeI64(this.dv, this.offset + C_AMOUNT); }
  get transferAccountLen(): number { return this.dv.getUint8(this.offset + C_TRANSFER_ACCOUNT_LEN); }

  // Edge helpers (allocate strings): never on the hot path.
  accountId(): string { return readUtf8(this.u8, this.accountOffset, this.accountLen); }
  orderId(): string { return readUtf8(this.u8, this.orderIdOffset, this.orderIdLen); }
  symbol(): string { return readUtf8(this.u8, this.symbolOffset, this.symbolLen); }
}

// ---------------------------------------------------------------------------------------
// Writers. Each writes one whole record at `offset` (zeroing padding) and returns its size.
// They take plain objects: they are edge code (gateway, replay, tests, benchmark set-up).

/** The trading parameters every instrument has, in its own integer units. */
export interface TradingParams {
  symbol: string;
  tickSize: number;
  lotSize: number;
  minQty: number;
  maxQty: number;
  priceLow: number;
  priceHigh: number;
}

export interface InstrumentParams extends TradingParams {
  state?: TradingState;
  /** Money parameters (layout v2). Without a multiplier the instrument is pure matching: no funds needed. */
  currency?: number;
  closeTodayDistinct?: boolean;
  multiplier?: number;
  marginPerLot?: number;
  marginRateBp?: number;
  commissionPerLot?: number;
  commissionRateBp?: number;
  positionLimit?: number;
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

function begin(buf: Buf, offset: number, kind: CommandKind, size: number, instrument: number, version = COMMAND_VERSION): void {
  assert(offset + size <= buf.byteLength, "command does not fit the buffer");
  buf.u8.fill(0, offset, offset + size);
  writeHeader(buf.dv, offset, kind, version, size, instrument);
}


/**
 * Writes a defineInstrument record: layout v2 when the instrument has money parameters,
 * v1 (smaller, pure matching) when it has none.
 */
export function writeDefineInstrument(buf: Buf, offset: number, p: InstrumentParams): number {
  const money = p.multiplier !== undefined || p.currency !== undefined || p.marginPerLot !== undefined || p.marginRateBp !== undefined ||
    p.commissionPerLot !== undefined || p.commissionRateBp !== undefined || p.positionLimit !== undefined || p.closeTodayDistinct !== undefined;
  if (!money) return writeDefineInstrumentV1(buf, offset, p);
  const size = writeInstrumentCommon(buf, offset, p, DEFINE_INSTRUMENT_VERSION, C_SYMBOL_V2);
  const dv = buf.dv;
  writeCurrency(dv, offset + C_CURRENCY, p.currency ?? 0);
  dv.setUint8(offset + C_INSTRUMENT_FLAGS, p.closeTodayDistinct === true ? 1 : 0);
  writeI64OrUnsafe(dv, offset + C_MULTIPLIER, p.multiplier ?? 0);
  writeI64OrUnsafe(dv, offset + C_MARGIN_PER_LOT, p.marginPerLot ?? 0);
  writeI64OrUnsafe(dv, offset + C_COMMISSION_PER_LOT, p.commissionPerLot ?? 0);
  dv.setUint32(offset + C_MARGIN_RATE, u32OrMax(p.marginRateBp ?? 0), true);
  dv.setUint32(offset + C_COMMISSION_RATE, u32OrMax(p.commissionRateBp ?? 0), true);
  writeI64OrUnsafe(dv, offset + C_POSITION_LIMIT, p.positionLimit ?? 0);
  return size;
}

/** Writes a defineInstrument record at layout version 1 (no money parameters: pure matching). */
export function writeDefineInstrumentV1(buf: Buf, offset: number, p: InstrumentParams): number {
  return writeInstrumentCommon(buf, offset, p, 1, C_SYMBOL_V1);
}

/** The fields both layout versions share (header, state, trading parameters, symbol); returns the size. */
function writeInstrumentCommon(buf: Buf, offset: number, p: InstrumentParams, version: number, symbolAt: number): number {
  const symLen = utf8Length(p.symbol);
  if (symLen > MAX_SYMBOL_BYTES) throw new RangeError(`symbol longer than ${MAX_SYMBOL_BYTES} bytes`);
  const size = align8(symbolAt + symLen);
  begin(buf, offset, CommandKind.defineInstrument, size, NO_INSTRUMENT, version);
  const dv = buf.dv;
  dv.setUint8(offset + C_STATE, p.state ?? TradingState.open);
  dv.setUint8(offset + C_SYMBOL_LEN, symLen);
  writeI64OrUnsafe(dv, offset + C_TICK, p.tickSize);
  writeI64OrUnsafe(dv, offset + C_LOT, p.lotSize);
  writeI64OrUnsafe(dv, offset + C_MIN_QTY, p.minQty);
  writeI64OrUnsafe(dv, offset + C_MAX_QTY, p.maxQty);
  writeI64OrUnsafe(dv, offset + C_PRICE_LOW, p.priceLow);
  writeI64OrUnsafe(dv, offset + C_PRICE_HIGH, p.priceHigh);
  writeUtf8(buf.u8, offset + symbolAt, p.symbol, symLen);
  return size;
}

function u32OrMax(x: number): number {
  return Number.isInteger(x) && x >= 0 && x <= 0xffffffff ? x : 0xffffffff;
}

function writeCurrency(dv: DataView, offset: number, code: number): void {
  dv.setUint8(offset, code & 0xff);
  dv.setUint8(offset + 1, (code >>> 8) & 0xff);
  dv.setUint8(offset + 2, (code >>> 16) & 0xff);
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

/** Deposit (kind deposit) or withdrawal (kind withdraw) of `amount` minor units of `currency`. */
export function writeTransfer(buf: Buf, offset: number, kind: typeof CommandKind.deposit | typeof CommandKind.withdraw, account: string, currency: number, amount: number): number {
  const [a] = idBytes(account, "");
  const size = align8(C_TRANSFER_ACCOUNT + a);
  begin(buf, offset, kind, size, NO_INSTRUMENT);
  writeCurrency(buf.dv, offset + C_CURRENCY, currency);
  buf.dv.setUint8(offset + C_TRANSFER_ACCOUNT_LEN, a);
  writeI64OrUnsafe(buf.dv, offset + C_AMOUNT, amount);
  writeUtf8(buf.u8, offset + C_TRANSFER_ACCOUNT, account, a);
  return size;
}

/** Marks positions to market at the last trade price, on one instrument or all (NO_INSTRUMENT). */
export function writeMark(buf: Buf, offset: number, instrument: number): number {
  begin(buf, offset, CommandKind.mark, HEADER_SIZE, instrument);
  return HEADER_SIZE;
}

/** Daily settlement: mark everything, expire GFD orders, roll positions and balances. */
export function writeSettle(buf: Buf, offset: number): number {
  begin(buf, offset, CommandKind.settle, HEADER_SIZE, NO_INSTRUMENT);
  return HEADER_SIZE;
}
