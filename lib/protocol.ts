/**
 * The callbacks a transport calls: asyncio's `Protocol` and
 * `BufferedProtocol`, with camelCase names.
 *
 * A protocol object describes one connection. The transport calls its methods
 * in this order, and never from inside another of its callbacks:
 *
 * ```
 * connectionMade  ->  dataReceived* (or getBuffer/bufferUpdated*)
 *                 ->  eofReceived?  ->  connectionLost
 * ```
 *
 * `pauseWriting` and `resumeWriting` may come at any point between
 * `connectionMade` and `connectionLost`, always in pairs (pause, then resume).
 *
 * @module
 */

import type { Transport } from "./transport.ts";

/**
 * Callbacks shared by {@linkcode Protocol} and {@linkcode BufferedProtocol}.
 *
 * Every method is optional. An exception thrown by any of them is logged with
 * the connection's peer address, the connection is aborted, and
 * `connectionLost` is called with that exception; other connections go on.
 *
 * @example A protocol that only counts connections
 * ```ts
 * import type { BaseProtocol } from "@protocols/core";
 *
 * let open = 0;
 * const counter: BaseProtocol = {
 *   connectionMade() { open++; },
 *   connectionLost() { open--; },
 * };
 * ```
 */
export interface BaseProtocol {
  /**
   * Called exactly once, first, when the connection is made.
   *
   * The transport is the protocol's handle on the connection: keep it to
   * write, half-close and close. Data may be written from here on.
   */
  connectionMade?(transport: Transport): void;

  /**
   * Called at most once, when the peer has half-closed its side (TCP FIN):
   * no more data will arrive. The protocol may still write.
   *
   * Return a falsy value (or nothing) and the transport closes itself once
   * its buffered writes are flushed. Return `true` to keep the connection
   * open: closing is then the protocol's job.
   */
  eofReceived?(): boolean | void;

  /**
   * Called exactly once, last, when the connection is closed: after
   * `close()` or `abort()`, after the transport closed itself on EOF, when
   * the server shuts down, or on an error.
   *
   * `error` is `null` for a normal close and the cause otherwise (a peer
   * reset, a broken pipe, an exception thrown by a callback). No other
   * callback follows it.
   */
  connectionLost?(error: Error | null): void;

  /**
   * Called when the transport's write buffer grows past its high-water mark
   * (see {@linkcode Transport.setWriteBufferLimits}). The protocol should
   * stop producing data until {@linkcode BaseProtocol.resumeWriting} is
   * called; writes made meanwhile are still buffered, never dropped.
   */
  pauseWriting?(): void;

  /**
   * Called once after {@linkcode BaseProtocol.pauseWriting}, when the write
   * buffer has drained to its low-water mark.
   */
  resumeWriting?(): void;

  /**
   * Called when the connection's idle timeout expires
   * ({@linkcode Transport.setIdleTimeout}, a server's or
   * `createConnection`'s `idleTimeout`): nothing was read or written for
   * that long. The protocol decides: write a goodbye and close, or set the
   * timeout again to keep waiting (it is off once it has fired). Without
   * this method the connection is aborted and `connectionLost` gets a
   * `Deno.errors.TimedOut`. Twisted's `TimeoutMixin.timeoutConnection`.
   */
  timeoutConnection?(): void;
}

/**
 * A stream protocol that receives data as new byte arrays.
 *
 * @example An upper-casing echo
 * ```ts
 * import type { Protocol, Transport } from "@protocols/core";
 *
 * class Shout implements Protocol {
 *   #transport?: Transport;
 *   connectionMade(transport: Transport) { this.#transport = transport; }
 *   dataReceived(data: Uint8Array) {
 *     this.#transport!.write(new TextDecoder().decode(data).toUpperCase());
 *   }
 * }
 * ```
 */
export interface Protocol extends BaseProtocol {
  /**
   * Called with each chunk of bytes read from the connection, any number of
   * times between `connectionMade` and `eofReceived`/`connectionLost`.
   * Chunk boundaries carry no meaning: the peer's writes may arrive split
   * or joined.
   *
   * The chunk is the protocol's, as asyncio's `data` is: it stays intact for
   * as long as anyone holds it, whatever the protocol does with it: keep
   * it, write it back, write it to any number of other transports (slow
   * ones too), write it again later. The transport never writes to it.
   *
   * Zero-copy is asked for, never assumed: a protocol that is done with a
   * chunk (an echo or a proxy, once it has written it) may give it back with
   * {@linkcode Transport.release}, and the transport reads later bytes into
   * its memory once its writes are sent. A chunk not released gets new
   * memory for every read (views of slabs up to 64 KiB), whose price
   * `deno task bench` shows; a kept view keeps its whole slab alive, so to
   * hold on to a few bytes of a long stream, keep a copy
   * (`data.slice(start, end)`). A {@linkcode BufferedProtocol} reads into
   * memory of its own instead.
   */
  dataReceived?(data: Uint8Array): void;
}

/**
 * A stream protocol that lends the transport its own memory to read into, so
 * that no byte is copied between the socket and the protocol.
 *
 * @example Reading into one reused buffer
 * ```ts
 * import type { BufferedProtocol } from "@protocols/core";
 *
 * class Counter implements BufferedProtocol {
 *   #buffer = new Uint8Array(16384);
 *   total = 0;
 *   getBuffer() { return this.#buffer; }
 *   bufferUpdated(nbytes: number) { this.total += nbytes; }
 * }
 * ```
 */
export interface BufferedProtocol extends BaseProtocol {
  /**
   * Called before each read: return the memory the next read goes into.
   *
   * `sizeHint` is the size the transport would like; any non-empty array
   * will do. The transport writes into the array until the matching
   * `bufferUpdated` call, and never after it.
   */
  getBuffer(sizeHint: number): Uint8Array;

  /**
   * Called after a read put `nbytes` (at least 1) bytes at the start of the
   * array the last `getBuffer` returned.
   */
  bufferUpdated(nbytes: number): void;
}

/** Makes one protocol object for each new connection. */
export type ProtocolFactory<P extends BaseProtocol = Protocol> = () => P;

/**
 * Tells whether a protocol lends its own read buffers.
 *
 * @example
 * ```ts
 * import { isBufferedProtocol } from "@protocols/core";
 *
 * isBufferedProtocol({ getBuffer: () => new Uint8Array(8), bufferUpdated() {} }); // true
 * isBufferedProtocol({ dataReceived() {} }); // false
 * ```
 */
export function isBufferedProtocol(
  protocol: Protocol | BufferedProtocol,
): protocol is BufferedProtocol {
  return typeof (protocol as BufferedProtocol).getBuffer === "function";
}
