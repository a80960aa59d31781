/**
 * {@linkcode ByteBuffer}: bytes received and not yet consumed, for the
 * stream reader and the framing protocols.
 *
 * @module
 */

/** Where `needle` starts in `haystack` from `from`, or -1. */
export function indexOfBytes(
  haystack: Uint8Array,
  needle: Uint8Array,
  from = 0,
): number {
  const first = needle[0];
  const last = haystack.length - needle.length;
  for (let i = from; i <= last; i++) {
    i = haystack.indexOf(first, i);
    if (i < 0 || i > last) return -1;
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/**
 * A growable queue of bytes: append at the end, consume from the front.
 * Memory is reused: consumed space is reclaimed by moving the rest down
 * before growing.
 *
 * @example
 * ```ts
 * import { ByteBuffer } from "./_byte_buffer.ts";
 *
 * const buffer = new ByteBuffer();
 * buffer.append(new TextEncoder().encode("ab\ncd"));
 * buffer.indexOf(new Uint8Array([10])); // 2
 * buffer.take(3); // "ab\n" as bytes
 * buffer.length; // 2
 * ```
 */
export class ByteBuffer {
  #bytes = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** How many bytes are waiting. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** The waiting bytes, as a view valid until the next change. */
  view(): Uint8Array {
    return this.#bytes.subarray(this.#start, this.#end);
  }

  /** Appends a copy of `data`. */
  append(data: Uint8Array): void {
    const length = this.length;
    if (this.#end + data.length > this.#bytes.length) {
      if (length + data.length <= this.#bytes.length >> 1) {
        this.#bytes.copyWithin(0, this.#start, this.#end);
      } else {
        const bigger = new Uint8Array(
          Math.max(2 * this.#bytes.length, length + data.length, 256),
        );
        bigger.set(this.#bytes.subarray(this.#start, this.#end));
        this.#bytes = bigger;
      }
      this.#start = 0;
      this.#end = length;
    }
    this.#bytes.set(data, this.#end);
    this.#end += data.length;
  }

  /** Removes and returns (as a new array) the first `n` bytes. */
  take(n: number): Uint8Array {
    const taken = this.#bytes.slice(this.#start, this.#start + n);
    this.skip(n);
    return taken;
  }

  /** Drops the first `n` bytes. */
  skip(n: number): void {
    this.#start += Math.min(n, this.length);
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Where `needle` starts in the waiting bytes, from `from`; -1 if not. */
  indexOf(needle: Uint8Array, from = 0): number {
    return indexOfBytes(this.view(), needle, from);
  }
}
