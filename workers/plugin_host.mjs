// Worker entry: a plugin host. Registers the TypeScript loader and runs src/plugins/host.ts.
import { register } from "tsx/esm/api";

register();
const { runPluginHost } = await import("../src/plugins/host.ts");
await runPluginHost();
