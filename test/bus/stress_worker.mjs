// Worker entry for the ring stress test: registers the TypeScript loader, then runs the role.
import { register } from "tsx/esm/api";

register();
await import("./stress_roles.ts");
