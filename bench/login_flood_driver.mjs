// Worker bootstrap for bench/login_flood.ts: registers tsx's ESM loader in this worker thread, then
// loads the deposit driver (bench/login_flood_driver.ts).
import { register } from "tsx/esm/api";

register();
await import("./login_flood_driver.ts");
