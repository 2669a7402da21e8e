/**
 * Drives the engine from JSON-lines commands and renders its events as JSON lines: the
 * engine of `venue replay`, and how tests and tools talk to the engine without binary
 * layouts. One Replayer owns one Engine; feed it lines in order.
 *
 * Each command line gets the next sequence number (from 1) and its timestamp from its
 * optional `ts` field (integer nanoseconds; the previous line's when absent). A line that
 * cannot become a command at all yields one `error` line and takes no sequence number.
 */

import { Engine, type EngineConfig, DEFAULT_ENGINE_CONFIG } from "../engine/engine.ts";
import { Buf, stamp } from "../schema/layout.ts";
import { MAX_COMMAND_SIZE } from "../schema/command.ts";
import { EventRenderer, JsonlError, encodeCommand } from "../schema/jsonl.ts";
import { Side } from "../schema/codes.ts";

const TS_FIELD = /"ts"\s*:\s*"?(\d{1,20})"?/;

export class Replayer {
  readonly engine: Engine;
  private readonly buf = Buf.alloc(MAX_COMMAND_SIZE);
  private readonly renderer: EventRenderer;
  private seq = 0;
  private ts = 0n;
  private lineNo = 0;

  constructor(config: EngineConfig = DEFAULT_ENGINE_CONFIG) {
    this.engine = new Engine(config);
    this.renderer = new EventRenderer((i) => this.engine.instruments.symbols[i]);
  }

  /** Applies one input line; calls `emit` with each output line. Blank lines are skipped. */
  feed(line: string, emit: (line: string) => void): void {
    this.lineNo++;
    if (line.trim() === "") return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch (err) {
      emit(errorLine(this.lineNo, `not JSON: ${(err as Error).message}`));
      return;
    }
    try {
      encodeCommand(json, this.buf, 0, (s) => this.engine.instrumentIndex(s));
    } catch (err) {
      if (err instanceof JsonlError || err instanceof RangeError) {
        emit(errorLine(this.lineNo, err.message));
        return;
      }
      throw err;
    }
    const ts = (json as Record<string, unknown>)["ts"];
    if (ts !== undefined) {
      const m = TS_FIELD.exec(line);
      if (m === null) {
        emit(errorLine(this.lineNo, `"ts" must be a non-negative integer of nanoseconds`));
        return;
      }
      this.ts = BigInt(m[1]!);
    }
    stamp(this.buf.dv, 0, ++this.seq, this.ts);
    const out = this.engine.out;
    out.clear();
    this.engine.apply(this.buf, 0);
    for (let o = 0; o < out.length; ) {
      emit(this.renderer.render(out.buf, o));
      o += out.buf.dv.getUint16(o + 2, true);
    }
  }

  /** One `book` line per instrument: aggregate quantity per level, best first. */
  finalBook(emit: (line: string) => void): void {
    const e = this.engine;
    for (let i = 0; i < e.instruments.count; i++) {
      const level = ([price, qty]: [number, number, number]): [number, number] => [price, qty];
      emit(JSON.stringify({
        ev: "book",
        symbol: e.instruments.symbols[i],
        bids: e.depth(i, Side.buy).map(level),
        asks: e.depth(i, Side.sell).map(level),
      }));
    }
  }
}

function errorLine(line: number, message: string): string {
  return JSON.stringify({ ev: "error", line, message });
}

/** Replays a whole text (tests and tools): returns the output lines. */
export function replayText(text: string, options: { finalBook?: boolean; config?: EngineConfig } = {}): string[] {
  const r = new Replayer(options.config ?? DEFAULT_ENGINE_CONFIG);
  const out: string[] = [];
  const emit = (l: string): void => { out.push(l); };
  for (const line of text.split("\n")) r.feed(line, emit);
  if (options.finalBook === true) r.finalBook(emit);
  return out;
}
