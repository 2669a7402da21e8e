// Worker entry: market data (the trades and l2 topics to DIFF quotes and k-lines for the gateway). Registers the TypeScript loader and runs src/market/worker.ts.
import { register } from "tsx/esm/api";

register();
// The thread's name and scheduling, from the plan the node put in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread();
await import("../src/market/worker.ts");
