/**
 * Tools for the gateway abuse tests (TESTING.md §G 27-29): a real node with a gateway and a
 * catalog, an engine tap that records every order command the engine applies, a raw
 * WebSocket client that writes frames by hand (masking, fragments, reserved bits, lengths
 * the `ws` client refuses to send) and can stop reading, a flooding client in a process of
 * its own, and the DIFF message arbitraries of the malformed-message fuzz with the outcome
 * each must have.
 *
 * Main thread only: the engine tap wraps `engine.apply`, which the node's loop calls there.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import * as fc from "fast-check";
import { VenueNode } from "../../src/node/node.ts";
import { Catalog } from "../../src/catalog/catalog.ts";
import { PasswordHasher } from "../../src/catalog/password.ts";
import { DEMO_INSTRUMENTS, engineParams } from "../../src/catalog/instrument.ts";
import { CommandKind, CommandView, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import type { EventBuffer } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { currencyCode } from "../../src/schema/codes.ts";
import type { ServerOptions } from "../../src/gateway/server.ts";
import type { GatewayOptions } from "../../src/gateway/gateway.ts";
import type { Role } from "../../src/catalog/catalog.ts";
import { DiffClient } from "./diff_client.ts";

/** SHFE.cu2601: tick 10, band 70,000 to 90,000, volume 1 to 500. */
export const CU = DEMO_INSTRUMENTS[0]!;
export const PASSWORD = "abuse-pass-1";
const REPO = fileURLToPath(new URL("../..", import.meta.url));

// -------------------------------------------------------------------------------------
// The node

/** What reached the engine: order commands and the engine's acceptances, per account. */
export class EngineTap {
  /** Every newOrder command the engine applied: "account order_id". */
  readonly commands: string[] = [];
  /** Every order the engine accepted: "account order_id". */
  readonly accepted: string[] = [];
  /** When the engine applied each order command (performance.now() on this thread), by "account order_id". */
  readonly appliedAtMs = new Map<string, number>();

  countFor(list: readonly string[], account: string): number {
    let n = 0;
    for (const k of list) if (k.startsWith(`${account} `)) n++;
    return n;
  }

  /**
   * Wraps the engine's apply (the loop calls it once per command, on this thread) and its
   * event buffer's `accepted` writer (the events themselves go straight onto the node's
   * topic rings).
   */
  install(node: VenueNode): void {
    const engine = node.engine;
    const apply = engine.apply.bind(engine);
    const cmd = new CommandView(Buf.alloc(8));
    engine.apply = (buf: Buf, offset: number): void => {
      const c = cmd.wrap(buf, offset);
      if (c.kind === CommandKind.newOrder) {
        const key = `${c.accountId()} ${c.orderId()}`;
        this.commands.push(key);
        this.appliedAtMs.set(key, performance.now());
      }
      apply(buf, offset);
    };
    const out: EventBuffer = engine.out;
    const accepted = out.accepted.bind(out);
    out.accepted = (...args: Parameters<EventBuffer["accepted"]>): void => {
      accepted(...args);
      const [src, accountOffset, accountLen, orderIdOffset, orderIdLen] = args.slice(11) as [Uint8Array, number, number, number, number];
      const text = (from: number, length: number): string => Buffer.from(src.subarray(from, from + length)).toString("utf8");
      this.accepted.push(`${text(accountOffset, accountLen)} ${text(orderIdOffset, orderIdLen)}`);
    };
  }
}

export interface AbuseNode {
  readonly node: VenueNode;
  readonly tap: EngineTap;
  /** ws://host:port */
  readonly url: string;
  /** http://host:port */
  readonly http: string;
  readonly host: string;
  readonly port: number;
  /** The node's log lines (the gateway worker's included). */
  readonly logs: string[];
  stop(): Promise<void>;
}

/**
 * A node with a journal, the gateway on a free port and a catalog holding `users` (all with
 * PASSWORD) and SHFE.cu2601; each user's account gets `depositMinor` CNY minor units.
 */
export async function startAbuseNode(o: {
  users: ReadonlyArray<readonly [string, readonly Role[]]>;
  server?: Partial<ServerOptions>;
  gateway?: Partial<GatewayOptions>;
  depositMinor: number;
}): Promise<AbuseNode> {
  const dir = mkdtempSync(join(tmpdir(), "venue-abuse-"));
  const catalog = Catalog.open(join(dir, "catalog"));
  const hasher = new PasswordHasher();
  const record = await hasher.hash(PASSWORD);
  for (const [name, roles] of o.users) await catalog.addUser(name, roles, record);
  await catalog.putInstrument(CU);
  await hasher.close();
  await catalog.close();
  const logs: string[] = [];
  const node = new VenueNode({
    dataDir: join(dir, "data"),
    snapshotEvery: 0,
    log: (line: string) => logs.push(line),
    // The fuzz opens a connection per run, as fast as they go: the per-address connection rate is another test's subject.
    gateway: { catalogDir: join(dir, "catalog"), server: { port: 0, connectionsPerSecondPerIp: 100_000, ...o.server }, options: { tradingDay: "20261124", ...o.gateway } },
  });
  const tap = new EngineTap();
  tap.install(node);
  const driver = node.drivers[0]!;
  const running = node.start();
  driver.submit((b, off) => writeDefineInstrument(b, off, engineParams(CU)));
  for (const [name] of o.users) driver.submit((b, off) => writeTransfer(b, off, CommandKind.deposit, name, currencyCode("CNY"), o.depositMinor));
  driver.flush();
  const { host, port } = await node.gatewayReady;
  return {
    node, tap, host, port, logs,
    url: `ws://${host}:${port}`,
    http: `http://${host}:${port}`,
    stop: async () => {
      await node.stop();
      await running;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A DIFF trade session logged in as `user`. */
export async function login(url: string, user: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${url}/trade`);
  await c.until("rtn_brokers", () => c.bare.some((b) => b["aid"] === "rtn_brokers"));
  c.send({ aid: "req_login", bid: "VENUE", user_name: user, password: PASSWORD });
  await c.until(`${user}'s snapshot`, () => c.trade(user)["trade_more_data"] === false);
  return c;
}

/** One value of the gateway's /metrics (the first line starting with `name`). */
export async function metric(http: string, name: string): Promise<number> {
  const text = await (await fetch(`${http}/metrics`)).text();
  for (const line of text.split("\n")) if (line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
  throw new Error(`metric ${name} not found`);
}

export async function connections(http: string): Promise<number> {
  return ((await (await fetch(`${http}/health`)).json()) as { connections: number }).connections;
}

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

export const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;

// -------------------------------------------------------------------------------------
// A flooding client in a process of its own (so that its sending does not share the
// engine's thread): it connects, logs in if told to, says "ready"; floods at a rate from
// "go" to "stop" on its stdin; then sends a sentinel and a peek until both get through
// (every flood message has been handled then) and prints what it sent.

const FLOOD_SCRIPT = `
import WebSocket from "ws";
const e = process.env;
const rate = Number(e.FLOOD_RATE);
const template = e.FLOOD_ORDER ? JSON.parse(e.FLOOD_ORDER) : undefined;
const ws = new WebSocket(e.FLOOD_URL + "/trade", { perMessageDeflate: false });
const texts = [];
let wake = () => {};
ws.on("message", (d) => { texts.push(String(d)); wake(); });
await new Promise((res, rej) => { ws.once("open", res); ws.once("error", rej); });
const seen = async (s) => { while (!texts.some((t) => t.includes(s))) await new Promise((r) => { wake = r; setTimeout(r, 25); }); };
if (e.FLOOD_USER) {
  ws.send(JSON.stringify({ aid: "req_login", bid: "VENUE", user_name: e.FLOOD_USER, password: e.FLOOD_PASSWORD }));
  ws.send('{"aid":"peek_message"}');
  await seen('"trade_more_data":false');
}
const lines = [];
let lineWake = () => {};
process.stdin.on("data", (d) => { lines.push(...String(d).split("\\n").filter(Boolean)); lineWake(); });
const line = async () => { while (lines.length === 0) await new Promise((r) => (lineWake = r)); return lines.shift(); };
process.stdout.write("ready\\n");
await line();
let on = true;
void line().then(() => (on = false));
const t0 = performance.now();
let sent = 0;
while (on) {
  const due = Math.floor(((performance.now() - t0) / 1000) * rate);
  while (sent < due) {
    sent++;
    ws.send(template ? JSON.stringify({ ...template, order_id: "flood-" + sent }) : '{"aid":"qry_account_info"}');
  }
  await new Promise((r) => setTimeout(r, 2));
}
const seconds = (performance.now() - t0) / 1000;
let drained = 0;
while (!texts.some((t) => t.includes("unsupported aid: sentinel-drain"))) {
  ws.send('{"aid":"sentinel-drain"}');
  ws.send('{"aid":"peek_message"}');
  drained += 2;
  await new Promise((r) => setTimeout(r, 25));
}
process.stdout.write(JSON.stringify({ sent, seconds, drained }) + "\\n");
ws.terminate();
process.exit(0);
`;

export interface FloodResult {
  /** Flood messages sent, and over how long. */
  sent: number;
  seconds: number;
  /** Sentinels and peeks sent after the flood until one got through. */
  drained: number;
}

export interface Flooder {
  go(): void;
  stop(): Promise<FloodResult>;
}

/** Starts a flooding client (anonymous, or logged in as `user` sending `order` with fresh ids) and waits until it is ready. */
export async function startFlooder(url: string, perSecond: number, o: { user?: string; order?: Record<string, unknown> } = {}): Promise<Flooder> {
  const env: Record<string, string> = { ...process.env as Record<string, string>, FLOOD_URL: url, FLOOD_RATE: String(perSecond) };
  if (o.user !== undefined) Object.assign(env, { FLOOD_USER: o.user, FLOOD_PASSWORD: PASSWORD });
  if (o.order !== undefined) env["FLOOD_ORDER"] = JSON.stringify(o.order);
  const child = spawn(process.execPath, ["--input-type=module", "-e", FLOOD_SCRIPT], { cwd: REPO, env, stdio: ["pipe", "pipe", "inherit"] });
  const next = lineReader(child, "the flooder");
  const exited = new Promise<number | null>((res) => child.once("exit", (code) => res(code)));
  const ready = await next();
  if (ready !== "ready") throw new Error(`the flooder said ${ready}`);
  return {
    go: () => child.stdin.write("go\n"),
    stop: async () => {
      child.stdin.write("stop\n");
      const result = JSON.parse(await next()) as FloodResult;
      await exited;
      return result;
    },
  };
}

/** Idle connections held by a child process (`idle_child.ts`): the client ends use its file descriptors, not ours. */
export interface Idler {
  /** Opens `n` connections from 127.0.0.`from`; the handshake statuses (101: held open). */
  open(from: number, n: number): Promise<number[]>;
  /** Connections held open. */
  readonly held: number;
  /** Closes them all and ends the child. */
  close(): Promise<void>;
}

export function startIdler(host: string, port: number, path = "/md"): Idler {
  const file = fileURLToPath(new URL("./idle_child.ts", import.meta.url));
  const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: REPO, env: { ...process.env, IDLE_HOST: host, IDLE_PORT: String(port), IDLE_PATH: path }, stdio: ["pipe", "pipe", "inherit"] });
  const next = lineReader(child, "the idle-socket child");
  const ask = async (m: unknown): Promise<Record<string, unknown>> => {
    child.stdin.write(`${JSON.stringify(m)}\n`);
    const r = JSON.parse(await next()) as Record<string, unknown>;
    if (r["error"] !== undefined) throw new Error(`idle-socket child: ${String(r["error"])}`);
    return r;
  };
  let held = 0;
  let closed = false;
  return {
    async open(from, n) {
      const statuses = (await ask({ open: from, n }))["statuses"] as number[];
      held += statuses.filter((s) => s === 101).length;
      return statuses;
    },
    get held() {
      return held;
    },
    async close() {
      if (closed || child.exitCode !== null) return;
      closed = true;
      await ask({ close: true });
      held = 0;
    },
  };
}

/**
 * The next line a child writes on its stdout (lines are whole however the output is
 * chunked); throws if the child has exited with nothing left to read.
 */
function lineReader(child: ChildProcessByStdio<Writable, Readable, null>, what: string): () => Promise<string> {
  const lines: string[] = [];
  let partial = "";
  let wake = (): void => {};
  child.stdout.on("data", (d: Buffer) => {
    const parts = (partial + String(d)).split("\n");
    partial = parts.pop()!;
    for (const l of parts) if (l !== "") lines.push(l);
    wake();
  });
  child.once("exit", () => wake());
  return async () => {
    while (lines.length === 0) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${what} exited (${child.exitCode ?? child.signalCode}) before it answered`);
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return lines.shift()!;
  };
}

// -------------------------------------------------------------------------------------
// A raw WebSocket client

export const Opcode = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const;

/**
 * A WebSocket client over a bare TCP socket: the handshake and every frame written by hand,
 * so a test can send what a well-behaved client library will not (lengths above the cap,
 * fragments that never end, reserved bits) and can stop reading its socket. Incoming
 * frames are parsed; pings are answered when `autoPong` is set.
 */
export class RawWs {
  status = 0;
  headers: Record<string, string> = {};
  readonly texts: string[] = [];
  /** The server's close code; 1006 when the socket ended without a close frame. */
  closeCode: number | undefined;
  bytesRead = 0;
  pongs = 0;
  private pending: Buffer = Buffer.alloc(0);
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket, readonly autoPong: boolean) {}

  /** Opens a TCP connection and sends the upgrade request; resolves with the response read (status 101 or a refusal). */
  static async connect(host: string, port: number, path: string, o: { headers?: Record<string, string>; autoPong?: boolean; localAddress?: string } = {}): Promise<RawWs> {
    const socket = o.localAddress === undefined ? connect(port, host) : connect({ port, host, localAddress: o.localAddress });
    socket.setNoDelay(true);
    const c = new RawWs(socket, o.autoPong ?? true);
    socket.on("error", () => {});
    const extra = Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join("");
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: ${host}:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
      `Sec-WebSocket-Key: ${randomBytes(16).toString("base64")}\r\nSec-WebSocket-Version: 13\r\n${extra}\r\n`,
    );
    await new Promise<void>((resolve, reject) => {
      let head = Buffer.alloc(0);
      const onData = (d: Buffer): void => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onData);
        const lines = head.subarray(0, end).toString("latin1").split("\r\n");
        c.status = Number(lines[0]!.split(" ")[1]);
        for (const l of lines.slice(1)) {
          const i = l.indexOf(":");
          c.headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
        }
        c.listen(head.subarray(end + 4));
        resolve();
      };
      socket.on("data", onData);
      socket.once("close", () => reject(new Error("the socket closed during the handshake")));
    });
    if (c.status !== 101) socket.destroy();
    return c;
  }

  private listen(rest: Buffer): void {
    this.socket.removeAllListeners("close");
    this.socket.on("data", (d: Buffer) => this.onData(d));
    this.socket.on("close", () => {
      this.closeCode ??= 1006;
      this.wake();
    });
    if (rest.length > 0) this.onData(rest);
  }

  private onData(d: Buffer): void {
    this.bytesRead += d.length;
    this.pending = this.pending.length === 0 ? d : Buffer.concat([this.pending, d]);
    for (;;) {
      const p = this.pending;
      if (p.length < 2) break;
      let len = p[1]! & 0x7f;
      let at = 2;
      if (len === 126) {
        if (p.length < 4) break;
        len = p.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (p.length < 10) break;
        len = Number(p.readBigUInt64BE(2));
        at = 10;
      }
      if (p.length < at + len) break;
      const payload = p.subarray(at, at + len);
      this.pending = p.subarray(at + len);
      this.onFrame(p[0]! & 0x0f, payload);
    }
    this.wake();
  }

  private onFrame(opcode: number, payload: Buffer): void {
    if (opcode === Opcode.text) this.texts.push(payload.toString("utf8"));
    else if (opcode === Opcode.close) this.closeCode ??= payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
    else if (opcode === Opcode.ping && this.autoPong) this.frame(Opcode.pong, Buffer.from(payload));
    else if (opcode === Opcode.pong) this.pongs++;
  }

  /** Writes one masked frame; `length` overrides the announced payload length. */
  frame(opcode: number, payload: Buffer, o: { fin?: boolean; rsv1?: boolean; length?: bigint } = {}): void {
    if (this.socket.destroyed) return;
    const n = o.length ?? BigInt(payload.length);
    const head: number[] = [((o.fin ?? true) ? 0x80 : 0) | (o.rsv1 === true ? 0x40 : 0) | opcode];
    if (n < 126n) head.push(0x80 | Number(n));
    else if (n < 65536n) head.push(0x80 | 126, Number(n >> 8n), Number(n & 0xffn));
    else {
      head.push(0x80 | 127);
      for (let s = 56n; s >= 0n; s -= 8n) head.push(Number((n >> s) & 0xffn));
    }
    const mask = randomBytes(4);
    const body = Buffer.alloc(payload.length);
    for (let i = 0; i < payload.length; i++) body[i] = payload[i]! ^ mask[i & 3]!;
    this.socket.write(Buffer.concat([Buffer.from(head), mask, body]));
  }

  text(s: string): void {
    this.frame(Opcode.text, Buffer.from(s, "utf8"));
  }

  /** Resolves when `cond()` holds (checked after each read and at the close); rejects after `ms`. */
  async until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!cond()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`raw client: timed out waiting for ${what} (close code ${String(this.closeCode)}, last text ${this.texts.at(-1)?.slice(0, 200) ?? "none"})`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, Math.min(left, 500));
        this.waiters.push(() => {
          clearTimeout(t);
          res();
        });
      });
    }
  }

  async closed(ms = 20_000): Promise<number> {
    await this.until("the close", () => this.closeCode !== undefined, ms);
    return this.closeCode!;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** A JSON text of exactly `bytes` UTF-8 bytes: `{"aid":<aid>,"p":"xxx..."}`. */
export function paddedMessage(aid: string, bytes: number): string {
  const base = JSON.stringify({ aid, p: "" });
  if (bytes < base.length) throw new RangeError(`a message of ${bytes} bytes is too short for ${base}`);
  return JSON.stringify({ aid, p: "x".repeat(bytes - base.length) });
}

// -------------------------------------------------------------------------------------
// The fuzz: DIFF messages, valid and mutated, with the outcome each must have

/**
 * - `engine`: passes every gateway check and the engine's: the engine applies and accepts it;
 * - `engineRejects`: passes the gateway's checks, and the engine refuses it (price band, volume cap);
 * - `refused`: the gateway refuses it with a notify, and nothing of it reaches the engine;
 * - `any`: a non-order command, answered somehow; it must not produce an order;
 * - `close1007`: a text frame that is not UTF-8; the connection is failed with 1007.
 */
export type Outcome = "engine" | "engineRejects" | "refused" | "any" | "close1007";

export interface FuzzFrame {
  data: string | Buffer;
  binary: boolean;
}

export interface FuzzMessage {
  /** `main`: the logged-in session; `anon`: a session that has not logged in. */
  channel: "main" | "anon";
  frame: FuzzFrame;
  outcome: Outcome;
  /** The order id of an order message (refused ones may still appear, FINISHED). */
  orderId?: string;
  label: string;
}

/** What fast-check generates; `render` turns it into a frame, given fresh ids. */
export type FuzzSpec =
  | { t: "order"; order: OrderFields; mutation: Mutation | undefined }
  | { t: "other"; aid: OtherAid; valid: boolean; pick: number; text: string }
  | { t: "anon"; pick: number; text: string }
  | { t: "raw"; pick: number; n: number };

type OtherAid = "cancel_order" | "subscribe_quote" | "set_chart" | "req_transfer" | "peek_message" | "req_login" | "subscribe_l2" | "change_password";

interface OrderFields {
  direction: "BUY" | "SELL";
  volume: number;
  ticks: number;
  priceType: "LIMIT" | "ANY" | undefined;
  time: "GFD" | "GTC" | "IOC" | undefined;
  fok: boolean;
  offset: "OPEN" | undefined;
}

type Mutation = { m: MutationKind; n: number; s: string };

const MUTATIONS = [
  "volNegative", "volZero", "volMinusZero", "volFraction", "volAbove2p53", "volHuge", "volString", "volAboveCap", "volNaN", "volInfinity",
  "priceOffTick", "priceZero", "priceNegative", "priceMinusZero", "priceAbove2p53", "priceOverflow", "priceMissing", "priceString",
  "unknownInstrument", "unknownExchange", "badDirection", "badOffset", "badPriceType", "badTime", "allWithoutIoc",
  "otherUser", "badOrderId", "longOrderId", "protoTop", "protoNested", "constructorKey", "prototypeKey", "deepArray", "deepObject",
  "dupLastInvalid", "dupLastValid", "binaryFrame", "binaryBadUtf8", "textBadUtf8", "trailingGarbage", "truncated", "asArray", "bom",
  "priceOutOfBand", "volAboveInstrumentMax",
] as const;
type MutationKind = (typeof MUTATIONS)[number];

const orderFields: fc.Arbitrary<OrderFields> = fc.record({
  direction: fc.constantFrom("BUY" as const, "SELL" as const),
  volume: fc.integer({ min: 1, max: 5 }),
  ticks: fc.integer({ min: 0, max: 2_000 }),
  priceType: fc.constantFrom("LIMIT" as const, "ANY" as const, undefined),
  time: fc.constantFrom("GFD" as const, "GTC" as const, "IOC" as const, undefined),
  fok: fc.boolean(),
  offset: fc.constantFrom("OPEN" as const, undefined),
});

const junk = fc.string({ maxLength: 40, unit: "binary" });

export const fuzzSpec: fc.Arbitrary<FuzzSpec> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("order" as const), order: orderFields, mutation: fc.constant(undefined) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      t: fc.constant("order" as const),
      order: orderFields,
      mutation: fc.record({ m: fc.constantFrom(...MUTATIONS), n: fc.integer({ min: 0, max: 1_000_000 }), s: junk }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant("other" as const),
      aid: fc.constantFrom<OtherAid>("cancel_order", "subscribe_quote", "set_chart", "req_transfer", "peek_message", "req_login", "subscribe_l2", "change_password"),
      valid: fc.boolean(),
      pick: fc.nat(),
      text: junk,
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("anon" as const), pick: fc.nat(), text: junk }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("raw" as const), pick: fc.nat(), n: fc.integer({ min: 0, max: 3_000 }) }) },
);

/** The fuzz's context: the logged-in account, another account, ids already sent. */
export interface FuzzContext {
  account: string;
  other: string;
  nextId(): string;
  sentIds: string[];
}

const json = (o: Record<string, unknown>): string => JSON.stringify(o);

/** Replaces the first `"key":<value>` of a JSON text by `"key":<raw>`. */
function setRaw(text: string, key: string, raw: string): string {
  const re = new RegExp(`"${key}":(-?[0-9.eE+-]+|"[^"]*"|null|true|false)`);
  if (!re.test(text)) return text.slice(0, -1) + `,"${key}":${raw}}`;
  return text.replace(re, `"${key}":${raw}`);
}

/** Inserts raw `"key":value` members right after the opening brace. */
const prepend = (text: string, members: string): string => `{${members},${text.slice(1)}`;
const append = (text: string, members: string): string => `${text.slice(0, -1)},${members}}`;

function baseOrder(ctx: FuzzContext, f: OrderFields, id: string): Record<string, unknown> {
  const o: Record<string, unknown> = {
    aid: "insert_order", user_id: ctx.account, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601",
    direction: f.direction, volume: f.volume,
  };
  if (f.offset !== undefined) o["offset"] = f.offset;
  if (f.priceType !== undefined) o["price_type"] = f.priceType;
  if (f.priceType !== "ANY") o["limit_price"] = 70_000 + 10 * f.ticks;
  if (f.fok) {
    o["time_condition"] = "IOC";
    o["volume_condition"] = "ALL";
  } else if (f.time !== undefined) {
    o["time_condition"] = f.time;
  }
  return o;
}

/** A frame of a mutated order and its outcome. */
function mutateOrder(ctx: FuzzContext, f: OrderFields, id: string, mu: Mutation): { frame: FuzzFrame; outcome: Outcome; channel?: "anon" } {
  const o = baseOrder(ctx, { ...f, priceType: f.priceType === "ANY" ? "LIMIT" : f.priceType }, id);
  const t = json(o);
  const text = (data: string, outcome: Outcome = "refused"): { frame: FuzzFrame; outcome: Outcome } => ({ frame: { data, binary: false }, outcome });
  const bad = 1 + (mu.n % 9);
  switch (mu.m) {
    case "volNegative": return text(setRaw(t, "volume", String(-1 - mu.n)));
    case "volZero": return text(setRaw(t, "volume", "0"));
    case "volMinusZero": return text(setRaw(t, "volume", "-0"));
    case "volFraction": return text(setRaw(t, "volume", `${f.volume}.5`));
    case "volAbove2p53": return text(setRaw(t, "volume", String(2n ** 53n + BigInt(1 + mu.n))));
    case "volHuge": return text(setRaw(t, "volume", "1e300"));
    case "volString": return text(setRaw(t, "volume", `"${f.volume}"`));
    case "volAboveCap": return text(setRaw(t, "volume", String(0x80000000 + mu.n)));
    case "volNaN": return text(setRaw(t, "volume", "NaN"));
    case "volInfinity": return text(setRaw(t, "volume", mu.n % 2 === 0 ? "Infinity" : "-Infinity"));
    case "priceOffTick": return text(setRaw(t, "limit_price", String(70_000 + 10 * f.ticks + bad)));
    case "priceZero": return text(setRaw(t, "limit_price", "0"));
    case "priceNegative": return text(setRaw(t, "limit_price", String(-10 * (1 + f.ticks))));
    case "priceMinusZero": return text(setRaw(t, "limit_price", "-0"));
    case "priceAbove2p53": return text(setRaw(t, "limit_price", String(2n ** 53n + 10n * BigInt(1 + mu.n))));
    case "priceOverflow": return text(setRaw(t, "limit_price", "1e400"));
    case "priceMissing": return text(json({ ...o, limit_price: undefined }));
    case "priceString": return text(setRaw(t, "limit_price", `"${70_000 + 10 * f.ticks}"`));
    case "unknownInstrument": return text(json({ ...o, instrument_id: `x${mu.s}` }));
    case "unknownExchange": return text(json({ ...o, exchange_id: `X${mu.s}` }));
    case "badDirection": return text(json({ ...o, direction: mu.s === "BUY" || mu.s === "SELL" ? "" : mu.s }));
    case "badOffset": return text(json({ ...o, offset: mu.s === "OPEN" || mu.s === "CLOSE" || mu.s === "CLOSETODAY" ? "" : mu.s }));
    case "badPriceType": return text(json({ ...o, price_type: mu.s === "LIMIT" || mu.s === "ANY" ? "" : mu.s }));
    case "badTime": return text(json({ ...o, time_condition: ["GFD", "GTC", "IOC"].includes(mu.s) ? "" : mu.s, volume_condition: "ANY" }));
    case "allWithoutIoc": return text(json({ ...o, time_condition: mu.n % 2 === 0 ? "GFD" : "GTC", volume_condition: "ALL" }));
    case "otherUser": return text(json({ ...o, user_id: mu.n % 2 === 0 || mu.s === ctx.account ? ctx.other : mu.s }));
    case "badOrderId": return text(json({ ...o, order_id: `${"=#|;/ \t_"[mu.n % 8]!}${id}` }));
    case "longOrderId": return text(json({ ...o, order_id: mu.n % 2 === 0 ? "a".repeat(65 + (mu.n % 100)) : "€".repeat(22 + (mu.n % 10)) }));
    case "protoTop": return text(prepend(t, `"__proto__":{"aid":"insert_order","volume":1,"polluted":"yes"}`));
    case "protoNested": return text(append(t, `"extra":[{"a":{"__proto__":{"polluted":"yes","price_type":"ANY"}}}]`));
    case "constructorKey": return text(append(t, `"constructor":{"prototype":{"polluted":"yes","aid":"peek_message"}}`));
    case "prototypeKey": return text(append(t, `"x":{"prototype":{"polluted":"yes"}}`));
    case "deepArray": {
      const d = 9 + (mu.n % 4_000);
      return text(append(t, `"deep":${"[".repeat(d)}${"]".repeat(d)}`));
    }
    case "deepObject": {
      const d = 9 + (mu.n % 1_500);
      return text(append(t, `"deep":${'{"a":'.repeat(d)}1${"}".repeat(d)}`));
    }
    case "dupLastInvalid": return text(append(t, `"volume":${-1 - (mu.n % 5)}`));
    case "dupLastValid": return text(append(setRaw(t, "volume", "-7"), `"volume":${f.volume}`), "engine");
    case "binaryFrame": return { frame: { data: Buffer.from(t), binary: true }, outcome: "refused" };
    case "binaryBadUtf8": return { frame: { data: badUtf8(t, mu.n), binary: true }, outcome: "refused" };
    case "textBadUtf8": return { frame: { data: badUtf8(t, mu.n), binary: false }, outcome: "close1007", channel: "anon" };
    case "trailingGarbage": return text(`${t}${mu.s === "" ? "x" : mu.s.replace(/^\s+$/, "x")}`);
    case "truncated": return text(t.slice(0, 1 + (mu.n % (t.length - 1))));
    case "asArray": return text(`[${t}]`);
    case "bom": return text(`\ufeff${t}`);
    case "priceOutOfBand": return text(setRaw(t, "limit_price", String(mu.n % 2 === 0 ? 90_000 + 10 * (1 + (mu.n % 100)) : 70_000 - 10 * (1 + (mu.n % 100)))), "engineRejects");
    case "volAboveInstrumentMax": return text(setRaw(t, "volume", String(CU.maxOrderVolume + 1 + (mu.n % 1000))), "engineRejects");
  }
}

/** A JSON text with bytes that are not UTF-8 inside a string (a lone continuation byte, an overlong form, 0xff). */
function badUtf8(t: string, n: number): Buffer {
  const bytes = [[0x80], [0xc0, 0xaf], [0xff], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]][n % 5]!;
  const at = t.indexOf('"order_id":"') + 12;
  return Buffer.concat([Buffer.from(t.slice(0, at)), Buffer.from(bytes), Buffer.from(t.slice(at))]);
}

/** Another command: valid (answered, no order) or mutated (refused with a notify). */
function otherMessage(ctx: FuzzContext, aid: OtherAid, valid: boolean, pick: number, s: string): { data: string; outcome: Outcome } {
  const p = pick % 6;
  if (aid === "cancel_order") {
    const id = ctx.sentIds.length > 0 ? ctx.sentIds[pick % ctx.sentIds.length]! : "none";
    if (valid) return { data: json({ aid, user_id: ctx.account, order_id: id }), outcome: "any" };
    const bad = [{ user_id: ctx.other, order_id: id }, { order_id: id }, { user_id: ctx.account, order_id: "" }, { user_id: ctx.account, order_id: 5 }, { user_id: ctx.account }, { user_id: ctx.account, order_id: "z".repeat(80) }][p]!;
    return { data: json({ aid, ...bad }), outcome: "refused" };
  }
  if (aid === "subscribe_quote") {
    if (valid) return { data: json({ aid, ins_list: ["", "SHFE.cu2601", "SHFE.cu2601,SHFE.nope", s, `SHFE.cu2601,${s}`, "__proto__,constructor"][p]! }), outcome: "any" };
    return { data: json({ aid, ins_list: [5, null, ["SHFE.cu2601"], { a: 1 }, "x".repeat(8_193), true][p]! }), outcome: "refused" };
  }
  if (aid === "subscribe_l2") {
    if (valid) return { data: json({ aid, ins_list: ["", "SHFE.cu2601", "SHFE.cu2601,SHFE.nope", s, `SHFE.cu2601,${s}`, "__proto__,constructor"][p]! }), outcome: "any" };
    return { data: json({ aid, ins_list: [5, null, ["SHFE.cu2601"], { a: 1 }, "x".repeat(8_193), true][p]! }), outcome: "refused" };
  }
  if (aid === "change_password") {
    // Only shapes refused before any password is checked: a wrong old password would lock the fuzz account out.
    const bad = [{ old_password: PASSWORD, new_password: "short" }, { new_password: "long-enough-1" }, { old_password: 5, new_password: "long-enough-1" }, { old_password: "", new_password: "long-enough-1" }, { old_password: PASSWORD, new_password: "p".repeat(65) }, { old_password: PASSWORD, new_password: null }][p]!;
    return { data: json({ aid, ...bad }), outcome: "refused" };
  }
  if (aid === "set_chart") {
    const c = { aid, chart_id: `c${pick % 20}`, ins_list: "SHFE.cu2601", duration: [0, 60e9, 3_600e9][pick % 3]!, view_width: 1 + (pick % 500) };
    if (valid) return { data: json(c), outcome: "any" };
    const bad = [{ duration: 1.5 }, { duration: -60e9 }, { view_width: 10_001 }, { chart_id: "" }, { chart_id: "a|b" }, { duration: 2 ** 60 }][p]!;
    return { data: json({ ...c, ...bad }), outcome: "refused" };
  }
  if (aid === "req_transfer") {
    const t = { aid, bank_id: "b", future_account: ctx.account, currency: "CNY", amount: (1 + (pick % 1_000)) * (pick % 2 === 0 ? 1 : -1) };
    if (valid) return { data: json(t), outcome: "any" };
    const bad = ['"amount":0', '"amount":-0', '"amount":"100"', '"amount":0.001', '"amount":1e16', '"currency":"cny"'][p]!;
    return { data: append(json(t), bad), outcome: "refused" };
  }
  if (aid === "peek_message") {
    // Extra fields do not change a peek; only a forbidden key or a bad shape does.
    if (valid) return { data: json({ aid, [`x${s}`]: s }), outcome: "any" };
    return { data: ['{"aid":"peek_message","__proto__":{"aid":"x"}}', '{"aid":["peek_message"]}', '{"aid":null}', "null", '"peek_message"', '{"aid":"peek_message"'][p]!, outcome: "refused" };
  }
  // req_login on a session already logged in: refused whatever its fields.
  return { data: json({ aid, bid: "VENUE", user_name: valid ? ctx.account : s, password: valid ? PASSWORD : pick }), outcome: "refused" };
}

/** A message for a session that has not logged in: no password is ever checked (a shape refusal comes first). */
function anonMessage(ctx: FuzzContext, pick: number, s: string): { data: string; outcome: Outcome; orderId?: string } {
  switch (pick % 6) {
    case 0: {
      const id = ctx.nextId();
      return { data: json({ aid: "insert_order", user_id: ctx.account, order_id: id, exchange_id: "SHFE", instrument_id: "cu2601", direction: "BUY", volume: 1, limit_price: 75_000 }), outcome: "refused", orderId: id };
    }
    case 1: return { data: json({ aid: "cancel_order", user_id: ctx.account, order_id: "x" }), outcome: "refused" };
    case 2: return { data: json({ aid: "req_transfer", currency: "CNY", amount: 100 }), outcome: "refused" };
    case 3: return { data: json({ aid: "req_login", bid: "VENUE", user_name: [`a|${s}`, "", 7, "x".repeat(65)][pick % 4], password: PASSWORD }), outcome: "refused" };
    case 4: return { data: json({ aid: "req_login", bid: "VENUE", user_name: ctx.account, password: ["", 5, "p".repeat(65), null][pick % 4] }), outcome: "refused" };
    default: return { data: json({ aid: "subscribe_quote", ins_list: s }), outcome: "any" };
  }
}

/** Frames that are not DIFF at all. */
function rawMessage(pick: number, n: number): { frame: FuzzFrame; outcome: Outcome } {
  switch (pick % 7) {
    case 0: return { frame: { data: "", binary: false }, outcome: "refused" };
    case 1: return { frame: { data: "[".repeat(n + 1), binary: false }, outcome: "refused" };
    case 2: return { frame: { data: String(n), binary: false }, outcome: "refused" };
    case 3: return { frame: { data: randomLike(n), binary: true }, outcome: "refused" };
    case 4: return { frame: { data: `{"user_id":"x","volume":${n}}`, binary: false }, outcome: "refused" };
    case 5: return { frame: { data: `{"aid":"x${n}"}`, binary: false }, outcome: "refused" };
    default: return { frame: { data: `{"aid":"insert_order"${',"a":1'.repeat(n % 500)}}`, binary: false }, outcome: "refused" };
  }
}

/** Deterministic bytes from `n` (no randomness outside the generator's seed). */
function randomLike(n: number): Buffer {
  const b = Buffer.alloc(1 + (n % 200));
  let x = n * 2654435761 + 1;
  for (let i = 0; i < b.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

export function render(ctx: FuzzContext, spec: FuzzSpec): FuzzMessage {
  if (spec.t === "order") {
    const id = ctx.nextId();
    ctx.sentIds.push(id);
    if (spec.mutation === undefined) return { channel: "main", frame: { data: json(baseOrder(ctx, spec.order, id)), binary: false }, outcome: "engine", orderId: id, label: "order" };
    const r = mutateOrder(ctx, spec.order, id, spec.mutation);
    return { channel: r.channel ?? "main", frame: r.frame, outcome: r.outcome, orderId: id, label: `order/${spec.mutation.m}` };
  }
  if (spec.t === "other") {
    const r = otherMessage(ctx, spec.aid, spec.valid, spec.pick, spec.text);
    return { channel: "main", frame: { data: r.data, binary: false }, outcome: r.outcome, label: `${spec.aid}/${spec.valid ? "valid" : "bad"}` };
  }
  if (spec.t === "anon") {
    const r = anonMessage(ctx, spec.pick, spec.text);
    const m: FuzzMessage = { channel: "anon", frame: { data: r.data, binary: false }, outcome: r.outcome, label: `anon/${spec.pick % 6}` };
    if (r.orderId !== undefined) m.orderId = r.orderId;
    return m;
  }
  const r = rawMessage(spec.pick, spec.n);
  return { channel: "main", frame: r.frame, outcome: r.outcome, label: `raw/${spec.pick % 7}` };
}
