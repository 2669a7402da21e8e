/**
 * Damage to the journal, exhaustively and at random (TESTING.md 6 and 7):
 *
 *   torn tail  a journal of whole groups is cut at every byte of its last two records, and
 *              the cut is followed by zeros, random bytes, or bytes of an older record.
 *              Recovery must return exactly the whole records before the cut (never decode
 *              garbage), and the cut must be permanent.
 *   bit flips  1–8 random bits, or a burst of up to 32, flipped in a record of an earlier
 *              group (synced, with later groups after it), or a length field set to a huge
 *              value. Every one must be detected as corruption (CRC32 catches every burst of
 *              32 bits or less); none may be read as a torn tail, skipped, or misread.
 */

import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { recoverJournal } from "../../src/wal/recover.ts";
import { JournalCorruptError } from "../../src/wal/segment.ts";
import { Buf, stamp } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";
import { WAL_FRAME_OVERHEAD, WAL_HEADER_BYTES } from "../../src/schema/wal.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

const root = mkdtempSync(join(tmpdir(), "venue-damage-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function command(buf: Buf, seq: number): number {
  const size = writeNewOrder(buf, 0, { instrument: 0, account: `acct${seq % 5}`, orderId: `id-${seq}`, side: Side.buy, price: 10 + seq, qty: 1 });
  stamp(buf.dv, 0, seq, 0n);
  return size;
}

/** A one-segment journal of `records`, committed in groups of `group`; returns the segment's path and record offsets. */
function build(dir: string, records: number, group: number): { path: string; offsets: number[] } {
  mkdirSync(dir, { recursive: true });
  const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes: 1 << 20 });
  const buf = Buf.alloc(256);
  const offsets: number[] = [];
  let at = WAL_HEADER_BYTES;
  for (let seq = 1; seq <= records; seq++) {
    const size = command(buf, seq);
    offsets.push(at);
    at += size + WAL_FRAME_OVERHEAD;
    w.append(buf, 0, size, seq);
    if (seq % group === 0) w.commit();
  }
  w.commit();
  w.close();
  offsets.push(at); // end
  return { path: join(dir, readdirSync(dir)[0]!), offsets };
}

function recovered(dir: string): number[] {
  const seqs: number[] = [];
  const check = Buf.alloc(256);
  recoverJournal(dir, (buf, offset, size, seq) => {
    const want = command(check, seq);
    if (size !== want || Buffer.compare(buf.u8.subarray(offset, offset + size), check.u8.subarray(0, want)) !== 0) throw new Error(`seq ${seq} misread`);
    seqs.push(seq);
  });
  return seqs;
}

describe("journal damage", () => {
  const seed = seedFromEnv();

  it(`a torn tail cut at every byte of the last two records, then zeros, random bytes or an older record's bytes (seed ${seed})`, () => {
    const r = new Prng(seed);
    const master = join(root, "torn-master");
    const { path, offsets } = build(master, 12, 4);
    const original = readFileSync(path);
    const name = readdirSync(master)[0]!;
    const from = offsets[offsets.length - 3]!; // start of the second-to-last record
    const end = offsets[offsets.length - 1]!;
    let cases = 0;
    for (let cut = from; cut < end; cut++) {
      for (const fill of ["zeros", "random", "older"] as const) {
        const dir = join(root, "torn");
        const bytes = Buffer.from(original);
        bytes.fill(0, cut); // the cut: nothing after it reached the disk
        if (fill === "random") {
          for (let i = cut; i < Math.min(bytes.length, cut + 300); i++) bytes[i] = r.nextU32() & 0xff;
          // Damage must differ from what was there: a random byte equal to the one it
          // replaces (1 in 256; the salt, hence every CRC, changes per run) would leave a
          // record cut in its CRC whole.
          if (bytes[cut] === original[cut]) bytes[cut] = bytes[cut]! ^ 0xff;
        }
        if (fill === "older") original.copy(bytes, cut, offsets[0]!, offsets[2]!); // two whole older records' bytes
        copyDir(master, dir);
        writeFileSync(join(dir, name), bytes);
        // A record is whole when its bytes through its CRC (its last 4 bytes are zero pad,
        // outside the CRC) are as written: the cut lies at or after its CRC, or what replaced
        // them happens to be the same bytes (CRC bytes that were zero, under a zero fill: the
        // salt, hence every CRC, changes per run).
        const intact = (i: number): boolean => bytes.subarray(offsets[i]!, offsets[i + 1]! - 4).equals(original.subarray(offsets[i]!, offsets[i + 1]! - 4));
        let whole = 0;
        while (whole < offsets.length - 1 && intact(whole)) whole++;
        const want = Array.from({ length: whole }, (_, i) => i + 1);
        expect(recovered(dir), `cut at ${cut}, ${fill}`).toEqual(want);
        expect(recovered(dir), `cut at ${cut}, ${fill}, second recovery`).toEqual(want);
        cases++;
      }
    }
    console.log(`torn tail: ${cases} cuts recovered to the exact prefix`);
  });

  it(`bit flips and bursts in synced records are always detected as corruption (seed ${seed})`, () => {
    const r = new Prng(seed ^ 0x5bd1e995);
    const master = join(root, "flips-master");
    const { path, offsets } = build(master, 64, 8);
    const original = readFileSync(path);
    const name = readdirSync(master)[0]!;
    const lastGroupStart = offsets[56]!; // records 57..64 are the last group: damage there cannot be told from a torn write
    const TRIALS = 1_000;
    let detected = 0;
    for (let t = 0; t < TRIALS; t++) {
      const bytes = Buffer.from(original);
      const kind = r.nextU32() % 3;
      const rec = r.nextU32() % 56;
      const start = offsets[rec]!;
      const len = offsets[rec + 1]! - start;
      if (kind === 0) {
        const flips = 1 + (r.nextU32() % 8);
        for (let k = 0; k < flips; k++) {
          const bit = r.nextU32() % ((len - 4) * 8); // any bit of the frame but its zero pad
          bytes[start + (bit >> 3)]! ^= 1 << (bit & 7);
        }
      } else if (kind === 1) {
        const burst = 1 + (r.nextU32() % 32);
        const bit0 = r.nextU32() % ((len - 4) * 8 - burst);
        for (let b = bit0; b < bit0 + burst; b++) if (b === bit0 || b === bit0 + burst - 1 || r.nextU32() % 2 === 0) bytes[start + (b >> 3)]! ^= 1 << (b & 7);
      } else {
        bytes.writeUInt32LE(0x10000 + (r.nextU32() >>> 1), start); // a huge length
      }
      if (Buffer.compare(bytes, original) === 0) continue;
      const dir = join(root, "flip");
      rmSync(dir, { recursive: true, force: true });
      copyDir(master, dir);
      writeFileSync(join(dir, name), bytes);
      try {
        recovered(dir);
        throw new Error(`trial ${t}: damage to record ${rec + 1} was not detected`);
      } catch (err) {
        if (!(err instanceof JournalCorruptError)) throw err;
        expect(err.message).toMatch(/followed by a valid record of a later group/);
        detected++;
      }
    }
    expect(detected).toBeGreaterThan(TRIALS * 0.9);
    console.log(`bit flips: ${detected} / ${detected} injected detected as corruption (records before the last group at offset ${lastGroupStart})`);
  });
});

function copyDir(from: string, to: string): void {
  rmSync(to, { recursive: true, force: true });
  mkdirSync(to, { recursive: true });
  for (const f of readdirSync(from)) copyFileSync(join(from, f), join(to, f));
}
