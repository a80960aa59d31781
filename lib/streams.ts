/**
 * Streams over transports: asyncio's `start_server` and `open_connection`
 * ({@linkcode startServer}, {@linkcode openConnection}), whose readers and
 * writers are in stream_reader.ts and stream_writer.ts.
 *
 * @module
 */

import { STREAM_LIMIT } from "./_defaults.ts";
import { addrText } from "./addr.ts";
import { reportError } from "./_report.ts";
import {
  type Connection,
  type ConnectionOptions,
  createConnection,
} from "./connection.ts";
import type { Protocol } from "./protocol.ts";
import { createServer, type Server } from "./server.ts";
import type { ServerOptions } from "./server_options.ts";
import { checkLimit, StreamReader } from "./stream_reader.ts";
import { StreamWriter } from "./stream_writer.ts";
import type { Transport } from "./transport.ts";

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
    this.writer = new StreamWriter(transport, this);
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
