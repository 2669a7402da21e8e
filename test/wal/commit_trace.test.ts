/**
 * The record of group commits the latency harness reads (src/wal/commit_trace.ts): what
 * the journal worker writes reads back as written, a range overwritten by the ring is
 * refused, and the journal's metrics feed it one entry per group with the group's last seq.
 */

import { describe, expect, it } from "vitest";
import { CommitTraceReader, CommitTraceWriter, createCommitTrace } from "../../src/wal/commit_trace.ts";
import { JournalMetrics } from "../../src/wal/journal_worker.ts";
import { monoOriginNs } from "../../src/stdx/mono_clock.ts";

describe("commit trace", () => {
  it("reads back each commit, times mapped onto the monotonic clock", () => {
    const b = createCommitTrace(4);
    const w = new CommitTraceWriter(b);
    const r = new CommitTraceReader(b);
    w.record(1, 2, 3.5, 10, 640, 110);
    w.record(4, 5, 6, 1, 64, 111);
    expect(r.count).toBe(2);
    const [a, c] = r.read(0, 2);
    const o = monoOriginNs();
    expect(a).toEqual({ groupStartNs: 1e6 + o, syncStartNs: 2e6 + o, syncEndNs: 3.5e6 + o, commands: 10, bytes: 640, lastSeq: 110 });
    expect(c!.lastSeq).toBe(111);
    expect(r.read(1, 2)).toHaveLength(1);
  });

  it("keeps the last `capacity` commits and refuses a range partly overwritten", () => {
    const b = createCommitTrace(3);
    const w = new CommitTraceWriter(b);
    const r = new CommitTraceReader(b);
    for (let k = 0; k < 5; k++) w.record(k, k, k, 1, 64, 100 + k);
    expect(r.read(2, 5).map((e) => e.lastSeq)).toEqual([102, 103, 104]);
    expect(() => r.read(1, 5)).toThrow(/overwritten/);
    expect(() => r.read(0, 6)).toThrow(/range/);
  });

  it("is fed by the journal's metrics: one entry per group, with its last seq", () => {
    let now = 0;
    const b = createCommitTrace(8);
    const m = new JournalMetrics(() => now, new CommitTraceWriter(b));
    // A group of three commands: framed, written (first write at 10 ms), synced 10.5 -> 11.
    for (const seq of [7, 8, 9]) m.appended(seq);
    now = 10;
    m.writing();
    m.wrote(300);
    now = 10.5;
    m.syncing();
    now = 11;
    m.synced();
    // An fdatasync with nothing written since is not a group.
    m.syncing();
    m.synced();
    const [e] = new CommitTraceReader(b).read(0, 1);
    expect(new CommitTraceReader(b).count).toBe(1);
    const o = monoOriginNs();
    expect(e).toEqual({ groupStartNs: 10e6 + o, syncStartNs: 10.5e6 + o, syncEndNs: 11e6 + o, commands: 3, bytes: 300, lastSeq: 9 });
  });
});
