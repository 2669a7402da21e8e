/**
 * Byte copies on hot paths without making a view per copy. `Uint8Array.set` needs a
 * `subarray` of the source (an object per copy); these copy through DataViews made once
 * per buffer, eight bytes at a time as two 32-bit words (integers, so no NaN pattern is
 * ever canonicalised on the way).
 */

/** Copies `len` bytes from `src` at `off` to `dst` at `at`. The ranges must not overlap. */
export function copyView(dst: DataView, at: number, src: DataView, off: number, len: number): void {
  let i = 0;
  for (; i + 8 <= len; i += 8) {
    dst.setInt32(at + i, src.getInt32(off + i, true), true);
    dst.setInt32(at + i + 4, src.getInt32(off + i + 4, true), true);
  }
  for (; i < len; i++) dst.setUint8(at + i, src.getUint8(off + i));
}

/**
 * DataViews of the last few arrays asked for (a writer that alternates between a handful of
 * source buffers, such as one ring per topic, makes no view per call). A fifth array
 * replaces the oldest.
 */
export class ViewCache {
  private readonly arrays: (Uint8Array | undefined)[] = [undefined, undefined, undefined, undefined];
  private readonly views: DataView[] = [];
  private next = 0;

  constructor() {
    const empty = new DataView(new ArrayBuffer(0));
    for (let i = 0; i < 4; i++) this.views.push(empty);
  }

  of(b: Uint8Array): DataView {
    const a = this.arrays;
    if (a[0] === b) return this.views[0]!;
    if (a[1] === b) return this.views[1]!;
    if (a[2] === b) return this.views[2]!;
    if (a[3] === b) return this.views[3]!;
    const i = this.next;
    this.next = (i + 1) & 3;
    a[i] = b;
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    this.views[i] = v;
    return v;
  }
}

/**
 * A copy of `src[from, to)` as a Buffer (a Uint8Array). Small copies come from Node's shared
 * pool (slices of one 8 KiB ArrayBuffer, as `Buffer.allocUnsafe` gives), not a new backing
 * store each: a fresh Uint8Array above 64 bytes is a separate allocation outside the heap
 * that the garbage collector tracks, several times the cost of the copy itself. So the
 * result's `buffer` may hold other bytes: read it through its `byteOffset` and `length`.
 */
export function copyOut(src: Uint8Array, from: number, to: number): Uint8Array {
  const out = Buffer.allocUnsafe(to - from);
  out.set(src.subarray(from, to));
  return out;
}
