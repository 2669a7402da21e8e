// Worker entry: the storage worker (event store). Registers the TypeScript loader and runs src/store/storage_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/store/storage_worker.ts");
