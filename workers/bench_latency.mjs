// Worker entry: a thread of `venue bench latency` (driver, probe or gateway client). Registers the TypeScript loader and runs src/bench/latency_worker.ts.
import { register } from "tsx/esm/api";

register();
await import("../src/bench/latency_worker.ts");
