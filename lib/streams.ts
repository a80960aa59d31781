/**
 * Streams over transports: asyncio's `start_server`, `open_connection`,
 * `StreamReader` and `StreamWriter`, with camelCase method names (asyncio's
 * one-word names stay one word: `readline`, `readexactly`, `writelines`),
 * plus Web Streams (`reader.readable`, `writer.writable`).
 *
 * @module
 */

import { STREAM_LIMIT } from "./_defaults.ts";
import { addrText } from "./addr.ts";
import { indexOfBytes } from "./_byte_buffer.ts";
import { reportError } from "./_report.ts";
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
} from "./connection.ts";
import type { Protocol } from "./protocol.ts";
import { createServer, type Server, type ServerOptions } from "./server.ts";
import type { ExtraInfo, Transport } from "./transport.ts";

const encoder = new TextEncoder();

/** `limit`, when it is a buffer limit (a whole number > 0). */
function checkLimit(limit: number): number {
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
 * Chunks received and not yet read. Reads hand out whole chunks or views of
 * them, with no copy; only a read that spans chunks joins them.
 */
class Chunks {
  #chunks: Uint8Array[] = [];
  length = 0;

  append(data: Uint8Array): void {
    this.#chunks.push(data);
    this.length += data.length;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Uint8Array {
    const chunks = this.#chunks;
    this.length -= n;
    const first = chunks[0];
    if (first.length === n) return chunks.shift()!;
    if (first.length > n) {
      chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let offset = 0;
    while (offset < n) {
      const chunk = chunks[0];
      const part = Math.min(chunk.length, n - offset);
      out.set(chunk.subarray(0, part), offset);
      offset += part;
      if (part === chunk.length) chunks.shift();
      else chunks[0] = chunk.subarray(part);
    }
    return out;
  }

  /**
   * Where `needle` starts, searching from `from`; -1 if not there. The
   * search starts in the chunk that holds `from`, found from the end, so a
   * reader that looks only at the bytes that arrived since its last look
   * does work in proportion to those bytes, however many chunks wait.
   */
  indexOf(needle: Uint8Array, from: number): number {
    const chunks = this.#chunks;
    let c = chunks.length;
    let offset = this.length;
    while (c > 0 && offset > from) offset -= chunks[--c].length;
    for (; c < chunks.length; offset += chunks[c++].length) {
      const chunk = chunks[c];
      const start = Math.max(0, from - offset);
      const at = indexOfBytes(chunk, needle, start);
      if (at >= 0) return offset + at;
      // A needle that starts near this chunk's end and runs into the next.
      const tail = Math.max(start, chunk.length - needle.length + 1);
      for (let i = tail; i < chunk.length; i++) {
        if (this.#matches(needle, c, i)) return offset + i;
      }
    }
    return -1;
  }

  /** Whether `needle` is at byte `i` of chunk `c`, running across chunks. */
  #matches(needle: Uint8Array, c: number, i: number): boolean {
    const chunks = this.#chunks;
    for (let j = 0; j < needle.length; j++, i++) {
      while (c < chunks.length && i >= chunks[c].length) {
        i -= chunks[c].length;
        c++;
      }
      if (c === chunks.length || chunks[c][i] !== needle[j]) return false;
    }
    return true;
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
  #buffer = new Chunks();
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
    this.#buffer.append(data);
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

/** Makes a StreamWriter: only this module can. */
let makeWriter: (
  transport: Transport,
  protocol: StreamProtocol,
) => StreamWriter;

/**
 * Writing to a connection, as asyncio's `StreamWriter` does: `write()`
 * never blocks; `await drain()` waits while the transport's buffer is over
 * its high-water mark.
 *
 * @example
 * ```ts
 * import { openConnection } from "@protocols/core";
 *
 * const { writer } = await openConnection({ hostname: "localhost", port: 10000 });
 * writer.write("a lot of data\n");
 * await writer.drain();
 * writer.close();
 * await writer.waitClosed();
 * ```
 */
export class StreamWriter {
  /** The underlying transport. */
  readonly transport: Transport;
  #protocol: StreamProtocol;
  #writable: WritableStream<Uint8Array> | null = null;

  static {
    makeWriter = (transport, protocol) => new StreamWriter(transport, protocol);
  }

  private constructor(transport: Transport, protocol: StreamProtocol) {
    this.transport = transport;
    this.#protocol = protocol;
  }

  /** Queues bytes (strings as UTF-8) to be sent; never blocks. */
  write(data: Uint8Array | string): void {
    this.transport.write(data);
  }

  /** Writes each chunk in turn. */
  writelines(chunks: Iterable<Uint8Array | string>): void {
    this.transport.writelines(chunks);
  }

  /** Half-closes: the peer reads EOF; reading goes on. */
  writeEof(): void {
    this.transport.writeEof();
  }

  /** Whether {@linkcode StreamWriter.writeEof} is supported. */
  canWriteEof(): boolean {
    return this.transport.canWriteEof();
  }

  /** Closes the connection once buffered data is sent. */
  close(): void {
    this.transport.close();
  }

  /** Whether the connection is closing or closed. */
  isClosing(): boolean {
    return this.transport.isClosing();
  }

  /** Resolves once the connection is closed. Never rejects. */
  waitClosed(): Promise<void> {
    return this.#protocol.closed;
  }

  /** Information about the connection (see `Transport.getExtraInfo`). */
  getExtraInfo<K extends keyof ExtraInfo>(
    name: K,
    fallback?: ExtraInfo[K],
  ): ExtraInfo[K] | undefined;
  /** Information by a name of the caller's own. */
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return this.transport.getExtraInfo(name, fallback);
  }

  /**
   * Resolves once the write buffer is at or below its low-water mark (at
   * once when it is not over the high one).
   *
   * @throws {Error} once the connection is lost: the error it was lost to,
   * or a `ConnectionReset` error.
   */
  drain(): Promise<void> {
    return this.#protocol.drain();
  }

  /**
   * The connection's output as a `WritableStream` (one per writer), with
   * backpressure from the transport; closing it half-closes the connection
   * (`writeEof()`), as closing a `Deno.Conn`'s writable does.
   */
  get writable(): WritableStream<Uint8Array> {
    return this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        this.write(chunk);
        await this.drain();
      },
      close: async () => {
        await this.drain();
        if (this.canWriteEof()) this.writeEof();
        else this.close();
      },
      abort: () => this.transport.abort(),
    });
  }
}

/** A connection's handler for {@linkcode startServer}. */
export type StreamHandler = (
  reader: StreamReader,
  writer: StreamWriter,
) => void | Promise<void>;

/** The protocol under a reader and a writer. */
class StreamProtocol implements Protocol {
  readonly reader: StreamReader;
  writer: StreamWriter | null = null;
  #handler: StreamHandler | null;
  #made = Promise.withResolvers<void>();
  #closed = Promise.withResolvers<void>();
  #lost = false;
  #lostError: Error | null = null;
  #paused = false;
  #drained: PromiseWithResolvers<void> | null = null;

  constructor(limit: number, handler: StreamHandler | null) {
    this.reader = new StreamReader(limit);
    this.#handler = handler;
  }

  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  connectionMade(transport: Transport): void {
    this.reader.setTransport(transport);
    this.writer = makeWriter(transport, this);
    this.#made.resolve();
    if (this.#handler) this.#run(this.#handler, transport);
  }

  async #run(handler: StreamHandler, transport: Transport): Promise<void> {
    try {
      await handler(this.reader, this.writer!);
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      reportError(
        "Fatal error: stream handler failed for {peer}: {error}",
        {
          peer: addrText(transport.getExtraInfo<Deno.Addr>("peername")),
          error: cause,
        },
        cause,
      );
      transport.abort();
    }
  }

  dataReceived(data: Uint8Array): void {
    this.reader.feedData(data);
  }

  eofReceived(): boolean {
    this.reader.feedEof();
    // The writer may still write: closing is the handler's job.
    return true;
  }

  connectionLost(error: Error | null): void {
    this.#lost = true;
    this.#lostError = error;
    if (error) this.reader.setException(error);
    else this.reader.feedEof();
    this.#drained?.reject(this.#lossError());
    this.#drained = null;
    this.#closed.resolve();
  }

  #lossError(): Error {
    return this.#lostError ??
      new Deno.errors.ConnectionReset("the connection was closed");
  }

  pauseWriting(): void {
    this.#paused = true;
  }

  resumeWriting(): void {
    this.#paused = false;
    this.#drained?.resolve();
    this.#drained = null;
  }

  drain(): Promise<void> {
    if (this.#lost) return Promise.reject(this.#lossError());
    if (!this.#paused) return Promise.resolve();
    return (this.#drained ??= Promise.withResolvers<void>()).promise;
  }
}

/** Options of {@linkcode startServer}: `createServer`'s plus `limit`. */
export interface StreamServerOptions extends ServerOptions {
  /** Each reader's buffer limit, in bytes (default 64 KiB). */
  limit?: number;
}

/** Options of {@linkcode openConnection}: `createConnection`'s plus `limit`. */
export interface OpenConnectionOptions extends ConnectionOptions {
  /** The reader's buffer limit, in bytes (default 64 KiB). */
  limit?: number;
}

/**
 * Listens and runs `handler(reader, writer)` for each connection (asyncio's
 * `start_server`). The handler may be async; a throw or a rejection is
 * reported like a protocol callback's and closes that connection. The
 * connection stays open when the handler returns: close the writer when
 * done.
 *
 * @example An echo server, with Web Streams
 * ```ts
 * import { startServer } from "@protocols/core";
 *
 * const server = await startServer(async (reader, writer) => {
 *   await reader.readable.pipeTo(writer.writable);
 *   writer.close();
 * }, { port: 10000 });
 * ```
 */
export async function startServer(
  handler: StreamHandler,
  options: StreamServerOptions = {},
): Promise<Server> {
  const { limit = STREAM_LIMIT, ...rest } = options;
  checkLimit(limit); // before anything listens
  return await createServer(() => new StreamProtocol(limit, handler), rest);
}

/**
 * Connects and resolves to a reader and a writer (asyncio's
 * `open_connection`).
 *
 * @example
 * ```ts
 * import { openConnection } from "@protocols/core";
 *
 * const { reader, writer } = await openConnection({ hostname: "localhost", port: 10000 });
 * writer.write("ping\n");
 * writer.writeEof();
 * const all = await reader.read(); // everything, to the end of the stream
 * ```
 *
 * @throws what `createConnection` throws.
 */
export async function openConnection(
  options: OpenConnectionOptions,
): Promise<{ reader: StreamReader; writer: StreamWriter }> {
  const { limit = STREAM_LIMIT, ...rest } = options;
  checkLimit(limit); // before connecting
  const connection: Connection<StreamProtocol> = await createConnection(
    () => new StreamProtocol(limit, null),
    rest,
  );
  const { protocol } = connection;
  return { reader: protocol.reader, writer: protocol.writer! };
}
