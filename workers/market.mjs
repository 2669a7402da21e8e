// Worker entry: market data (the trades and l2 topics to DIFF quotes and k-lines for the gateway). Registers the TypeScript loader and runs src/market/worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/market/worker.ts");
