/**
 * What the threads of `venue bench latency` share: the order flow, encoded ahead of time,
 * the step block that says which orders a step sends and when, the coordination cells, and
 * the per-order latency arrays each observer fills. Owned here; built on the main thread,
 * read by the driver, the probe and the plugin on their threads.
 *
 * The flow: `generateFlow` (src/sim/order_flow.ts) makes a chunk of realistic mixed commands
 * (adds, cancels, amends, crossing orders over 4 instruments and 1,000 accounts), encoded
 * once as command records. A step of N orders sends the chunk over and over; so that
 * client order ids never repeat, every order id starts with two marker bytes that the
 * driver sets per pass over the chunk (a cycle): "##o1a" becomes "AAo1a", "BAo1a", ...
 * Cancels and amends name their target with the same marker, so each cycle is the chunk's
 * flow again against its own orders. Between steps every account's resting orders are
 * cancelled, so each step starts from empty books.
 *
 * The schedule: order i of a step is due at t0 + i * periodNs (open loop), where the
 * driver picks t0 when the step starts. Every latency is measured from that scheduled time,
 * in µs, into a Float32Array per stage indexed by i (NaN: not seen). The sequencer gives
 * the step's orders consecutive seqs from `base` (the driver ring is the only source while
 * a step runs), so an observer maps a record's seq to i = seq - base.
 *
 *   step block (Float64Array)          cells (Int32, Cells)
 *   0 step number (1, 2, ...)          0 go: the step number to run (main)
 *   1 base seq                         1 stop: every thread ends (main)
 *   2 orders in the step               2 pushed so far (driver)
 *   3 period ns                        3 done: the last step number the driver finished
 *   4 t0 ns (NaN until the driver      4 orders the probe has seen this step
 *     starts the step)                 5 orders the plugin has seen this step
 *   5 first cycle number               6 ready: threads set up (driver, probe: +1 each)
 *                                      7 overruns the probe was told of (cut off: it missed events)
 *                                      8 overruns the plugin was told of
 *   6 driver: bursts sent
 *   7 driver: worst lateness of a burst's first order, ns
 *   8 driver: durable advances seen
 *   9 give up: the driver stops sending once an order
 *     is this many ns past its schedule and not durable
 *  10 driver: orders sent (fewer than field 2 if it gave up)
 */

import { Buf, NO_INSTRUMENT } from "../schema/layout.ts";
import { CommandKind, writeDefineInstrument, writeMassCancel, writeTransfer } from "../schema/command.ts";
import { DEMO_MONEY, generateFlow, instrumentCommands, instrumentOfSymbol, writeFlowCommand } from "../sim/order_flow.ts";
import { assert } from "../stdx/assert.ts";

export const INSTRUMENTS = 4;
export const ACCOUNTS = 1000;
/** Each account's deposit, minor units: far more margin than any step uses. */
export const DEPOSIT = 1e14;

// Step block fields.
export const S_STEP = 0;
export const S_BASE = 1;
export const S_COUNT = 2;
export const S_PERIOD_NS = 3;
export const S_T0_NS = 4;
export const S_CYCLE = 5;
export const S_BURSTS = 6;
export const S_LATE_MAX_NS = 7;
export const S_DURABLE_CHANGES = 8;
export const S_GIVE_UP_NS = 9;
export const S_SENT = 10;
export const STEP_FIELDS = 11;

// Cells.
export const C_GO = 0;
export const C_STOP = 1;
export const C_PUSHED = 2;
export const C_DONE = 3;
export const C_PROBE_SEEN = 4;
export const C_PLUGIN_SEEN = 5;
export const C_READY = 6;
export const C_PROBE_OVERRUNS = 7;
export const C_PLUGIN_OVERRUNS = 8;
export const CELLS = 9;

/** Stages, in the order an order passes them; each has a Float32Array of µs per order. */
export const STAGES = ["submitted", "sequenced", "durable", "released", "plugin"] as const;
export type Stage = (typeof STAGES)[number];

const MARKER = "##";
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** Distinct two-byte markers: the most cycles a run may send. */
export const CYCLES_MAX = ALPHABET.length * ALPHABET.length;

/** The chunk of encoded commands, in SharedArrayBuffers (the driver reads them in place). */
export interface FlowChunk {
  records: SharedArrayBuffer;
  /** Int32Array: where command k starts in `records`. */
  offsets: SharedArrayBuffer;
  /** Int32Array: where command k's two marker bytes are. */
  markers: SharedArrayBuffer;
  count: number;
  /** Commands by kind in the chunk (for the report). */
  mix: { new: number; cancel: number; amend: number };
}

/** Generates and encodes the chunk (instrument i is the i-th defined by `setupCommands`). */
export function buildChunk(seed: number, commands: number): FlowChunk {
  assert(Number.isInteger(commands) && commands >= 1, "the chunk needs at least one command");
  const flow = generateFlow({ seed, commands, instruments: INSTRUMENTS, accounts: ACCOUNTS });
  const scratch = Buf.alloc(512);
  let total = 0;
  const sizes = new Int32Array(commands);
  for (let k = 0; k < commands; k++) {
    const c = flow[k]!;
    sizes[k] = writeFlowCommand(scratch, 0, { ...c, id: MARKER + c.id }, instrumentOfSymbol(c.symbol));
    total += sizes[k]!;
  }
  const records = new SharedArrayBuffer(total);
  const buf = new Buf(records);
  const offsets = new Int32Array(new SharedArrayBuffer(commands * 4));
  const markers = new Int32Array(new SharedArrayBuffer(commands * 4));
  const mix = { new: 0, cancel: 0, amend: 0 };
  let at = 0;
  for (let k = 0; k < commands; k++) {
    const c = flow[k]!;
    mix[c.kind]++;
    offsets[k] = at;
    writeFlowCommand(buf, at, { ...c, id: MARKER + c.id }, instrumentOfSymbol(c.symbol));
    const kind = buf.dv.getUint8(at);
    const accountLen = buf.dv.getUint8(at + 30);
    // The order id follows the account id: at 48 in new orders and amends, at 32 in cancels.
    const idAt = at + (kind === CommandKind.cancel ? 32 : 48) + accountLen;
    assert(buf.u8[idAt] === MARKER.charCodeAt(0) && buf.u8[idAt + 1] === MARKER.charCodeAt(1), "the order id's marker is not where the layout puts it");
    markers[k] = idAt;
    at += sizes[k]!;
  }
  return { records, offsets: offsets.buffer as SharedArrayBuffer, markers: markers.buffer as SharedArrayBuffer, count: commands, mix };
}

/** Writes cycle `cycle`'s two marker bytes at `at` of `u8`. */
export function writeMarker(u8: Uint8Array, at: number, cycle: number): void {
  u8[at] = ALPHABET.charCodeAt(cycle % ALPHABET.length);
  u8[at + 1] = ALPHABET.charCodeAt(Math.floor(cycle / ALPHABET.length) % ALPHABET.length);
}

/** The commands that set a fresh node up for the flow: its instruments (with money) and funded accounts. */
export function setupCommands(): Array<(buf: Buf, offset: number) => number> {
  const out: Array<(buf: Buf, offset: number) => number> = [];
  for (const d of instrumentCommands(INSTRUMENTS)) {
    const { op: _op, ...params } = d;
    out.push((b, o) => writeDefineInstrument(b, o, { ...params, ...DEMO_MONEY }));
  }
  for (let a = 1; a <= ACCOUNTS; a++) out.push((b, o) => writeTransfer(b, o, CommandKind.deposit, `a${a}`, DEMO_MONEY.currency!, DEPOSIT));
  return out;
}

/** One mass cancel per account (every instrument): empties the books between steps. */
export function clearBookCommands(): Array<(buf: Buf, offset: number) => number> {
  const out: Array<(buf: Buf, offset: number) => number> = [];
  for (let a = 1; a <= ACCOUNTS; a++) out.push((b, o) => writeMassCancel(b, o, NO_INSTRUMENT, `a${a}`));
  return out;
}

/** The shared buffers of one run: step block, cells, one latency array per stage. */
export interface Shared {
  step: SharedArrayBuffer;
  cells: SharedArrayBuffer;
  lat: Record<Stage, SharedArrayBuffer>;
  /** Orders a step may hold (the latency arrays' length). */
  capacity: number;
}

export function createShared(capacity: number): Shared {
  const lat = {} as Record<Stage, SharedArrayBuffer>;
  for (const s of STAGES) lat[s] = new SharedArrayBuffer(capacity * 4);
  return { step: new SharedArrayBuffer(STEP_FIELDS * 8), cells: new SharedArrayBuffer(CELLS * 4), lat, capacity };
}
