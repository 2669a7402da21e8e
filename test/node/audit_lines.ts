/**
 * Reads an audit file (src/node/audit_file.ts) back for tests: its JSON lines, in order.
 */

import { readFileSync } from "node:fs";

export interface AuditLine {
  time: string;
  msg: string;
}

export function auditLines(path: string): AuditLine[] {
  return readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => JSON.parse(l) as AuditLine);
}

/** The messages of an audit file, in order. */
export function auditMessages(path: string): string[] {
  return auditLines(path).map((l) => l.msg);
}
