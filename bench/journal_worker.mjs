// Worker bootstrap for bench/journal.ts: registers tsx's ESM loader in this worker thread, then
// loads the TypeScript task runner (bench/journal_worker.ts).
import { register } from "tsx/esm/api";

register();
await import("./journal_worker.ts");
