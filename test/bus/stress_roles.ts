/**
 * The two roles of the ring stress test, each on its own worker thread.
 *
 * Producer: writes `count` records of sizes 24..1024 bytes (so they straddle the wrap
 * point in every way), each with its sequence number (header seq, starting at `firstSeq`),
 * a payload of pseudo-random bytes seeded by that sequence, and the CRC32 of the payload
 * in the header's instrument field. It publishes in batches of 1..64 records.
 *
 * Consumer: checks every record it is given: its CRC (torn record), its sequence against
 * the previous one (lost, duplicated or reordered). A lossy consumer may skip records only
 * across an overrun it was told about. Reports counts and the first errors.
 */

import { workerData, parentPort } from "node:worker_threads";
import { crc32 } from "node:zlib";
import { Ring, RingConsumer, RingProducer, type Overrun } from "../../src/bus/ring.ts";
import type { Buf } from "../../src/schema/layout.ts";
import { Prng } from "../../src/stdx/prng.ts";

interface Job {
  role: "producer" | "consumer";
  sab: SharedArrayBuffer;
  slot: number;
  count: number;
  firstSeq: number;
  seed: number;
  wait: { kind: "spinPark"; spins: number; parkMs: number };
  /** Consumer: sleep this long every `stallEvery` records (a slow consumer). */
  stallEvery?: number;
  stallMs?: number;
  /** Set to 1 by the producer after its last publish. */
  finished: SharedArrayBuffer;
  /** Consumer: give up and report after this long. */
  deadlineMs?: number;
}

const job = workerData as Job;
const ring = new Ring(job.sab, "stress");

function fill(u8: Uint8Array, from: number, to: number, seq: number): void {
  const r = new Prng((seq * 2654435761) ^ Math.floor(seq / 4294967296));
  for (let i = from; i < to; i += 4) {
    const x = r.nextU32();
    u8[i] = x & 0xff;
    u8[i + 1] = (x >>> 8) & 0xff;
    u8[i + 2] = (x >>> 16) & 0xff;
    u8[i + 3] = x >>> 24;
  }
}

if (job.role === "producer") {
  const p = new RingProducer(ring, { wait: job.wait, stallMs: 30_000, cutOffMs: 30_000 });
  const sizes = new Prng(job.seed);
  const u8 = ring.data.u8;
  const dv = ring.data.dv;
  let written = 0;
  while (written < job.count) {
    const batch = Math.min(job.count - written, 1 + (sizes.nextU32() % 64));
    for (let k = 0; k < batch; k++) {
      const seq = job.firstSeq + written;
      const size = 24 + 8 * (sizes.nextU32() % 126);
      const o = p.claim(size);
      dv.setUint32(o, 1 | (1 << 8) | (size << 16), true);
      dv.setUint32(o + 8, seq >>> 0, true);
      dv.setUint32(o + 12, Math.floor(seq / 4294967296), true);
      dv.setUint32(o + 16, size, true);
      dv.setUint32(o + 20, 0, true);
      fill(u8, o + 24, o + size, seq);
      dv.setUint32(o + 4, crc32(u8.subarray(o + 16, o + size)), true);
      written++;
    }
    p.publish();
  }
  Atomics.store(new Int32Array(job.finished), 0, 1);
  parentPort!.postMessage({ role: "producer", written, waits: p.waits });
} else {
  const c = new RingConsumer(ring, job.slot, { wait: job.wait, copyBytes: 1 << 16 });
  const errors: string[] = [];
  const overruns: Overrun[] = [];
  let prev = job.firstSeq - 1;
  let got = 0;
  let overrunPending = false;
  let done = false;
  c.onOverrun = (o) => {
    overruns.push(o);
    overrunPending = true;
  };
  const last = job.firstSeq + job.count - 1;
  const check = (buf: Buf, o: number): void => {
    const dv = buf.dv;
    const size = dv.getUint16(o + 2, true);
    const seq = dv.getUint32(o + 12, true) * 4294967296 + dv.getUint32(o + 8, true);
    if (crc32(buf.u8.subarray(o + 16, o + size)) !== dv.getUint32(o + 4, true) || dv.getUint32(o + 16, true) !== size) {
      if (errors.length < 10) errors.push(`torn record at seq ${seq}`);
    }
    if (seq <= prev) {
      if (errors.length < 10) errors.push(`${seq === prev ? "duplicated" : "reordered"} seq ${seq} after ${prev}`);
    } else if (seq !== prev + 1 && !overrunPending) {
      if (errors.length < 10) errors.push(`lost ${seq - prev - 1} records after seq ${prev} without an overrun`);
    }
    overrunPending = false;
    prev = Math.max(prev, seq);
    got++;
    if (seq === last) done = true;
    if (job.stallEvery !== undefined && got % job.stallEvery === 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, job.stallMs);
  };
  const deadline = Date.now() + (job.deadlineMs ?? 60_000);
  const finished = new Int32Array(job.finished);
  let caughtUp = false;
  while (!done && !caughtUp && Date.now() < deadline) {
    if (c.poll(check, 256) > 0) continue;
    // An overrun skips a lossy consumer to the live position, which may be past the last
    // record: once the producer has finished, a poll that finds nothing means caught up,
    // and the records after the last one it got must have been reported as lost.
    caughtUp = c.isLossy && Atomics.load(finished, 0) === 1 && c.poll(check, 256) === 0;
    if (!caughtUp) c.await();
  }
  if (caughtUp && !done && !overrunPending) errors.push(`caught up at seq ${prev} without the last record or an overrun`);
  if (!done && !caughtUp) errors.push(`timed out at seq ${prev}`);
  parentPort!.postMessage({ role: "consumer", slot: job.slot, lossy: c.isLossy, got, errors, overruns: overruns.length });
}
