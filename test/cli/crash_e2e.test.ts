/**
 * `venue start` killed in the middle of trading, as an operator lives it. The node runs as
 * a child process on one data folder; two demo accounts trade against each other through
 * real DIFF WebSocket clients (orders that rest, cross and fill, IOC orders, closes,
 * cancels, some the engine rejects), several orders always in flight. When the clients
 * have seen a drawn number of orders acknowledged, the node gets SIGKILL with orders still
 * in flight. It is restarted on the same folder, must print its recovery and how long it
 * took, and the clients log in again and check (crash_oracle.ts): every order seen is
 * there at least as far along as seen, every trade seen is there unchanged, orders in
 * flight came back whole or not at all, nothing came back that was never sent, an account
 * nothing happened to after its last rtn_data has exactly the money and positions it saw,
 * and every tree holds together. Then the next round of trading and the next kill.
 *
 * VENUE_KILLS sets the number of kills (3 by default); the seed is printed and replays
 * with VENUE_SEED. The seed fixes every choice the clients make; when each order reaches
 * the node, and so what is in flight at the kill, is up to the machine.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { checkTradeInvariants, DiffClient } from "../gateway/diff_client.ts";
import type { JsonObject } from "../../src/gateway/patch.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { checkAccount, checkConsistent, checkTradePairs, dayTree, type AccountVerdict, type SentOrder } from "./crash_oracle.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "venue.js");
const KILLS = Number(process.env["VENUE_KILLS"] ?? "3");
const ACCOUNTS = [
  { name: "demo1", password: "demo1-pass" },
  { name: "demo2", password: "demo2-pass" },
] as const;
/** `venue start`'s demo deposit, CNY. */
const DEMO_DEPOSIT = 1_000_000;
/** Orders each client keeps in flight. */
const WINDOW = 6;
/** The demo instruments traded, with a mid price to quote around; cu2601 costs the most margin. */
const INSTRUMENTS = [
  { exchangeId: "SHFE", instrumentId: "cu2601", mid: 80_000, tick: 10, weight: 1 },
  { exchangeId: "DCE", instrumentId: "m2605", mid: 3_000, tick: 1, weight: 4 },
  { exchangeId: "CZCE", instrumentId: "SR605", mid: 5_500, tick: 1, weight: 4 },
] as const;

const dir = mkdtempSync(join(tmpdir(), "venue-crash-"));
const live = new Set<ChildProcess>();
const clients = new Set<DiffClient>();
afterAll(() => {
  for (const c of clients) c.close();
  for (const child of live) child.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  output: () => string;
  url: Promise<string>;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `venue start` as a user runs it; the URL is read from what it prints. */
function start(): Running {
  const child = spawn(process.execPath, [BIN, "start", "--data", join(dir, "data"), "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  let out = "";
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((res) =>
    child.once("exit", (code, signal) => {
      live.delete(child);
      res({ code, signal });
    }),
  );
  const url = new Promise<string>((res, rej) => {
    const read = (d: unknown): void => {
      out += String(d);
      const m = /DIFF gateway: (ws:\/\/[\d.]+:\d+)\/md/.exec(out);
      if (m !== null) res(m[1]!);
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    void exit.then(() => rej(new Error(`venue start exited early:\n${out}`)));
  });
  url.catch(() => {});
  return { child, output: () => out, url, exit };
}

async function login(url: string, account: string, password: string): Promise<DiffClient> {
  const c = await DiffClient.connect(`${url}/trade`);
  clients.add(c);
  c.check = (m) => {
    const t = (m["trade"] as JsonObject | undefined)?.[account] as JsonObject | undefined;
    if (t !== undefined) checkTradeInvariants(t);
  };
  c.send({ aid: "req_login", bid: "VENUE", user_name: account, password });
  await c.until(`${account}'s snapshot`, () => c.trade(account)["trade_more_data"] === false);
  return c;
}

const closed = (c: DiffClient): Promise<void> =>
  c.closed !== undefined ? Promise.resolve() : new Promise((res) => c.ws.once("close", () => res()));

/**
 * One account's client for one run of the node: keeps WINDOW orders in flight, each step
 * an insert or (one in five, when it has an ALIVE order) a cancel, every choice drawn
 * from its own PRNG.
 */
class Trader {
  private readonly pending = new Set<string>();
  private readonly cancelSent = new Set<string>();
  private next = 0;
  acked = 0;

  constructor(
    readonly c: DiffClient,
    readonly account: string,
    readonly round: number,
    readonly rng: Prng,
    readonly sent: Map<string, SentOrder>,
  ) {}

  private orders(): Record<string, JsonObject> {
    return (this.c.trade(this.account)["orders"] ?? {}) as Record<string, JsonObject>;
  }

  /** Orders sent whose fate the client has seen leave `pending`. */
  private settle(): void {
    const orders = this.orders();
    for (const id of this.pending) {
      if (orders[id] === undefined) continue;
      this.pending.delete(id);
      this.acked++;
    }
  }

  inFlight(): number {
    this.settle();
    return this.pending.size;
  }

  private step(): void {
    const r = this.rng;
    const cancel = r.chance(0.2);
    const pickAt = r.nextFloat();
    const weights = INSTRUMENTS.reduce((n, i) => n + i.weight, 0);
    let w = r.nextFloat() * weights;
    const ins = INSTRUMENTS.find((i) => (w -= i.weight) < 0) ?? INSTRUMENTS[0];
    const direction = r.chance(0.5) ? "BUY" : "SELL";
    const close = r.chance(0.35);
    const offset = !close ? "OPEN" : ins.exchangeId === "SHFE" && r.chance(0.7) ? "CLOSETODAY" : "CLOSE";
    const volume = r.int(1, 3);
    const limitPrice = ins.mid + ins.tick * r.int(-4, 4);
    const timeCondition = r.chance(0.15) ? "IOC" : "GFD";

    const alive = Object.entries(this.orders()).filter(([id, o]) => o["status"] === "ALIVE" && !this.cancelSent.has(id)).map(([id]) => id);
    if (cancel && alive.length > 0) {
      const id = alive[Math.floor(pickAt * alive.length)]!;
      this.cancelSent.add(id);
      this.c.send({ aid: "cancel_order", user_id: this.account, order_id: id });
      return;
    }
    const orderId = `r${this.round}-${++this.next}`;
    this.sent.set(orderId, { account: this.account, orderId, exchangeId: ins.exchangeId, instrumentId: ins.instrumentId, direction, offset, volume, limitPrice, timeCondition });
    this.pending.add(orderId);
    this.c.send({
      aid: "insert_order", user_id: this.account, order_id: orderId, exchange_id: ins.exchangeId, instrument_id: ins.instrumentId,
      direction, offset, volume, price_type: "LIMIT", limit_price: limitPrice, volume_condition: "ANY", time_condition: timeCondition,
    });
  }

  /**
   * Trades until the node is killed: after every frame it refills the window, then asks
   * `killIfDue` (so orders are in flight when the kill comes); then waits for the
   * connection to drop.
   */
  async run(kill: { killed: () => boolean; killIfDue: () => boolean }): Promise<void> {
    for (;;) {
      this.settle();
      const limited = this.c.notifies.find((n) => n.content.includes("too many"));
      if (limited !== undefined) throw new Error(`${this.account} was rate limited, so the oracle cannot tell what was sent: ${limited.content}`);
      if (kill.killed()) break;
      while (this.pending.size < WINDOW) this.step();
      if (kill.killIfDue()) break;
      try {
        const notifies = this.c.notifies.length;
        await this.c.until(`${this.account}'s orders acknowledged`, () => this.c.notifies.length > notifies || [...this.pending].some((id) => this.orders()[id] !== undefined));
      } catch (err) {
        if (this.c.closed !== undefined) break;
        throw err;
      }
    }
    await closed(this.c);
    this.settle();
  }
}

const RECOVERY_LINE = /recovery: (\d+) commands in \d+ segment\(s\), \d+ replayed after the snapshot, in (\d+) ms; next seq (\d+)/;

/** What `venue start` prints about recovering from the journal; returns the commands recovered. */
function checkRecoveryOutput(out: string, round: number): number {
  const m = RECOVERY_LINE.exec(out);
  expect(m, `round ${round}: no recovery line in:\n${out}`).not.toBeNull();
  expect(out).toMatch(/recovery: segment \d+\/\d+, \d+ commands read/);
  expect(out).toMatch(/recovered in \d+ ms/);
  expect(out).toMatch(/market data: history read in \d+ ms: \d+ trades for the k-lines/);
  expect(out).toMatch(/gateway: history read in \d+ ms: \d+ order, trade and transfer events of the trading day/);
  console.log(`crash_e2e: round ${round} ${m![0]}; ${/recovered in \d+ ms/.exec(out)![0]}; market data ${/market data: history read in (\d+ ms)/.exec(out)![1]}, gateway ${/gateway: history read in (\d+ ms)/.exec(out)![1]}`);
  return Number(m![1]);
}

/** Logs both accounts in and checks the restored trees against what was seen before the kill. */
async function verify(url: string, seen: ReadonlyMap<string, JsonObject>, sent: ReadonlyMap<string, ReadonlyMap<string, SentOrder>>, round: number): Promise<DiffClient[]> {
  const cs = await Promise.all(ACCOUNTS.map((a) => login(url, a.name, a.password)));
  const now = ACCOUNTS.map((a, i) => dayTree(cs[i]!.trade(a.name)));
  const verdicts: AccountVerdict[] = [];
  ACCOUNTS.forEach((a, i) => {
    const tree = now[i]!;
    checkConsistent(a.name, tree, DEMO_DEPOSIT);
    const before = seen.get(a.name);
    if (before !== undefined) verdicts.push(checkAccount(a.name, before, tree, sent.get(a.name) ?? new Map()));
  });
  const trades = checkTradePairs(now);
  const lines = verdicts.map((v) => `${v.account}: ${v.seenOrders} orders seen, ${v.advanced} further along, ${v.inFlightRecovered} in flight recovered (${v.inFlightLost} lost so far), ${v.unchanged ? "money and positions as last seen" : "went on after its last rtn_data"}`);
  console.log(`crash_e2e: round ${round} restored ${trades} trades${lines.length > 0 ? `; ${lines.join("; ")}` : ""}`);
  return cs;
}

test("SIGKILL in the middle of trading: after each restart every acknowledged order, trade and balance is intact", async () => {
  const seed = seedFromEnv();
  console.log(`crash_e2e: seed ${seed}, ${KILLS} kills (replay with VENUE_SEED=${seed}, VENUE_KILLS=${KILLS})`);
  const rng = new Prng(seed);
  const sent = new Map<string, Map<string, SentOrder>>(ACCOUNTS.map((a) => [a.name, new Map()]));
  let seen = new Map<string, JsonObject>();
  let recovered = 0;

  for (let round = 1; round <= KILLS + 1; round++) {
    const node = start();
    const url = await node.url;
    if (round > 1) {
      const commands = checkRecoveryOutput(node.output(), round);
      expect(commands, "the journal grows with each round's acknowledged orders").toBeGreaterThan(recovered);
      recovered = commands;
    }
    const cs = await verify(url, seen, sent, round);
    if (round === KILLS + 1) {
      for (const c of cs) c.close();
      node.child.kill("SIGTERM");
      expect(await node.exit).toEqual({ code: 0, signal: null });
      expect(node.output()).toMatch(/stopped; durable up to seq \d+/);
      break;
    }

    // Trade until the clients have seen `killAt` orders acknowledged, then kill mid-flow.
    const killAt = rng.int(40, 120);
    const traders = ACCOUNTS.map((a, i) => new Trader(cs[i]!, a.name, round, new Prng(rng.nextU32()), sent.get(a.name)!));
    let inFlightAtKill = -1;
    const kill = {
      killed: (): boolean => inFlightAtKill >= 0,
      killIfDue: (): boolean => {
        if (inFlightAtKill >= 0) return true;
        if (traders.reduce((n, t) => n + t.acked, 0) < killAt) return false;
        inFlightAtKill = traders.reduce((n, t) => n + t.inFlight(), 0);
        node.child.kill("SIGKILL");
        return true;
      },
    };
    await Promise.all(traders.map((t) => t.run(kill)));
    expect(await node.exit).toEqual({ code: null, signal: "SIGKILL" });
    expect(inFlightAtKill, "orders were in flight at the kill").toBeGreaterThan(0);
    for (const c of cs) expect(c.failure).toBeUndefined();
    seen = new Map(ACCOUNTS.map((a, i) => [a.name, dayTree(cs[i]!.trade(a.name))]));
    for (const [account, tree] of seen) checkConsistent(account, tree, DEMO_DEPOSIT);
    const acked = traders.map((t) => `${t.account} ${t.acked}`).join(", ");
    console.log(`crash_e2e: round ${round} killed after ${killAt} acknowledgements (${acked} seen by the end), ${inFlightAtKill} orders in flight`);
  }
}, 60_000 + KILLS * 15_000);
