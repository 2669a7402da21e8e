/**
 * What the event store must hold for a journal: every event a replay of the journal's
 * commands emits, per topic, in key order; and what a store does hold, in the same form.
 */

import { Engine } from "../../src/engine/engine.ts";
import { STORE_TOPIC, getU64BE } from "../../src/schema/store.ts";
import { TOPICS, TOPICS_OF_KIND, type Topic } from "../../src/schema/topics.ts";
import type { EventStore } from "../../src/store/event_store.ts";
import { recoverJournal } from "../../src/wal/recover.ts";

/** Every event of the journal's commands, per topic, as "instrument/seq/hex" in store order. */
export function expectedEvents(journalDir: string): Record<Topic, string[]> {
  const e = new Engine();
  const out: Record<Topic, { inst: number; seq: number; i: number; hex: string }[]> = { trades: [], accounts: [], l2: [] };
  recoverJournal(journalDir, (buf, offset, _size, seq) => {
    e.apply(buf, offset);
    const dv = e.out.buf.dv;
    const index: Record<Topic, number> = { trades: 0, accounts: 0, l2: 0 };
    for (let at = 0; at < e.out.length; ) {
      const size = dv.getUint16(at + 2, true);
      const bits = TOPICS_OF_KIND[dv.getUint8(at)]!;
      TOPICS.forEach((t, k) => {
        if ((bits & (1 << k)) !== 0) out[t].push({ inst: dv.getUint32(at + 4, true), seq, i: index[t]++, hex: Buffer.from(e.out.buf.u8.subarray(at, at + size)).toString("hex") });
      });
      at += size;
    }
    e.out.clear();
  }, { readOnly: true });
  const r = {} as Record<Topic, string[]>;
  for (const t of TOPICS) {
    r[t] = out[t].sort((a, b) => a.inst - b.inst || a.seq - b.seq || a.i - b.i).map((x) => `${x.inst}/${x.seq}/${x.hex}`);
  }
  return r;
}

export function storedEvents(store: EventStore): Record<Topic, string[]> {
  const r = {} as Record<Topic, string[]>;
  for (const t of TOPICS) {
    r[t] = [];
    store.tree.scanPrefix(Uint8Array.of(STORE_TOPIC[t]), (k, v) => {
      const inst = (k[1]! << 24 | k[2]! << 16 | k[3]! << 8 | k[4]!) >>> 0;
      r[t].push(`${inst}/${getU64BE(k, 5)}/${Buffer.from(v).toString("hex")}`);
    });
  }
  return r;
}

