// Worker entry for test/native/mmap.test.ts: registers the TypeScript loader, maps the file
// it is given on this thread, reports, and closes when told to.
import { register } from "tsx/esm/api";

register();
const { parentPort, workerData, threadId } = await import("node:worker_threads");
const { openReadOnly, mappingStats } = await import("../../src/native/mmap.ts");

const file = openReadOnly(workerData.path, { native: true });
const view = file.bytes(0, file.size);
let sum = 0;
for (let i = 0; i < view.length; i++) sum = (sum + view[i]) >>> 0;
parentPort.once("message", () => {
  file.close();
  parentPort.postMessage({ closed: true, stats: mappingStats() });
});
parentPort.postMessage({ threadId, mapped: file.mapped, sum, stats: mappingStats(), view });
