/**
 * {@linkcode ByteQueue}: bytes received and not yet consumed, for the stream
 * reader and the framing protocols: the library's one byte queue.
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
 * A queue of bytes: added at the end, consumed from the front, always
 * readable as one contiguous view.
 *
 * Two ways in: {@linkcode ByteQueue.append} copies (for a framer that keeps
 * a few bytes of a large chunk: the chunk's memory is not held), and
 * {@linkcode ByteQueue.push} keeps the chunk itself while nothing else waits
 * (for a reader that hands chunks on: a chunk consumed before the next one
 * arrives is never copied). Copied bytes go into one buffer that doubles as
 * it fills and reuses the space consumed in front, so each byte is copied in
 * once, plus the doubling: a search that looks only at new bytes
 * ({@linkcode ByteQueue.indexOf} with `from`) keeps a long line that arrives
 * in small pieces linear.
 *
 * @example
 * ```ts
 * import { ByteQueue } from "./_byte_queue.ts";
 *
 * const queue = new ByteQueue();
 * queue.append(new TextEncoder().encode("ab\ncd"));
 * queue.indexOf(new Uint8Array([10])); // 2
 * queue.take(3); // "ab\n" as bytes
 * queue.length; // 2
 * ```
 */
export class ByteQueue {
  #held: Uint8Array | null = null; // a pushed chunk, kept as it is
  #bytes = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** How many bytes are waiting. */
  get length(): number {
    return this.#held !== null ? this.#held.length : this.#end - this.#start;
  }

  /** The waiting bytes, as one view valid until the next change. */
  view(): Uint8Array {
    return this.#held ?? this.#bytes.subarray(this.#start, this.#end);
  }

  /** Appends a copy of `data`. */
  append(data: Uint8Array): void {
    if (this.#held !== null) {
      const held = this.#held;
      this.#held = null;
      this.#copyIn(held);
    }
    this.#copyIn(data);
  }

  /**
   * Appends `data` itself when nothing waits (no copy: do not change it
   * while it waits), else a copy of it.
   */
  push(data: Uint8Array): void {
    if (this.length === 0 && data.length > 0) {
      this.#start = this.#end = 0;
      this.#held = data;
    } else {
      this.append(data);
    }
  }

  #copyIn(data: Uint8Array): void {
    const length = this.#end - this.#start;
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

  /**
   * Removes and returns the first `n` bytes (`n` at most
   * {@linkcode ByteQueue.length}): a view of a pushed chunk, otherwise a
   * new array.
   */
  take(n: number): Uint8Array {
    const held = this.#held;
    if (held !== null) {
      if (n >= held.length) {
        this.#held = null;
        return held;
      }
      this.#held = held.subarray(n);
      return held.subarray(0, n);
    }
    const taken = this.#bytes.slice(this.#start, this.#start + n);
    this.skip(n);
    return taken;
  }

  /** Drops the first `n` bytes. */
  skip(n: number): void {
    const held = this.#held;
    if (held !== null) {
      this.#held = n >= held.length ? null : held.subarray(n);
      return;
    }
    this.#start += Math.min(n, this.#end - this.#start);
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Where `needle` starts in the waiting bytes, from `from`; -1 if not. */
  indexOf(needle: Uint8Array, from = 0): number {
    return indexOfBytes(this.view(), needle, from);
  }
}
