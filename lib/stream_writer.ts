/**
 * {@linkcode StreamWriter}: writing to a connection, as asyncio's
 * `StreamWriter` does.
 *
 * @module
 */

import type { ExtraInfo, Transport } from "./transport.ts";

/**
 * What a {@linkcode StreamWriter} needs from the protocol under it: when the
 * transport's buffer has drained, and when the connection has closed.
 */
export interface WriterFlow {
  /**
   * Resolves once the write buffer is at or below its low-water mark;
   * rejects once the connection is lost.
   */
  drain(): Promise<void>;
  /** Resolves once the connection is closed. Never rejects. */
  readonly closed: Promise<unknown>;
}

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
  #flow: WriterFlow;
  #writable: WritableStream<Uint8Array> | null = null;

  /**
   * A writer over `transport`; `flow` says when its buffer has drained and
   * when it has closed ({@linkcode startServer} and
   * {@linkcode openConnection} make writers for their connections).
   */
  constructor(transport: Transport, flow: WriterFlow) {
    this.transport = transport;
    this.#flow = flow;
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
  async waitClosed(): Promise<void> {
    await this.#flow.closed;
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
    return this.#flow.drain();
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
