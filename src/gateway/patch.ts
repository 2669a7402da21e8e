/**
 * JSON merge patches as DIFF uses them (RFC 7396: objects merge, null deletes, anything
 * else replaces; DIFF adds that an object left empty is deleted). Every object made here
 * has a null prototype, so no key a peer sends can reach Object.prototype.
 */

export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function obj(): JsonObject {
  return Object.create(null) as JsonObject;
}

/**
 * The objects `record()` makes: their prototype is an empty object with a null prototype,
 * so, as with `obj()`, no key reaches Object.prototype (`__proto__` is an own key like any
 * other). Unlike `obj()`, which V8 keeps as a hash table, they are ordinary objects whose
 * keys live in a shape shared by every record built with the same keys in the same order.
 */
function RecordObject(): void {}
RecordObject.prototype = Object.create(null) as object;

/**
 * An object for a record of fixed keys (an order, a trade, a position, an account), of
 * which a tree holds many: about half the memory of `obj()`'s. Containers keyed by ids stay
 * `obj()`. `applyPatch` makes a record in the target where the patch has one.
 */
export function record(): JsonObject {
  return new (RecordObject as unknown as new () => JsonObject)();
}

function isRecord(v: JsonObject): boolean {
  return v instanceof (RecordObject as unknown as new () => JsonObject);
}

/** A deep copy (null-prototype objects). */
export function clone(v: Json): Json {
  if (Array.isArray(v)) return v.map(clone);
  if (!isObject(v)) return v;
  const out = obj();
  for (const k of Object.keys(v)) out[k] = clone(v[k]!);
  return out;
}

/**
 * Applies `patch` to `target` in place (DIFF: an object the patch leaves empty is deleted).
 * Returns whether the patch set a value in `target` (so `target` is not empty). An object's
 * keys are counted only when the patch set nothing in it: counting them on every patch made
 * each command cost O(size) of an account's orders and trades, thousands of keys.
 */
export function applyPatch(target: JsonObject, patch: JsonObject): boolean {
  let set = false;
  for (const k of Object.keys(patch)) {
    const p = patch[k]!;
    if (p === null) {
      delete target[k];
    } else if (isObject(p)) {
      let t = target[k];
      if (!isObject(t)) target[k] = t = isRecord(p) ? record() : obj();
      if (applyPatch(t, p) || Object.keys(p).length === 0 || Object.keys(t).length > 0) set = true;
      else delete target[k];
    } else {
      target[k] = clone(p);
      set = true;
    }
  }
  return set;
}

/**
 * Folds patch `b` into patch `a` so that applying `a` alone equals applying the old `a`
 * then `b`. Returns false (and leaves `a` unchanged) when that cannot be written as one
 * patch: `b` sets fields of an object that `a` deletes (the client would merge them into
 * the old object instead of a fresh one). `b` is not modified or aliased.
 */
export function compose(a: JsonObject, b: JsonObject): boolean {
  if (!composable(a, b)) return false;
  composeInto(a, b);
  return true;
}

function composable(a: JsonObject, b: JsonObject): boolean {
  for (const k of Object.keys(b)) {
    const bv = b[k]!;
    if (!isObject(bv) || !(k in a)) continue;
    const av = a[k]!;
    if (av === null) return false;
    if (isObject(av) && !composable(av, bv)) return false;
  }
  return true;
}

function composeInto(a: JsonObject, b: JsonObject): void {
  for (const k of Object.keys(b)) {
    const bv = b[k]!;
    const av = a[k];
    if (isObject(bv) && isObject(av)) composeInto(av, bv);
    else a[k] = clone(bv);
  }
}

/**
 * The fields of `next` that differ from `prev` (both flat records of scalars), or
 * undefined if none do.
 */
export function changedFields(prev: JsonObject | undefined, next: JsonObject): JsonObject | undefined {
  let out: JsonObject | undefined;
  for (const k of Object.keys(next)) {
    const v = next[k]!;
    if (prev !== undefined && sameJson(prev[k], v)) continue;
    (out ??= obj())[k] = clone(v);
  }
  return out;
}

function sameJson(a: Json | undefined, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Keys a peer may not use anywhere in a message. */
const FORBIDDEN_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Whether a parsed message uses a forbidden key or nests deeper than `maxDepth`. */
export function unsafeShape(v: unknown, maxDepth = 8): string | undefined {
  const walk = (x: unknown, depth: number): string | undefined => {
    if (typeof x !== "object" || x === null) return undefined;
    if (depth > maxDepth) return `nested deeper than ${maxDepth} levels`;
    if (Array.isArray(x)) {
      for (const e of x) {
        const bad = walk(e, depth + 1);
        if (bad !== undefined) return bad;
      }
      return undefined;
    }
    for (const k of Object.keys(x)) {
      if (FORBIDDEN_KEYS.has(k)) return `the key "${k}" is not allowed`;
      const bad = walk((x as Record<string, unknown>)[k], depth + 1);
      if (bad !== undefined) return bad;
    }
    return undefined;
  };
  return walk(v, 0);
}
