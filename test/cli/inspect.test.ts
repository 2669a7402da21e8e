/**
 * `venue inspect wal` and `venue verify` as a user runs them, on a journal the writer made,
 * intact and then with a torn tail and with damage in a sealed segment.
 */

import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { JournalWriter } from "../../src/wal/writer.ts";
import { Buf, stamp } from "../../src/schema/layout.ts";
import { Side } from "../../src/schema/codes.ts";
import { writeNewOrder } from "../../src/schema/command.ts";
import { MarketData } from "../../src/market/market.ts";
import { writeMarketCheckpoint } from "../../src/market/checkpoint_file.ts";

const BIN = join(import.meta.dirname, "..", "..", "bin", "venue.js");
const venue = (...args: string[]): { status: number | null; stdout: string; stderr: string } => {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};

function journal(records: number, segmentBytes: number): string {
  const data = mkdtempSync(join(tmpdir(), "venue-inspect-"));
  const dir = join(data, "journal");
  mkdirSync(dir, { recursive: true });
  const w = new JournalWriter({ dir, nextSeq: 1, segmentBytes });
  const buf = Buf.alloc(256);
  for (let seq = 1; seq <= records; seq++) {
    const size = writeNewOrder(buf, 0, { instrument: 0, account: "a1", orderId: `o${seq}`, side: Side.buy, price: 100, qty: 1 });
    stamp(buf.dv, 0, seq, 0n);
    w.append(buf, 0, size, seq);
  }
  w.commit();
  w.close();
  return data;
}

describe("venue inspect wal / verify", () => {
  it("prints a segment's header, records and end, and verifies a sound directory", () => {
    const data = journal(30, 1 << 20);
    const [seg] = readdirSync(join(data, "journal"));
    const r = venue("inspect", "wal", join(data, "journal", seg!), "--records", "3");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/segment 0 of a journal with salt 0x[0-9a-f]{8}; first seq 1/);
    expect(r.stdout).toMatch(/ {2}seq 1 {2}offset 64 {2}length \d+ {2}crc 0x[0-9a-f]{8} {2}newOrder/);
    expect(r.stdout).toMatch(/\.\.\. 27 more/);
    expect(r.stdout).toMatch(/30 records, seq 1\.\.30; records end at offset \d+\nends cleanly/);
    const v = venue("verify", data);
    expect(v.status).toBe(0);
    expect(v.stdout).toMatch(/journal: 1 segment\(s\), 30 commands, seq 1\.\.30: OK/);
  });

  it("checks the market-data checkpoint: sound, past the journal's end, damaged", async () => {
    const data = journal(30, 1 << 20);
    const market = join(data, "market");
    await writeMarketCheckpoint(market, 20, new MarketData(() => undefined).checkpoint());
    const ok = venue("verify", data);
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/market checkpoint: OK \(seq 20, 0 instrument\(s\)\)/);
    await writeMarketCheckpoint(market, 31, new MarketData(() => undefined).checkpoint());
    const ahead = venue("verify", data);
    expect(ahead.status).toBe(1);
    expect(ahead.stdout).toMatch(/market checkpoint: seq 31 is beyond the journal's end \(30\)/);
    const file = join(market, "market.checkpoint");
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from("x"), 0, 1, statSync(file).size - 3);
    closeSync(fd);
    const bad = venue("verify", data);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/market checkpoint: DAMAGED: .*market\.checkpoint: the body's CRC32 does not match \(nothing is lost/);
  });

  it("reports a torn tail (what recovery will do) and damage in a sealed segment (exit 1), changing nothing", () => {
    const data = journal(3000, 64 << 10);
    const names = readdirSync(join(data, "journal")).sort();
    const live = join(data, "journal", names[names.length - 1]!);
    const insp = venue("inspect", "wal", live, "--records", "0");
    const end = Number(/records end at offset (\d+)/.exec(insp.stdout)![1]);
    let fd = openSync(live, "r+");
    writeSync(fd, Buffer.alloc(16, 0xee), 0, 16, end - 16);
    closeSync(fd);
    const torn = venue("verify", data);
    expect(torn.status).toBe(0);
    expect(torn.stdout).toMatch(/has a torn tail at offset \d+ \(checksum mismatch.*recovery will cut it/);
    expect(venue("verify", data).stdout).toBe(torn.stdout); // verify changed nothing
    fd = openSync(join(data, "journal", names[0]!), "r+");
    writeSync(fd, Buffer.from([0x01]), 0, 1, 500);
    closeSync(fd);
    const bad = venue("verify", data);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`DAMAGED: journal .*${names[0]}, offset \\d+: .*sealed segment.*restore`));
    expect(venue("verify", join(data, "nope")).stderr).toMatch(/not a data directory/);
  });
});

describe("venue inspect sst / verify with an event store", () => {
  it("prints a table's entries, verifies the store, and names a damaged table", async () => {
    const { LsmTree } = await import("../../src/lsm/tree.ts");
    const { eventKey } = await import("../../src/schema/store.ts");
    const { readFileSync, writeFileSync } = await import("node:fs");
    const data = journal(30, 1 << 20);
    const events = join(data, "events");
    mkdirSync(events);
    const t = LsmTree.open(events, { background: false, memtableBytes: 4096 });
    for (let seq = 1; seq <= 30; seq++) for (let i = 0; i < 4; i++) t.put(eventKey(new Uint8Array(16), 1, i, seq, 0), new Uint8Array(100).fill(seq), seq);
    t.flushSync();
    t.closeSync();
    const tables = readdirSync(events).filter((n) => n.endsWith(".sst")).sort();
    expect(tables.length).toBeGreaterThan(1);
    const shown = venue("inspect", "sst", join(events, tables[0]!), "--records", "3");
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/entries \(0 deletions\)/);
    expect(shown.stdout).toMatch(/trades instrument 0 seq 1 #0 {2}100 bytes/);
    expect(shown.stdout).toMatch(/more \(--records N shows more\)/);
    expect(shown.stdout).toMatch(/every block checks/);
    const ok = venue("verify", data);
    expect(ok.status, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`event store: ${tables.length} tables, 120 entries, every block checks; flushed to seq 30`));
    const bytes = readFileSync(join(events, tables[1]!));
    bytes[40] = bytes[40]! ^ 1;
    writeFileSync(join(events, tables[1]!), bytes);
    const bad = venue("verify", data);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(new RegExp(`table ${tables[1]!.replace(".", "\\.")} \\(level 0\\): DAMAGED: .*checksum mismatch`));
    const badInspect = venue("inspect", "sst", join(events, tables[1]!));
    expect(badInspect.status).toBe(1);
    expect(badInspect.stderr).toMatch(/is damaged at offset 0: data block 0 checksum mismatch/);
  });

  it("says how many events an entry of several holds", async () => {
    const { EventStore } = await import("../../src/store/event_store.ts");
    const { writeHeader } = await import("../../src/schema/layout.ts");
    const { EventKind } = await import("../../src/schema/event.ts");
    const dir = mkdtempSync(join(tmpdir(), "venue-inspect-groups-"));
    const store = EventStore.open(dir, { background: false });
    const b = Buf.alloc(40);
    for (const [seq, n] of [[7, 3], [8, 1]] as const) {
      for (let i = 0; i < n; i++) {
        writeHeader(b.dv, 0, EventKind.updated, 1, 40, 5);
        stamp(b.dv, 0, seq, 1_000n);
        store.append("accounts", b, 0);
      }
    }
    store.flushSync();
    store.closeSync();
    // Every table of the store (the events' and the time index's), inspected.
    const shown = readdirSync(dir).filter((n) => n.endsWith(".sst")).map((n) => venue("inspect", "sst", join(dir, n)).stdout).join("");
    expect(shown).toMatch(/accounts instrument 5 seq 7 #0 {2}120 bytes, 3 events \(#0-#2\)\n/);
    expect(shown).toMatch(/accounts instrument 5 seq 8 #0 {2}40 bytes\n/);
  });
});

describe("paths that are not what a command reads", () => {
  it("get one line naming the path and exit 1 (2 for start's data setting), never a stack trace", () => {
    const dir = mkdtempSync(join(tmpdir(), "venue-paths-"));
    const data = join(dir, "data");
    mkdirSync(data);
    closeSync(openSync(join(data, "journal"), "w")); // a file where the journal directory goes
    const cases: [string[], number, RegExp][] = [
      [["inspect", "wal", dir], 1, /^venue inspect wal: .* is a directory; give one journal segment\n$/],
      [["inspect", "sst", dir], 1, /^venue inspect sst: .* is a directory; give one table/],
      [["inspect", "sst", "/dev/null"], 1, /^venue: cannot open \/dev\/null: not a regular file/],
      [["replay", dir], 1, /^venue replay: cannot read .* \(EISDIR\)\n$/],
      [["verify", data], 1, /^venue: ENOTDIR: not a directory, scandir '.*journal'\n$/],
      [["start", "--data", join(data, "journal", "x"), "--port", "0"], 2, /^venue start: data .* cannot be used as a directory: ENOTDIR/],
    ];
    for (const [args, status, message] of cases) {
      const r = venue(...args);
      expect(r.stderr, args.join(" ")).toMatch(message);
      expect(r.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
      expect(r.status, args.join(" ")).toBe(status);
    }
  });
});
