/**
 * Which event goes on which topic ring. One table, used by the engine loop to publish and
 * by docs/formats/ring.md to document.
 *
 *   trades    trade
 *   accounts  accepted, rejected, updated, trade (each side's commission and close
 *             profit), account, position, riskBreach, transfer, dayEnded, instrument
 *   l2        l2, tradingState, instrument
 *
 * An instrument event is on both: each topic's readers learn of an instrument before any
 * other event of theirs names it.
 */

import { EventKind } from "./event.ts";

export const TOPICS = ["trades", "accounts", "l2"] as const;
export type Topic = (typeof TOPICS)[number];

export const TopicBit = { trades: 1, accounts: 2, l2: 4 } as const;

/** Topic bits by event kind (index = kind). */
export const TOPICS_OF_KIND: Uint8Array = (() => {
  const t = new Uint8Array(256);
  t[EventKind.trade] = TopicBit.trades | TopicBit.accounts;
  for (const k of [EventKind.accepted, EventKind.rejected, EventKind.updated, EventKind.account, EventKind.position, EventKind.riskBreach, EventKind.transfer, EventKind.dayEnded]) t[k] = TopicBit.accounts;
  for (const k of [EventKind.l2, EventKind.tradingState]) t[k] = TopicBit.l2;
  t[EventKind.instrument] = TopicBit.l2 | TopicBit.accounts;
  return t;
})();

/** Default ring sizes, bytes. */
export const TOPIC_RING_BYTES: Record<Topic, number> = { trades: 16 << 20, accounts: 16 << 20, l2: 64 << 20 };
