/**
 * The plugin host: runs one plugin on its own worker thread. It loads the module, gives it
 * a context, and loops: poll each topic it reads (records in place, through one EventView
 * flyweight), publish what it submitted, beat its heartbeat, and wait with its strategy
 * when there is nothing to read. It yields to the worker's event loop between slices, so
 * the node's stop message gets through.
 *
 * A plugin that throws ends the host with that error (the supervisor sees it); one that
 * loops forever stops the heartbeat (the supervisor terminates the worker). Either way the
 * node closes the plugin's ring slots and goes on.
 */

import { parentPort, workerData } from "node:worker_threads";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { performance } from "node:perf_hooks";
import { Control } from "../bus/control.ts";
import { InboundProducer } from "../bus/inbound.ts";
import { Ring, RingConsumer, type RecordHandler } from "../bus/ring.ts";
import { Waiter, type WaitStrategy } from "../bus/wait.ts";
import { EventView } from "../schema/event.ts";
import { Buf } from "../schema/layout.ts";
import type { Topic } from "../schema/topics.ts";
import { Submitter, type CreatePlugin, type Plugin, type PluginContext } from "./api.ts";

/** What the supervisor sends a host (structured-cloned; the SharedArrayBuffers are shared). */
export interface PluginHostData {
  name: string;
  module: string;
  options: Record<string, unknown>;
  instruments: Array<[string, number]>;
  topics: Array<{ topic: Topic; sab: SharedArrayBuffer; slot: number }>;
  inbound: SharedArrayBuffer;
  control: SharedArrayBuffer;
  worker: number;
  wait: WaitStrategy;
}

export async function runPluginHost(data: PluginHostData = workerData as PluginHostData): Promise<void> {
  const control = new Control(data.control);
  const inbound = new InboundProducer(new Ring(data.inbound, `${data.name} inbound`), control);
  const context: PluginContext = {
    name: data.name,
    options: data.options,
    instruments: new Map(data.instruments),
    submit: new Submitter(inbound),
    log: (message) => process.stderr.write(`plugin ${data.name}: ${message}\n`),
  };
  const url = pathToFileURL(resolve(data.module)).href;
  const mod = (await import(url)) as { createPlugin?: CreatePlugin };
  if (typeof mod.createPlugin !== "function") throw new TypeError(`plugin module ${data.module} has no named export createPlugin(context)`);
  const plugin: Plugin = mod.createPlugin(context);

  let stop = false;
  const onMessage = (m: unknown): void => {
    if (m === "stop") stop = true;
  };
  parentPort?.on("message", onMessage);

  const view = new EventView(Buf.alloc(8));
  const readers = data.topics.map(({ topic, sab, slot }) => {
    const ring = new Ring(sab, topic);
    const consumer = new RingConsumer(ring, slot, { wait: data.wait, durable: control.durableGate });
    consumer.onOverrun = (o) => plugin.onOverrun?.(topic, o);
    const onEvent = plugin.onEvent;
    const handler: RecordHandler = onEvent === undefined ? () => {} : (buf, offset) => onEvent.call(plugin, topic, view.wrap(buf, offset));
    return { consumer, handler };
  });
  const waiter = new Waiter(data.wait);
  const idleCell = new Int32Array(new SharedArrayBuffer(8));

  while (!stop) {
    const t0 = performance.now();
    let parked = false;
    for (;;) {
      control.beat(data.worker);
      let n = 0;
      for (const r of readers) n += r.consumer.poll(r.handler, 1024);
      inbound.flush();
      if (n > 0) {
        waiter.reset();
        parked = false;
      } else {
        plugin.onIdle?.();
        inbound.flush();
        if (parked) break;
        parked = waiter.parking;
        if (readers.length > 0) readers[0]!.consumer.await();
        else waiter.pause(idleCell, 0, 0, 1);
      }
      if (performance.now() - t0 >= 5) break;
    }
    await yieldToEventLoop();
  }
  plugin.onStop?.();
  inbound.flush();
  parentPort?.off("message", onMessage); // nothing keeps the worker alive now: it exits with 0
}
