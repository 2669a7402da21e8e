// Worker entry: the DIFF gateway (WebSocket server). Registers the TypeScript loader and runs src/gateway/worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/gateway/worker.ts");
