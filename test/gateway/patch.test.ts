/**
 * applyPatch counts an object's keys only when the patch set nothing in it: checked against
 * the plain rule (count every object the patch touches) on random trees and patches. The seed is printed; VENUE_SEED replays it.
 */

import { expect, it } from "vitest";
import { applyPatch, clone, isObject, obj, record, type Json, type JsonObject } from "../../src/gateway/patch.ts";
import { Prng, seedFromEnv } from "../../src/stdx/prng.ts";

/** The plain rule: every object the patch touches is deleted if it ends up empty. */
function reference(target: JsonObject, patch: JsonObject): void {
  for (const k of Object.keys(patch)) {
    const p = patch[k]!;
    if (p === null) {
      delete target[k];
    } else if (isObject(p)) {
      let t = target[k];
      if (!isObject(t)) target[k] = t = obj();
      reference(t, p);
      if (Object.keys(t).length === 0 && Object.keys(p).length > 0) delete target[k];
    } else {
      target[k] = clone(p);
    }
  }
}

const KEYS = ["a", "b", "c", "d"];

function tree(prng: Prng, depth: number, nulls: boolean): JsonObject {
  const o = obj();
  const n = prng.int(nulls ? 0 : 1, 3);
  for (let i = 0; i < n; i++) {
    const r = prng.int(0, 9);
    o[prng.pick(KEYS)] = nulls && r < 3 ? null : depth < 3 && r < 7 ? tree(prng, depth + 1, nulls) : (prng.int(0, 99) as Json);
  }
  return o;
}

/** A tree built from patches, as the gateway's and the clients' are (no empty objects). */
function built(prng: Prng): JsonObject {
  const t = obj();
  for (let i = 0; i < 3; i++) reference(t, tree(prng, 0, true));
  return t;
}

const canon = (v: Json): string => JSON.stringify(v, (_k, x: unknown) => (isObject(x as Json) ? Object.fromEntries(Object.keys(x as object).sort().map((k) => [k, (x as JsonObject)[k]])) : x));

it("applies patches to trees built from patches exactly as the plain rule does", () => {
  const seed = seedFromEnv();
  console.log(`patch: seed ${seed} (replay with VENUE_SEED=${seed})`);
  const prng = new Prng(seed);
  for (let i = 0; i < 20_000; i++) {
    const start = built(prng);
    const a = clone(start) as JsonObject;
    const b = clone(start) as JsonObject;
    for (let j = 0; j < 3; j++) {
      const p = tree(prng, 0, true);
      reference(a, p);
      applyPatch(b, p);
    }
    expect(canon(b), `case ${i}`).toBe(canon(a));
  }
});

it("keeps records records: no key reaches Object.prototype, JSON is the same as obj()'s, and a patch's record makes one in the tree", () => {
  const r = record();
  const o = obj();
  for (const x of [r, o]) {
    x["__proto__"] = { polluted: true } as unknown as Json;
    x["constructor"] = 1;
    x["toString"] = "s";
  }
  expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
  expect(Object.keys(r)).toEqual(["__proto__", "constructor", "toString"]);
  expect(JSON.stringify(r)).toBe(JSON.stringify(o));
  expect("hasOwnProperty" in r).toBe(false);
  expect(isObject(r)).toBe(true);
  // A record in a patch makes a record in the tree (the tree's orders and trades are records).
  const tree = obj();
  const patch = obj();
  const orders = obj();
  const order = record();
  order["status"] = "ALIVE";
  orders["o1"] = order;
  patch["orders"] = orders;
  applyPatch(tree, patch);
  const made = (tree["orders"] as JsonObject)["o1"] as JsonObject;
  expect(made).not.toBe(order);
  expect(Object.getPrototypeOf(made)).toBe(Object.getPrototypeOf(record()));
  expect(Object.getPrototypeOf(tree["orders"])).toBe(null);
  expect(made["status"]).toBe("ALIVE");
});
