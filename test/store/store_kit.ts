/**
 * What the event store must hold for a journal: every event a replay of the journal's
 * commands emits, per topic, in key order; and what a store does hold, in the same form.
 * For journals of millions of commands (the full crash runs), the same comparison as
 * digests in bounded memory: per topic and instrument, the count and a SHA-256 of the
 * events in store order.
 */

import { createHash, type Hash } from "node:crypto";
import { setImmediate as tick } from "node:timers/promises";
import { Engine } from "../../src/engine/engine.ts";
import type { InboundProducer } from "../../src/bus/inbound.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands, instrumentOfSymbol, writeFlowCommand } from "../../src/sim/order_flow.ts";
import { TOPICS, TOPICS_OF_KIND, type Topic } from "../../src/schema/topics.ts";
import type { EventStore } from "../../src/store/event_store.ts";
import { recoverJournal } from "../../src/wal/recover.ts";

/**
 * Feeds a running node's driver two instruments with money, 20 funded accounts (a1..a20)
 * and `commands` commands of the seeded flow over them, flushing and giving the event loop
 * a turn every 100; stops early once `stop()` is true.
 */
export async function feedFlow(d: InboundProducer, seed: number, commands: number, stop: () => boolean = () => false): Promise<void> {
  for (const def of instrumentCommands(2)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
  for (let a = 1; a <= 20; a++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
  d.flush();
  const flow = generateFlow({ seed, commands, instruments: 2, accounts: 20 });
  for (let i = 0; i < flow.length && !stop(); i++) {
    const c = flow[i]!;
    d.submit((b, o) => writeFlowCommand(b, o, c, instrumentOfSymbol(c.symbol)));
    if (i % 100 === 99) {
      d.flush();
      await tick();
    }
  }
  d.flush();
}

/**
 * Replays the journal's commands in a fresh engine and calls `fn` for each event on each of
 * its topics, in the order the engine emits them: for one topic and instrument that is seq
 * order, and a command's index order within a seq, which is the store's key order.
 */
function forEachJournalEvent(journalDir: string, fn: (topic: Topic, inst: number, seq: number, bytes: Uint8Array) => void): void {
  const e = new Engine();
  recoverJournal(journalDir, (buf, offset, _size, seq) => {
    e.apply(buf, offset);
    const dv = e.out.buf.dv;
    for (let at = 0; at < e.out.length; ) {
      const size = dv.getUint16(at + 2, true);
      const bits = TOPICS_OF_KIND[dv.getUint8(at)]!;
      for (let k = 0; k < TOPICS.length; k++) if ((bits & (1 << k)) !== 0) fn(TOPICS[k]!, dv.getUint32(at + 4, true), seq, e.out.buf.u8.subarray(at, at + size));
      at += size;
    }
    e.out.clear();
  }, { readOnly: true });
}

/** Every event of the journal's commands, per topic, as "instrument/seq/hex" in store order. */
export function expectedEvents(journalDir: string): Record<Topic, string[]> {
  const out: Record<Topic, { inst: number; text: string }[]> = { trades: [], accounts: [], l2: [] };
  forEachJournalEvent(journalDir, (t, inst, seq, bytes) => {
    out[t].push({ inst, text: `${inst}/${seq}/${Buffer.from(bytes).toString("hex")}` });
  });
  const r = {} as Record<Topic, string[]>;
  // A stable sort by instrument: within one, emission order is store order already.
  for (const t of TOPICS) r[t] = out[t].sort((a, b) => a.inst - b.inst).map((x) => x.text);
  return r;
}

export function storedEvents(store: EventStore): Record<Topic, string[]> {
  const r = {} as Record<Topic, string[]>;
  for (const t of TOPICS) {
    r[t] = [];
    store.forEachEvent(t, (inst, seq, _index, bytes) => void r[t].push(`${inst}/${seq}/${Buffer.from(bytes).toString("hex")}`));
  }
  return r;
}


/** Per "topic/instrument": how many events, and a SHA-256 over "seq/hex" of each in store order. */
export type EventDigests = Record<string, string>;

class Digests {
  private readonly hashes = new Map<string, { n: number; h: Hash }>();

  add(topic: Topic, inst: number, seq: number, bytes: Uint8Array): void {
    const key = `${topic}/${inst}`;
    let d = this.hashes.get(key);
    if (d === undefined) this.hashes.set(key, (d = { n: 0, h: createHash("sha256") }));
    d.n++;
    d.h.update(`${seq}/`).update(bytes);
  }

  result(): EventDigests {
    const r: EventDigests = {};
    for (const key of [...this.hashes.keys()].sort()) {
      const d = this.hashes.get(key)!;
      r[key] = `${d.n} events, sha256 ${d.h.digest("hex")}`;
    }
    return r;
  }
}

/** `expectedEvents` as digests (see `forEachJournalEvent` for why emission order is store order). */
export function expectedDigests(journalDir: string): EventDigests {
  const d = new Digests();
  forEachJournalEvent(journalDir, (t, inst, seq, bytes) => d.add(t, inst, seq, bytes));
  return d.result();
}

/** `storedEvents` as digests (see `expectedDigests`). */
export function storedDigests(store: EventStore): EventDigests {
  const d = new Digests();
  for (const t of TOPICS) {
    store.forEachEvent(t, (inst, seq, _index, bytes) => d.add(t, inst, seq, bytes));
  }
  return d.result();
}
