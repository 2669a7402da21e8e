/**
 * Helpers for tests that compare engines: a fingerprint of an engine's whole state (every
 * field and buffer, hashed), and the engine a full replay of a journal directory builds.
 */

import { createHash } from "node:crypto";
import { Engine } from "../../src/engine/engine.ts";
import { captureState } from "../../src/engine/state.ts";
import { recoverJournal } from "../../src/wal/recover.ts";

export function fingerprint(e: Engine): string {
  const s = captureState(e);
  const h = createHash("sha256").update(JSON.stringify(s.shape));
  for (const b of s.blobs) h.update(b);
  return h.digest("hex");
}

/** A fresh engine with every command of the journal in `dir` applied (nothing changed on disk). */
export function fullReplay(dir: string): Engine {
  const e = new Engine();
  recoverJournal(dir, (buf, offset) => {
    e.apply(buf, offset);
    e.out.clear();
  }, { readOnly: true });
  return e;
}
