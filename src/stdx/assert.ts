/**
 * Assertions that stay on in production. A failed assertion is a programmer error: the
 * process must not go on with a broken invariant, so it throws AssertionError, which no
 * code path catches to continue. Domain outcomes (a rejected order) never use these.
 */

export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

export function assert(condition: boolean, message?: string): asserts condition {
  if (!condition) throw new AssertionError(message ?? "assertion failed");
}

/** Marks code that the type system proves unreachable; throws if reached anyway. */
export function unreachable(value: never, message = "unreachable"): never {
  throw new AssertionError(`${message}: ${String(value)}`);
}

export function isSafeInt(x: number): boolean {
  return Number.isSafeInteger(x);
}
