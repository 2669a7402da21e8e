// Worker entry: the storage worker (event store). Registers the TypeScript loader and runs src/store/storage_worker.ts.
import { register } from "tsx/esm/api";

register();
// The thread's name and scheduling, from the plan the node put in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread();
await import("../src/store/storage_worker.ts");
