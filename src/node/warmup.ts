/**
 * The engine's code warmed up before a node takes its first command.
 *
 * V8 optimizes a function for the types and paths it has seen run. A node that starts
 * cold runs its engine in the interpreter and in baseline code at first, and code optimized
 * on its first few commands deoptimizes when a later one takes a path or brings a type it
 * had not seen. Its first commands pay for both: measured in docs/BENCHMARKS.md ("Warm-up"),
 * the first 100,000 commands of a fresh engine loop cost ~1.6x what they cost after a
 * warm-up.
 *
 * So `warmUp` runs a seeded synthetic flow (src/sim/order_flow.ts: new orders that rest and
 * that trade, cancels, amends, with money instruments and funded accounts), marks, transfers
 * and a settlement through a scratch engine driven by a scratch engine loop: the classes the
 * node runs, the same ring, sink and journal-ring code, on rings of their own that no
 * consumer reads. Nothing of it reaches the node: the node's engine, journal, topics and
 * sequence numbers are not touched, and the engine is deterministic, so what it does with a
 * command does not depend on what code V8 runs it in. The scratch state is garbage after.
 */

import { performance } from "node:perf_hooks";
import { Control } from "../bus/control.ts";
import { InboundProducer } from "../bus/inbound.ts";
import { Ring } from "../bus/ring.ts";
import { Engine } from "../engine/engine.ts";
import { CommandKind, MAX_COMMAND_SIZE, writeMark, writeSettle, writeTransfer } from "../schema/command.ts";
import { currencyCode } from "../schema/codes.ts";
import { NO_INSTRUMENT } from "../schema/layout.ts";
import { DEMO_MONEY, defineInstruments, encodeFlow, generateFlow, instrumentCommands } from "../sim/order_flow.ts";
import { EngineLoop } from "./engine_loop.ts";

/** The flow's seed: fixed, so every warm-up runs the same commands. */
const WARM_UP_SEED = 0x5eed;
const INSTRUMENTS = 4;
const ACCOUNTS = 200;
/** Flow commands between two marks of every instrument (a mark re-values every position). */
const MARK_EVERY = 5_000;
/** The most commands a warm-up runs (its flow is held in memory while it runs). */
export const WARM_UP_COMMANDS_MAX = 1_000_000;

export interface WarmUpResult {
  /** Commands the scratch loop applied (the flow's, the marks, transfers and the settlement). */
  commands: number;
  ms: number;
}

/** Runs `flowCommands` synthetic commands (plus marks, transfers and a settlement) through a scratch engine and loop. */
export function warmUp(flowCommands: number): WarmUpResult {
  if (!Number.isSafeInteger(flowCommands) || flowCommands < 1 || flowCommands > WARM_UP_COMMANDS_MAX) {
    throw new RangeError(`warm-up commands must be an integer from 1 to ${WARM_UP_COMMANDS_MAX}, not ${flowCommands}`);
  }
  const t0 = performance.now();
  const engine = new Engine();
  const firstSeq = defineInstruments(engine, instrumentCommands(INSTRUMENTS), { money: DEMO_MONEY, accounts: ACCOUNTS, deposit: 1e14 });
  const flow = generateFlow({ seed: WARM_UP_SEED, commands: flowCommands, instruments: INSTRUMENTS, accounts: ACCOUNTS });
  const { buf, offsets } = encodeFlow(flow, engine, { firstSeq });

  const control = new Control();
  const inbound = Ring.create(1 << 20, 1, "warm-up inbound");
  const loop = new EngineLoop({
    engine,
    control,
    inbound: [inbound],
    journal: Ring.create(4 << 20, 1, "warm-up journal"),
    topics: {
      trades: Ring.create(1 << 20, 1, "warm-up trades"),
      accounts: Ring.create(1 << 20, 1, "warm-up accounts"),
      l2: Ring.create(1 << 20, 1, "warm-up l2"),
    },
    durableByLoop: true,
    firstSeq,
  });
  const source = new InboundProducer(inbound, control);
  const scratch = source.scratch;
  /** Pushes the command `write` puts in the source's scratch buffer; hands the ring to the loop when it is nearly full. */
  const push = (size: number): void => {
    source.push(size);
    if (source.free() < 2 * MAX_COMMAND_SIZE) drain();
  };
  const drain = (): void => {
    source.flush();
    while (loop.drainOnce() > 0);
  };

  const currency = currencyCode("CNY");
  for (let i = 0; i < offsets.length; i++) {
    const at = offsets[i]!;
    const size = buf.dv.getUint16(at + 2, true);
    scratch.u8.set(buf.u8.subarray(at, at + size), 0);
    push(size);
    if (i % MARK_EVERY === MARK_EVERY - 1) {
      push(writeMark(scratch, 0, NO_INSTRUMENT));
      // A deposit, a withdrawal that is applied and one that is refused (more than is available).
      const account = `a${1 + (i % ACCOUNTS)}`;
      push(writeTransfer(scratch, 0, CommandKind.deposit, account, currency, 1_000));
      push(writeTransfer(scratch, 0, CommandKind.withdraw, account, currency, 1_000));
      push(writeTransfer(scratch, 0, CommandKind.withdraw, account, currency, 1e15));
    }
  }
  push(writeMark(scratch, 0, NO_INSTRUMENT));
  push(writeSettle(scratch, 0));
  drain();
  return { commands: loop.commands, ms: performance.now() - t0 };
}
