/**
 * `venue inspect wal FILE` prints a journal segment: its header, its records (seq, offset,
 * length, CRC, command kind) and how it ends (cleanly, or with a torn tail). `venue verify
 * DIR` checks every file of a data directory (journal segments and snapshots) the way
 * recovery reads them, without changing anything, and says what recovery would do. Both read only. Exit codes: 0 fine, 1 damage.
 */

import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { CommandKind } from "../schema/command.ts";
import { WAL_FRAME_OVERHEAD, WAL_HEADER_BYTES } from "../schema/wal.ts";
import { JournalCorruptError, readSegmentHeader, scanSegment } from "../wal/segment.ts";
import { recoverJournal } from "../wal/recover.ts";
import { listSnapshots, readSnapshot } from "../wal/snapshot_file.ts";
import { Buf } from "../schema/layout.ts";
import { closeSync, openSync, readSync } from "node:fs";

const KIND_NAME = new Map<number, string>(Object.entries(CommandKind).map(([k, v]) => [v, k]));

export function inspectWal(file: string, showRecords: number, out: NodeJS.WritableStream = process.stdout): number {
  const say = (line: string): void => void out.write(line + "\n");
  if (!existsSync(file)) {
    process.stderr.write(`venue inspect wal: no such file: ${file}\n`);
    return 1;
  }
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
    return bad === 0 ? 0 : 1;
  } catch (err) {
    if (!(err instanceof JournalCorruptError)) throw err;
    for (const n of notes) say(n);
    say(`journal: DAMAGED: ${err.message}`);
    return 1;
  }
}
