/**
 * Loaded by the storage worker of a node under test (NodeOptions.storeFsModule): the
 * fault-injecting file layer, failing operation VENUE_STORE_FAIL_AT with
 * VENUE_STORE_FAIL_CODE (ENOSPC by default).
 */

import { FaultFs } from "../wal/fault_fs.ts";

export function createJournalFs(): FaultFs {
  const fs = new FaultFs();
  fs.failAt = Number(process.env.VENUE_STORE_FAIL_AT ?? -1);
  fs.failCode = process.env.VENUE_STORE_FAIL_CODE ?? "ENOSPC";
  return fs;
}
