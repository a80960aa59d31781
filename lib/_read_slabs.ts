/**
 * {@linkcode ReadSlabs}: the memory a transport reads a plain Protocol's
 * chunks into, and when a chunk's memory may be read into again: only
 * after the protocol released it and every write of it has been sent.
 *
 * Writes are counted for every transport at once ({@linkcode writeQueued},
 * {@linkcode writeSent}): a chunk one connection read may sit in the write
 * buffers of many others (a broadcast, a proxy).
 *
 * @module
 */

import {
  COPY_ALONE_SIZE,
  KEPT_READ_SIZE,
  RELEASED_SLAB_SIZE,
  SLAB_SIZE,
} from "./_defaults.ts";

/** Chunks released in their calls in a row that end copying. */
const RELEASES_TO_STOP_COPYING = 16;

/** One block of memory that reads go into, one after another. */
class Slab {
  /** Where the next read goes. */
  offset = 0;
  /** Queued writes of this memory, on any transport, not yet sent. */
  writes = 0;
  /** No more reads go into it. */
  retired = false;
  /** A chunk of it is in the protocol's call now. */
  inCall = false;
  /** Each chunk delivered and not released: offset, length, offset, ... */
  held: number[] | null = null; // made for the first chunk kept

  constructor(readonly buffer: ArrayBuffer, readonly owner: ReadSlabs) {}

  /** Nothing uses its memory any more. */
  get free(): boolean {
    return this.retired && this.writes === 0 && !this.inCall &&
      (this.held === null || this.held.length === 0);
  }
}

/** Takes a free slab back for its owner (ReadSlabs' own #reclaim). */
let reclaim: (owner: ReadSlabs, slab: Slab) => void;

/**
 * The property a slab's ArrayBuffer carries its slab under, a symbol no
 * other module holds. Any buffer may be written, so every write looks it
 * up, and a property load, there or not, is one inline-cache check; a
 * private field (which a buffer never stamped lacks) needs an `in` check
 * first, a call into the runtime.
 */
const SLAB = Symbol("slab");

/** An ArrayBuffer as {@linkcode SlabStamp} sees it. */
interface Stamped {
  [SLAB]?: Slab | null;
}

/** The slab a block of memory belongs to, kept on the ArrayBuffer itself. */
const SlabStamp = {
  /** Marks `memory` (an ArrayBuffer never marked before) as `slab`'s. */
  mark(memory: ArrayBuffer, slab: Slab): void {
    (memory as Stamped)[SLAB] = slab;
  },

  /** Unmarks `memory`: its slab was taken back. */
  unmark(memory: ArrayBuffer): void {
    try {
      (memory as Stamped)[SLAB] = null;
    } catch {
      // Frozen by the protocol: it keeps the stamp, and is detached anyway.
    }
  },

  /** The slab `memory` belongs to, if any. */
  of(memory: ArrayBufferLike): Slab | null {
    return (memory as Stamped)[SLAB] ?? null;
  },
};

/**
 * Whether a write of `data` sends nothing, for every transport's `write()`:
 * true for an empty array. A released chunk whose memory a transport took
 * back is empty too, but detached: writing it is the protocol's mistake,
 * and throws.
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
      "write() of a detached array: a released chunk is the transport's once its writes are sent; keep a copy (data.slice()) to write it again",
    );
  }
  return true;
}

/**
 * A transport queued a write of `data` (which it will send without a
 * copy): its memory, if it is a slab's, is not read into until
 * {@linkcode writeSent}.
 *
 * @example
 * ```ts
 * import { writeQueued, writeSent } from "./_read_slabs.ts";
 *
 * const data = new Uint8Array(8);
 * writeQueued(data); // before it joins the write buffer
 * writeSent(data); // once it has left it: sent, copied or dropped
 * ```
 */
export function writeQueued(data: Uint8Array): void {
  const slab = SlabStamp.of(data.buffer);
  if (slab) slab.writes++;
}

/**
 * A write queued with {@linkcode writeQueued} left the write buffer: sent,
 * copied, or dropped with a lost connection once no system call reads it.
 *
 * @example
 * ```ts
 * import { writeQueued, writeSent } from "./_read_slabs.ts";
 *
 * const data = new Uint8Array(8);
 * writeQueued(data);
 * writeSent(data);
 * ```
 */
export function writeSent(data: Uint8Array): void {
  const slab = SlabStamp.of(data.buffer);
  if (slab && --slab.writes === 0 && slab.free) reclaim(slab.owner, slab);
}

/** Options of {@linkcode ReadSlabs}. */
export interface ReadSlabsOptions {
  /**
   * Give each read a slab of its own, retired once taken, so that a
   * released chunk is taken back (detached) as soon as its writes are
   * sent: misuse shows at once. For the in-memory transport.
   */
  slabPerRead?: boolean;
}

/**
 * Hands out memory for reads, as views of slabs filled one read after
 * another, and takes a slab back once it is safe to read into it again: no
 * more reads go into it, every chunk read into it was released
 * ({@linkcode ReadSlabs.release}), and every write of its memory, on any
 * transport, has been sent. Taking it back detaches the old `ArrayBuffer`
 * (`transfer()`, no copy), so a view kept by mistake is emptied, never
 * rewritten. A chunk that is never released keeps its slab the protocol's
 * for good: it is collected with the chunk.
 *
 * One detach per slab rather than per read: a slab holds many small reads.
 * A connection's first slab holds two reads; each new one is twice as large
 * as the last, up to {@linkcode RELEASED_SLAB_SIZE} (or two reads, if
 * larger).
 *
 * While chunks are kept (the last slab retired still had some), reads go
 * into one reused buffer instead, at most {@linkcode KEPT_READ_SIZE} at a
 * time, and each chunk is copied out of it: into memory shared by the small
 * chunks, back to back, and into memory of its own, exactly its size, from
 * {@linkcode COPY_ALONE_SIZE} up, the small ones growing like slabs, up to
 * {@linkcode SLAB_SIZE}. Reading into slabs directly would leave unused, at
 * the end of each, up to a read size (which runs ahead of the reads) of new
 * memory that is never read into again. Copies are never read into again
 * either, so they need no bookkeeping: they are collected with their
 * chunks, and releasing one does nothing. Sixteen chunks in a row released
 * in their calls go back to reading into slabs.
 *
 * @example
 * ```ts
 * import { ReadSlabs, writeQueued, writeSent } from "./_read_slabs.ts";
 *
 * const slabs = new ReadSlabs();
 * const target = slabs.target(1024); // read into this
 * const chunk = slabs.take(target, 5); // 5 bytes were read: the chunk
 * writeQueued(chunk); // the protocol wrote it,
 * slabs.release(chunk); // and released it
 * slabs.delivered(); // in its dataReceived
 * writeSent(chunk); // it was sent: once the slab is full, it comes back
 * ```
 */
export class ReadSlabs {
  #current: Slab | null = null;
  #perRead: boolean;
  #size = 0; // the size of the last slab made
  #keeping = false; // the last slab retired had chunks held
  // While chunks are kept, reads go into this buffer and each chunk is
  // copied out of it, exactly: a read's size is not known before it, and
  // memory read into directly would waste what the read size leaves
  // unused, new memory that no one reads into again.
  #scratch: Uint8Array | null = null;
  // The memory small chunks are copied into, back to back, and how far.
  #copies: ArrayBuffer | null = null;
  #copied = 0;
  #copiesSize = 0; // the size of the last one made
  #releasesInARow = 0;
  #spare: ArrayBuffer | null = null;
  #last: Uint8Array | null = null; // the chunk in the protocol's call now
  #lastSlab: Slab | null = null; // its slab, if it has one
  #lastReleased = false;
  #cleared = false;

  /** Makes the slabs of one connection. */
  constructor(options: ReadSlabsOptions = {}) {
    this.#perRead = options.slabPerRead === true;
  }

  /**
   * Memory for a read of `size` bytes: after the last chunk taken, or, while
   * chunks are kept, a buffer of the transport's that `take()` copies from
   * (of at most {@linkcode KEPT_READ_SIZE} bytes).
   */
  target(size: number): Uint8Array {
    let slab = this.#current;
    if (slab !== null && slab.buffer.byteLength - slab.offset < size) {
      this.#retire(slab); // finding chunks held there starts copying
      slab = this.#current = null;
    }
    if (this.#keeping && !this.#perRead) {
      return this.#scratchOf(Math.min(size, KEPT_READ_SIZE));
    }
    slab ??= this.#current = this.#next(size);
    return new Uint8Array(slab.buffer, slab.offset, size);
  }

  /** A read put `n` bytes into `target`: the chunk for the protocol. */
  take(target: Uint8Array, n: number): Uint8Array {
    const slab = this.#current;
    // No slab: a kept chunk, read into the scratch buffer to be copied
    // (while chunks are kept, target() leaves no slab current).
    if (slab === null) return this.#copy(target, n);
    if (this.#perRead) return this.#takeAlone(slab, n);
    const chunk = n === target.byteLength
      ? target
      : new Uint8Array(slab.buffer, slab.offset, n);
    slab.offset += n;
    return this.#lend(chunk, slab);
  }

  /** take() of a read into a slab of its own, retired at once. */
  #takeAlone(slab: Slab, n: number): Uint8Array {
    this.#current = null;
    const chunk = this.#lend(new Uint8Array(slab.buffer, slab.offset, n), slab);
    slab.offset += n;
    this.#retire(slab);
    return chunk;
  }

  /**
   * The protocol gives `chunk` back: a chunk {@linkcode ReadSlabs.take}
   * made (after its call, also an array over exactly its bytes). Anything
   * else, and a chunk already released, is ignored.
   */
  release(chunk: Uint8Array): void {
    // In its call, the usual case: see delivered().
    if (chunk === this.#last) this.#lastReleased = true;
    else this.#releaseHeld(chunk);
  }

  /** release() of a chunk whose call has returned. */
  #releaseHeld(chunk: Uint8Array): void {
    const slab = SlabStamp.of(chunk.buffer);
    if (!slab || slab.owner !== this) return;
    const held = slab.held ?? [];
    for (let i = 0; i < held.length; i += 2) {
      if (held[i] === chunk.byteOffset && held[i + 1] === chunk.byteLength) {
        held.splice(i, 2);
        if (slab.free) reclaim(this, slab);
        return;
      }
    }
  }

  /**
   * The protocol's call with the last chunk taken returned: unless released
   * in the call, the chunk is held from now on. (While the call runs, its
   * slab is never free: a write sent within the call cannot free the memory
   * under it.)
   */
  delivered(): void {
    const slab = this.#lastSlab;
    // The usual case of a protocol that releases its chunks: the chunk was
    // released in its call, and its slab is still read into.
    if (this.#lastReleased && slab !== null && slab === this.#current) {
      slab.inCall = false;
      this.#last = this.#lastSlab = null;
      this.#releasesInARow++; // not keeping: no need to check for 16
      return;
    }
    this.#settle();
  }

  /** delivered(), every other case. */
  #settle(): void {
    const chunk = this.#last;
    if (chunk === null) return;
    const slab = this.#lastSlab;
    this.#last = this.#lastSlab = null;
    if (slab !== null) slab.inCall = false;
    if (!this.#lastReleased) {
      this.#releasesInARow = 0;
      if (slab !== null) {
        (slab.held ??= []).push(chunk.byteOffset, chunk.byteLength);
      }
      return;
    }
    // A protocol that releases its chunks now: read into slabs again.
    if (++this.#releasesInARow >= RELEASES_TO_STOP_COPYING) {
      this.#keeping = false;
    }
    if (slab?.free) reclaim(this, slab);
  }

  /** Drops every slab: the connection is gone. */
  clear(): void {
    this.#cleared = true;
    this.#current = null;
    this.#last = this.#lastSlab = null;
    this.#spare = null;
    this.#scratch = null;
    this.#copies = null;
  }

  static {
    reclaim = (owner, slab) => owner.#reclaim(slab);
  }

  /**
   * Every chunk of `slab` was released and every write of it sent: detach
   * it, and keep its memory for later reads.
   */
  #reclaim(slab: Slab): void {
    SlabStamp.unmark(slab.buffer);
    const memory = slab.buffer.transfer();
    if (this.#cleared) return;
    if (!this.#spare || this.#spare.byteLength < memory.byteLength) {
      this.#spare = memory;
    }
  }

  /** The scratch buffer, at least `size` bytes; a view of `size`. */
  #scratchOf(size: number): Uint8Array {
    let scratch = this.#scratch;
    // Too small, or far too large now that reads got small: a new one.
    if (
      scratch === null || scratch.byteLength < size ||
      scratch.byteLength >= 8 * size
    ) {
      scratch = this.#scratch = new Uint8Array(size);
    }
    return scratch.byteLength === size ? scratch : scratch.subarray(0, size);
  }

  /** The chunk read into the scratch buffer, copied out exactly. */
  #copy(target: Uint8Array, n: number): Uint8Array {
    if (n >= COPY_ALONE_SIZE) return this.#lend(target.slice(0, n), null);
    let copies = this.#copies;
    if (copies === null || copies.byteLength - this.#copied < n) {
      // Twice the last, up to SLAB_SIZE: a connection that keeps a few
      // small chunks holds little.
      this.#copiesSize = Math.max(
        n,
        Math.min(2 * this.#copiesSize || 2 * n, SLAB_SIZE),
      );
      copies = this.#copies = new ArrayBuffer(this.#copiesSize);
      this.#copied = 0;
    }
    const chunk = new Uint8Array(copies, this.#copied, n);
    chunk.set(n === target.byteLength ? target : target.subarray(0, n));
    this.#copied += n;
    return this.#lend(chunk, null);
  }

  /** `chunk` (of `slab`, if it has one) goes to the protocol's call. */
  #lend(chunk: Uint8Array, slab: Slab | null): Uint8Array {
    if (slab !== null) slab.inCall = true;
    this.#lastSlab = slab;
    this.#lastReleased = false;
    return this.#last = chunk;
  }

  /** No more reads go into `slab`. */
  #retire(slab: Slab): void {
    slab.retired = true;
    this.#keeping = slab.held !== null && slab.held.length > 0;
    if (slab.free) this.#reclaim(slab);
  }

  #next(size: number): Slab {
    let bytes = size;
    if (!this.#perRead) {
      bytes = this.#size = Math.max(
        2 * size,
        Math.min(2 * this.#size, RELEASED_SLAB_SIZE),
      );
    }
    const spare = this.#spare;
    this.#spare = null;
    const memory = spare && spare.byteLength >= bytes
      ? spare
      : new ArrayBuffer(bytes);
    const slab = new Slab(memory, this);
    SlabStamp.mark(memory, slab);
    return slab;
  }
}
