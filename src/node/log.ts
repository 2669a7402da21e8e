/**
 * The node's log: every line goes through one pino logger with the part of the node it
 * came from (`component`) and a level. VenueNode emits plain lines through a `NodeLog`
 * callback, naming the component; `venue start` turns them into log records here.
 *
 * Two formats:
 *
 * - json: one JSON object per line, pino's own output with an ISO time and the level by
 *   name: `{"level":"info","time":"2026-01-02T03:04:05.678Z","pid":1,"hostname":"h",
 *   "component":"journal","msg":"..."}`. What a log shipper reads.
 * - pretty: the same records as plain lines for a person at a terminal,
 *   `03:04:05.678 journal   ...` (local time), `WARN`/`ERROR` after the component when
 *   the level is not info; the start-up banner (records with `banner: true`) shows as the
 *   bare text.
 *
 * Either way the message text is the same, so tools that look for a line (a test waiting
 * for "DIFF gateway: ws://...") find it in both. Main thread only; never on a hot path.
 */

import { pino, type Logger } from "pino";

/** The parts of the node a line can come from. */
export const LOG_COMPONENTS = ["node", "recovery", "journal", "storage", "snapshots", "market", "gateway", "audit"] as const;
export type LogComponent = (typeof LOG_COMPONENTS)[number];
export type LogLevel = "info" | "warn" | "error";
/** How the node hands out log lines: the text, where it came from (default node), its level (default info). */
export type NodeLog = (line: string, component?: LogComponent, level?: LogLevel) => void;
export type LogFormat = "json" | "pretty";

export interface VenueLogger {
  /** A line from the node. */
  readonly log: NodeLog;
  /** A line of the start-up banner (component node): bare text in pretty; an empty line only there. */
  banner(line?: string): void;
  readonly pino: Logger;
}

/** Where log text goes: process.stdout, or any stream with a synchronous-enough `write`. */
export interface LogOut {
  write(text: string): unknown;
}

/** A pino logger writing `format` to `out`. */
export function createLogger(format: LogFormat, out: LogOut): VenueLogger {
  const destination: LogOut = format === "json" ? out : { write: (text: string) => out.write(prettyLine(text)) };
  const logger = pino(
    {
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label: string) => ({ level: label }) },
    },
    destination,
  );
  const log: NodeLog = (line, component = "node", level = "info") => {
    logger[level]({ component }, line);
  };
  return {
    log,
    pino: logger,
    banner: (line = "") => {
      if (line === "") {
        if (format === "pretty") out.write("\n");
        return;
      }
      logger.info({ component: "node", banner: true }, line);
    },
  };
}

/** Fields every record has, which the pretty line shows in its own way or not at all. */
const SHOWN = new Set(["level", "time", "pid", "hostname", "component", "msg", "banner"]);

/** One JSON record (pino's output line) as a plain line. */
export function prettyLine(json: string): string {
  let r: Record<string, unknown>;
  try {
    r = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith("\n") ? json : `${json}\n`; // not a record: shown as it is
  }
  const msg = typeof r["msg"] === "string" ? r["msg"] : "";
  if (r["banner"] === true) return `${msg}\n`;
  const time = typeof r["time"] === "string" ? new Date(r["time"]) : new Date();
  const hh = String(time.getHours()).padStart(2, "0");
  const mm = String(time.getMinutes()).padStart(2, "0");
  const ss = String(time.getSeconds()).padStart(2, "0");
  const ms = String(time.getMilliseconds()).padStart(3, "0");
  const level = typeof r["level"] === "string" && r["level"] !== "info" ? ` ${r["level"].toUpperCase()}` : "";
  const component = typeof r["component"] === "string" ? r["component"] : "node";
  const extra = Object.entries(r)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => ` ${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join("");
  return `${hh}:${mm}:${ss}.${ms} ${component.padEnd(9)}${level} ${msg}${extra}\n`;
}
