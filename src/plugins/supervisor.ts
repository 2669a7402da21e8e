/**
 * The plugin supervisor (main thread): starts each plugin on a plugin-host worker, watches
 * it, and isolates it when it fails. A plugin has failed when its worker exits or errors
 * (a throw, process.exit, heap exhaustion) or when its heartbeat stops moving for
 * `heartbeatMs` (an endless loop in its code). Then the supervisor closes the plugin's ring
 * slots, so it no longer holds the engine back, terminates the worker and reports; the
 * node goes on. `check()` runs after every slice of the engine loop.
 */

import { Worker } from "node:worker_threads";
import { basename } from "node:path";
import { performance } from "node:perf_hooks";
import type { Control } from "../bus/control.ts";
import type { Ring } from "../bus/ring.ts";
import type { WaitStrategy } from "../bus/wait.ts";
import { TOPICS, type Topic } from "../schema/topics.ts";
import type { PluginSpec } from "./api.ts";
import type { PluginHostData } from "./host.ts";
import { planFor } from "../node/threads.ts";

const HOST = new URL("../../workers/plugin_host.mjs", import.meta.url);

export interface PluginReport {
  name: string;
  kind: "failed" | "stalled" | "exited" | "stopped";
  message: string;
}

interface Running {
  name: string;
  worker: Worker;
  heartbeatIndex: number;
  slots: Array<{ ring: Ring; slot: number }>;
  lastBeat: number;
  lastBeatAt: number;
  /** Until its first beat, a plugin is loading (the TypeScript loader, its imports). */
  beating: boolean;
  done: boolean;
  exited: Promise<void>;
}

export interface SupervisorOptions {
  control: Control;
  topics: Record<Topic, Ring>;
  /** Takes a free slot of a topic ring (the node allocates them). */
  allocSlot: (topic: Topic) => number;
  /** A fresh inbound ring for a plugin (the node makes it before the loop starts). */
  inbound: Ring[];
  instruments: Array<[string, number]>;
  wait: WaitStrategy;
  heartbeatMs?: number;
  /** How long a plugin may take to load before its first heartbeat. */
  startupMs?: number;
  onReport?: (r: PluginReport) => void;
}

export class PluginSupervisor {
  private readonly running: Running[] = [];
  private readonly heartbeatMs: number;
  private readonly startupMs: number;
  private lastCheck = 0;
  private stopping = false;
  readonly reports: PluginReport[] = [];

  constructor(private readonly o: SupervisorOptions) {
    this.heartbeatMs = o.heartbeatMs ?? 2_000;
    this.startupMs = o.startupMs ?? 30_000;
  }

  /** Validates a spec and starts its plugin. Throws a clear error for a bad spec. */
  start(spec: PluginSpec, index: number): void {
    if (typeof spec.module !== "string" || spec.module === "") throw new TypeError("plugin: `module` must be a path to a module");
    const topics = spec.topics ?? [];
    for (const t of topics) if (!TOPICS.includes(t)) throw new TypeError(`plugin ${spec.module}: unknown topic "${t}" (topics: ${TOPICS.join(", ")})`);
    const delivery = spec.delivery ?? "gating";
    if (delivery !== "gating" && delivery !== "lossy") throw new TypeError(`plugin ${spec.module}: delivery must be "gating" or "lossy"`);
    const inbound = this.o.inbound[index];
    if (inbound === undefined) throw new RangeError(`plugin ${spec.module}: no inbound ring was made for it`);
    const name = spec.name ?? basename(spec.module).replace(/\.[cm]?[jt]s$/, "");
    const slots = topics.map((topic) => {
      const ring = this.o.topics[topic];
      const slot = this.o.allocSlot(topic);
      ring.openSlot(slot, delivery);
      return { topic, ring, slot };
    });
    const heartbeatIndex = index;
    const data: PluginHostData = {
      name,
      module: spec.module,
      options: spec.options ?? {},
      instruments: this.o.instruments,
      topics: slots.map((s) => ({ topic: s.topic, sab: s.ring.sab, slot: s.slot })),
      inbound: inbound.sab,
      control: this.o.control.sab,
      worker: heartbeatIndex,
      wait: this.o.wait,
    };
    const worker = new Worker(HOST, { workerData: { ...data, thread: planFor("plugin") }, name: `plugin ${name}` });
    const r: Running = {
      name,
      worker,
      heartbeatIndex,
      slots: slots.map((s) => ({ ring: s.ring, slot: s.slot })),
      lastBeat: this.o.control.heartbeat(heartbeatIndex),
      lastBeatAt: performance.now(),
      beating: false,
      done: false,
      exited: new Promise((res) => worker.once("exit", () => res())),
    };
    worker.on("error", (err) => this.isolate(r, "failed", `threw: ${err instanceof Error ? err.message : String(err)}`));
    worker.on("exit", (code) => {
      if (code === 0 && this.stopping) this.isolate(r, "stopped", "stopped by the node");
      else this.isolate(r, code === 0 ? "exited" : "failed", `worker exited with code ${code}`);
    });
    this.running.push(r);
  }

  /** Heartbeat check; cheap, runs at most every 50 ms. */
  check(): void {
    const now = performance.now();
    if (now - this.lastCheck < 50) return;
    this.lastCheck = now;
    for (const r of this.running) {
      if (r.done) continue;
      const beat = this.o.control.heartbeat(r.heartbeatIndex);
      if (beat !== r.lastBeat) {
        r.lastBeat = beat;
        r.lastBeatAt = now;
        r.beating = true;
      } else if (now - r.lastBeatAt > (r.beating ? this.heartbeatMs : this.startupMs)) {
        const what = r.beating ? "no heartbeat" : "not started";
        this.isolate(r, "stalled", `${what} for ${Math.round(now - r.lastBeatAt)} ms (a loop that never returns?)`);
      }
    }
  }

  /** Asks every plugin to stop, waits for them (bounded), and terminates the rest. */
  async stopAll(timeoutMs = 2_000): Promise<void> {
    this.stopping = true;
    for (const r of this.running) if (!r.done) r.worker.postMessage("stop");
    const all = Promise.all(this.running.map((r) => r.exited));
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<void>((res) => (timer = setTimeout(res, timeoutMs)));
    await Promise.race([all, late]);
    clearTimeout(timer);
    for (const r of this.running) if (!r.done) this.isolate(r, "stopped", "stopped by the node");
    await all;
  }

  get alive(): number {
    return this.running.filter((r) => !r.done).length;
  }

  private isolate(r: Running, kind: PluginReport["kind"], message: string): void {
    if (r.done) return;
    r.done = true;
    for (const s of r.slots) s.ring.closeSlot(s.slot);
    void r.worker.terminate();
    const report = { name: r.name, kind, message };
    this.reports.push(report);
    this.o.onReport?.(report);
  }
}
