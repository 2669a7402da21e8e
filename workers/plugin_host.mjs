// Worker entry: a plugin host. Registers the TypeScript loader and runs src/plugins/host.ts.
import { register } from "tsx/esm/api";

register();
// The thread's name and scheduling, from the plan the node put in its workerData (src/node/threads.ts).
const { enterWorkerThread } = await import("../src/node/threads.ts");
enterWorkerThread();
const { runPluginHost } = await import("../src/plugins/host.ts");
await runPluginHost();
