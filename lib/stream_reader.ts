/**
 * {@linkcode StreamReader}: bytes from a connection, read as asyncio's
 * `StreamReader` reads them, and the errors its reads throw.
 *
 * @module
 */

import { STREAM_LIMIT } from "./_defaults.ts";
import { ByteQueue } from "./_byte_queue.ts";
import type { Transport } from "./transport.ts";

const encoder = new TextEncoder();

/**
 * `limit`, when it is a buffer limit (a whole number > 0).
 *
 * @throws {RangeError} otherwise.
 */
export function checkLimit(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit <= 0) {
    throw new RangeError(`limit must be a whole number > 0, got ${limit}`);
  }
  return limit;
}

/**
 * The stream ended before the bytes asked for arrived (asyncio's
 * `IncompleteReadError`).
 *
 * @example
 * ```ts
 * import { IncompleteReadError } from "@protocols/core";
 *
 * const error = new IncompleteReadError(new Uint8Array(3), 10);
 * error.partial.length; // 3
 * error.expected; // 10
 * ```
 */
export class IncompleteReadError extends Error {
  /** The error's name. */
  override name = "IncompleteReadError";

  /**
   * Makes the error.
   *
   * @param partial the bytes read before the end of the stream.
   * @param expected how many were asked for (null: up to a separator).
   */
  constructor(
    readonly partial: Uint8Array,
    readonly expected: number | null,
  ) {
    super(
      `${partial.length} bytes read on a total of ${
        expected === null ? "undefined" : expected
      } expected bytes`,
    );
  }
}

/**
 * No separator within the reader's limit (asyncio's `LimitOverrunError`).
 *
 * @example
 * ```ts
 * import { LimitOverrunError } from "@protocols/core";
 *
 * new LimitOverrunError("separator not found within the limit", 65536).consumed; // 65536
 * ```
 */
export class LimitOverrunError extends Error {
  /** The error's name. */
  override name = "LimitOverrunError";

  /**
   * Makes the error.
   *
   * @param message what was exceeded.
   * @param consumed how many bytes to consume to get past what was searched.
   */
  constructor(message: string, readonly consumed: number) {
    super(message);
  }
}

/**
 * Bytes from a connection, read as asyncio's `StreamReader` reads them.
 *
 * Flow control is real: while more than twice `limit` bytes wait unread the
 * transport stops reading the socket (TCP then slows the peer down), and
 * reading resumes once at most `limit` wait, or as soon as a read is waiting
 * for more than is buffered (`read()` to the end, a long `readexactly`).
 *
 * @example Reading lines
 * ```ts
 * import { openConnection } from "@protocols/core";
 *
 * const { reader, writer } = await openConnection({ hostname: "localhost", port: 10000 });
 * writer.write("hello\n");
 * const line = await reader.readline(); // the echo, "hello\n" as bytes
 * writer.close();
 * ```
 */
export class StreamReader implements AsyncIterable<Uint8Array> {
  #buffer = new ByteQueue();
  #limit: number;
  #eof = false;
  #error: Error | null = null;
  #waiter: PromiseWithResolvers<void> | null = null;
  #transport: Transport | null = null;
  #paused = false;
  #readable: ReadableStream<Uint8Array> | null = null;

  /**
   * Makes a reader; {@linkcode startServer} and {@linkcode openConnection}
   * make them for their connections.
   *
   * @param limit the buffer limit, in bytes (default 64 KiB).
   */
  constructor(limit = STREAM_LIMIT) {
    this.#limit = checkLimit(limit);
  }

  /** The transport whose reading is paused while too much waits. */
  setTransport(transport: Transport): void {
    this.#transport = transport;
  }

  /** Adds bytes that arrived (the protocol's side). */
  feedData(data: Uint8Array): void {
    if (data.length === 0) return;
    this.#buffer.push(data);
    this.#wake();
    if (
      !this.#paused && this.#transport &&
      this.#buffer.length > 2 * this.#limit
    ) {
      this.#paused = true;
      this.#transport.pauseReading();
    }
  }

  /** Marks the end of the stream (the protocol's side). */
  feedEof(): void {
    this.#eof = true;
    this.#wake();
  }

  /** Ends the stream with an error: pending and later reads reject. */
  setException(error: Error): void {
    this.#error = error;
    this.#wake();
  }

  /** Whether the stream ended and every byte has been read. */
  atEof(): boolean {
    return this.#eof && this.#buffer.length === 0;
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.resolve();
  }

  /**
   * Waits for more bytes, the end, or an error. A read that waits lets data
   * in whatever is buffered (as asyncio's `_wait_for_data` does): it waits
   * because what is buffered is not enough, and only more can finish it.
   */
  async #wait(): Promise<void> {
    if (this.#waiter) {
      throw new Error(
        "another read is already waiting on this StreamReader",
      );
    }
    if (this.#paused) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
    this.#waiter = Promise.withResolvers<void>();
    await this.#waiter.promise;
  }

  #resume(): void {
    if (this.#paused && this.#buffer.length <= this.#limit) {
      this.#paused = false;
      this.#transport?.resumeReading();
    }
  }

  #consume(n: number): Uint8Array {
    const data = n === 0 ? new Uint8Array(0) : this.#buffer.take(n);
    this.#resume();
    return data;
  }

  /**
   * Reads up to `n` bytes: whatever is there (at least one byte) once
   * something is; an empty array at the end of the stream. With `n` < 0
   * (the default), reads to the end of the stream.
   */
  async read(n = -1): Promise<Uint8Array> {
    if (this.#error) throw this.#error;
    if (n === 0) return new Uint8Array(0);
    if (n < 0) {
      while (!this.#eof) {
        await this.#wait();
        if (this.#error) throw this.#error;
      }
      return this.#consume(this.#buffer.length);
    }
    while (this.#buffer.length === 0 && !this.#eof) {
      await this.#wait();
      if (this.#error) throw this.#error;
    }
    return this.#consume(Math.min(n, this.#buffer.length));
  }

  /**
   * Reads exactly `n` bytes.
   *
   * @throws {IncompleteReadError} when the stream ends first (with the
   * bytes that did arrive, which are consumed).
   */
  async readexactly(n: number): Promise<Uint8Array> {
    if (n < 0) {
      throw new RangeError("readexactly size can not be less than zero");
    }
    if (this.#error) throw this.#error;
    while (this.#buffer.length < n) {
      if (this.#eof) {
        throw new IncompleteReadError(
          this.#consume(this.#buffer.length),
          n,
        );
      }
      await this.#wait();
      if (this.#error) throw this.#error;
    }
    return this.#consume(n);
  }

  /**
   * Reads up to and including `separator` (default `"\n"`).
   *
   * @throws {IncompleteReadError} when the stream ends first (with every
   * byte left, consumed).
   * @throws {LimitOverrunError} when `limit` bytes arrived without the
   * separator (the bytes stay in the buffer).
   */
  async readuntil(
    separator: Uint8Array | string = "\n",
  ): Promise<Uint8Array> {
    const needle = typeof separator === "string"
      ? encoder.encode(separator)
      : separator;
    if (needle.length === 0) {
      throw new RangeError("separator should be at least one-byte string");
    }
    if (this.#error) throw this.#error;
    let from = 0;
    while (true) {
      const at = this.#buffer.indexOf(needle, from);
      if (at >= 0) {
        if (at > this.#limit) {
          throw new LimitOverrunError(
            "separator is found, but chunk is longer than limit",
            at,
          );
        }
        return this.#consume(at + needle.length);
      }
      const length = this.#buffer.length;
      // The last bytes may be the start of a separator still arriving:
      // they count against the limit only once it is clear they are not.
      const searched = length + 1 - needle.length;
      if (searched > this.#limit) {
        throw new LimitOverrunError(
          "separator is not found, and chunk exceed the limit",
          searched,
        );
      }
      if (this.#eof) {
        throw new IncompleteReadError(this.#consume(length), null);
      }
      // Search only the new bytes next time (a separator may straddle).
      from = Math.max(0, length - needle.length + 1);
      await this.#wait();
      if (this.#error) throw this.#error;
    }
  }

  /**
   * Reads one line, up to and including `"\n"`; at the end of the stream,
   * whatever is left (an empty array when nothing is).
   *
   * @throws {LimitOverrunError} for a line longer than `limit`; the line
   * (up to its `"\n"`, or everything buffered) is discarded first.
   */
  async readline(): Promise<Uint8Array> {
    try {
      return await this.readuntil("\n");
    } catch (error) {
      if (error instanceof IncompleteReadError) return error.partial;
      if (error instanceof LimitOverrunError) {
        const at = this.#buffer.indexOf(encoder.encode("\n"), 0);
        this.#consume(at >= 0 ? at + 1 : this.#buffer.length);
      }
      throw error;
    }
  }

  /** The chunks as they arrive, until the end of the stream. */
  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    while (true) {
      const chunk = await this.read(this.#limit);
      if (chunk.length === 0) return;
      yield chunk;
    }
  }

  /**
   * The bytes as a `ReadableStream` (one per reader): Deno's stream
   * utilities work on it, and `reader.readable.pipeTo(writer.writable)` is
   * an echo. It pulls from this reader, so a stream nobody reads stops the
   * socket being read, as reading this reader does.
   */
  get readable(): ReadableStream<Uint8Array> {
    return this.#readable ??= new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const chunk = await this.read(this.#limit);
          if (chunk.length === 0) controller.close();
          else controller.enqueue(chunk);
        } catch (error) {
          controller.error(error);
        }
      },
    }, { highWaterMark: 0 });
  }
}
