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
 * The buffers of an earlier capture, by byte length, for the next capture to copy into: a
 * copy into memory that was written before costs a memcpy, into fresh memory also a page
 * fault per 4 KiB page (measured on a 29 MB state: 2.4 ms against 12–15 ms). Holds one
 * capture's buffers at most: `give` replaces what it held.
 */
export class CaptureBuffers {
  private free = new Map<number, ArrayBuffer[]>();
  /** Bytes the last capture copied into buffers it was given back. */
  reusedBytes = 0;

  /** Buffers a capture no longer needs (a snapshot written): kept for the next one, in place of the previous set. */
  give(buffers: readonly ArrayBuffer[]): void {
    this.free = new Map();
    for (const b of buffers) {
      const list = this.free.get(b.byteLength);
      if (list === undefined) this.free.set(b.byteLength, [b]);
      else list.push(b);
    }
  }

  take(bytes: number): ArrayBuffer | undefined {
    return this.free.get(bytes)?.pop();
  }
}

export function captureState(engine: Engine, spare?: CaptureBuffers): CapturedState {
  const buffers = new Map<ArrayBufferLike, number>();
  const blobs: Uint8Array[] = [];
  if (spare !== undefined) spare.reusedBytes = 0;
  const bufferIndex = (b: ArrayBufferLike): number => {
    let i = buffers.get(b);
    if (i === undefined) {
      i = blobs.length;
      buffers.set(b, i);
      const into = spare?.take(b.byteLength);
      if (into !== undefined) {
        const blob = new Uint8Array(into);
        blob.set(new Uint8Array(b));
        blobs.push(blob);
        spare!.reusedBytes += b.byteLength;
      } else {
        blobs.push(new Uint8Array(b.slice(0)));
      }
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
  return { shape: walk(engine, true)!, blobs };
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
