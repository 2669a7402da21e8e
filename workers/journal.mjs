// Worker entry: the journal writer. Registers the TypeScript loader and runs src/wal/journal_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/wal/journal_worker.ts");
