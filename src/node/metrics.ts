/**
 * The node's metrics in the Prometheus text exposition format (version 0.0.4): a small
 * writer (`PromText`: one HELP and one TYPE line per family, its samples right after,
 * label values escaped, histograms as cumulative `_bucket{le=...}` lines with `_sum` and
 * `_count`) and `renderNodeMetrics`, which lays out what VenueNode gathers on the main
 * thread: node status and sequences, the engine loop's counters, ring lag per consumer
 * slot, and the latest reports of the journal and storage workers.
 *
 * Called on the main thread, on demand (a scrape), never on a hot path: it allocates
 * freely. docs/operations.md lists every metric; a test parses the output.
 */

import { assert } from "../stdx/assert.ts";
import type { HistogramSnapshot } from "../stdx/histogram.ts";
import type { JournalMetricsSnapshot } from "../wal/journal_worker.ts";
import type { StorageMetricsSnapshot } from "../store/storage_worker.ts";

export type MetricType = "counter" | "gauge" | "histogram";
export type Labels = Readonly<Record<string, string | number>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** A sample value as Prometheus spells it (NaN, +Inf, -Inf, else the shortest decimal). */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function labelText(labels: Labels | undefined, extra?: string): string {
  const parts: string[] = [];
  if (labels !== undefined) {
    for (const [k, v] of Object.entries(labels)) {
      assert(LABEL.test(k) && !k.startsWith("__"), `metric label name ${JSON.stringify(k)} is not valid`);
      parts.push(`${k}="${escapeLabelValue(String(v))}"`);
    }
  }
  if (extra !== undefined) parts.push(extra);
  return parts.length === 0 ? "" : `{${parts.join(",")}}`;
}

/** Builds one exposition: families in the order declared, each declared once. */
export class PromText {
  private readonly lines: string[] = [];
  private readonly declared = new Set<string>();
  private current: { name: string; type: MetricType } | undefined;

  /** Starts a family: its HELP and TYPE lines. Its samples follow with `sample`. */
  family(name: string, type: MetricType, help: string): this {
    assert(NAME.test(name), `metric name ${JSON.stringify(name)} is not valid`);
    assert(!this.declared.has(name), `metric ${name} declared twice`);
    this.declared.add(name);
    this.current = { name, type };
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
    return this;
  }

  /** One sample of the current family (not a histogram). */
  sample(value: number, labels?: Labels): this {
    assert(this.current !== undefined && this.current.type !== "histogram", "a sample belongs to a counter or gauge family");
    this.lines.push(`${this.current.name}${labelText(labels)} ${formatValue(value)}`);
    return this;
  }

  /** A whole histogram family with one series. */
  histogram(name: string, help: string, h: HistogramSnapshot, labels?: Labels): this {
    this.family(name, "histogram", help);
    this.histogramSeries(h, labels);
    return this;
  }

  /** One series of the current histogram family: cumulative buckets, sum, count. */
  histogramSeries(h: HistogramSnapshot, labels?: Labels): this {
    const c = this.current;
    assert(c !== undefined && c.type === "histogram", "histogram series belong to a histogram family");
    assert(h.counts.length === h.bounds.length + 1, "a histogram has one bucket more than bounds");
    let cumulative = 0;
    for (let i = 0; i < h.bounds.length; i++) {
      cumulative += h.counts[i]!;
      this.lines.push(`${c.name}_bucket${labelText(labels, `le="${formatValue(h.bounds[i]!)}"`)} ${formatValue(cumulative)}`);
    }
    cumulative += h.counts[h.bounds.length]!;
    this.lines.push(`${c.name}_bucket${labelText(labels, `le="+Inf"`)} ${formatValue(cumulative)}`);
    this.lines.push(`${c.name}_sum${labelText(labels)} ${formatValue(h.sum)}`);
    this.lines.push(`${c.name}_count${labelText(labels)} ${formatValue(h.count)}`);
    return this;
  }

  /** A comment line (`# ...`), which scrapers ignore. */
  comment(text: string): this {
    this.lines.push(`# ${text.replace(/\n/g, " ")}`);
    return this;
  }

  text(): string {
    return this.lines.length === 0 ? "" : `${this.lines.join("\n")}\n`;
  }
}

/** One open consumer slot of a ring. */
export interface RingSlotMetrics {
  slot: number;
  /** Who reads it: journal, engine, storage, gateway, plugin N. */
  consumer: string;
  mode: "gating" | "lossy" | "cutOff";
  lagBytes: number;
  overruns: number;
}

export interface RingMetrics {
  ring: string;
  capacityBytes: number;
  slots: RingSlotMetrics[];
}

export interface NodeMetricsInput {
  status: string;
  /** Every status name, so that each gets a 0 or 1 sample. */
  statuses: readonly string[];
  nextSeq: number;
  durableSeq: number;
  /** The journal's last group commit in ms while it is slow (degraded), 0 when healthy. */
  slowCommitMs: number;
  commands: number;
  events: number;
  malformed: number;
  slices: number;
  rings: RingMetrics[];
  producers: Array<{ ring: string; waits: number; cutOffs: number }>;
  /** With a journal worker: its latest report (zeros before the first). */
  journal: JournalMetricsSnapshot | undefined;
  /** With an event store: the storage worker's latest report (zeros before the first). */
  storage: StorageMetricsSnapshot | undefined;
  /** With snapshots on. */
  snapshots: { written: number; lastSeq: number; lastBytes: number; lastCaptureSeconds: number; lastWriteSeconds: number } | undefined;
}

export function renderNodeMetrics(m: NodeMetricsInput): string {
  const p = new PromText();
  p.family("venue_node_status", "gauge", "1 for the node's current status (starting, running, stopping, fenced, stopped), 0 for the others.");
  for (const s of m.statuses) p.sample(s === m.status ? 1 : 0, { status: s });
  p.family("venue_journal_degraded", "gauge", "1 while the journal's group commits are slow (the disk is degraded), else 0; /health says how slow.").sample(m.slowCommitMs > 0 ? 1 : 0);
  p.family("venue_node_next_seq", "gauge", "The sequence number the next command gets.").sample(m.nextSeq);
  p.family("venue_journal_durable_seq", "gauge", "The highest sequence number the journal has made durable (consumers are released up to it).").sample(m.durableSeq);
  p.family("venue_journal_pending_commands", "gauge", "Commands sequenced but not yet durable: the journal's lag in commands.").sample(Math.max(0, m.nextSeq - 1 - m.durableSeq));
  p.family("venue_engine_commands_applied_total", "counter", "Commands the engine loop sequenced and applied since start.").sample(m.commands);
  p.family("venue_engine_events_published_total", "counter", "Events the engine emitted onto the topic rings since start.").sample(m.events);
  p.family("venue_engine_malformed_commands_total", "counter", "Inbound records dropped as malformed (never sequenced).").sample(m.malformed);
  p.family("venue_engine_loop_slices_total", "counter", "Slices the engine loop ran between yields to the event loop.").sample(m.slices);

  p.family("venue_ring_capacity_bytes", "gauge", "Size of a ring's data area.");
  for (const r of m.rings) p.sample(r.capacityBytes, { ring: r.ring });
  p.family("venue_ring_lag_bytes", "gauge", "Bytes published on a ring that a consumer slot has not read yet.");
  for (const r of m.rings) for (const s of r.slots) p.sample(s.lagBytes, { ring: r.ring, slot: s.slot, consumer: s.consumer, mode: s.mode });
  p.family("venue_ring_lag_ratio", "gauge", "A consumer slot's lag as a fraction of the ring (a gating consumer at 1 holds the producer back).");
  for (const r of m.rings) for (const s of r.slots) p.sample(s.lagBytes / r.capacityBytes, { ring: r.ring, slot: s.slot, consumer: s.consumer, mode: s.mode });
  p.family("venue_ring_overruns_total", "counter", "Times a consumer slot lost records: a lossy consumer overrun, or a gating one cut off.");
  for (const r of m.rings) for (const s of r.slots) p.sample(s.overruns, { ring: r.ring, slot: s.slot, consumer: s.consumer });
  p.family("venue_ring_producer_waits_total", "counter", "Claims the engine loop made that waited for a gating consumer a whole ring behind (backpressure).");
  for (const w of m.producers) p.sample(w.waits, { ring: w.ring });
  p.family("venue_ring_cut_offs_total", "counter", "Gating consumer slots the engine loop cut off for holding it too long.");
  for (const w of m.producers) p.sample(w.cutOffs, { ring: w.ring });

  if (m.journal !== undefined) {
    const j = m.journal;
    p.family("venue_journal_groups_total", "counter", "Group commits: one write and one fdatasync each.").sample(j.groups);
    p.family("venue_journal_commands_total", "counter", "Commands made durable by group commits.").sample(j.commands);
    p.family("venue_journal_written_bytes_total", "counter", "Bytes written to journal segments by group commits (framing included).").sample(j.bytes);
    p.histogram("venue_journal_commit_seconds", "Group commit latency: from the group's first write to the end of its fdatasync.", j.commitSeconds);
    p.histogram("venue_journal_fdatasync_seconds", "Latency of each journal fdatasync alone.", j.fdatasyncSeconds);
    p.histogram("venue_journal_group_commands", "Commands per group commit.", j.groupCommands);
    p.histogram("venue_journal_group_bytes", "Bytes per group commit (framing included).", j.groupBytes);
    // Counted by the journal worker and sent with its reports (zero until the first).
    const seg = j.segments ?? { made: 0, prepared: 0, leftEarly: 0 };
    p.family("venue_journal_segments_total", "counter", "Journal segments made since start: zero-filled ahead by the segment preparer, or when needed (fallocate).");
    p.sample(seg.prepared, { made: "prepared" });
    p.sample(seg.made - seg.prepared, { made: "when_needed" });
    p.family("venue_journal_segments_left_early_total", "counter", "Segments the journal left before they were full, for a zero-filled one (cut at their last record).").sample(seg.leftEarly);
  }

  if (m.storage !== undefined) {
    const s = m.storage;
    p.family("venue_store_events_total", "counter", "Events the storage worker wrote to the event store since start.").sample(s.appended);
    p.family("venue_store_events_skipped_total", "counter", "Events passed over as already stored (replayed after a restart).").sample(s.skipped);
    p.family("venue_store_flushed_seq", "gauge", "Every event up to this sequence number is in an SSTable.").sample(s.flushedSeq);
    p.family("venue_store_writable", "gauge", "1 while the event store takes writes; 0 while sealed MemTables wait for flushes (the storage worker stops reading its rings).").sample(s.writable ? 1 : 0);
    p.family("venue_store_stalls_total", "counter", "Times the storage worker stopped reading its rings to wait for a flush (the rings then hold the engine loop back once full).").sample(s.stalls);
    p.family("venue_store_stalled_seconds_total", "counter", "Time the storage worker spent waiting for flushes, not reading its rings.").sample(s.stalledSeconds);
    p.family("venue_store_memtable_bytes", "gauge", "Arena bytes the active MemTable holds (it is sealed at its size threshold).").sample(s.memtableBytes);
    p.family("venue_store_memtables_sealed", "gauge", "Sealed MemTables waiting for their flush.").sample(s.sealedMemtables);
    p.family("venue_store_failed", "gauge", "1 once the event store has failed and takes no writes.").sample(s.failed ? 1 : 0);
    p.family("venue_store_flushes_total", "counter", "MemTable flushes to SSTables completed.").sample(s.flushes);
    p.family("venue_store_flushed_bytes_total", "counter", "Bytes of SSTables written by flushes.").sample(s.flushBytes);
    p.family("venue_store_flushes_running", "gauge", "Flush jobs running on the job pool.").sample(s.flushesRunning);
    p.histogram("venue_store_flush_seconds", "Duration of flush jobs.", s.flushSeconds);
    p.family("venue_store_compactions_total", "counter", "Compactions that rewrote tables (merges) completed.").sample(s.compactions);
    p.family("venue_store_compaction_moves_total", "counter", "Tables moved a level down without a rewrite.").sample(s.moves);
    p.family("venue_store_compactions_running", "gauge", "Compaction jobs running on the job pool.").sample(s.compactionsRunning);
    p.family("venue_store_compaction_read_bytes_total", "counter", "Bytes compactions read.").sample(s.compactionBytesRead);
    p.family("venue_store_compaction_written_bytes_total", "counter", "Bytes compactions wrote.").sample(s.compactionBytesWritten);
    p.histogram("venue_store_compaction_seconds", "Duration of compaction jobs.", s.compactionSeconds);
    p.family("venue_store_tables_open", "gauge", "SSTables open for reads (each a mapping or a descriptor; capped, less recently read ones are closed).").sample(s.tablesOpen);
    p.family("venue_store_tables_evicted_total", "counter", "SSTables closed to keep the open ones under the cap (opened again when next read).").sample(s.tablesEvicted);
    p.family("venue_store_level_tables", "gauge", "SSTables per LSM level.");
    s.levels.forEach((l, i) => p.sample(l.tables, { level: i }));
    p.family("venue_store_level_bytes", "gauge", "Bytes of SSTables per LSM level.");
    s.levels.forEach((l, i) => p.sample(l.bytes, { level: i }));
  }

  if (m.snapshots !== undefined) {
    const s = m.snapshots;
    p.family("venue_snapshots_written_total", "counter", "Engine snapshots written since start.").sample(s.written);
    p.family("venue_snapshot_last_seq", "gauge", "The sequence number the newest snapshot written since start holds (0: none yet).").sample(s.lastSeq);
    p.family("venue_snapshot_last_bytes", "gauge", "Size of the newest snapshot file written since start.").sample(s.lastBytes);
    p.family("venue_snapshot_last_capture_seconds", "gauge", "How long the newest snapshot's capture held the engine loop (main thread).").sample(s.lastCaptureSeconds);
    p.family("venue_snapshot_last_write_seconds", "gauge", "How long the snapshot worker took to write and sync the newest snapshot.").sample(s.lastWriteSeconds);
  }
  return p.text();
}

/** A storage report of zeros, for the time before the storage worker's first one. */
export function emptyStorageMetrics(bounds: readonly number[]): StorageMetricsSnapshot {
  const h = (): HistogramSnapshot => ({ bounds: Float64Array.from(bounds), counts: new Float64Array(bounds.length + 1), sum: 0, count: 0 });
  return {
    appended: 0, skipped: 0, flushedSeq: 0, writable: true, stalls: 0, stalledSeconds: 0, memtableBytes: 0, sealedMemtables: 0, failed: false, flushes: 0, flushBytes: 0, flushesRunning: 0,
    compactions: 0, moves: 0, compactionsRunning: 0, compactionBytesRead: 0, compactionBytesWritten: 0, tablesOpen: 0, tablesEvicted: 0, levels: [],
    flushSeconds: h(), compactionSeconds: h(),
  };
}
