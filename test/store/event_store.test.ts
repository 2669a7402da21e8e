/**
 * The event store fed by a running node: every event the engine emitted for the journal's
 * commands is in the store, under its topic, instrument and seq, exactly once and byte for
 * byte; the history API returns an instrument's events of one topic in order, by seq range
 * and by time range. A node that starts on a journal the store has not seen (or has seen
 * only part of) feeds the rest from its replay, so nothing is lost and nothing is doubled.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { submitFlow, until } from "../until.ts";
import { VenueNode } from "../../src/node/node.ts";
import { CommandKind, writeDefineInstrument, writeTransfer } from "../../src/schema/command.ts";
import { TOPICS, type Topic } from "../../src/schema/topics.ts";
import { Buf, HEADER_SIZE, stamp, writeHeader } from "../../src/schema/layout.ts";
import { STORE_TOPIC, eventKey } from "../../src/schema/store.ts";
import { EventKind } from "../../src/schema/event.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands } from "../../src/sim/order_flow.ts";
import { EventStore, storeReplayFrom } from "../../src/store/event_store.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { expectedEvents, storedEvents } from "./store_kit.ts";

const data = mkdtempSync(join(tmpdir(), "venue-store-"));
afterAll(() => rmSync(data, { recursive: true, force: true }));


async function runFlow(node: VenueNode, seed: number, commands: number, first: number, setup: boolean): Promise<number> {
  const d = node.drivers[0]!;
  let n = first - 1;
  if (setup) {
    for (const def of instrumentCommands(3)) d.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
    for (let a = 1; a <= 30; a++) d.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
    n += 3 + 30;
  }
  d.flush();
  const running = node.start();
  const flow = generateFlow({ seed, commands, instruments: 3, accounts: 30 });
  await submitFlow(d, flow);
  n += flow.length;
  await until(() => node.durableSeq === n, `durable seq ${n}`);
  await node.stop();
  await running;
  return n;
}

describe("event store in the node", () => {
  const seed = seedFromEnv();
  it(`holds every event exactly once, across restarts and a store that starts late (seed ${seed})`, async () => {
    console.log(`event store: seed ${seed} (replay with VENUE_SEED=${seed})`);
    // 1. Without the store: the journal alone.
    const a = new VenueNode({ dataDir: data, drivers: 1, eventStore: false, snapshotEvery: 1_500 });
    let last = await runFlow(a, seed, 3_000, 1, true);
    // 2. With the store, small MemTables so it flushes often: the start feeds seqs 1..last from the replay.
    const logs: string[] = [];
    const show = (_l: string): void => {};
    const b = new VenueNode({ dataDir: data, drivers: 1, storeMemtableBytes: 64 << 10, snapshotEvery: 1_500, log: (l) => { logs.push(l); show(l); } });
    expect(logs.join("\n")).toMatch(/event store: \d+ events written from the journal/);
    last = await runFlow(b, seed ^ 7, 3_000, last + 1, false);
    expect(b.storageStats?.appended).toBeGreaterThan(0);
    // 3. Once more: the store is complete, its restart feed passes over what it has.
    const c = new VenueNode({ dataDir: data, drivers: 1, storeMemtableBytes: 64 << 10, snapshotEvery: 1_500, log: show });
    last = await runFlow(c, seed ^ 9, 2_000, last + 1, false);
    const want = expectedEvents(join(data, "journal"));
    const store = EventStore.open(join(data, "events"), { background: false });
    expect(store.tree.flushedSeq).toBe(last);
    const got = storedEvents(store);
    for (const t of TOPICS) {
      expect(got[t].length, t).toBe(want[t].length);
      expect(got[t], t).toEqual(want[t]);
    }
    expect(want.trades.length).toBeGreaterThan(100);
    // The history API: one instrument's trades by seq range, then by time range.
    const inst = 1;
    const trades = want.trades.filter((x) => x.startsWith(`${inst}/`));
    const mid = Number(trades[Math.floor(trades.length / 2)]!.split("/")[1]);
    const seen: number[] = [];
    store.history("trades", inst, mid, Number.MAX_SAFE_INTEGER, (_e, seq) => {
      seen.push(seq);
    });
    expect(seen).toEqual(trades.map((x) => Number(x.split("/")[1])).filter((s) => s >= mid));
    const all: bigint[] = [];
    store.history("trades", inst, 0, Number.MAX_SAFE_INTEGER, (e) => {
      all.push(Buffer.from(e).readBigUInt64LE(16));
    });
    const t0 = all[Math.floor(all.length / 3)]!;
    const t1 = all[Math.floor((2 * all.length) / 3)]!;
    let byTime = 0;
    store.historyByTime("trades", inst, t0, t1, (e) => {
      const ts = Buffer.from(e).readBigUInt64LE(16);
      expect(ts >= t0 && ts < t1).toBe(true);
      byTime++;
    });
    expect(byTime).toBe(all.filter((ts) => ts >= t0 && ts < t1).length);
    // Edges: an empty range, a range that runs past the end, one before the first command.
    expect(store.historyByTime("trades", inst, t1, t0, () => {})).toBe(0);
    expect(store.historyByTime("trades", inst, t0, 1n << 62n, () => {})).toBe(all.filter((ts) => ts >= t0).length);
    expect(store.historyByTime("trades", inst, 0n, 1n, () => {})).toBe(0);
    store.tree.closeSync();
  });
});

describe("the store's replay point", () => {
  it("moves on while a topic is quiet: buy orders that never trade leave the trades topic empty", async () => {
    const dir = join(data, "quiet");
    const node = new VenueNode({ dataDir: dir, drivers: 1, storeMemtableBytes: 16 << 10, snapshotEvery: 0 });
    const d = node.drivers[0]!;
    d.submit((b, o) => writeDefineInstrument(b, o, instrumentCommands(1)[0]!));
    const running = node.start();
    let n = 1;
    for (let k = 0; k < 40; k++) {
      for (let i = 0; i < 100; i++) {
        const seq = ++n;
        d.submit((b, o) => writeNewOrder(b, o, { instrument: 0, account: `a${seq % 7}`, orderId: `o${seq}`, side: Side.buy, price: 100_000 + (seq % 50) * 100, qty: 1 }));
      }
      d.flush();
      await until(() => node.durableSeq === n, `durable seq ${n}`);
    }
    // While the node runs (a clean stop would move every mark anyway), the replay point
    // follows the flushes: a restart now would replay a few hundred commands, not all.
    await until(() => (storeReplayFrom(join(dir, "events")) ?? 0) > n - 1_000, "the replay point to pass the quiet trades topic");
    await node.stop();
    await running;
    const store = EventStore.open(join(dir, "events"), { background: false });
    const got = storedEvents(store);
    store.tree.closeSync();
    expect(got.trades).toEqual([]);
    expect(got).toEqual(expectedEvents(join(dir, "journal")));
  });

  it("a quiet topic's mark reads the loop's 32-bit seq against the seqs the store has seen, across 2^32", async () => {
    const store = EventStore.open(mkdtempSync(join(data, "quiet-unit-")), { background: false });
    const q = store as unknown as { lastSeq: Float64Array };
    q.lastSeq[2] = 2 ** 32 + 5; // the accounts topic has seen seq 2^32 + 5
    store.quietThrough("trades", 9); // low bits of 2^32 + 9
    expect(q.lastSeq[1]).toBe(2 ** 32 + 9);
    store.quietThrough("trades", 3); // behind what the topic holds: no move back
    expect(q.lastSeq[1]).toBe(2 ** 32 + 9);
    await store.close();
  });
});


describe("the time index", () => {
  /** A minimal event record (header only, 32 bytes): what the store reads of it is the header. */
  function record(instrument: number, seq: number, ts: bigint): Buf {
    const b = Buf.alloc(32);
    writeHeader(b.dv, 0, EventKind.updated, 1, 32, instrument);
    stamp(b.dv, 0, seq, ts);
    return b;
  }
  const seqsOf = (store: EventStore, topic: Topic, from: bigint, to: bigint): number[] => {
    const seqs: number[] = [];
    store.historyByTime(topic, 0, from, to, (_e, seq) => void seqs.push(seq));
    return seqs;
  };

  it("finds a command whose events reach the store after a later command's (topics read in turn)", async () => {
    const store = EventStore.open(mkdtempSync(join(data, "time-")), { background: false });
    // The storage worker reads its rings in turn: seqs 6..10 on the trades ring first, then
    // the accounts ring from seq 5. Seqs 5..10 were stamped alike (one clock read), 11 later.
    for (let s = 6; s <= 10; s++) store.append("trades", record(0, s, 1_000n), 0);
    for (let s = 5; s <= 10; s++) store.append("accounts", record(0, s, 1_000n), 0);
    store.append("accounts", record(0, 11, 2_000n), 0);
    store.append("trades", record(0, 11, 2_000n), 0);
    expect(store.seqRangeOfTime(1_000n, 2_000n)).toEqual([5, 10]);
    expect(seqsOf(store, "accounts", 1_000n, 2_000n)).toEqual([5, 6, 7, 8, 9, 10]);
    expect(seqsOf(store, "accounts", 1_001n, 3_000n)).toEqual([11]);
    expect(seqsOf(store, "accounts", 0n, 1_000n)).toEqual([]);
    await store.close();
  });

  const seed = seedFromEnv();
  it(`gives every time's first seq, in any order the topics reach the store, from one entry per time (seed ${seed})`, async () => {
    console.log(`time index: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const prng = new Prng(seed);
    // 3,000 seqs stamped in runs (as the engine loop reads its clock once per run); each has
    // events on some topics, or none (a command that emits nothing has no place in time).
    const ts: bigint[] = [0n];
    const queues: Record<Topic, number[]> = { trades: [], accounts: [], l2: [] };
    let t = 1_000n;
    for (let seq = 1, run = 0; seq <= 3_000; seq++) {
      if (run-- <= 0) {
        t += BigInt(prng.int(1, 3));
        run = prng.int(0, 80);
      }
      ts.push(t);
      for (const topic of TOPICS) if (prng.chance(topic === "accounts" ? 0.9 : 0.4)) queues[topic].push(seq);
    }
    // The storage worker's order: each topic in turn, a batch of its events in seq order.
    const store = EventStore.open(mkdtempSync(join(data, "time-prop-")), { background: false });
    const at = { trades: 0, accounts: 0, l2: 0 };
    while (TOPICS.some((topic) => at[topic] < queues[topic].length)) {
      for (const topic of TOPICS) {
        const q = queues[topic];
        for (let k = prng.int(1, 300); k > 0 && at[topic] < q.length; k--) {
          const seq = q[at[topic]++]!;
          store.append(topic, record(0, seq, ts[seq]!), 0);
        }
      }
    }
    const withEvents = [...new Set(TOPICS.flatMap((topic) => queues[topic]))].sort((a, b) => a - b);
    const times = [...new Set(withEvents.map((seq) => ts[seq]!))];
    for (const from of [0n, ...times, ...times.map((x) => x + 1n), t + 1n]) {
      const first = withEvents.find((seq) => ts[seq]! >= from);
      expect(store.seqRangeOfTime(from, 1n << 62n)?.[0], `first seq at or after ${from}`).toBe(first);
    }
    // An entry per time, and a few more where a topic reached a time after another had.
    let entries = 0;
    const c = store.tree.cursor(Uint8Array.of(0), Uint8Array.of(1));
    for (; c.valid; c.next()) entries++;
    c.close();
    expect(entries).toBeGreaterThanOrEqual(times.length);
    expect(entries).toBeLessThanOrEqual(3 * times.length);
    expect(entries).toBeLessThan(withEvents.length / 4);
    await store.close();
  });
});

describe("entries of several events", () => {
  /** An event record of `size` bytes; its payload names its seq and place (so bytes tell events apart). */
  function ev(instrument: number, seq: number, place: number, size = 48): Buf {
    const b = Buf.alloc(size);
    writeHeader(b.dv, 0, EventKind.updated, 1, size, instrument);
    stamp(b.dv, 0, seq, 1_000n + BigInt(seq));
    for (let at = HEADER_SIZE; at < size; at += 4) b.dv.setUint32(at, seq * 1000 + place, true);
    return b;
  }
  const hex = (u8: Uint8Array): string => Buffer.from(u8).toString("hex");
  const entriesOf = (store: EventStore, topic: Topic): number => {
    const c = store.tree.cursor(Uint8Array.of(STORE_TOPIC[topic]), Uint8Array.of(STORE_TOPIC[topic] + 1));
    let n = 0;
    for (; c.valid; c.next()) n++;
    c.close();
    return n;
  };
  const events = (store: EventStore, topic: Topic): string[] => {
    const out: string[] = [];
    store.forEachEvent(topic, (inst, seq, index, e) => void out.push(`${inst}/${seq}/${index}/${hex(e)}`));
    return out;
  };

  it("gathers a command's events on one topic and instrument into one entry, and reads them back one by one", async () => {
    const store = EventStore.open(mkdtempSync(join(data, "groups-")), { background: false });
    // seq 1: three events of instrument 0, then one of instrument 1, then one of 0 again; seq 2: two of 0.
    const feed: [number, number, number][] = [[0, 1, 0], [0, 1, 1], [0, 1, 2], [1, 1, 3], [0, 1, 4], [0, 2, 0], [0, 2, 1]];
    for (const [inst, seq, place] of feed) store.append("accounts", ev(inst, seq, place), 0);
    store.flushSync();
    expect(entriesOf(store, "accounts")).toBe(4); // [1: 0-2], [1: 3 of instrument 1], [1: 4], [2: 0-1]
    expect(events(store, "accounts")).toEqual([
      ...[[1, 0], [1, 1], [1, 2], [1, 4], [2, 0], [2, 1]].map(([seq, place]) => `0/${seq}/${place}/${hex(ev(0, seq!, place!).u8)}`),
      `1/1/3/${hex(ev(1, 1, 3).u8)}`,
    ]);
    const got: string[] = [];
    expect(store.history("accounts", 0, 1, 2, (e, seq) => void got.push(`${seq}/${hex(e)}`))).toBe(6);
    expect(got).toEqual([[1, 0], [1, 1], [1, 2], [1, 4], [2, 0], [2, 1]].map(([seq, place]) => `${seq}/${hex(ev(0, seq!, place!).u8)}`));
    const stopped: number[] = [];
    expect(store.history("accounts", 0, 1, 2, (_e, seq) => stopped.push(seq) < 2)).toBe(2);
    const merged: string[] = [];
    expect(store.historyMerged("accounts", [1, 0], 1, (e, seq) => void merged.push(`${seq}/${e.length}/${e[HEADER_SIZE]}`))).toBe(7);
    expect(merged.map((m) => Number(m.split("/")[0]))).toEqual([1, 1, 1, 1, 1, 2, 2]);
    store.closeSync();
  });

  it("splits a command's events beyond the entry limit, and keeps an event larger than it whole", async () => {
    const store = EventStore.open(mkdtempSync(join(data, "groups-")), { background: false, memtableBytes: 64 << 10 }); // limit: 16 KiB
    for (let place = 0; place < 100; place++) store.append("trades", ev(0, 1, place, 1_000), 0); // 100,000 bytes
    store.append("trades", ev(0, 2, 0, 20_000), 0);
    store.flushSync();
    expect(entriesOf(store, "trades")).toBe(Math.ceil(100 / 16) + 1);
    const want = [...Array.from({ length: 100 }, (_, place) => `0/1/${place}/${hex(ev(0, 1, place, 1_000).u8)}`), `0/2/0/${hex(ev(0, 2, 0, 20_000).u8)}`];
    expect(events(store, "trades")).toEqual(want);
    store.closeSync();
  });

  it("reads each event once where entries of a seq overlap (a seq written again, gathered otherwise)", async () => {
    const store = EventStore.open(mkdtempSync(join(data, "groups-")), { background: false });
    const put = (seq: number, first: number, last: number): void => {
      const value = Buffer.concat(Array.from({ length: last - first + 1 }, (_, k) => ev(3, seq, first + k).u8));
      store.tree.put(eventKey(new Uint8Array(16), STORE_TOPIC.l2, 3, seq, first), value, seq);
    };
    // seq 5: one event per entry (as first written), then 0-3 in one entry and 2-4 in another;
    // seq 6: 1-2 before 0-2 in time, all three keys live.
    for (let i = 0; i < 5; i++) put(5, i, i);
    put(5, 0, 3);
    put(5, 2, 4);
    put(6, 1, 2);
    put(6, 0, 2);
    const want = [...[0, 1, 2, 3, 4].map((i) => `3/5/${i}/${hex(ev(3, 5, i).u8)}`), ...[0, 1, 2].map((i) => `3/6/${i}/${hex(ev(3, 6, i).u8)}`)];
    expect(events(store, "l2")).toEqual(want);
    store.flushSync();
    expect(events(store, "l2")).toEqual(want);
    const seqs: number[] = [];
    store.history("l2", 3, 0, 100, (_e, seq) => void seqs.push(seq));
    expect(seqs).toEqual([5, 5, 5, 5, 5, 6, 6, 6]);
    const merged: number[] = [];
    store.historyMerged("l2", [3], 6, (_e, seq) => void merged.push(seq));
    expect(merged).toEqual([6, 6, 6]);
    store.closeSync();
  });

  const seed = seedFromEnv();
  it(`loses and doubles nothing across crashes, whatever batches the events arrive in (seed ${seed})`, async () => {
    console.log(`entries of several events: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const prng = new Prng(seed);
    // 1,500 commands, each with 1-12 events on some topics (most on accounts) over instruments 0-2 (a command's events
    // on a topic may switch instrument), some of them large.
    const queues: Record<Topic, Buf[]> = { trades: [], accounts: [], l2: [] };
    const want: Record<Topic, string[]> = { trades: [], accounts: [], l2: [] };
    for (let seq = 1; seq <= 1_500; seq++) {
      for (const topic of TOPICS) {
        let inst = prng.int(0, 2);
        for (let place = 0, n = prng.chance(topic === "accounts" ? 0.9 : 0.4) ? prng.int(1, 12) : 0; place < n; place++) {
          if (prng.chance(0.05)) inst = prng.int(0, 2);
          const e = ev(inst, seq, place, prng.chance(0.02) ? 5_000 : 8 * prng.int(4, 20));
          queues[topic].push(e);
          want[topic].push(`${inst}/${seq}/${place}/${hex(e.u8)}`);
        }
      }
    }
    for (const topic of TOPICS) want[topic].sort((a, b) => Number(a.split("/")[0]) - Number(b.split("/")[0]));
    const seqOf = (e: Buf): number => e.dv.getUint32(8, true);
    const dir = mkdtempSync(join(data, "groups-crash-"));
    // All runs but the last end without a flush or close at a random point (a crash: what was flushed
    // stays); each start feeds the stream from the beginning, in other batches, as a restart
    // replays the journal. The last run ends cleanly.
    const RUNS = 24;
    for (let run = 0; run < RUNS; run++) {
      const store = EventStore.open(dir, { background: false, memtableBytes: 8 << 10 });
      const crashAt = run < RUNS - 1 ? prng.int(0, 6 * 1_500) : Infinity;
      const at = { trades: 0, accounts: 0, l2: 0 };
      let fed = 0;
      while (fed < crashAt && TOPICS.some((topic) => at[topic] < queues[topic].length)) {
        for (const topic of TOPICS) {
          const q = queues[topic];
          for (let k = prng.int(1, 10); k > 0 && at[topic] < q.length && fed < crashAt; k--, fed++) {
            store.append(topic, q[at[topic]++]!, 0);
            // Each sealed MemTable flushed with its own mark, as the background flushes them.
            if (store.tree.sealedMemtables > 0) store.tree.flushSync(true);
          }
          // As the storage worker does when a ring is drained: the topic has every event of the seqs before its next one.
          if (prng.chance(0.7)) store.quietThrough(topic, at[topic] < q.length ? seqOf(q[at[topic]]!) - 1 : 1_500);
        }
      }
      if (run < RUNS - 1) continue; // crashed: nothing more reaches the disk
      store.flushSync();
      for (const topic of TOPICS) expect(events(store, topic), topic).toEqual(want[topic]);
      store.closeSync();
    }
    const reopened = EventStore.open(dir, { background: false });
    for (const topic of TOPICS) expect(events(reopened, topic), topic).toEqual(want[topic]);
    reopened.closeSync();
  });
});
