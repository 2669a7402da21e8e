/**
 * The JSON-lines edge format of commands and events (docs/formats/commands-jsonl.md).
 * Owned here, beside the binary layouts it translates to and from.
 *
 * `encodeCommand` turns one parsed JSON command into one binary command record. It never
 * decides whether a command is acceptable: a value it cannot represent (a fractional
 * quantity, an unknown side) is encoded so that the engine rejects it with a reason. Only
 * what cannot become a record at all (not an object, unknown `op`, an id over its byte
 * limit) is a JsonlError, which the caller reports as an `error` line.
 *
 * `EventRenderer` turns event records back into JSON lines. It learns client order ids and
 * account ids from `accepted` events, so it is stateful: feed it every event, in order.
 */

import { Buf, NO_INSTRUMENT, UNKNOWN_INSTRUMENT, readBigU64, H_TIMESTAMP } from "./layout.ts";
import {
  CommandKind,
  CommandView,
  MAX_ACCOUNT_ID_BYTES,
  MAX_ORDER_ID_BYTES,
  MAX_SYMBOL_BYTES,
  type InstrumentParams,
  writeAmend,
  writeCancel,
  writeDefineInstrument,
  writeExpireGfd,
  writeMassCancel,
  writeNewOrder,
  writeSetTradingState,
  writeTransfer,
  writeMark,
  writeSettle,
} from "./command.ts";
import { ACCOUNT_FIELD, EventKind, EventView, NO_ACCOUNT, POSITION_FIELD } from "./event.ts";
import { Offset, OrderFlag, OrderStatus, OrderType, Reason, RiskAction, Side, Stp, Tif, TradingState, currencyCode, currencyText, nameOf } from "./codes.ts";
import { utf8Length } from "./layout.ts";

export class JsonlError extends Error {
  override readonly name = "JsonlError";
}

/** snake_case names at the edge for the camelCase code tables. */
export function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
}

/** A code no table uses: what an unknown enum name encodes to, so that the engine rejects it. */
const UNKNOWN_CODE = 0xff;

function codeOf(table: Record<string, number>, text: unknown, fallback: number): number {
  if (text === undefined) return fallback;
  if (typeof text !== "string") return UNKNOWN_CODE;
  for (const key of Object.keys(table)) if (snake(key) === text) return table[key]!;
  return UNKNOWN_CODE;
}

/** An integer field: a safe integer, or NaN (the writers then encode an unsafe value the engine rejects). */
function int(x: unknown): number {
  return typeof x === "number" && Number.isSafeInteger(x) ? x : NaN;
}

function str(x: unknown, field: string, maxBytes: number, required: boolean): string {
  if (x === undefined || x === null) {
    if (required) throw new JsonlError(`missing "${field}"`);
    return "";
  }
  if (typeof x !== "string") throw new JsonlError(`"${field}" must be a string`);
  if (utf8Length(x) > maxBytes) throw new JsonlError(`"${field}" longer than ${maxBytes} bytes`);
  return x;
}

export type SymbolResolver = (symbol: string) => number;

/** A currency is three capital letters; anything else cannot become a record. */
function currencyField(x: unknown): number {
  const code = typeof x === "string" ? currencyCode(x) : 0;
  if (code === 0) throw new JsonlError(`"currency" must be three capital letters, like "CNY"`);
  return code;
}

/** Encodes one JSON command at `offset` of `buf`; returns the record size. */
export function encodeCommand(json: unknown, buf: Buf, offset: number, resolve: SymbolResolver): number {
  if (typeof json !== "object" || json === null || Array.isArray(json)) throw new JsonlError("a command must be a JSON object");
  const c = json as Record<string, unknown>;
  const instrumentOf = (required: boolean): number => {
    if (c["symbol"] === undefined && !required) return NO_INSTRUMENT;
    const s = str(c["symbol"], "symbol", MAX_SYMBOL_BYTES, true);
    const i = resolve(s);
    return i < 0 ? UNKNOWN_INSTRUMENT : i;
  };
  switch (c["op"]) {
    case "instrument": {
      const params: InstrumentParams = {
        symbol: str(c["symbol"], "symbol", MAX_SYMBOL_BYTES, true),
        tickSize: int(c["tickSize"]),
        lotSize: int(c["lotSize"] ?? 1),
        minQty: int(c["minQty"] ?? 1),
        maxQty: int(c["maxQty"]),
        priceLow: int(c["priceLow"]),
        priceHigh: int(c["priceHigh"]),
        state: codeOf(TradingState, c["state"], TradingState.open) as TradingState,
      };
      // Money parameters: present only on money instruments (written as layout v2).
      if (c["multiplier"] !== undefined) {
        params.multiplier = int(c["multiplier"]);
        params.currency = currencyField(c["currency"] ?? "CNY");
        params.closeTodayDistinct = c["closeTodayDistinct"] === true;
        params.marginPerLot = int(c["marginPerLot"] ?? 0);
        params.marginRateBp = int(c["marginRateBp"] ?? 0);
        params.commissionPerLot = int(c["commissionPerLot"] ?? 0);
        params.commissionRateBp = int(c["commissionRateBp"] ?? 0);
        params.positionLimit = int(c["positionLimit"] ?? 0);
      }
      return writeDefineInstrument(buf, offset, params);
    }
    case "deposit":
    case "withdraw":
      return writeTransfer(
        buf, offset, c["op"] === "deposit" ? CommandKind.deposit : CommandKind.withdraw,
        str(c["account"], "account", MAX_ACCOUNT_ID_BYTES, true), currencyField(c["currency"] ?? "CNY"), int(c["amount"]),
      );
    case "mark":
      return writeMark(buf, offset, instrumentOf(false));
    case "settle":
      return writeSettle(buf, offset);
    case "new": {
      const type = codeOf(OrderType, c["type"], OrderType.limit);
      return writeNewOrder(buf, offset, {
        instrument: instrumentOf(true),
        account: str(c["account"], "account", MAX_ACCOUNT_ID_BYTES, true),
        orderId: str(c["id"], "id", MAX_ORDER_ID_BYTES, true),
        side: codeOf(Side, c["side"], UNKNOWN_CODE) as Side,
        orderType: type as OrderType,
        tif: codeOf(Tif, c["tif"], type === OrderType.market ? Tif.ioc : Tif.gtc) as Tif,
        postOnly: c["postOnly"] === true,
        stp: codeOf(Stp, c["stp"], Stp.none) as Stp,
        offset: codeOf(Offset, c["offset"], Offset.none) as Offset,
        price: type === OrderType.market && c["price"] === undefined ? 0 : int(c["price"]),
        qty: int(c["qty"]),
      });
    }
    case "cancel":
      return writeCancel(buf, offset, {
        account: str(c["account"], "account", MAX_ACCOUNT_ID_BYTES, true),
        orderId: str(c["id"], "id", MAX_ORDER_ID_BYTES, true),
      });
    case "amend":
      return writeAmend(buf, offset, {
        account: str(c["account"], "account", MAX_ACCOUNT_ID_BYTES, true),
        orderId: str(c["id"], "id", MAX_ORDER_ID_BYTES, true),
        price: int(c["price"]),
        qty: int(c["qty"]),
      });
    case "mass_cancel":
      return writeMassCancel(buf, offset, instrumentOf(false), str(c["account"], "account", MAX_ACCOUNT_ID_BYTES, false));
    case "state":
      return writeSetTradingState(buf, offset, instrumentOf(true), codeOf(TradingState, c["state"], UNKNOWN_CODE) as TradingState);
    case "expire":
      return writeExpireGfd(buf, offset, instrumentOf(false));
    default:
      throw new JsonlError(`unknown "op": ${JSON.stringify(c["op"])}`);
  }
}

const OP_OF_KIND: Record<number, string> = {
  [CommandKind.defineInstrument]: "instrument",
  [CommandKind.newOrder]: "new",
  [CommandKind.cancel]: "cancel",
  [CommandKind.amend]: "amend",
  [CommandKind.massCancel]: "mass_cancel",
  [CommandKind.setTradingState]: "state",
  [CommandKind.expireGfd]: "expire",
  [CommandKind.deposit]: "deposit",
  [CommandKind.withdraw]: "withdraw",
  [CommandKind.mark]: "mark",
  [CommandKind.settle]: "settle",
};

/** Renders event records as JSON lines; see the file comment. */
export class EventRenderer {
  private readonly ev = new EventView(Buf.alloc(8));
  private readonly cmd = new CommandView(Buf.alloc(8));
  private readonly orderIds = new Map<number, string>();
  private readonly accounts: string[] = [];

  constructor(private readonly symbolOf: (instrument: number) => string | undefined) {}

  /** One JSON line (without newline) for the event at `offset` of `buf`. */
  render(buf: Buf, offset: number): string {
    const e = this.ev.wrap(buf, offset);
    const head = `{"ev":"${eventName(e.kind)}","seq":${e.seq},"ts":${readBigU64(buf.dv, offset + H_TIMESTAMP)}`;
    const body = this.body(e, buf, offset);
    const rest = JSON.stringify(body);
    return rest === "{}" ? head + "}" : head + "," + rest.slice(1);
  }

  private symbol(i: number): string | undefined {
    return i === NO_INSTRUMENT ? undefined : this.symbolOf(i);
  }

  private account(i: number): string | undefined {
    return i === NO_ACCOUNT ? undefined : this.accounts[i];
  }

  private body(e: EventView, buf: Buf, offset: number): Record<string, unknown> {
    switch (e.kind) {
      case EventKind.accepted: {
        const id = e.orderId();
        const account = e.accountId();
        this.orderIds.set(e.orderNo, id);
        this.accounts[e.account] = account;
        const out: Record<string, unknown> = {
          symbol: this.symbol(e.instrument), id, account, orderNo: e.orderNo,
          side: snake(nameOf(Side, e.side)), type: snake(nameOf(OrderType, e.orderType)), tif: snake(nameOf(Tif, e.tif)),
          price: e.price, qty: e.qty,
        };
        if ((e.flags & OrderFlag.postOnly) !== 0) out["postOnly"] = true;
        if (e.stp !== Stp.none) out["stp"] = snake(nameOf(Stp, e.stp));
        if (e.orderOffset !== Offset.none) out["offset"] = snake(nameOf(Offset, e.orderOffset));
        return out;
      }
      case EventKind.rejected: {
        const out: Record<string, unknown> = { op: OP_OF_KIND[e.commandKind] ?? `kind_${e.commandKind}`, reason: snake(nameOf(Reason, e.reason)) };
        const symbol = this.symbol(e.instrument);
        if (symbol !== undefined) out["symbol"] = symbol;
        if (e.orderIdLen > 0) out["id"] = e.orderId();
        if (e.accountLen > 0) out["account"] = e.accountId();
        if (e.orderNo !== 0) out["orderNo"] = e.orderNo;
        return out;
      }
      case EventKind.trade: {
        const out: Record<string, unknown> = {
          symbol: this.symbol(e.instrument), tradeNo: e.tradeNo, price: e.price, qty: e.qty,
          aggressor: snake(nameOf(Side, e.aggressorSide)),
          maker: this.orderIds.get(e.makerOrderNo), taker: this.orderIds.get(e.takerOrderNo),
          makerAccount: this.account(e.makerAccount), takerAccount: this.account(e.takerAccount),
          makerOrderNo: e.makerOrderNo, takerOrderNo: e.takerOrderNo,
          makerLeft: e.makerLeftQty, takerLeft: e.takerLeftQty,
        };
        // Each side's view, on money instruments only (pure matching trades carry zeros).
        if (e.makerCommission !== 0 || e.takerCommission !== 0 || e.makerCloseProfit !== 0 || e.takerCloseProfit !== 0) {
          out["makerCommission"] = e.makerCommission;
          out["takerCommission"] = e.takerCommission;
          out["makerCloseProfit"] = e.makerCloseProfit;
          out["takerCloseProfit"] = e.takerCloseProfit;
        }
        return out;
      }
      case EventKind.account: {
        const out: Record<string, unknown> = { account: this.account(e.moneyAccount), currency: currencyText(e.currency) };
        for (const [name, field] of Object.entries(ACCOUNT_FIELD)) out[name] = e.figure(field);
        return out;
      }
      case EventKind.position: {
        const out: Record<string, unknown> = { symbol: this.symbol(e.instrument), account: this.account(e.moneyAccount) };
        for (const [name, field] of Object.entries(POSITION_FIELD)) out[name] = e.figure(field);
        return out;
      }
      case EventKind.transfer: {
        const account = e.transferAccountId();
        this.accounts[e.moneyAccount] = account;
        return { account, currency: currencyText(e.currency), direction: e.direction === 1 ? "deposit" : "withdraw", amount: e.amount };
      }
      case EventKind.dayEnded:
        return {};
      case EventKind.riskBreach:
        return {
          account: this.account(e.moneyAccount), currency: currencyText(e.currency), action: snake(nameOf(RiskAction, e.riskAction)),
          riskRatioBp: e.i64(32), balance: e.i64(40), margin: e.i64(48),
        };
      case EventKind.updated: {
        const out: Record<string, unknown> = {
          symbol: this.symbol(e.instrument), id: this.orderIds.get(e.orderNo), account: this.account(e.account), orderNo: e.orderNo,
          status: snake(nameOf(OrderStatus, e.status)), side: snake(nameOf(Side, e.side)), price: e.price, left: e.leftQty, filled: e.filledQty,
        };
        if (e.reason !== Reason.none) out["reason"] = snake(nameOf(Reason, e.reason));
        const s = e.status;
        if (s === OrderStatus.filled || s === OrderStatus.cancelled || s === OrderStatus.expired) this.orderIds.delete(e.orderNo);
        return out;
      }
      case EventKind.l2:
        return { symbol: this.symbol(e.instrument), side: snake(nameOf(Side, e.side)), price: e.price, qty: e.qty, orders: e.orderCount };
      case EventKind.tradingState:
        return { symbol: this.symbol(e.instrument), state: snake(nameOf(TradingState, e.state)) };
      case EventKind.instrument: {
        const c = this.cmd.wrap(buf, offset);
        const out: Record<string, unknown> = {
          symbol: c.symbol(), tickSize: c.tickSize, lotSize: c.lotSize, minQty: c.minQty, maxQty: c.maxQty,
          priceLow: c.priceLow, priceHigh: c.priceHigh, state: snake(nameOf(TradingState, c.state)),
        };
        if (c.multiplier > 0) {
          Object.assign(out, {
            currency: currencyText(c.currency), multiplier: c.multiplier, marginPerLot: c.marginPerLot, marginRateBp: c.marginRateBp,
            commissionPerLot: c.commissionPerLot, commissionRateBp: c.commissionRateBp, positionLimit: c.positionLimit,
          });
          if (c.instrumentFlags !== 0) out["closeTodayDistinct"] = true;
        }
        return out;
      }
      default:
        return { kind: e.kind };
    }
  }
}

function eventName(kind: number): string {
  switch (kind) {
    case EventKind.tradingState: return "state";
    default: return nameOf(EventKind, kind);
  }
}
