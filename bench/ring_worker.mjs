// Worker bootstrap for bench/ring.ts: registers tsx's ESM loader in this worker thread, then
// loads the TypeScript task runner (bench/ring_worker_main.ts).
import { register } from "tsx/esm/api";

register();
await import("./ring_worker_main.ts");
