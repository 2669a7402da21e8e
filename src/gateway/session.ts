/**
 * One DIFF connection: its login, subscriptions and charts, and what it has not been sent
 * yet. The peek gate (DIFF §1.3): a `peek_message` is answered at once if anything is
 * pending, else held until something is; each answer is exactly one `rtn_data` holding
 * every pending patch, so a slow client gets coarser updates, never a longer queue. State
 * patches are folded into one (bounded by the state's size); notifies, which are events,
 * go in elements of their own and are capped.
 *
 * No socket here: the session writes through a Peer, so it runs the same in tests.
 */

import { compose, clone, obj, type JsonObject } from "./patch.ts";
import type { Notify } from "./trade_view.ts";

export interface Peer {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued on the socket and not yet sent. */
  readonly bufferedAmount: number;
}

export type Role = "trader" | "readonly" | "admin";

/** A token bucket: `rate` tokens a second, up to `burst`. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst;
    this.at = now;
  }

  take(now: number, n = 1): boolean {
    // A wall clock that steps back (an NTP correction) neither refills nor drains the bucket:
    // counting the step as negative time would lock the client out for as long as the step.
    const elapsedMs = Math.max(0, now - this.at);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs / 1000) * this.rate);
    this.at = now;
    if (this.tokens < n) return false;
    this.tokens -= n;
    return true;
  }

  /** Whether the bucket would be full at `now` (nothing left to remember). */
  full(now: number): boolean {
    return this.tokens + (Math.max(0, now - this.at) / 1000) * this.rate >= this.burst;
  }
}

export interface Chart {
  id: string;
  symbol: string;
  duration: number;
  viewWidth: number;
  /** The request, echoed in charts.<id>.state. */
  state: JsonObject;
  leftId: number;
  rightId: number;
  /** Asked of the market-data worker, not answered yet: no changes are sent to it. */
  opening: boolean;
}

export interface SessionLimits {
  /** Pending notifies kept for a client that does not peek (older ones are dropped). */
  maxPendingNotifies: number;
  /** Bytes a client may leave unread on its socket before it is disconnected. */
  maxBufferedBytes: number;
  /** Pending state elements before they are folded into one. */
  maxPendingElements: number;
}

export const DEFAULT_SESSION_LIMITS: SessionLimits = { maxPendingNotifies: 256, maxBufferedBytes: 8 << 20, maxPendingElements: 16 };

let notifyKey = 0;

export class Session {
  /** The account this connection trades as, once logged in. */
  account: string | undefined;
  user: string | undefined;
  roles: readonly Role[] = [];
  loginInFlight = false;
  /** The exact `ins_list` of the last subscribe_quote. */
  insList = "";
  readonly quotes = new Set<string>();
  readonly charts = new Map<string, Chart>();
  /** L2 books subscribed, each with the number of the last update sent (-1 until its snapshot is sent). */
  readonly l2 = new Map<string, { seq: number }>();
  readonly messages: TokenBucket;
  lastMessageAt: number;
  closed = false;
  private peekPending = false;
  private readonly state: JsonObject[] = [];
  private readonly notifies: JsonObject[] = [];
  droppedNotifies = 0;
  sent = 0;

  constructor(
    readonly id: string,
    readonly kind: "md" | "trade" | "l2",
    readonly remote: string,
    private readonly peer: Peer,
    private readonly limits: SessionLimits,
    now: number,
    messagesPerSecond: number,
  ) {
    this.messages = new TokenBucket(messagesPerSecond, messagesPerSecond * 2, now);
    this.lastMessageAt = now;
  }

  /** Sends a packet that is not an rtn_data (the greetings, DIFF §1.7); it does not answer a peek. */
  sendBare(packet: JsonObject): void {
    this.write(JSON.stringify(packet));
  }

  /** Adds a state patch (not modified or kept by reference). */
  push(patch: JsonObject): void {
    const last = this.state[this.state.length - 1];
    if (last !== undefined && compose(last, patch)) return;
    // A patch that cannot fold into the last (it fills an object the last deletes) starts a
    // new element; a client that lets many such pile up is too far behind to keep.
    if (this.state.length >= this.limits.maxPendingElements) {
      this.close(1008, "too far behind: reconnect for a fresh snapshot");
      return;
    }
    this.state.push(clone(patch) as JsonObject);
  }

  pushNotify(n: Notify): void {
    // The L2 feed has no peek: its notifies go at once.
    if (this.kind === "l2") return this.sendBare({ aid: "notify", level: n.level, code: n.code, content: n.content } as unknown as JsonObject);
    if (this.notifies.length >= this.limits.maxPendingNotifies) {
      this.notifies.shift();
      this.droppedNotifies++;
    }
    const inner = obj();
    inner[`n${++notifyKey}`] = { type: "MESSAGE", level: n.level, code: n.code, content: n.content } as unknown as JsonObject;
    const el = obj();
    el["notify"] = inner;
    this.notifies.push(el);
  }

  get hasPending(): boolean {
    return this.state.length > 0 || this.notifies.length > 0;
  }

  /** A peek_message: answered now if something is pending, else when something is. */
  peek(): void {
    this.peekPending = true;
    this.flush();
  }

  /** Sends the pending patches as one rtn_data if the client has a peek outstanding. */
  flush(): void {
    if (!this.peekPending || !this.hasPending || this.closed) return;
    const data = [...this.state, ...this.notifies];
    this.state.length = 0;
    this.notifies.length = 0;
    this.peekPending = false;
    this.sent++;
    this.write(JSON.stringify({ aid: "rtn_data", data }));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.peer.close(code, reason);
  }

  private write(text: string): void {
    if (this.closed) return;
    if (this.peer.bufferedAmount + text.length > this.limits.maxBufferedBytes) {
      this.close(1008, "client does not read its data");
      return;
    }
    this.peer.send(text);
  }
}
