/**
 * The engine loop on one thread: commands from two inbound rings are sequenced into the
 * journal ring, applied, and their events published on the topic rings. The events on
 * each topic must be exactly what a fresh engine gives when it replays the journal ring's
 * records (determinism through the bus), and consumers see nothing beyond the durable
 * sequence.
 */

import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.ts";
import { RingConsumer } from "../../src/bus/ring.ts";
import { VenueNode } from "../../src/node/node.ts";
import { writeDefineInstrument, writeTransfer, CommandKind } from "../../src/schema/command.ts";
import { Buf } from "../../src/schema/layout.ts";
import { EventBuffer } from "../../src/schema/event.ts";
import { TOPICS, TOPICS_OF_KIND, TopicBit, type Topic } from "../../src/schema/topics.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands, writeFlowCommand, instrumentOfSymbol } from "../../src/sim/order_flow.ts";
import { seedFromEnv } from "../../src/stdx/prng.ts";
import { NodeStatus } from "../../src/schema/control.ts";

/** A fixed clock: the loop's timestamps are whatever it says. */
const clock = { hi: 0x18000000, lo: 42, read(): void { this.lo = (this.lo + 1000) >>> 0; } };

function hex(buf: Buf, offset: number): string {
  const size = buf.dv.getUint16(offset + 2, true);
  return Buffer.from(buf.u8.subarray(offset, offset + size)).toString("hex");
}

/**
 * Runs 20,000 commands of the mixed flow through a node whose topic rings hold `topicBytes`
 * each (filled with 0xA5 first when `garbage`), reading each topic as it is published;
 * every topic must equal a fresh engine's replay of the journal ring. Returns the laps of
 * each topic ring.
 */
function checkAgainstReplay(topicBytes: number, garbage: boolean): Record<Topic, number> {
  const seed = seedFromEnv();
  console.log(`engine loop (topic rings of ${topicBytes} bytes${garbage ? ", garbage-filled" : ""}): seed ${seed} (replay with VENUE_SEED=${seed})`);
  const node = new VenueNode({ drivers: 2, clock, ringBytes: { journal: 1 << 24, trades: topicBytes, accounts: topicBytes, l2: topicBytes } });
  if (garbage) for (const t of TOPICS) node.topics[t].data.u8.fill(0xa5);
  node.journal.openSlot(0, "gating");
  const journal = new RingConsumer(node.journal, 0);
  const readers = Object.fromEntries(TOPICS.map((t) => {
    const slot = node.allocSlot(t);
    node.topics[t].openSlot(slot, "gating");
    return [t, new RingConsumer(node.topics[t], slot, { durable: node.control.durableGate })];
  })) as Record<Topic, RingConsumer>;
  const got: Record<Topic, string[]> = { trades: [], accounts: [], l2: [] };
  const bytesRead: Record<Topic, number> = { trades: 0, accounts: 0, l2: 0 };
  const readTopics = (): void => {
    for (const t of TOPICS) {
      readers[t].poll((buf, o) => {
        got[t].push(hex(buf, o));
        bytesRead[t] += buf.dv.getUint16(o + 2, true);
      });
    }
  };

  const [d0, d1] = node.drivers as [typeof node.drivers[0], typeof node.drivers[0]];
  for (const def of instrumentCommands(2)) d0.submit((b, o) => writeDefineInstrument(b, o, { ...def, ...DEMO_MONEY }));
  for (let a = 1; a <= 50; a++) d0.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, 1e12));
  d0.flush();
  node.loop.runSlice(1_000);
  const flow = generateFlow({ seed, commands: 20_000, instruments: 2, accounts: 50 });
  flow.forEach((c, i) => {
    const d = i % 2 === 0 ? d0 : d1;
    d.submit((b, o) => writeFlowCommand(b, o, c, instrumentOfSymbol(c.symbol)));
    if (i % 100 === 99) {
      d0.flush();
      d1.flush();
      node.loop.runSlice(1_000);
      readTopics();
    }
  });
  d0.flush();
  d1.flush();
  while (node.loop.drainOnce() > 0);
  readTopics();
  expect(node.loop.commands).toBe(2 + 50 + flow.length);
  expect(node.loop.malformed).toBe(0);

  // Replay the journal ring through a fresh engine; route its events as the loop does.
  const replay = new Engine();
  const want: Record<Topic, string[]> = { trades: [], accounts: [], l2: [] };
  let seq = 1;
  journal.poll((buf, o) => {
    expect(buf.dv.getUint32(o + 8, true)).toBe(seq++); // consecutive sequence numbers
    replay.apply(buf, o);
    const out: EventBuffer = replay.out;
    for (let at = 0; at < out.length; at += out.buf.dv.getUint16(at + 2, true)) {
      const bits = TOPICS_OF_KIND[out.buf.u8[at]!]!;
      for (const t of TOPICS) if (bits & TopicBit[t]) want[t].push(hex(out.buf, at));
    }
    out.clear();
  });
  for (const t of TOPICS) {
    expect(got[t].length, t).toBe(want[t].length);
    expect(got[t], t).toEqual(want[t]);
  }
  expect(want.trades.length).toBeGreaterThan(100);
  return Object.fromEntries(TOPICS.map((t) => [t, bytesRead[t] / topicBytes])) as Record<Topic, number>;
}

describe("engine loop", () => {
  it("sequences, applies and publishes: each topic equals a replay of the journal ring", () => {
    checkAgainstReplay(1 << 24, false);
  });

  it("writes every byte of every event in place: topic rings filled with garbage and wrapped many times still equal the replay", () => {
    const laps = checkAgainstReplay(1 << 18, true);
    expect(laps.accounts).toBeGreaterThan(10);
    expect(laps.l2).toBeGreaterThan(2);
  });

  it("releases topic events only up to the durable sequence", () => {
    const node = new VenueNode({ drivers: 1, clock, durableByLoop: false, ringBytes: { journal: 1 << 16, trades: 1 << 16, accounts: 1 << 16, l2: 1 << 16 } });
    node.topics.l2.openSlot(node.allocSlot("l2"), "gating");
    const l2 = new RingConsumer(node.topics.l2, 0, { durable: node.control.durableGate });
    const d = node.drivers[0]!;
    for (const def of instrumentCommands(3)) d.submit((b, o) => writeDefineInstrument(b, o, def));
    d.flush();
    node.loop.runSlice(100);
    const seen: number[] = [];
    const h = (buf: Buf, o: number): void => void seen.push(buf.dv.getUint32(o + 8, true));
    expect(l2.poll(h)).toBe(0);
    node.control.setDurable(2);
    l2.poll(h);
    expect(seen).toEqual([1, 2]);
    node.control.setDurable(3);
    l2.poll(h);
    expect(seen).toEqual([1, 2, 3]);
  });

  it("drops a malformed inbound frame without sequencing it", () => {
    const node = new VenueNode({ drivers: 1, clock });
    const d = node.drivers[0]!;
    d.submit((b, o) => {
      b.dv.setUint32(o, 3 | (1 << 8) | (16 << 16), true); // size 16: shorter than a header
      return 16;
    });
    d.flush();
    node.loop.runSlice(100);
    expect(node.loop.malformed).toBe(1);
    expect(node.loop.seq).toBe(1);
  });
});

describe("engine loop faults", () => {
  it("fences the node, instead of hanging, when a critical consumer of the journal stops reading", async () => {
    const node = new VenueNode({ drivers: 1, clock, ringBytes: { journal: 1 << 12 }, journalStallMs: 50 });
    node.journal.openSlot(0, "gating", true); // a journal writer that never reads
    const d = node.drivers[0]!;
    const [def] = instrumentCommands(1);
    for (let i = 0; i < 100; i++) d.submit((b, o) => writeDefineInstrument(b, o, def!));
    d.flush();
    await expect(node.start()).rejects.toThrow(/critical consumer in slot 0/);
    expect(node.control.status).toBe(NodeStatus.fenced);
    expect(node.loop.commands).toBeLessThan(100);
  });
});
