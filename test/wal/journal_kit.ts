/**
 * What the journal tests write and how they check it: `journalCommand(buf, seq)` writes the
 * command for a seq (a pure function of it), and `recoverChecked(dir)` recovers a journal
 * directory, insisting on seqs 1..n, each record exactly `journalCommand`'s, and returns n
 * (`recoverContiguous` the same from a pruned journal's first seq).
 */

import { Buf, stamp } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";
import { recoverJournal, type Recovery } from "../../src/wal/recover.ts";

export function journalCommand(buf: Buf, seq: number): number {
  const size = writeNewOrder(buf, 0, { instrument: 0, account: `acct-${seq % 11}`, orderId: `order-${seq}`, side: seq % 2 === 0 ? Side.buy : Side.sell, price: 100 + (seq % 30), qty: 1 + (seq % 4) });
  stamp(buf.dv, 0, seq, BigInt(seq));
  return size;
}

export function recoverChecked(dir: string): number {
  const r = recoverContiguous(dir);
  if (r.records > 0 && r.firstSeq !== 1) throw new Error(`seq ${r.firstSeq} after 0`);
  return r.last;
}

/**
 * Recovers a journal directory whose first segments may have been pruned, insisting that
 * its records run on without a gap from its first and are each `journalCommand`'s; `last`
 * is the last seq (firstSeq − 1 if none).
 */
export function recoverContiguous(dir: string): Recovery & { last: number } {
  const check = Buf.alloc(256);
  let last = -1;
  const rec = recoverJournal(dir, (buf, offset, size, seq) => {
    if (last >= 0 && seq !== last + 1) throw new Error(`seq ${seq} after ${last}`);
    const want = journalCommand(check, seq);
    if (size !== want || Buffer.compare(buf.u8.subarray(offset, offset + size), check.u8.subarray(0, want)) !== 0) throw new Error(`seq ${seq}: not the record written`);
    last = seq;
  });
  return { ...rec, last: rec.nextSeq - 1 };
}
