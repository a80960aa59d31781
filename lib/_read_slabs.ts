/**
 * {@linkcode ReadSlabs}: the memory a transport reads a plain Protocol's
 * chunks into, and when that memory may be read into again.
 *
 * @module
 */

/**
 * The largest slab while the protocol keeps its chunks (or parses and drops
 * them: the transport cannot tell): each slab is new memory, so a large one
 * spreads the cost of allocating it over many reads.
 */
export const SLAB_SIZE = 64 * 1024;

/**
 * The largest slab while the protocol writes its chunks back: its memory
 * is read into again, and a small one keeps the memory a connection cycles
 * through small enough to stay in the CPU's cache.
 */
export const RETURNED_SLAB_SIZE = 8 * 1024;

/** One block of memory that reads go into, one after another. */
class Slab {
  /** Where the next read goes. */
  offset = 0;
  /** Writes of views of this memory that have not been sent yet. */
  writes = 0;
  /** A chunk of it stayed with the protocol: it is never read into again. */
  kept = false;

  constructor(readonly buffer: ArrayBuffer) {}
}

const EMPTY = new Slab(new ArrayBuffer(0));

/**
 * Whether a write of `data` sends nothing, for both transports' `write()`:
 * true for an empty array. An array whose memory a transport took back (the
 * protocol kept a chunk it had written back, and wrote it again) is empty
 * too, but detached: writing it is the protocol's mistake, and throws.
 *
 * @throws {TypeError} for a detached array.
 *
 * @example
 * ```ts
 * import { isEmptyWrite } from "./_read_slabs.ts";
 *
 * const chunk = new Uint8Array(4);
 * isEmptyWrite(chunk); // false: four bytes to send
 * chunk.buffer.transfer();
 * try {
 *   isEmptyWrite(chunk);
 * } catch (error) {
 *   console.log((error as TypeError).message); // write() of a detached array: ...
 * }
 * ```
 */
export function isEmptyWrite(data: Uint8Array): boolean {
  if (data.byteLength > 0) return false;
  if ((data.buffer as ArrayBuffer).detached) {
    throw new TypeError(
      "write() of a detached array: a chunk written back is the transport's once sent; keep a copy (data.slice()) to write it again",
    );
  }
  return true;
}

/**
 * Hands out memory for reads, as views of slabs filled one read after
 * another, and takes a slab back once it is safe to read into it again:
 * every chunk read into it was written back (the same array, once) and every
 * write of its memory has been sent. Taking it back detaches the old
 * `ArrayBuffer` (`transfer()`, no copy), so a view the protocol still holds
 * is emptied, never rewritten.
 *
 * One detach per slab rather than per read: a slab holds many small reads.
 * A connection's first slab holds two reads; each new one is twice as large
 * as the last, up to {@linkcode RETURNED_SLAB_SIZE} while chunks come back
 * and {@linkcode SLAB_SIZE} while they are kept (or two reads, if larger).
 *
 * @example
 * ```ts
 * import { ReadSlabs } from "./_read_slabs.ts";
 *
 * const slabs = new ReadSlabs();
 * const target = slabs.target(1024); // read into this
 * const chunk = slabs.take(target, 5); // 5 bytes were read: the chunk
 * slabs.queued(chunk); // the protocol wrote it back, once,
 * slabs.delivered(); // in its dataReceived
 * slabs.sent(chunk); // it was sent: once the slab is full, it comes back
 * ```
 */
export class ReadSlabs {
  #current = EMPTY;
  #size = 0; // the size of the last slab made
  #keeping = false; // the protocol kept a chunk of the last slab retired
  // Retired slabs whose chunks were all written back, with writes not yet
  // sent, by memory: a peer that stops reading can leave thousands here, and
  // every write and send looks its memory up.
  #waiting = new Map<ArrayBufferLike, Slab>();
  #spare: ArrayBuffer | null = null;
  #last: Uint8Array | null = null; // the chunk in the protocol's call now
  #lastWrites = 0; // how often the protocol wrote #last back

  /** Memory for a read of `size` bytes, after the last chunk taken. */
  target(size: number): Uint8Array {
    let slab = this.#current;
    if (slab.buffer.byteLength - slab.offset < size) {
      this.#retire(slab);
      this.#last = null; // a chunk of the retired slab: no longer #current's
      slab = this.#current = this.#next(size);
    }
    return new Uint8Array(slab.buffer, slab.offset, size);
  }

  /** A read put `n` bytes into `target`: the chunk for the protocol. */
  take(target: Uint8Array, n: number): Uint8Array {
    const slab = this.#current;
    const chunk = n === target.byteLength
      ? target
      : new Uint8Array(slab.buffer, slab.offset, n);
    slab.offset += n;
    this.#lastWrites = 0;
    return this.#last = chunk;
  }

  /**
   * The protocol's call with the last chunk taken returned. Written back in
   * it exactly once (the same array), the chunk is the transport's again;
   * otherwise (kept, or written more than once) its slab stays the
   * protocol's.
   */
  delivered(): void {
    if (this.#lastWrites !== 1) this.#current.kept = true;
    this.#last = null;
  }

  /** A write of `chunk` was queued. */
  queued(chunk: Uint8Array): void {
    if (chunk === this.#last) {
      // The chunk in the protocol's call, written back: the usual case.
      this.#lastWrites++;
      this.#current.writes++;
      return;
    }
    const slab = this.#slabOf(chunk.buffer);
    if (slab) slab.writes++;
  }

  /** A queued write of `chunk` left the write buffer (sent or copied). */
  sent(chunk: Uint8Array): void {
    const slab = this.#slabOf(chunk.buffer);
    if (!slab || --slab.writes > 0 || slab === this.#current) return;
    this.#waiting.delete(slab.buffer);
    this.#reclaim(slab);
  }

  /** Drops every slab: the connection is gone. */
  clear(): void {
    this.#current = EMPTY;
    this.#last = null;
    this.#waiting.clear();
    this.#spare = null;
  }

  #slabOf(buffer: ArrayBufferLike): Slab | undefined {
    if (buffer === this.#current.buffer) return this.#current;
    return this.#waiting.size === 0 ? undefined : this.#waiting.get(buffer);
  }

  /** No more reads go into `slab`. */
  #retire(slab: Slab): void {
    this.#keeping = slab.kept;
    if (slab.kept || slab === EMPTY) return;
    if (slab.writes === 0) this.#reclaim(slab);
    else this.#waiting.set(slab.buffer, slab);
  }

  /** Every chunk of `slab` came back and was sent: keep its memory. */
  #reclaim(slab: Slab): void {
    const memory = slab.buffer.transfer();
    if (!this.#spare || this.#spare.byteLength < memory.byteLength) {
      this.#spare = memory;
    }
  }

  #next(size: number): Slab {
    const largest = this.#keeping ? SLAB_SIZE : RETURNED_SLAB_SIZE;
    this.#size = Math.max(2 * size, Math.min(2 * this.#size, largest));
    const spare = this.#spare;
    this.#spare = null;
    if (spare && spare.byteLength >= this.#size) return new Slab(spare);
    return new Slab(new ArrayBuffer(this.#size));
  }
}
