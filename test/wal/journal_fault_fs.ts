/**
 * Loaded by the journal worker of a node under test (NodeOptions.journalFsModule): the
 * fault-injecting file layer, failing operation VENUE_JOURNAL_FAIL_AT with
 * VENUE_JOURNAL_FAIL_CODE (EIO by default).
 */

import { FaultFs } from "./fault_fs.ts";

export function createJournalFs(): FaultFs {
  const fs = new FaultFs();
  fs.failAt = Number(process.env.VENUE_JOURNAL_FAIL_AT ?? -1);
  fs.failCode = process.env.VENUE_JOURNAL_FAIL_CODE ?? "EIO";
  return fs;
}
