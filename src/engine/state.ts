/**
 * The engine's whole state as data, for snapshots: `captureState` walks the engine's
 * object graph (books, orders, levels, id tables, accounts, positions, counters) and
 * returns a shape (plain JSON) plus the bytes of every ArrayBuffer it reached, each once, so
 * views that share a buffer (an order record read as f64 and i32) share it again after
 * `restoreState`. Copying the typed arrays is the whole cost: no per-order work.
 *
 * `restoreState` writes a captured state into a fresh engine built with the same config,
 * and refuses a shape that does not match the engine's own (a snapshot from a build whose
 * fields differ): a snapshot is restored exactly or not at all.
 *
 * Pure: no I/O, no clock (the engine's rules). Main thread, between commands.
 */

import { Engine } from "./engine.ts";
import { BookSide } from "./levels.ts";

export type Shape =
  | null
  | boolean
  | number
  | string
  | { readonly n: "Infinity" | "-Infinity" | "NaN" }
  | { readonly a: Shape[] }
  | { readonly m: Array<[Shape, Shape]> }
  | { readonly o: Record<string, Shape>; readonly c: string }
  | { readonly t: string; readonly b: number; readonly off: number; readonly len: number };

export interface CapturedState {
  shape: Shape;
  /** Copies of every ArrayBuffer the state holds, indexed by the shape's `b` fields. */
  blobs: Uint8Array[];
}

/** Engine fields that are not state: buffers and views of the command being applied, config, a bound callback. */
const SKIP = new Set(["out", "cmd", "config", "liquidate"]);

/** Classes a state may hold in arrays (created fresh on restore); fields of the engine itself are restored in place. */
const CLASSES: Record<string, object> = { BookSide: BookSide.prototype };

const VIEWS: Record<string, new (b: ArrayBuffer, off: number, len: number) => ArrayBufferView> = {
  Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint16Array, Int16Array, Float32Array, DataView,
};

/**
 * Shared buffers for captures to copy into, by byte length: those of an earlier capture
 * (its snapshot written), and those the snapshot worker faulted in ahead. A copy into memory
 * that was written before costs a memcpy; into fresh memory also a page fault per 4 KiB page
 * (measured on a 29 MB state: 2.4 ms against 12-15 ms).
 *
 * SharedArrayBuffers, so that the node hands a capture to its snapshot worker and gets the
 * buffers back without transferring (detaching) any ArrayBuffer on the main thread: the
 * first detach in an isolate invalidates V8's "no ArrayBuffer was ever detached" protector,
 * and every optimized function that reads a typed array (the whole engine) is thrown away
 * and recompiled. Measured in the node at 100k orders/s: the first snapshot's transfer ran
 * the engine in baseline code for ~150 ms (a command took ~40 µs instead of ~2).
 */
export class CaptureBuffers {
  private free = new Map<number, SharedArrayBuffer[]>();
  /** Bytes the last capture copied into buffers it held. */
  reusedBytes = 0;

  /** Buffers a capture no longer needs (a snapshot written): kept for the next one, in place of those held. */
  give(buffers: readonly SharedArrayBuffer[]): void {
    this.free = new Map();
    this.add(buffers);
  }

  /** Buffers made ready ahead of a capture (faulted in by the snapshot worker): kept beside those held. */
  add(buffers: readonly SharedArrayBuffer[]): void {
    for (const b of buffers) {
      const list = this.free.get(b.byteLength);
      if (list === undefined) this.free.set(b.byteLength, [b]);
      else list.push(b);
    }
  }

  /** Of `sizes` (byte lengths a capture needs, as stateBufferSizes gives them), those no held buffer covers. */
  missing(sizes: readonly number[]): number[] {
    const held = new Map<number, number>();
    for (const [n, list] of this.free) held.set(n, list.length);
    const out: number[] = [];
    for (const n of sizes) {
      const left = held.get(n) ?? 0;
      if (left > 0) held.set(n, left - 1);
      else out.push(n);
    }
    return out;
  }

  take(bytes: number): SharedArrayBuffer | undefined {
    return this.free.get(bytes)?.pop();
  }
}

/**
 * Copies the engine's state. With `spare`, every blob is over a SharedArrayBuffer: one
 * `spare` holds where it has one of the size, a new one where not (see CaptureBuffers);
 * without, over a private copy of each buffer.
 */
export function captureState(engine: Engine, spare?: CaptureBuffers): CapturedState {
  const blobs: Uint8Array[] = [];
  if (spare !== undefined) spare.reusedBytes = 0;
  const shape = walkState(engine, (b) => {
    if (spare === undefined) {
      blobs.push(new Uint8Array(b.slice(0)));
      return;
    }
    let into = spare.take(b.byteLength);
    if (into !== undefined) spare.reusedBytes += b.byteLength;
    else into = new SharedArrayBuffer(b.byteLength);
    const blob = new Uint8Array(into);
    blob.set(new Uint8Array(b));
    blobs.push(blob);
  });
  return { shape, blobs };
}

/**
 * The byte lengths of the buffers a capture of the engine now would copy, in capture order
 * (nothing copied): what the node asks the snapshot worker to have ready, faulted in, before
 * a capture is due.
 */
export function stateBufferSizes(engine: Engine): number[] {
  const sizes: number[] = [];
  walkState(engine, (b) => sizes.push(b.byteLength));
  return sizes;
}

/** The engine's state as a shape; `onBuffer` is called once per distinct ArrayBuffer, in the order of the shape's `b` indexes. */
function walkState(engine: Engine, onBuffer: (b: ArrayBufferLike) => void): Shape {
  const buffers = new Map<ArrayBufferLike, number>();
  const bufferIndex = (b: ArrayBufferLike): number => {
    let i = buffers.get(b);
    if (i === undefined) {
      i = buffers.size;
      buffers.set(b, i);
      onBuffer(b);
    }
    return i;
  };
  const walk = (v: unknown, top: boolean): Shape | undefined => {
    if (v === null || v === undefined) return null;
    if (typeof v === "boolean" || typeof v === "string") return v;
    if (typeof v === "number") return Number.isFinite(v) ? v : { n: String(v) as "Infinity" | "-Infinity" | "NaN" };
    if (typeof v === "function") return undefined;
    if (ArrayBuffer.isView(v)) {
      const len = v instanceof DataView ? v.byteLength : (v as unknown as { length: number }).length;
      return { t: v.constructor.name, b: bufferIndex(v.buffer), off: v.byteOffset, len };
    }
    if (Array.isArray(v)) return { a: v.map((x) => walk(x, false) ?? null) };
    if (v instanceof Map) return { m: [...v].map(([k, x]) => [walk(k, false) ?? null, walk(x, false) ?? null]) };
    if (typeof v === "object") {
      const o: Record<string, Shape> = {};
      for (const [k, x] of Object.entries(v)) {
        if (top && SKIP.has(k)) continue;
        const s = walk(x, false);
        if (s !== undefined) o[k] = s;
      }
      return { o, c: v.constructor.name };
    }
    throw new TypeError(`engine state holds a ${typeof v}, which a snapshot cannot carry`);
  };
  return walk(engine, true)!;
}

/** The state does not fit this engine (another build's snapshot, or damage). */
export class StateShapeError extends Error {
  override readonly name = "StateShapeError";
}

export function restoreState(engine: Engine, state: CapturedState): void {
  const buffers: ArrayBuffer[] = state.blobs.map((b) => b.slice().buffer);
  const build = (s: Shape, into: unknown, path: string): unknown => {
    if (s === null || typeof s !== "object") return s;
    if ("n" in s) return Number(s.n);
    if ("t" in s) {
      const View = VIEWS[s.t];
      const buffer = buffers[s.b];
      if (View === undefined || buffer === undefined) throw new StateShapeError(`${path}: unknown view ${s.t} or buffer ${s.b}`);
      return new View(buffer, s.off, s.len);
    }
    if ("a" in s) return s.a.map((x, i) => build(x, undefined, `${path}[${i}]`));
    if ("m" in s) return new Map(s.m.map(([k, x]) => [build(k, undefined, path), build(x, undefined, path)]));
    // An object: into the engine's own instance where there is one, else a fresh one of its class.
    let target = into as Record<string, unknown> | undefined;
    if (target === undefined || target === null || typeof target !== "object" || target.constructor.name !== s.c) {
      const proto = CLASSES[s.c];
      if (proto === undefined) throw new StateShapeError(`${path}: a ${s.c} where the engine has ${target === undefined || target === null ? "none" : (target as object).constructor.name}`);
      target = Object.create(proto) as Record<string, unknown>;
    } else {
      // Every state field the engine's instance has must be in the snapshot.
      for (const [k, x] of Object.entries(target)) {
        if (typeof x === "function" || (path === "engine" && SKIP.has(k))) continue;
        if (!(k in s.o)) throw new StateShapeError(`${path}.${k} is missing from the snapshot (it was written by another build)`);
      }
    }
    for (const [k, x] of Object.entries(s.o)) {
      if (into !== undefined && into !== null && !(k in (into as object))) throw new StateShapeError(`${path}.${k}: the snapshot has a field this engine does not`);
      target[k] = build(x, target[k], `${path}.${k}`);
    }
    return target;
  };
  build(state.shape, engine, "engine");
  engine.out.clear();
}
