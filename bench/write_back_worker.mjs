// Worker bootstrap for bench/write_back.ts: registers tsx's ESM loader in this worker thread,
// then loads the benchmark module, which runs its table writer off the main thread.
import { register } from "tsx/esm/api";

register();
await import("./write_back.ts");
