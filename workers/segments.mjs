// Worker entry: the journal's segment preparer. Registers the TypeScript loader and runs src/wal/prepare_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/wal/prepare_worker.ts");
