// Worker entry: the DIFF gateway (WebSocket server). Registers the TypeScript loader and runs src/gateway/worker.ts.
import { register } from "tsx/esm/api";

register();
// The thread's name and scheduling, from the plan the node put in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread();
await import("../src/gateway/worker.ts");
