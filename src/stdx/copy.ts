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

/** A DataView of the last array asked for, made again only when a different array comes. */
export class ViewCache {
  private array: Uint8Array | undefined;
  private view: DataView = new DataView(new ArrayBuffer(0));

  of(b: Uint8Array): DataView {
    if (b !== this.array) {
      this.array = b;
      this.view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    }
    return this.view;
  }
}
