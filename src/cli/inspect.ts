/**
 * `venue inspect wal FILE` prints a journal segment: its header, its records (seq, offset,
 * length, CRC, command kind) and how it ends (cleanly, or with a torn tail). `venue inspect
 * sst FILE` prints an SSTable: its properties and entries (event keys decoded, with the
 * number of events of an entry that holds several), after checking every block. `venue
 * verify DIR` checks every file of a data directory (journal segments, snapshots, the event
 * store's manifest and tables, the market-data checkpoint) the way recovery reads them,
 * without changing anything, and says what recovery would do. All read only. Exit codes:
 * 0 fine, 1 damage.
 */

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CommandKind } from "../schema/command.ts";
import { WAL_FRAME_OVERHEAD, WAL_HEADER_BYTES } from "../schema/wal.ts";
import { JournalCorruptError, readSegmentHeader, scanSegment } from "../wal/segment.ts";
import { recoverJournal } from "../wal/recover.ts";
import { readMarketCheckpoint } from "../market/checkpoint_file.ts";
import { listSnapshots, readSnapshot } from "../wal/snapshot_file.ts";
import { Buf } from "../schema/layout.ts";
import { closeSync, openSync, readSync } from "node:fs";
import { Manifest, ManifestCorruptError } from "../lsm/manifest.ts";
import { openTableSource } from "../lsm/source.ts";
import { TableCorruptError, TableReader } from "../lsm/table_reader.ts";
import { STORE_KEY_BYTES, entryRecordSize, getU64BE } from "../schema/store.ts";
import { tableName } from "../schema/sstable.ts";

const TOPIC_NAME = ["time", "trades", "accounts", "l2"];

/** An event-store key in words: topic, instrument, seq, index (or the time index). */
function describeKey(k: Uint8Array): string {
  const hex = Buffer.from(k).toString("hex");
  if (k.length === STORE_KEY_BYTES && k[0]! >= 1 && k[0]! <= 3) {
    const inst = ((k[1]! << 24) | (k[2]! << 16) | (k[3]! << 8) | k[4]!) >>> 0;
    return `${TOPIC_NAME[k[0]!]} instrument ${inst} seq ${getU64BE(k, 5)} #${(k[13]! << 8) | k[14]!}`;
  }
  if (k.length === 17 && k[0] === 0) return `time ${Buffer.from(k.subarray(1, 9)).readBigUInt64BE()} seq ${getU64BE(k, 9)}`;
  return hex;
}

/**
 * For an event-store entry of several events (src/schema/store.ts): how many, and their
 * indexes. "" for one event, or for a value that is not a run of whole event records.
 */
function describeEvents(k: Uint8Array, v: Uint8Array): string {
  if (k.length !== STORE_KEY_BYTES || k[0]! < 1 || k[0]! > 3) return "";
  let n = 0;
  let at = 0;
  while (at < v.length) {
    const size = entryRecordSize(v, at);
    if (size < 0) return "";
    at += size;
    n++;
  }
  const first = (k[13]! << 8) | k[14]!;
  return n > 1 ? `, ${n} events (#${first}-#${first + n - 1})` : "";
}

const EMPTY = new Uint8Array(0);

/** Reads every entry of a table (so every block's checksum is checked); returns the count. */
function checkTable(t: TableReader, each?: (key: Uint8Array, valueLength: number, value: Uint8Array) => void): number {
  const it = t.iterator();
  let n = 0;
  for (it.seekFirst(); it.valid; it.next()) {
    each?.(it.buf.subarray(it.keyOff, it.keyOff + it.keyLen), it.valLen, it.valLen < 0 ? EMPTY : it.buf.subarray(it.valOff, it.valOff + it.valLen));
    n++;
  }
  if (n !== t.meta.entries) throw new TableCorruptError(t.path, 0, `the properties say ${t.meta.entries} entries, the blocks hold ${n}`);
  return n;
}

/** Says on stderr why `file` cannot be inspected (missing, or a directory), or returns true. */
function isFileToInspect(kind: string, file: string, what: string): boolean {
  if (!existsSync(file)) {
    process.stderr.write(`venue inspect ${kind}: no such file: ${file}\n`);
    return false;
  }
  if (statSync(file).isDirectory()) {
    process.stderr.write(`venue inspect ${kind}: ${file} is a directory; give ${what}\n`);
    return false;
  }
  return true;
}

export function inspectSst(file: string, showEntries: number, out: NodeJS.WritableStream = process.stdout): number {
  const say = (line: string): void => void out.write(line + "\n");
  if (!isFileToInspect("sst", file, "one table (a .sst file)")) return 1;
  let t: TableReader | undefined;
  try {
    t = TableReader.open(file, openTableSource(file));
    const m = t.meta;
    say(`SSTable ${file}: ${m.fileSize} bytes, ${t.blockCount} data blocks, ${m.entries} entries (${m.deletions} deletions), max seq ${m.maxSeq}`);
    say(`keys ${describeKey(m.smallest)} .. ${describeKey(m.largest)}`);
    let shown = 0;
    checkTable(t, (k, vlen, v) => {
      if (shown++ < showEntries) say(`  ${describeKey(k)}  ${vlen < 0 ? "deleted" : `${vlen} bytes${describeEvents(k, v)}`}`);
    });
    if (m.entries > showEntries) say(`  ... ${m.entries - showEntries} more (--records N shows more)`);
    say("every block checks");
    return 0;
  } catch (err) {
    if (!(err instanceof TableCorruptError)) throw err;
    process.stderr.write(`venue inspect sst: ${err.message}\n`);
    return 1;
  } finally {
    t?.close();
  }
}

/** The event store part of `verify`: the manifest, then every live table whole. Returns the damage count. */
function verifyStore(dir: string, say: (line: string) => void, journalEnd: number): number {
  const notes: string[] = [];
  let state;
  try {
    state = Manifest.inspect(dir, (l) => notes.push(l));
  } catch (err) {
    if (!(err instanceof ManifestCorruptError)) throw err;
    say(`event store: DAMAGED: ${err.message}`);
    return 1;
  }
  for (const n of notes) say(n);
  if (state === undefined) {
    say("event store: empty (the journal will fill it at start)");
    return 0;
  }
  let bad = 0;
  let entries = 0;
  for (const f of [...state.files.values()].sort((a, b) => a.level - b.level || a.number - b.number)) {
    const path = join(dir, tableName(f.number));
    let t: TableReader | undefined;
    try {
      if (!existsSync(path)) throw new TableCorruptError(path, 0, "missing, yet the manifest names it");
      t = TableReader.open(path, openTableSource(path));
      if (t.meta.fileSize !== f.size) throw new TableCorruptError(path, 0, `${t.meta.fileSize} bytes, the manifest says ${f.size}`);
      entries += checkTable(t);
    } catch (err) {
      if (!(err instanceof TableCorruptError)) throw err;
      bad++;
      say(`event store: table ${tableName(f.number)} (level ${f.level}): DAMAGED: ${err.message}`);
    } finally {
      t?.close();
    }
  }
  const mark = (state.mark ?? {}) as Record<string, number>;
  const from = Math.max(1, Math.min(mark.trades ?? 0, mark.accounts ?? 0, mark.l2 ?? 0));
  say(`event store: ${state.files.size} tables, ${entries} entries${bad === 0 ? ", every block checks" : ""}; flushed to seq ${state.flushedSeq}; a start replays the journal from seq ${from} into it`);
  if (state.flushedSeq > journalEnd) {
    bad++;
    say(`event store: it holds events up to seq ${state.flushedSeq}, beyond the journal's end (${journalEnd}): the journal lost durable records`);
  }
  return bad;
}

const KIND_NAME = new Map<number, string>(Object.entries(CommandKind).map(([k, v]) => [v, k]));

export function inspectWal(file: string, showRecords: number, out: NodeJS.WritableStream = process.stdout): number {
  const say = (line: string): void => void out.write(line + "\n");
  if (!isFileToInspect("wal", file, "one journal segment")) return 1;
  try {
    const head = Buf.alloc(WAL_HEADER_BYTES);
    const fd = openSync(file, "r");
    readSync(fd, head.u8, 0, WAL_HEADER_BYTES, 0);
    closeSync(fd);
    const h = readSegmentHeader(head, file);
    say(`segment ${h.segment} of a journal with salt 0x${h.salt.toString(16).padStart(8, "0")}; first seq ${h.firstSeq}; previous segment's last CRC 0x${h.prevCrc.toString(16).padStart(8, "0")}`);
    say(`created ${new Date(Number(h.createdNs / 1_000_000n)).toISOString()}; file size ${statSync(file).size} bytes`);
    let shown = 0;
    let at = WAL_HEADER_BYTES;
    const r = scanSegment(file, { firstSeq: h.firstSeq, live: true }, (buf, offset, size, seq) => {
      if (shown++ < showRecords) {
        const crc = buf.dv.getUint32(offset + size, true);
        const kind = buf.u8[offset]!;
        say(`  seq ${seq}  offset ${at}  length ${size}  crc 0x${crc.toString(16).padStart(8, "0")}  ${KIND_NAME.get(kind) ?? `kind ${kind}`}`);
      }
      at += size + WAL_FRAME_OVERHEAD;
    });
    if (r.records > showRecords) say(`  ... ${r.records - showRecords} more (--records N shows more)`);
    say(`${r.records} records, seq ${h.firstSeq}..${r.lastSeq}; records end at offset ${r.end}`);
    if (r.torn) say(`torn tail at offset ${r.torn.offset}: ${r.torn.reason} (recovery cuts it if this is the newest segment; in an older one it is corruption)`);
    else say("ends cleanly");
    return 0;
  } catch (err) {
    if (!(err instanceof JournalCorruptError)) throw err;
    process.stderr.write(`venue inspect wal: ${err.message}\n`);
    return 1;
  }
}

export function verifyDir(dir: string, out: NodeJS.WritableStream = process.stdout): number {
  const say = (line: string): void => void out.write(line + "\n");
  const journal = join(dir, "journal");
  if (!existsSync(journal)) {
    process.stderr.write(`venue verify: ${dir} has no journal/ folder: not a data directory\n`);
    return 1;
  }
  const notes: string[] = [];
  try {
    const r = recoverJournal(journal, () => {}, { readOnly: true, log: (l) => notes.push(l) });
    for (const n of notes) say(n);
    say(`journal: ${r.segments} segment(s), ${r.records} commands, seq ${r.firstSeq}..${r.nextSeq - 1}: ${r.truncated ? "readable, with a torn tail recovery will cut" : "OK"}`);
    let bad = 0;
    let covered = 0; // the highest valid snapshot's seq
    const snapDir = join(dir, "snapshots");
    if (existsSync(snapDir)) {
      for (const name of listSnapshots(snapDir)) {
        const snap = readSnapshot(snapDir, name);
        if (typeof snap === "string") {
          bad++;
          say(`snapshot ${name}: DAMAGED: ${snap} (recovery passes over it)`);
        } else if (snap.seq > r.nextSeq - 1) {
          bad++;
          say(`snapshot ${name}: seq ${snap.seq} is beyond the journal's end (${r.nextSeq - 1}): the journal lost durable records`);
        } else {
          covered = Math.max(covered, snap.seq);
          say(`snapshot ${name}: OK (seq ${snap.seq})`);
        }
      }
    }
    if (r.firstSeq > covered + 1) {
      bad++;
      say(`journal: starts at seq ${r.firstSeq} but no valid snapshot reaches seq ${r.firstSeq - 1}: seqs ${covered + 1}..${r.firstSeq - 1} are gone`);
    }
    const events = join(dir, "events");
    if (existsSync(events)) bad += verifyStore(events, say, r.nextSeq - 1);
    const market = readMarketCheckpoint(join(dir, "market"));
    if (market !== undefined) {
      if ("error" in market) {
        bad++;
        say(`market checkpoint: DAMAGED: ${market.error} (nothing is lost: the next start reads every stored trade instead)`);
      } else if (market.seq > r.nextSeq - 1) {
        bad++;
        say(`market checkpoint: seq ${market.seq} is beyond the journal's end (${r.nextSeq - 1}): the next start will not use it`);
      } else {
        say(`market checkpoint: OK (seq ${market.seq}, ${market.checkpoint.instruments.filter((x) => x !== null).length} instrument(s))`);
      }
    }
    return bad === 0 ? 0 : 1;
  } catch (err) {
    if (!(err instanceof JournalCorruptError)) throw err;
    for (const n of notes) say(n);
    say(`journal: DAMAGED: ${err.message}`);
    return 1;
  }
}
