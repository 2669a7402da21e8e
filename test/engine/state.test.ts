/**
 * Snapshots of the engine's state: capture at command k, restore into a fresh engine, and
 * replay the rest: the events must be byte for byte those of a run that never stopped
 * (TESTING D/18), at several random k, with accounts on. Capturing must not disturb the
 * running engine, and a state from an engine whose fields differ is refused.
 */

import { describe, expect, it } from "vitest";
import { Replayer } from "../../src/replay/replayer.ts";
import { CaptureBuffers, captureState, restoreState, StateShapeError, stateBufferSizes } from "../../src/engine/state.ts";
import { DEFAULT_ENGINE_CONFIG, Engine } from "../../src/engine/engine.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { randomCommands } from "./random_commands.ts";

/** The engine's events for each line, as raw bytes (hex): what the engine emitted, nothing rendered. */
function run(r: Replayer, lines: string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    r.engine.out.clear();
    r.feed(l, () => {});
    out.push(Buffer.from(r.engine.out.buf.u8.subarray(0, r.engine.out.length)).toString("hex"));
  }
  return out;
}

describe("engine state snapshots", () => {
  const seed = seedFromEnv();
  it(`capture at k, restore, replay the rest: the same events as an uninterrupted run (seed ${seed})`, () => {
    console.log(`state: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const lines = randomCommands(seed, 20_000).split("\n");
    const rng = new Prng(seed);
    for (let trial = 0; trial < 4; trial++) {
      const k = rng.int(1, lines.length - 1);
      const whole = new Replayer();
      const before = run(whole, lines.slice(0, k));
      const state = captureState(whole.engine);
      const counters = { ...(whole as unknown as { seq: number; ts: bigint }) };
      const after = run(whole, lines.slice(k)); // capture did not disturb the running engine
      const fresh = new Replayer();
      restoreState(fresh.engine, state);
      // The replayer's own counters (seq and time of the next line) travel with the journal in the node; set them here.
      Object.assign(fresh as unknown as { seq: number; ts: bigint }, { seq: counters.seq, ts: counters.ts });
      const resumed = run(fresh, lines.slice(k));
      expect(resumed.length, `k = ${k}`).toBe(after.length);
      const firstDiff = resumed.findIndex((x, i) => x !== after[i]);
      expect(firstDiff, `k = ${k}: first difference ${resumed[firstDiff]} / ${after[firstDiff]}`).toBe(-1);
      expect(before.length).toBeGreaterThan(0);
      fresh.engine.checkInvariants();
    }
  });

  it(`a state restored into an engine of another id seed keeps its own: the rest replays the same, and the events match an engine of the default seed (seed ${seed})`, () => {
    const lines = randomCommands(seed ^ 0x1d5eed, 8_000).split("\n");
    const k = 4_000;
    const plain = new Replayer(); // the default seed
    const expected = run(plain, lines);
    const seeded = new Replayer({ ...DEFAULT_ENGINE_CONFIG, idSeed: 0x2468ace1 });
    expect(seeded.engine.idSeed).toBe(0x2468ace1);
    // Where the ids sit differs with the seed; what the engine says does not.
    expect(run(seeded, lines.slice(0, k))).toEqual(expected.slice(0, k));
    const state = captureState(seeded.engine);
    const counters = { ...(seeded as unknown as { seq: number; ts: bigint }) };
    const other = new Replayer({ ...DEFAULT_ENGINE_CONFIG, idSeed: 0x13579bdf });
    restoreState(other.engine, state);
    Object.assign(other as unknown as { seq: number; ts: bigint }, { seq: counters.seq, ts: counters.ts });
    // The tables came with the seed they were made with: lookups of the ids they hold (cancels, amends, duplicates) still find them.
    expect(other.engine.idSeed).toBe(0x2468ace1);
    expect(run(other, lines.slice(k))).toEqual(expected.slice(k));
    other.engine.checkInvariants();
  });

  it(`a capture into the buffers of an earlier one is the same state, in those buffers (seed ${seed})`, () => {
    const lines = randomCommands(seed ^ 0x5a5a, 6_000).split("\n");
    const r = new Replayer();
    run(r, lines.slice(0, 3_000));
    const spare = new CaptureBuffers();
    const first = captureState(r.engine, spare);
    expect(spare.reusedBytes).toBe(0);
    run(r, lines.slice(3_000));
    // The worker gives the first capture's buffers back; they hold its bytes, which must all be overwritten.
    // Every blob is over a SharedArrayBuffer: the node hands them to its snapshot worker and back without detaching anything.
    expect(first.blobs.every((b) => b.buffer instanceof SharedArrayBuffer)).toBe(true);
    const given = first.blobs.map((b) => b.buffer as SharedArrayBuffer);
    spare.give(given);
    const second = captureState(r.engine, spare);
    const plain = captureState(r.engine);
    expect(JSON.stringify(second.shape)).toBe(JSON.stringify(plain.shape));
    expect(second.blobs.map((b) => Buffer.from(b).toString("hex"))).toEqual(plain.blobs.map((b) => Buffer.from(b).toString("hex")));
    // Buffers of the same size as before were reused (the id tables and records had not grown), each once.
    const reused = second.blobs.filter((b) => given.includes(b.buffer as SharedArrayBuffer));
    expect(reused.length).toBeGreaterThan(0);
    expect(second.blobs.every((b) => b.buffer instanceof SharedArrayBuffer)).toBe(true);
    expect(new Set(reused.map((b) => b.buffer)).size).toBe(reused.length);
    expect(spare.reusedBytes).toBe(reused.reduce((n, b) => n + b.byteLength, 0));
    // Restored, it runs on exactly as the engine it came from.
    const fresh = new Replayer();
    restoreState(fresh.engine, second);
    expect(captureState(fresh.engine).blobs.map((b) => Buffer.from(b).toString("hex"))).toEqual(plain.blobs.map((b) => Buffer.from(b).toString("hex")));
  });

  it(`the sizes asked for ahead of a capture are the sizes it copies, and buffers added ahead are the ones it copies into (seed ${seed})`, () => {
    const lines = randomCommands(seed ^ 0x3c3c, 4_000).split("\n");
    const r = new Replayer();
    run(r, lines.slice(0, 2_000));
    const spare = new CaptureBuffers();
    const sizes = stateBufferSizes(r.engine);
    expect(sizes).toEqual(captureState(r.engine).blobs.map((b) => b.byteLength));
    // Nothing held: every size is missing. The worker's buffers for them (here made on this thread).
    expect(spare.missing(sizes)).toEqual(sizes);
    const ready = sizes.map((n) => new SharedArrayBuffer(n));
    spare.add(ready);
    expect(spare.missing(sizes)).toEqual([]);
    // A size held once but needed twice is missing once.
    expect(spare.missing([...sizes, sizes[0]!])).toEqual([sizes[0]]);
    const state = captureState(r.engine, spare);
    expect(spare.reusedBytes).toBe(sizes.reduce((a, b) => a + b, 0));
    expect(new Set(state.blobs.map((b) => b.buffer))).toEqual(new Set(ready));
    expect(state.blobs.map((b) => Buffer.from(b).toString("hex"))).toEqual(captureState(r.engine).blobs.map((b) => Buffer.from(b).toString("hex")));
  });

  it("refuses a state whose fields differ from the engine's", () => {
    const e = new Engine();
    const state = captureState(e);
    const shape = state.shape as { o: Record<string, unknown> };
    const { nextOrderNo: _, ...rest } = shape.o;
    expect(() => restoreState(new Engine(), { ...state, shape: { o: rest, c: "Engine" } as never })).toThrow(StateShapeError);
    expect(() => restoreState(new Engine(), { ...state, shape: { o: { ...shape.o, extra: 1 }, c: "Engine" } as never })).toThrow(/field this engine does not/);
  });
});
