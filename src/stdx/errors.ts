/**
 * Operating faults: one small hierarchy with a stable code and an optional cause. A fault
 * is something the world did (a dead thread, a full disk), not a programmer error (those
 * are assertions) and not a domain outcome (a rejected order is data).
 */

export class VenueError extends Error {
  override readonly name: string = "VenueError";

  constructor(readonly code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
