/**
 * Metrics, piece by piece: the fixed-bucket histogram, the Prometheus text writer (checked
 * by a strict reader of the format), the node's rendering, and the journal worker's group
 * commit metrics over a file layer that keeps nothing (so every count is known).
 */

import { describe, expect, it } from "vitest";
import { Histogram, exponentialBounds } from "../../src/stdx/histogram.ts";
import { PromText, escapeLabelValue, formatValue, renderNodeMetrics, emptyStorageMetrics, type NodeMetricsInput } from "../../src/node/metrics.ts";
import { JournalMetrics, runJournal, type JournalMetricsSnapshot } from "../../src/wal/journal_worker.ts";
import { JOB_SECONDS_BOUNDS } from "../../src/store/storage_worker.ts";
import type { JournalFile, JournalFs } from "../../src/wal/file.ts";
import { Ring, RingProducer } from "../../src/bus/ring.ts";
import { Control } from "../../src/bus/control.ts";
import { Buf } from "../../src/schema/layout.ts";
import { NodeStatus } from "../../src/schema/control.ts";
import { WAL_FRAME_OVERHEAD } from "../../src/schema/wal.ts";
import { journalCommand } from "../wal/journal_kit.ts";
import { parsePrometheus, valueOf } from "./prom_parse.ts";

describe("histogram", () => {
  it("counts each value in the first bucket whose bound holds it, the rest in the overflow bucket", () => {
    const h = new Histogram([1, 2, 4]);
    for (const v of [0, 1, 1.5, 2, 3, 4, 5, 100]) h.record(v);
    expect(Array.from(h.counts)).toEqual([2, 2, 2, 2]);
    expect(h.count).toBe(8);
    expect(h.sum).toBe(116.5);
    const s = h.snapshot();
    h.record(1);
    expect(Array.from(s.counts)).toEqual([2, 2, 2, 2]); // a copy
  });

  it("refuses bounds that do not rise", () => {
    expect(() => new Histogram([1, 1])).toThrow(/rise/);
    expect(() => new Histogram([])).toThrow();
  });

  it("makes exponential bounds", () => {
    expect(exponentialBounds(1, 2, 17)).toEqual(Array.from({ length: 17 }, (_, i) => 2 ** i));
  });
});

describe("Prometheus text", () => {
  it("writes families with HELP, TYPE, escaped labels and cumulative buckets", () => {
    const h = new Histogram([0.001, 0.01]);
    for (const v of [0.0005, 0.005, 0.005, 1]) h.record(v);
    const text = new PromText()
      .family("venue_test_total", "counter", "A test\\counter\nwith two lines.")
      .sample(3, { name: 'a "quoted"\\path\nx' })
      .sample(4, { name: "b" })
      .histogram("venue_test_seconds", "Latency.", h.snapshot(), { kind: "x" })
      .comment("a comment")
      .text();
    expect(text).toContain('venue_test_total{name="a \\"quoted\\"\\\\path\\nx"} 3');
    expect(text).toContain("# HELP venue_test_total A test\\\\counter\\nwith two lines.");
    expect(text).toContain('venue_test_seconds_bucket{kind="x",le="0.001"} 1');
    expect(text).toContain('venue_test_seconds_bucket{kind="x",le="0.01"} 3');
    expect(text).toContain('venue_test_seconds_bucket{kind="x",le="+Inf"} 4');
    expect(text).toContain('venue_test_seconds_count{kind="x"} 4');
    const families = parsePrometheus(text);
    expect(families.get("venue_test_total")!.samples.map((s) => s.labels["name"])).toEqual(['a "quoted"\\path\nx', "b"]);
    expect(valueOf(families, "venue_test_seconds_sum", { kind: "x" })).toBeCloseTo(1.0105);
  });

  it("refuses a family declared twice, bad names and samples outside a family", () => {
    expect(() => new PromText().family("a", "gauge", "x").family("a", "gauge", "x")).toThrow(/twice/);
    expect(() => new PromText().family("bad-name", "gauge", "x")).toThrow(/not valid/);
    expect(() => new PromText().sample(1)).toThrow();
    expect(() => new PromText().family("a", "gauge", "x").sample(1, { "bad-label": "v" })).toThrow(/not valid/);
  });

  it("spells special values as Prometheus does", () => {
    expect([NaN, Infinity, -Infinity, 0.5, 1e-7, 12].map(formatValue)).toEqual(["NaN", "+Inf", "-Inf", "0.5", "1e-7", "12"]);
    expect(escapeLabelValue('\\"\n')).toBe('\\\\\\"\\n');
  });

  it("the strict reader refuses what breaks the format", () => {
    expect(() => parsePrometheus("venue_x 1\n")).toThrow(/no TYPE/);
    expect(() => parsePrometheus("# TYPE venue_x gauge\nvenue_x one\n")).toThrow(/bad sample value/);
    expect(() => parsePrometheus("# TYPE venue_x gauge\nvenue_x 1\nvenue_x 2\n")).toThrow(/twice/);
    expect(() => parsePrometheus("# TYPE venue_x gauge\n# TYPE venue_y gauge\nvenue_x 1\n")).toThrow(/contiguous/);
    expect(() => parsePrometheus('# TYPE venue_h histogram\nvenue_h_bucket{le="1"} 2\nvenue_h_bucket{le="+Inf"} 1\nvenue_h_sum 1\nvenue_h_count 1\n')).toThrow(/cumulative/);
  });
});

describe("node metrics rendering", () => {
  const input = (): NodeMetricsInput => ({
    status: "running",
    statuses: Object.keys(NodeStatus),
    nextSeq: 11,
    durableSeq: 7,
    slowCommitMs: 0,
    commands: 10,
    events: 30,
    malformed: 0,
    slices: 5,
    rings: [
      { ring: "journal", capacityBytes: 1 << 20, slots: [{ slot: 0, consumer: "journal", mode: "gating", lagBytes: 512, overruns: 0 }] },
      { ring: "trades", capacityBytes: 1 << 20, slots: [{ slot: 0, consumer: "gateway", mode: "gating", lagBytes: 0, overruns: 0 }, { slot: 1, consumer: "plugin 0", mode: "lossy", lagBytes: 1 << 19, overruns: 2 }] },
    ],
    producers: [{ ring: "journal", waits: 1, cutOffs: 0 }],
    journal: new JournalMetrics().report(0),
    storage: emptyStorageMetrics(JOB_SECONDS_BOUNDS),
    snapshots: { written: 1, lastSeq: 5, lastBytes: 1000, lastCaptureSeconds: 0.001, lastWriteSeconds: 0.01 },
  });

  it("renders valid exposition with every family", () => {
    const families = parsePrometheus(renderNodeMetrics(input()));
    for (const f of families.values()) expect(f.help, `${f.name} has HELP`).toBeDefined();
    expect(valueOf(families, "venue_node_status", { status: "running" })).toBe(1);
    expect(valueOf(families, "venue_node_status", { status: "fenced" })).toBe(0);
    expect(valueOf(families, "venue_journal_pending_commands")).toBe(3);
    expect(valueOf(families, "venue_ring_lag_bytes", { ring: "trades", consumer: "plugin 0", mode: "lossy" })).toBe(1 << 19);
    expect(valueOf(families, "venue_ring_lag_ratio", { ring: "trades", consumer: "plugin 0" })).toBe(0.5);
    expect(valueOf(families, "venue_ring_overruns_total", { ring: "trades", slot: "1" })).toBe(2);
    expect(valueOf(families, "venue_journal_commit_seconds_count")).toBe(0);
    expect(valueOf(families, "venue_store_writable")).toBe(1);
    expect(valueOf(families, "venue_snapshot_last_seq")).toBe(5);
  });

  it("leaves out the parts a node does not have", () => {
    const text = renderNodeMetrics({ ...input(), journal: undefined, storage: undefined, snapshots: undefined });
    parsePrometheus(text);
    expect(text).not.toMatch(/venue_journal_groups_total|venue_store_|venue_snapshot/);
  });
});

/** A file layer that keeps nothing: every write succeeds whole. */
function nullFs(): JournalFs & { fdatasyncs: number; written: number } {
  const fs = {
    fdatasyncs: 0,
    written: 0,
    create: (): JournalFile => file,
    open: (): JournalFile => file,
    fsyncDir: (): void => {},
    rename: (): void => {},
    unlink: (): void => {},
  };
  const file: JournalFile = {
    pwrite: (_src, _offset, len) => {
      fs.written += len;
      return len;
    },
    fdatasync: () => {
      fs.fdatasyncs++;
    },
    fsync: () => {},
    ftruncate: () => {},
    close: () => {},
  };
  return fs;
}

describe("journal worker metrics", () => {
  it("count every group commit: groups, commands and bytes agree with what was written", () => {
    const n = 10_000;
    const ring = Ring.create(1 << 23, 1, "journal");
    ring.openSlot(0, "gating", true);
    const control = new Control();
    const producer = new RingProducer(ring);
    const scratch = Buf.alloc(256);
    let frameBytes = 0;
    for (let seq = 1; seq <= n; seq++) {
      const size = journalCommand(scratch, seq);
      const at = producer.claim(size);
      ring.data.u8.set(scratch.u8.subarray(0, size), at);
      frameBytes += size + WAL_FRAME_OVERHEAD;
    }
    producer.publish();
    control.status = NodeStatus.stopped; // the worker drains the ring and exits
    const fs = nullFs();
    const reports: JournalMetricsSnapshot[] = [];
    const stats = runJournal({ dir: "/nowhere", ring: ring.sab, slot: 0, control: control.sab, nextSeq: 1, live: undefined, segmentBytes: undefined, wait: { kind: "spin" } }, fs, (m) => reports.push(m));
    const m = reports[reports.length - 1]!;
    expect(stats.records).toBe(n);
    expect(m.commands).toBe(n);
    expect(m.groups).toBe(stats.groups);
    expect(m.groups).toBeGreaterThanOrEqual(Math.ceil(n / 4096));
    expect(m.bytes).toBe(frameBytes); // the segment header is not a group's
    expect(fs.fdatasyncs).toBe(m.groups);
    const sum = (a: Float64Array): number => a.reduce((s, v) => s + v, 0);
    expect(sum(m.groupCommands.counts)).toBe(m.groups);
    expect(m.groupCommands.sum).toBe(n);
    expect(m.groupBytes.sum).toBe(frameBytes);
    expect(m.commitSeconds.count).toBe(m.groups);
    expect(m.fdatasyncSeconds.count).toBe(m.groups);
    expect(m.commitSeconds.sum).toBeGreaterThanOrEqual(m.fdatasyncSeconds.sum);
  });
});
