/**
 * The ring on one thread: framing, padding at the wrap, positions across the i32 and u32
 * wrap, gating backpressure, cut-off, lossy overrun, the durable gate. The same code runs
 * across real worker threads in ring_stress.test.ts.
 */

import { describe, expect, it } from "vitest";
import { Buf } from "../../src/schema/layout.ts";
import { SlotState } from "../../src/schema/ring.ts";
import { Ring, RingConsumer, RingProducer, RingStallError, type Overrun } from "../../src/bus/ring.ts";

const SPIN_PARK = { kind: "spinPark", spins: 10, parkMs: 1 } as const;

/** Writes a test record: kind 1, `size` bytes, seq `seq` (low word at 8), payload bytes = seq & 0xff. */
function put(p: RingProducer, size: number, seq: number): void {
  const o = p.claim(size);
  const dv = p.ring.data.dv;
  dv.setUint32(o, 1 | (1 << 8) | (size << 16), true);
  dv.setUint32(o + 4, 0, true);
  dv.setUint32(o + 8, seq >>> 0, true);
  dv.setUint32(o + 12, Math.floor(seq / 4294967296), true);
  for (let i = 16; i < size; i++) dv.setUint8(o + i, (seq + i) & 0xff);
}

function collector(): { seqs: number[]; handler: (b: Buf, o: number) => void } {
  const seqs: number[] = [];
  return {
    seqs,
    handler: (b, o) => {
      const dv = b.dv;
      const size = dv.getUint16(o + 2, true);
      const seq = dv.getUint32(o + 12, true) * 4294967296 + dv.getUint32(o + 8, true);
      for (let i = 16; i < size; i++) if (dv.getUint8(o + i) !== ((seq + i) & 0xff)) throw new Error(`torn record ${seq} at byte ${i}`);
      seqs.push(seq);
    },
  };
}

describe("ring on one thread", () => {
  for (const start of [0, 2 ** 31 - 4096, 2 ** 32 - 4096]) {
    it(`delivers every record once, in order, across the wrap (positions from ${start})`, () => {
      const ring = Ring.create(4096, 2, "t", start);
      ring.openSlot(0, "gating");
      ring.openSlot(1, "lossy");
      const p = new RingProducer(ring, { wait: SPIN_PARK });
      const g = new RingConsumer(ring, 0);
      const l = new RingConsumer(ring, 1, { copyBytes: 4096 });
      const a = collector();
      const b = collector();
      let seq = 0;
      for (let round = 0; round < 500; round++) {
        const n = 1 + (round % 5);
        for (let k = 0; k < n; k++) put(p, 24 + 8 * ((seq * 7) % 40), seq++);
        p.publish();
        g.poll(a.handler);
        l.poll(b.handler);
      }
      expect(a.seqs).toEqual(Array.from({ length: seq }, (_, i) => i));
      expect(b.seqs).toEqual(a.seqs);
      expect(l.overruns).toBe(0);
      expect(p.waits).toBe(0);
    });
  }

  it("never lets a record straddle the end of the data area (padding records, skipped by consumers)", () => {
    const ring = Ring.create(4096, 1, "t");
    ring.openSlot(0, "gating");
    const p = new RingProducer(ring);
    const c = new RingConsumer(ring, 0);
    const offsets: number[] = [];
    for (let seq = 0; seq < 40; seq++) {
      const o = p.claim(504);
      expect(o + 504).toBeLessThanOrEqual(4096);
      offsets.push(o);
      const dv = ring.data.dv;
      dv.setUint32(o, 1 | (1 << 8) | (504 << 16), true);
      dv.setUint32(o + 8, seq, true);
      dv.setUint32(o + 12, 0, true);
      p.publish();
      expect(c.poll(() => {})).toBe(1);
    }
    expect(offsets).toContain(0);
    expect(c.delivered).toBe(40);
  });

  it("a gating consumer holds the producer back; a critical one that never moves makes claim throw", () => {
    const ring = Ring.create(4096, 1, "journal");
    ring.openSlot(0, "gating", true);
    const p = new RingProducer(ring, { wait: SPIN_PARK, stallMs: 20 });
    let written = 0;
    expect(() => {
      for (;;) {
        put(p, 64, written);
        written++;
        p.publish();
      }
    }).toThrow(RingStallError);
    // Exactly a ring's worth was written before the producer had to wait: nothing overwritten.
    expect(written).toBe(4096 / 64);
    const c = new RingConsumer(ring, 0);
    const got = collector();
    c.poll(got.handler);
    expect(got.seqs).toEqual(Array.from({ length: written }, (_, i) => i));
  });

  it("a non-critical gating consumer that stalls is cut off, then rejoins live and is told what it missed", () => {
    const ring = Ring.create(4096, 1, "plugin");
    ring.openSlot(0, "gating", false);
    const cut: number[] = [];
    const p = new RingProducer(ring, { wait: SPIN_PARK, cutOffMs: 5, onCutOff: (s) => cut.push(s) });
    const c = new RingConsumer(ring, 0);
    const got = collector();
    put(p, 64, 0);
    p.publish();
    c.poll(got.handler);
    for (let seq = 1; seq < 200; seq++) {
      put(p, 64, seq);
      p.publish();
    }
    expect(cut).toEqual([0]);
    expect(ring.slotState(0)).toBe(SlotState.cutOff);
    const overruns: Overrun[] = [];
    c.onOverrun = (o) => overruns.push(o);
    expect(c.poll(got.handler)).toBe(0);
    expect(overruns).toHaveLength(1);
    expect(overruns[0]!.lastSeq).toBe(0);
    expect(ring.slotState(0)).toBe(SlotState.gating);
    put(p, 64, 200);
    p.publish();
    c.poll(got.handler);
    expect(got.seqs).toEqual([0, 200]);
  });

  it("a lossy consumer never holds the producer back and is told where its loss starts", () => {
    const ring = Ring.create(4096, 1, "l2");
    ring.openSlot(0, "lossy");
    const p = new RingProducer(ring);
    const c = new RingConsumer(ring, 0);
    const got = collector();
    const overruns: Overrun[] = [];
    c.onOverrun = (o) => overruns.push(o);
    for (let seq = 0; seq < 10; seq++) put(p, 64, seq);
    p.publish();
    c.poll(got.handler);
    const lostFrom = c.position;
    for (let seq = 10; seq < 1000; seq++) {
      put(p, 64, seq);
      p.publish();
    }
    expect(p.waits).toBe(0);
    expect(c.poll(got.handler)).toBe(0);
    expect(overruns).toEqual([{ fromPosition: lostFrom, toPosition: ring.published(), lastSeq: 9 }]);
    put(p, 64, 1000);
    p.publish();
    c.poll(got.handler);
    expect(got.seqs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1000]);
    expect(ring.overruns(0)).toBe(1);
  });

  it("with a durable gate, releases only records whose seq is durable", () => {
    const ring = Ring.create(4096, 1, "trades");
    ring.openSlot(0, "gating");
    const control = new Int32Array(new SharedArrayBuffer(64));
    const p = new RingProducer(ring);
    const c = new RingConsumer(ring, 0, { durable: { i32: control, index: 0 }, wait: SPIN_PARK });
    const got = collector();
    for (let seq = 1; seq <= 10; seq++) put(p, 32, seq);
    p.publish();
    expect(c.poll(got.handler)).toBe(0);
    Atomics.store(control, 0, 4);
    expect(c.poll(got.handler)).toBe(4);
    c.await(); // returns after at most one park: seq 5 is published but not durable
    Atomics.store(control, 0, 10);
    expect(c.poll(got.handler)).toBe(6);
    expect(got.seqs).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it("a closed slot stops gating at once", () => {
    const ring = Ring.create(4096, 2, "t");
    ring.openSlot(0, "gating", true);
    ring.openSlot(1, "gating", true);
    const p = new RingProducer(ring, { wait: SPIN_PARK, stallMs: 50 });
    const c1 = new RingConsumer(ring, 1);
    ring.closeSlot(0);
    for (let seq = 0; seq < 500; seq++) {
      put(p, 64, seq);
      p.publish();
      c1.poll(() => {});
    }
    expect(c1.delivered).toBe(500);
  });

  it("a slot opened while records are claimed but unpublished still holds the producer back", () => {
    const ring = Ring.create(4096, 1, "t");
    const p = new RingProducer(ring, { wait: SPIN_PARK, stallMs: 20 });
    for (let seq = 0; seq < 54; seq++) put(p, 64, seq);
    p.publish();
    for (let seq = 54; seq < 59; seq++) put(p, 64, seq); // claimed, not yet published
    ring.openSlot(0, "gating", true);
    const c = new RingConsumer(ring, 0);
    let seq = 59;
    expect(() => {
      for (;; seq++) {
        put(p, 64, seq);
        p.publish();
      }
    }).toThrow(RingStallError);
    const got = collector();
    c.poll(got.handler);
    // The consumer starts at what was published when it joined, and nothing of that was overwritten.
    expect(got.seqs[0]).toBe(54);
    expect(got.seqs).toEqual(Array.from({ length: got.seqs.length }, (_, i) => 54 + i));
  });

  it("a busy-spinning producer also gives up on a critical consumer that never moves", () => {
    const ring = Ring.create(4096, 1, "journal");
    ring.openSlot(0, "gating", true);
    const p = new RingProducer(ring, { wait: { kind: "spin" }, stallMs: 20 });
    expect(() => {
      for (let seq = 0; ; seq++) {
        put(p, 64, seq);
        p.publish();
      }
    }).toThrow(RingStallError);
  });

  it("rejects bad sizes and bad layouts with clear errors", () => {
    expect(() => Ring.create(5000, 1)).toThrow(/power of two/);
    expect(() => Ring.create(4096, 0)).toThrow(/slots/);
    const ring = Ring.create(4096, 1);
    const p = new RingProducer(ring);
    expect(() => p.claim(12)).toThrow(/8-aligned/);
    expect(() => p.claim(1024)).toThrow(/eighth of the ring/);
    expect(() => new RingConsumer(ring, 0)).toThrow(/not opened/);
    expect(() => new Ring(new SharedArrayBuffer(1024), "junk")).toThrow(/not a version 1 ring/);
  });
});
