/**
 * What a plugin is and what it gets. A plugin is a module with a named export
 * `createPlugin(context)` that returns a Plugin; it runs on its own worker thread (the
 * plugin host) and reads the topics it asked for in place. See docs/plugins.md.
 */

import type { Overrun } from "../bus/ring.ts";
import type { EventView } from "../schema/event.ts";
import type { Topic } from "../schema/topics.ts";
import {
  CommandKind,
  writeAmend,
  writeCancel,
  writeMassCancel,
  writeNewOrder,
  writeTransfer,
  type AmendFields,
  type CancelFields,
  type NewOrderFields,
} from "../schema/command.ts";
import type { InboundProducer } from "../bus/inbound.ts";

/** How the node runs a plugin: given to the node, checked there. */
export interface PluginSpec {
  /** Path of the plugin module (absolute, or relative to the working directory). */
  module: string;
  /** A name for reports and logs; default: the module's file name. */
  name?: string;
  /** Anything JSON-like the plugin wants; it gets a structured clone. */
  options?: Record<string, unknown>;
  /** Topics it reads. */
  topics?: Topic[];
  /**
   * gating: it sees every event, and holds the engine back when it lags a whole ring, for
   * at most the node's cut-off time, after which it is cut off and rejoins live (told by
   * onOverrun). lossy: it never holds the engine back; when it falls a ring behind it
   * skips to the live position (told by onOverrun).
   */
  delivery?: "gating" | "lossy";
}

export interface PluginContext {
  readonly name: string;
  readonly options: Readonly<Record<string, unknown>>;
  /** The instruments defined when the plugin started: symbol -> index. */
  readonly instruments: ReadonlyMap<string, number>;
  /** Commands into the engine through the plugin's own inbound ring (published after each batch). */
  readonly submit: Submitter;
  log(message: string): void;
}

export interface Plugin {
  /** One event, in place: `event` is valid only during the call. */
  onEvent?(topic: Topic, event: EventView): void;
  /** Events were missed (lossy delivery, or cut off while gating). */
  onOverrun?(topic: Topic, overrun: Overrun): void;
  /** Called when the host found nothing to read (at most once per park). */
  onIdle?(): void;
  /** Called once when the node stops the plugin. */
  onStop?(): void;
}

export type CreatePlugin = (context: PluginContext) => Plugin;

/** Writes commands into a plugin's inbound ring. */
export class Submitter {
  constructor(private readonly inbound: InboundProducer) {}

  newOrder(f: NewOrderFields): void {
    this.inbound.submit((b, o) => writeNewOrder(b, o, f));
  }

  cancel(f: CancelFields): void {
    this.inbound.submit((b, o) => writeCancel(b, o, f));
  }

  amend(f: AmendFields): void {
    this.inbound.submit((b, o) => writeAmend(b, o, f));
  }

  massCancel(instrument: number, account: string): void {
    this.inbound.submit((b, o) => writeMassCancel(b, o, instrument, account));
  }

  deposit(account: string, currency: number, amount: number): void {
    this.inbound.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, account, currency, amount));
  }

  /** Publishes what was submitted now rather than at the end of the batch. */
  flush(): void {
    this.inbound.flush();
  }
}
