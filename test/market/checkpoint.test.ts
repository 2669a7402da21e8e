/**
 * The market-data checkpoint: a model restored from a checkpoint (through the file's bytes)
 * and fed the events after it is the model that read everything; the writer writes a part
 * for exactly the instruments whose checkpoint changed, and a crash between its parts and
 * its manifest leaves the checkpoint before it whole.
 *
 * Does: a seeded flow of orders at random time steps (crossing days, so statistics roll
 * and day-aligned bars move on), bar series opened on demand before the checkpoint, and caps small enough that
 * bars and ticks wrap; at a random point the model's checkpoint is encoded, decoded,
 * restored into a fresh model seeded with the instrument and the book, and both models then
 * read the rest of the events. Must: every series' ids and bars, every tick, the day's
 * statistics and the quote are the same in both; a damaged file is refused with its reason.
 */

import { describe, expect, it } from "vitest";
import { MarketData } from "../../src/market/market.ts";
import { crc32 } from "node:zlib";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MarketCheckpointWriter, readMarketCheckpoint, writeMarketCheckpointBytes } from "../../src/market/checkpoint_file.ts";
import { decodeMarketCheckpoint, encodeMarketCheckpoint, encodeMarketPart, MARKET_CHECKPOINT_NAME } from "../../src/schema/market_checkpoint.ts";
import { EventView } from "../../src/schema/event.ts";
import { Buf } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";
import { SECOND, T0, Venue, catalogLookup } from "./market_kit.ts";

const CU = "SHFE.cu2601";
const M = "DCE.m2605";
const SR = "CZCE.SR605";
/** A price on each instrument's tick, k steps above a middle one. */
const PRICE: Record<string, (k: number) => number> = { [CU]: (k) => 74_000 + 10 * k, [M]: (k) => 2_900 + k, [SR]: (k) => 5_500 + k };
const OPTIONS = { barsPerSeries: 40, ticksPerInstrument: 60 };

function feed(m: MarketData, events: readonly Uint8Array[], from: number, to: number): void {
  const scratch = Buf.alloc(1 << 12);
  const view = new EventView(scratch);
  for (let k = from; k < to; k++) {
    scratch.u8.set(events[k]!);
    m.onEvent(view.wrap(scratch, 0));
  }
}

describe("market checkpoint", () => {
  it("a model restored from a checkpoint and fed the rest equals the model that read everything", () => {
    const seed = seedFromEnv();
    console.log(`market checkpoint: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const rnd = new Prng(seed);
    const v = new Venue(OPTIONS, catalogLookup, T0, true);
    const cu = v.defineCatalog(CU);
    const commands = 1_500;
    const split = 200 + rnd.int(0, 1_000 - 1);
    let cut = -1;
    let restored: MarketData | undefined;
    let checkpointSeq = -1;
    for (let c = 0; c < commands; c++) {
      if (c === split) {
        // The checkpoint, through the file's bytes, into a fresh model seeded as a start seeds it.
        checkpointSeq = v.seq - 1;
        const bytes = encodeMarketCheckpoint(checkpointSeq, v.market.checkpoint());
        const decoded = decodeMarketCheckpoint(bytes);
        if ("error" in decoded) throw new Error(decoded.error);
        expect(decoded.seq).toBe(checkpointSeq);
        restored = new MarketData(catalogLookup, OPTIONS);
        restored.seedInstrument(cu, v.market.spec(CU)!);
        expect(restored.restore(decoded.checkpoint)).toEqual([CU]);
        restored.seedBook(cu, Side.buy, v.market.depth(CU, Side.buy)!);
        restored.seedBook(cu, Side.sell, v.market.depth(CU, Side.sell)!);
        cut = v.events.length;
      }
      const r = rnd.int(0, 100 - 1);
      // Series opened on demand before the checkpoint (it carries them); after it, a restored
      // model would open them at another point of history and keep other bars.
      if (r < 3 && restored === undefined) v.market.openSeries(CU, [2, 7, 120, 300][rnd.int(0, 4 - 1)]! * 1e9);
      v.advance(BigInt(rnd.int(0, 4 - 1) === 0 ? rnd.int(0, 3_600 - 1) : rnd.int(0, 20 - 1)) * SECOND);
      const price = 74_000 + 10 * rnd.int(0, 200 - 1);
      const account = `a${1 + rnd.int(0, 4 - 1)}`;
      v.order(cu, account, rnd.int(0, 2 - 1) === 0 ? "buy" : "sell", price, 1 + rnd.int(0, 3 - 1), rnd.int(0, 3 - 1) === 0 ? "ioc" : "gtc");
    }
    expect(restored).toBeDefined();
    const b = restored!;
    feed(b, v.events, cut, v.events.length);

    const a = v.market;
    expect(b.tradingDay).toBe(a.tradingDay);
    expect(b.stats(CU)).toEqual(a.stats(CU));
    for (const d of [1, 2, 7, 60, 120, 300, 900, 1800, 3600, 86_400].map((x) => x * 1e9)) {
      const ia = a.seriesInfo(CU, d);
      if (ia === undefined) continue;
      const ib = b.seriesInfo(CU, d)!;
      expect({ ...ib, version: 0 }, `series ${d / 1e9}s`).toEqual({ ...ia, version: 0 });
      expect(b.bars(CU, d, ia.first_id, ia.last_id), `bars of ${d / 1e9}s`).toEqual(a.bars(CU, d, ia.first_id, ia.last_id));
    }
    const ta = a.tickInfo(CU)!;
    expect({ ...b.tickInfo(CU)!, version: 0 }).toEqual({ ...ta, version: 0 });
    expect(b.ticks(CU, ta.first_id, ta.last_id)).toEqual(a.ticks(CU, ta.first_id, ta.last_id));
    expect(b.quote(CU)).toEqual(a.quote(CU));
    console.log(`market checkpoint: split at command ${split} (seq ${checkpointSeq}), ${v.trades.length} trades, ${ta.last_id + 1} ticks`);
  });

  it("a damaged or foreign file is refused with its reason", () => {
    const m = new MarketData(catalogLookup, OPTIONS);
    const good = encodeMarketCheckpoint(7, m.checkpoint());
    expect("error" in decodeMarketCheckpoint(good)).toBe(false);
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] = flipped[flipped.length - 3]! ^ 1;
    expect(decodeMarketCheckpoint(flipped)).toEqual({ error: "the body's CRC32 does not match" });
    expect(decodeMarketCheckpoint(good.subarray(0, good.length - 2))).toMatchObject({ error: expect.stringMatching(/^the file is \d+ bytes/) });
    expect(decodeMarketCheckpoint(Buffer.from('{"format":"other","version":1}\n{}\n'))).toMatchObject({ error: expect.stringMatching(/^not a market checkpoint/) });
    expect(decodeMarketCheckpoint(Buffer.from("garbage"))).toEqual({ error: "no header line" });
    // An array reference past the doubles (a CRC that matches, as a buggy writer would make it).
    const json = Buffer.from('{"day":"","instruments":[{"stats":{"f64":[0,9]}}]}');
    const body = Buffer.concat([json, Buffer.alloc(((json.length + 7) & ~7) - json.length + 64)]); // eight doubles, nine asked for
    const header = { format: "venue-market-checkpoint", version: 2, seq: 1, bytes: body.length, json: json.length, crc32: crc32(body) };
    expect(decodeMarketCheckpoint(Buffer.concat([Buffer.from(JSON.stringify(header) + "\n"), body, Buffer.from("\n")]))).toMatchObject({ error: expect.stringMatching(/outside its doubles/) });
  });

  it("writes the encoded bytes off the thread as the synchronous write does: read back whole, over a leftover temporary file", async () => {
    const m = new MarketData(catalogLookup, OPTIONS);
    const dir = mkdtempSync(join(tmpdir(), "venue-market-cp-"));
    try {
      writeFileSync(join(dir, "market.checkpoint.tmp"), "left by a crash");
      const bytes = encodeMarketCheckpoint(11, m.checkpoint());
      await writeMarketCheckpointBytes(dir, bytes);
      expect(readFileSync(join(dir, "market.checkpoint"))).toEqual(bytes);
      expect(existsSync(join(dir, "market.checkpoint.tmp"))).toBe(false);
      expect(readMarketCheckpoint(dir)).toEqual(decodeMarketCheckpoint(bytes));
      expect(readMarketCheckpoint(dir)).toMatchObject({ seq: 11 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("reads version 1 files (arrays as base64 in the JSON) as it reads what it writes", () => {
    const m = new MarketData(catalogLookup, OPTIONS);
    const cp = m.checkpoint();
    const v1Body = Buffer.from(JSON.stringify(cp, (_k, v: unknown) => (v instanceof Float64Array ? { f64: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString("base64") } : v)));
    const v1 = Buffer.concat([Buffer.from(JSON.stringify({ format: "venue-market-checkpoint", version: 1, seq: 7, bytes: v1Body.length, crc32: crc32(v1Body) }) + "\n"), v1Body, Buffer.from("\n")]);
    const a = decodeMarketCheckpoint(v1);
    const b = decodeMarketCheckpoint(encodeMarketCheckpoint(7, cp));
    expect("error" in a).toBe(false);
    expect(a).toEqual(b);
    // encodeMarketCheckpoint writes version 2 (one file, the binary layout, with the length of its JSON part); the node writes version 3.
    const written = encodeMarketCheckpoint(7, cp);
    expect(JSON.parse(written.subarray(0, written.indexOf(10)).toString())).toMatchObject({ version: 2, json: expect.any(Number) });
  });

  it("writes a part for exactly the instruments that changed; a start from the last of several checkpoints equals the model that read everything", async () => {
    const seed = seedFromEnv();
    console.log(`market checkpoint parts: seed ${seed} (replay with VENUE_SEED=${seed})`);
    const rnd = new Prng(seed);
    const v = new Venue(OPTIONS, catalogLookup, T0, true);
    const symbols = [CU, M, SR];
    const index = symbols.map((s) => v.defineCatalog(s));
    const dir = mkdtempSync(join(tmpdir(), "venue-market-parts-"));
    try {
      const w = new MarketCheckpointWriter(dir);
      /** Each instrument's part as the last checkpoint wrote it (seq 0, so that only the state counts). */
      const last = new Map<number, Buffer>();
      let reused = 0;
      let cut = 0;
      let seq = 0;
      for (let c = 0; c <= 1_500; c++) {
        if (c > 0 && c % 300 === 0) {
          seq = v.seq - 1;
          const p = w.prepare(seq, v.market);
          // What changed: the instruments whose checkpoint differs from the one written last.
          const changed = index.filter((i) => {
            const now = encodeMarketPart(0, v.market.instrumentCheckpoint(i)!);
            const was = last.get(i);
            last.set(i, now);
            return was === undefined || !now.equals(was);
          });
          expect(p.files.map((f) => f.index).sort(), `checkpoint at command ${c}`).toEqual(changed.sort());
          reused += index.length - p.files.length;
          await w.write(p);
          // The directory holds the manifest and the parts it names, nothing else.
          expect(readdirSync(dir).sort()).toEqual([MARKET_CHECKPOINT_NAME, ...p.parts.map((e) => e!.file)].sort());
          cut = v.events.length;
        }
        if (c === 1_500) break;
        // SR goes quiet after command 450, M after 700 (no orders, so no trades and no book changes); no day ends in this flow.
        const live = symbols.filter((s) => (s === SR ? c < 450 : s === M ? c < 700 : true));
        const s = live[rnd.int(0, live.length - 1)]!;
        v.advance(BigInt(rnd.int(0, 20 - 1)) * SECOND);
        v.order(index[symbols.indexOf(s)]!, `a${1 + rnd.int(0, 4 - 1)}`, rnd.int(0, 2 - 1) === 0 ? "buy" : "sell", PRICE[s]!(rnd.int(0, 40 - 1)), 1 + rnd.int(0, 3 - 1), rnd.int(0, 3 - 1) === 0 ? "ioc" : "gtc");
      }
      // SR's part is named again at 900, 1200 and 1500, M's at 1200 and 1500.
      expect(reused).toBeGreaterThanOrEqual(5);
      // A start: the last checkpoint from its files, restored into a fresh model seeded as a start seeds it, then the rest.
      const r = readMarketCheckpoint(dir);
      if (r === undefined || "error" in r) throw new Error(`checkpoint not read: ${JSON.stringify(r)}`);
      expect(r.seq).toBe(seq);
      const b = new MarketData(catalogLookup, OPTIONS);
      for (const [k, s] of symbols.entries()) b.seedInstrument(index[k]!, v.market.spec(s)!);
      expect(b.restore(r.checkpoint)).toEqual(symbols);
      const a = v.market;
      feed(b, v.events, cut, v.events.length);
      for (const s of symbols) {
        expect(b.stats(s), s).toEqual(a.stats(s));
        for (const d of [1, 60, 300, 900, 1800, 3600, 86_400].map((x) => x * 1e9)) {
          const ia = a.seriesInfo(s, d);
          if (ia === undefined) continue;
          expect(b.seriesInfo(s, d), `${s} series ${d / 1e9}s`).toEqual(ia);
          expect(b.bars(s, d, ia.first_id, ia.last_id), `${s} bars of ${d / 1e9}s`).toEqual(a.bars(s, d, ia.first_id, ia.last_id));
        }
        const ta = a.tickInfo(s)!;
        expect(b.tickInfo(s), s).toEqual(ta);
        expect(b.ticks(s, ta.first_id, ta.last_id), s).toEqual(a.ticks(s, ta.first_id, ta.last_id));
      }
      console.log(`market checkpoint parts: 5 checkpoints, ${reused} parts named again instead of written`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a crash between the parts and the manifest leaves the checkpoint before it; a damaged or missing part is named", async () => {
    const v = new Venue(OPTIONS, catalogLookup, T0, true);
    const cu = v.defineCatalog(CU);
    const m = v.defineCatalog(M);
    const dir = mkdtempSync(join(tmpdir(), "venue-market-parts-"));
    try {
      const trade = (i: number, s: string): void => {
        v.order(i, "a1", "sell", PRICE[s]!(0), 1);
        v.order(i, "a2", "buy", PRICE[s]!(0), 1);
      };
      trade(cu, CU);
      trade(m, M);
      const w = new MarketCheckpointWriter(dir);
      await w.write(w.prepare(v.seq - 1, v.market));
      const first = readMarketCheckpoint(dir);
      const firstFiles = readdirSync(dir).sort();
      // The next checkpoint's parts reach the disk, its manifest does not (the process dies there).
      trade(cu, CU);
      const p = w.prepare(v.seq - 1, v.market);
      expect(p.files.map((f) => f.entry.symbol)).toEqual([CU]);
      for (const f of p.files) writeFileSync(join(dir, f.entry.file), f.bytes);
      expect(readMarketCheckpoint(dir)).toEqual(first);
      // A restart's writer takes a generation above every part there, and its first write removes the orphan.
      const w2 = new MarketCheckpointWriter(dir);
      const p2 = w2.prepare(v.seq - 1, v.market);
      expect(p2.files.map((f) => f.entry.file).some((n) => firstFiles.includes(n) || p.files.some((f) => f.entry.file === n))).toBe(false);
      await w2.write(p2);
      expect(readdirSync(dir).sort()).toEqual([MARKET_CHECKPOINT_NAME, ...p2.parts.map((e) => e!.file)].sort());
      expect(readMarketCheckpoint(dir)).toMatchObject({ seq: v.seq - 1 });
      // One part damaged, then gone: the checkpoint is refused, naming the file.
      const part = join(dir, p2.parts[m]!.file);
      const bytes = readFileSync(part);
      bytes[bytes.length - 3]! ^= 1;
      writeFileSync(part, bytes);
      expect(readMarketCheckpoint(dir)).toEqual({ error: `${part}: not the part the manifest names (size or CRC32 differs)` });
      unlinkSync(part);
      expect(readMarketCheckpoint(dir)).toEqual({ error: `${part}: missing (the manifest names it)` });
      // One checkpoint at a time: the next is prepared after the last is written.
      w2.prepare(v.seq - 1, v.market);
      expect(() => w2.prepare(v.seq - 1, v.market)).toThrow(/not yet written/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
