// Worker entry: the snapshot writer. Registers the TypeScript loader and runs src/wal/snapshot_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/wal/snapshot_worker.ts");
