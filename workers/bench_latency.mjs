// Worker entry: a thread of `venue bench latency` (driver, probe or gateway client). Registers the TypeScript loader and runs src/bench/latency_worker.ts.
import { register } from "tsx/esm/api";

register();
// The thread's name and scheduling, from the plan in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread();
await import("../src/bench/latency_worker.ts");
