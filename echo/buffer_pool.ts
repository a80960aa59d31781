/**
 * {@linkcode BufferPool}: a free list of equal-sized byte arrays, so that a
 * busy connection reuses its read buffers instead of making garbage.
 *
 * @module
 */

/**
 * A free list of byte arrays of one size. {@linkcode BufferPool.take} hands
 * out a free array (or a new one); {@linkcode BufferPool.give} takes one back
 * once nothing refers to its contents any more. At most `maxFree` arrays are
 * kept: the pool never holds more than `size × maxFree` bytes.
 *
 * @example
 * ```ts
 * import { BufferPool } from "./buffer_pool.ts";
 *
 * const pool = new BufferPool(65536, 16);
 * const buffer = pool.take();
 * // ... read into it, write it out, wait for the write ...
 * pool.give(buffer);
 * ```
 */
export class BufferPool {
  readonly size: number;
  readonly maxFree: number;
  #free: Uint8Array[] = [];

  /** A pool of `size`-byte arrays, keeping at most `maxFree` spare ones. */
  constructor(size: number, maxFree: number) {
    this.size = size;
    this.maxFree = maxFree;
  }

  /** How many free arrays the pool holds now. */
  get freeCount(): number {
    return this.#free.length;
  }

  /** A free array of {@linkcode BufferPool.size} bytes. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.size);
  }

  /** Returns an array taken from this pool; its contents may be reused. */
  give(buffer: Uint8Array): void {
    if (this.#free.length < this.maxFree && buffer.byteLength === this.size) {
      this.#free.push(buffer);
    }
  }
}
