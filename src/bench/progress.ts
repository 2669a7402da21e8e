/**
 * A progress line for a long benchmark, on standard error so that standard output keeps
 * only the results. On a terminal the line is rewritten in place (carriage return, clear
 * to the end of the line), cut to the terminal's width; elsewhere (a pipe, CI logs) an
 * update is printed as its own line at most every `everyMs`, so a log stays short.
 * Main thread only.
 */

export interface ProgressOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export class Progress {
  private readonly tty: boolean;
  private shown = false;
  private lastPrintMs = -Infinity;

  constructor(private readonly out: ProgressOut = process.stderr, private readonly everyMs = 5_000) {
    this.tty = out.isTTY === true;
  }

  /** Shows `line` as the current state. */
  update(line: string): void {
    if (this.tty) {
      const columns = this.out.columns ?? 0;
      const width = columns > 20 ? columns - 1 : 119; // a terminal that reports no width gets 120 columns
      this.out.write(`\r\x1b[2K${line.length > width ? line.slice(0, width - 1) + "…" : line}`);
      this.shown = true;
      return;
    }
    const now = performance.now();
    if (now - this.lastPrintMs < this.everyMs) return;
    this.lastPrintMs = now;
    this.out.write(`${line}\n`);
  }

  /** Prints `line` for good (a step finished) and clears the in-place line. */
  note(line: string): void {
    this.clear();
    this.out.write(`${line}\n`);
    this.lastPrintMs = performance.now();
  }

  /** Removes the in-place line, if one is shown. */
  clear(): void {
    if (this.tty && this.shown) this.out.write("\r\x1b[2K");
    this.shown = false;
  }
}
