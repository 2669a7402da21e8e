/**
 * The journal on disk: what the writer writes, recovery reads back in order; segments
 * rotate with their links; a torn tail is cut off and logged; damage anywhere else is
 * corruption that names the file and the offset. CRCs are checked against the `crc-32`
 * package, an implementation independent of zlib's.
 */

import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync, closeSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import CRC32 from "crc-32";
import { JournalWriter } from "../../src/wal/writer.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { JournalCorruptError } from "../../src/wal/segment.ts";
import { FaultFs } from "./fault_fs.ts";
import { Buf } from "../../src/schema/layout.ts";
import { WAL_HEADER_BYTES, WAL_FRAME_OVERHEAD } from "../../src/schema/wal.ts";
import { stamp } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "venue-journal-"));
  dirs.push(d);
  return d;
}

/** Command `seq`: a new order whose id and price come from the seq (so a reader can check it). */
function command(buf: Buf, seq: number): number {
  const size = writeNewOrder(buf, 0, { instrument: 0, account: `a${seq % 7}`, orderId: `o${seq}`, side: Side.buy, price: 100 + (seq % 50), qty: 1 + (seq % 9) });
  stamp(buf.dv, 0, seq, BigInt(seq) * 1000n);
  return size;
}

function write(dir: string, from: number, to: number, opts: { segmentBytes?: number; groupEvery?: number } = {}): JournalWriter {
  const rec = recoverJournal(dir, () => {});
  const w = new JournalWriter({ dir, nextSeq: rec.nextSeq, ...(rec.live ? { live: rec.live } : {}), segmentBytes: opts.segmentBytes ?? 1 << 20, groupBytes: 1 << 14 });
  const buf = Buf.alloc(256);
  for (let seq = from; seq <= to; seq++) {
    w.append(buf, 0, command(buf, seq), seq);
    if (seq % (opts.groupEvery ?? 10) === 0) w.commit();
  }
  w.commit();
  w.close();
  return w;
}

function readAll(dir: string, log: string[] = []): number[] {
  const seqs: number[] = [];
  const check = Buf.alloc(256);
  recoverJournal(dir, (buf, offset, size, seq) => {
    const want = command(check, seq);
    expect(size).toBe(want);
    expect(Buffer.compare(buf.u8.subarray(offset, offset + size), check.u8.subarray(0, want))).toBe(0);
    seqs.push(seq);
  }, { log: (l) => log.push(l) });
  return seqs;
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe("journal", () => {
  it("reads back every record in order, across segment rotations and restarts", () => {
    const dir = tmp();
    write(dir, 1, 3000, { segmentBytes: 64 << 10 });
    write(dir, 3001, 5000, { segmentBytes: 64 << 10 }); // appends to the live segment after a restart
    const segments = readdirSync(join(dir)).filter((n) => n.endsWith(".wal"));
    expect(segments.length).toBeGreaterThan(5);
    expect(readAll(dir)).toEqual(range(1, 5000));
  });

  it("frames carry a CRC32 that an independent implementation agrees with", () => {
    const dir = tmp();
    write(dir, 1, 3);
    const [name] = readdirSync(dir);
    const bytes = readFileSync(join(dir, name!));
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const salt = dv.getUint32(16, true);
    let at = WAL_HEADER_BYTES;
    for (let i = 0; i < 3; i++) {
      const len = dv.getUint32(at, true);
      const stored = dv.getUint32(at + 16 + len, true);
      expect(CRC32.buf(bytes.subarray(at, at + 16 + len), salt) >>> 0).toBe(stored);
      at += len + WAL_FRAME_OVERHEAD;
    }
  });

  it("cuts a torn tail off the live segment, logs it, and appends after the last whole record", () => {
    const dir = tmp();
    write(dir, 1, 100);
    const [name] = readdirSync(dir);
    const path = join(dir, name!);
    const end = endOfRecords(path);
    // A group that half reached the disk: the last record's second half is garbage.
    const fd = openSync(path, "r+");
    writeSync(fd, Buffer.alloc(40, 0xab), 0, 40, end - 40);
    closeSync(fd);
    const log: string[] = [];
    expect(readAll(dir, log)).toEqual(range(1, 99));
    expect(log.join("\n")).toMatch(/cut a torn tail off .* \(checksum mismatch/);
    expect(readAll(dir)).toEqual(range(1, 99)); // cut for good: the second recovery finds nothing torn
    write(dir, 100, 120);
    expect(readAll(dir)).toEqual(range(1, 120));
  });

  it("treats damage in a sealed segment as corruption, naming the file and offset", () => {
    const dir = tmp();
    write(dir, 1, 2000, { segmentBytes: 64 << 10 });
    const first = readdirSync(dir).sort()[0]!;
    const fd = openSync(join(dir, first), "r+");
    writeSync(fd, Buffer.from([0xff]), 0, 1, WAL_HEADER_BYTES + 200);
    closeSync(fd);
    expect(() => readAll(dir)).toThrow(JournalCorruptError);
    expect(() => readAll(dir)).toThrow(new RegExp(`${first}, offset \\d+: .*sealed segment`));
  });

  it("treats damage followed by a valid record as corruption, even in the live segment", () => {
    const dir = tmp();
    write(dir, 1, 100);
    const [name] = readdirSync(dir);
    const fd = openSync(join(dir, name!), "r+");
    writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, WAL_HEADER_BYTES + 300);
    closeSync(fd);
    expect(() => readAll(dir)).toThrow(/followed by a valid record of a later group \(seq \d+\) at offset/);
  });

  for (const [what, op, code, message] of [
    ["write", 0, "EIO", /journal write failed on .*journal-0000000000000001\.wal: the device reported an I\/O error.*stops taking commands/],
    ["fdatasync", 1, "EIO", /journal fdatasync failed on .*: the device reported an I\/O error/],
    ["write", 0, "ENOSPC", /journal write failed on .*: the disk is full/],
  ] as const) {
    it(`a failed ${what} (${code}) is fatal: the error says why and names the file, the writer refuses to go on`, () => {
      const dir = tmp();
      const fs = new FaultFs();
      const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 1 << 20, fs });
      const buf = Buf.alloc(256);
      w.append(buf, 0, command(buf, 1), 1);
      w.commit();
      fs.failAt = fs.ops + op; // the next group's write (op 0) or its fdatasync (op 1)
      fs.failCode = code;
      w.append(buf, 0, command(buf, 2), 2);
      expect(() => w.commit()).toThrow(message);
      expect(() => w.append(buf, 0, command(buf, 3), 3)).toThrow(/must not be used again/);
      expect(w.durableSeq).toBe(1);
    });
  }

  it("a missing segment in the middle is corruption", () => {
    const dir = tmp();
    write(dir, 1, 3000, { segmentBytes: 64 << 10 });
    const names = readdirSync(dir).sort();
    rmSync(join(dir, names[2]!));
    expect(() => readAll(dir)).toThrow(JournalCorruptError);
  });
});

/** Offset just past the last record of a segment. */
function endOfRecords(path: string): number {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let at = WAL_HEADER_BYTES;
  while (at + 8 <= statSync(path).size && dv.getUint32(at, true) !== 0) at += dv.getUint32(at, true) + WAL_FRAME_OVERHEAD;
  return at;
}
