/**
 * {@linkcode ReadSize}: how many bytes the next read of a connection asks
 * for, adapted to its traffic. One home for the rule the socket transport
 * and the TLS server stream share.
 *
 * @module
 */

/** Reads this many times smaller than the read size in a row shrink it. */
const SHRINK_AFTER = 16;

/**
 * The size of a connection's next read: it starts at `min`; a read that
 * filled its buffer doubles it (up to `max`); a run of reads far smaller
 * than it (an eighth or less, {@linkcode SHRINK_AFTER} in a row) halves it
 * (down to `min`). An idle connection so holds a small buffer, a busy one
 * a large one.
 *
 * @example
 * ```ts
 * import { ReadSize } from "./_read_size.ts";
 *
 * const readSize = new ReadSize(256, 4096);
 * readSize.update(256, 256); // a full read
 * readSize.size; // 512
 * ```
 */
export class ReadSize {
  /** The size the next read asks for. */
  size: number;
  #min: number;
  #max: number;
  #smallReads = 0;

  /** Starts at `min` bytes; never above `max`. */
  constructor(min: number, max: number) {
    this.size = this.#min = min;
    this.#max = max;
  }

  /** A read of `n` bytes into a buffer of `size` bytes completed. */
  update(n: number, size: number): void {
    if (n >= size) {
      if (this.size < this.#max) this.size *= 2;
      this.#smallReads = 0;
    } else if (n <= this.size >> 3 && this.size > this.#min) {
      if (++this.#smallReads >= SHRINK_AFTER) {
        this.size >>= 1;
        this.#smallReads = 0;
      }
    } else {
      this.#smallReads = 0;
    }
  }
}
