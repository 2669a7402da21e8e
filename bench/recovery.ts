/**
 * How fast does the node come back? A journal of the mixed order flow (accounts on) is
 * written once with the journal writer (groups of 4,096), then read back by recovery in
 * alternating rounds, two ways:
 *
 *   verify   every segment read, every frame checked (length, seq, CRC32) and decoded, no
 *            engine: GB/s of journal (target >= 1 GB/s);
 *   replay   the same, each command applied to a fresh engine: commands/s (target >= 2M/s,
 *            and it cannot beat the engine's own rate, bench/accounts.ts).
 *
 * The files are fresh in the page cache (just written), so this measures the CPU side; a
 * cold read adds the disk's sequential read time.
 *
 *   npx tsx bench/recovery.ts [--quick] [--commands N] [--rounds R] [--seed S]
 *
 * One thread, no spinning thread. Results also go to .bench-out/recovery.json.
 */

import { performance } from "node:perf_hooks";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import os from "node:os";
import { Engine } from "../src/engine/engine.ts";
import { JournalWriter } from "../src/wal/writer.ts";
import { recoverJournal } from "../src/wal/recover.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../src/sim/order_flow.ts";
import { benchArgs } from "./args.ts";

const { quick, commands: COMMANDS, rounds: ROUNDS, seed: SEED } = benchArgs({ commands: 2_000_000, quickCommands: 20_000 });
const DIR = join(".bench-out", "recovery-tmp");

function newEngine(): Engine {
  const e = new Engine();
  defineInstruments(e, instrumentCommands(4), { money: DEMO_MONEY, accounts: 1000, deposit: 1e14 });
  return e;
}

function main(): void {
  const cpus = os.cpus();
  console.log(`recovery benchmark: ${COMMANDS.toLocaleString("en-US")} commands, ${ROUNDS} rounds, seed ${SEED}${quick ? " (quick: proves it runs, not a measurement)" : ""}`);
  console.log(`machine: ${cpus[0]?.model ?? "?"} x ${cpus.length}, Node ${process.version}; one thread, no spinning thread; journal in the page cache`);
  rmSync(DIR, { recursive: true, force: true });
  mkdirSync(DIR, { recursive: true });
  try {
    // The journal holds the flow from seq `firstSeq` on; the set-up commands before it (instruments,
    // deposits) are applied to each engine directly, and recovery is told where the journal starts.
    const setup = newEngine();
    const firstSeq = 1 + 4 + 1000;
    const enc = encodeFlow(generateFlow({ seed: SEED, commands: COMMANDS, instruments: 4, accounts: 1000 }), setup, { firstSeq });
    const w = new JournalWriter({ dir: DIR, nextSeq: firstSeq, segmentBytes: 256 << 20, groupBytes: 1 << 20 });
    for (let i = 0; i < COMMANDS; i++) {
      const at = enc.offsets[i]!;
      w.append(enc.buf, at, enc.buf.dv.getUint16(at + 2, true), firstSeq + i);
      if (i % 4096 === 4095) w.commit();
    }
    w.commit();
    w.close();
    let bytes = 0;
    const verify: number[] = [];
    const replay: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let n = 0;
      let t0 = performance.now();
      const rec = recoverJournal(DIR, () => void n++, { readOnly: true, firstSeq });
      const vms = performance.now() - t0;
      const e = newEngine();
      t0 = performance.now();
      recoverJournal(DIR, (b, o) => {
        e.apply(b, o);
        e.out.clear();
      }, { readOnly: true, firstSeq });
      const rms = performance.now() - t0;
      bytes = rec.bytes;
      if (n !== COMMANDS) throw new Error(`recovery read ${n} commands, ${COMMANDS} were written`);
      verify.push(bytes / (vms / 1000));
      replay.push(COMMANDS / (rms / 1000));
      console.log(`  round ${r + 1}/${ROUNDS}: verify ${(verify[r]! / 1e9).toFixed(2)} GB/s, replay ${(replay[r]! / 1e6).toFixed(2)}M commands/s`);
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    console.log("");
    console.log(`results (median of rounds; journal ${(bytes / 1e6).toFixed(0)} MB, ${(bytes / COMMANDS).toFixed(0)} bytes per command)`);
    console.log(`  verify and decode      ${(med(verify) / 1e9).toFixed(2)} GB/s   target >= 1 GB/s: ${med(verify) >= 1e9 ? "met" : "NOT met"}`);
    console.log(`  replay through engine  ${(med(replay) / 1e6).toFixed(2)}M commands/s   target >= 2M/s: ${med(replay) >= 2e6 ? "met" : "NOT met"}`);
    mkdirSync(".bench-out", { recursive: true });
    writeFileSync(join(".bench-out", "recovery.json"), JSON.stringify({ date: new Date().toISOString(), commands: COMMANDS, rounds: ROUNDS, seed: SEED, quick, bytes, verify, replay }, null, 2));
    console.log("wrote .bench-out/recovery.json");
  } finally {
    rmSync(DIR, { recursive: true, force: true });
  }
}

main();
