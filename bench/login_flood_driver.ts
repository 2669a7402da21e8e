/**
 * The deposit driver of bench/login_flood.ts, on a worker thread as the gateway's intake
 * is: it owns one of the node's driver rings and, per phase the main thread asks for, sends
 * `rate` deposits a second open loop for `seconds`, then waits until all are durable. Each
 * deposit's latency runs from its scheduled time to the moment this thread sees the durable
 * seq cover it; between bursts the thread parks on the durable cell until the next deposit
 * is due or the durable seq moves. No spinning.
 */

import { parentPort, workerData } from "node:worker_threads";
import { performance } from "node:perf_hooks";
import { Control } from "../src/bus/control.ts";
import { InboundProducer } from "../src/bus/inbound.ts";
import { Ring } from "../src/bus/ring.ts";
import type { WaitStrategy } from "../src/bus/wait.ts";
import { CommandKind, writeTransfer } from "../src/schema/command.ts";
import { currencyCode } from "../src/schema/codes.ts";

export interface DriverData {
  ring: SharedArrayBuffer;
  control: SharedArrayBuffer;
  wait: WaitStrategy | undefined;
  users: number;
}

/** A phase: the seq the first deposit will get (every command before it is durable), its length and rate. */
export interface PhaseRequest {
  firstSeq: number;
  seconds: number;
  rate: number;
}

const d = workerData as DriverData;
const control = new Control(d.control);
const producer = new InboundProducer(new Ring(d.ring, "login flood driver"), control, d.wait === undefined ? {} : { wait: d.wait });
const CNY = currencyCode("CNY");

function phase(req: PhaseRequest): Float64Array {
  const total = Math.round(req.seconds * req.rate);
  const lat = new Float64Array(total);
  const period = 1_000 / req.rate;
  const start = performance.now();
  let sent = 0;
  let seen = 0; // deposits seen durable
  while (seen < total) {
    const now = performance.now();
    const owed = Math.min(total, Math.floor((now - start) / period)) - sent;
    if (owed > 0) {
      for (let k = 0; k < owed; k++) producer.submit((b, o) => writeTransfer(b, o, CommandKind.deposit, `u${(sent + k) % d.users}`, CNY, 100));
      sent += owed;
      producer.flush();
    }
    const durable = control.durableLo();
    const through = Math.min(sent, ((durable - (req.firstSeq | 0)) | 0) + 1);
    if (through > seen) {
      const t = performance.now();
      for (let k = seen; k < through; k++) lat[k] = t - (start + (k + 1) * period);
      seen = through;
      continue;
    }
    // Until the next deposit is due (none left: a while) or the durable seq moves.
    const next = sent < total ? start + (sent + 1) * period - performance.now() : 5;
    if (next > 0) control.parkWhileDurable(durable, next);
  }
  return lat;
}

parentPort!.on("message", (req: PhaseRequest) => {
  const lat = phase(req);
  parentPort!.postMessage(lat, [lat.buffer as ArrayBuffer]);
});
