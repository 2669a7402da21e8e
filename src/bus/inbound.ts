/**
 * An inbound producer: one source's single-producer ring into the engine loop (the
 * gateway, a plugin host, a driver). Commands are written with the schema's writers into a
 * scratch buffer (their size is known only once written), then copied into the ring as
 * 8-byte words; each publish rings the loop's doorbell. Belongs to the source's thread.
 */

import { Buf } from "../schema/layout.ts";
import { MAX_COMMAND_SIZE } from "../schema/command.ts";
import type { Control } from "./control.ts";
import { copyRecord } from "./copy.ts";
import { RingProducer, type ProducerOptions, type Ring } from "./ring.ts";

export class InboundProducer {
  private readonly producer: RingProducer;
  /** Where callers write one command before `push` copies it in. */
  readonly scratch = Buf.alloc(MAX_COMMAND_SIZE);
  submitted = 0;

  constructor(readonly ring: Ring, private readonly control: Control, options: ProducerOptions = {}) {
    // The loop is a critical consumer of its inbound rings: a source waits for it rather
    // than lose a command, and gives up (RingStallError) only if the loop is gone.
    this.producer = new RingProducer(ring, { stallMs: 5_000, ...options });
  }

  /** Copies the `size`-byte command written at the start of `scratch` into the ring (unpublished). */
  push(size: number): void {
    const o = this.producer.claim(size);
    const data = this.ring.data;
    copyRecord(this.scratch.f64, this.scratch.i32, 0, data.f64, data.i32, o, size);
    this.submitted++;
  }

  /** Writes one command with `write(scratch, 0) -> size` and pushes it. */
  submit(write: (buf: Buf, offset: number) => number): void {
    this.push(write(this.scratch, 0));
  }

  /** Bytes the ring can take now without waiting for the loop. */
  free(): number {
    return this.producer.free();
  }

  /** Publishes what was pushed and rings the doorbell. */
  flush(): void {
    if (this.producer.unpublished === 0) return;
    this.producer.publish();
    this.control.ring();
  }
}
