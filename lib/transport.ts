/**
 * The transport interface: what a protocol can do with its connection.
 * asyncio's `Transport`, with camelCase names.
 *
 * @module
 */

import type { PeerCertificate } from "./peer_certificate.ts";

/** High- and low-water marks of a transport's write buffer, in bytes. */
export interface WriteBufferLimits {
  /** Past this many buffered bytes the protocol's `pauseWriting` is called. */
  high: number;
  /** At or below this many, after a pause, `resumeWriting` is called. */
  low: number;
}

/**
 * The names {@linkcode Transport.getExtraInfo} knows, and what each is.
 * A transport has the ones that apply to it: a Unix socket's addresses
 * have paths, a memory transport has no `conn`.
 *
 * @example
 * ```ts
 * import type { Transport } from "@protocols/core";
 *
 * function who(transport: Transport): string {
 *   const peer = transport.getExtraInfo("peername"); // Deno.Addr | undefined
 *   return peer && "hostname" in peer ? peer.hostname : "?";
 * }
 * ```
 */
export interface ExtraInfo {
  /** The far end's address (behind a PROXY header: the real client's). */
  peername: Deno.Addr;
  /** This end's address. */
  sockname: Deno.Addr;
  /** What the transport runs over: a {@linkcode Deno.Conn} for sockets. */
  conn: ByteStream;
  /** The proxy's own address, for a connection that came through one. */
  proxyname: Deno.Addr;
  /** The protocol ALPN agreed on over TLS (`null`: none). */
  alpnProtocol: string | null;
  /** On a TLS server: the name the client asked for (SNI). */
  serverName: string;
  /** The TLS peer's verified certificate, where it sent one. */
  peercert: PeerCertificate;
  /** The child's process id (`connectProcess`). */
  pid: number;
  /** The child process (`connectProcess`). */
  child: Deno.ChildProcess;
}

/**
 * A protocol's handle on its connection.
 *
 * Writes never block: they are buffered and sent in order. Reads are not
 * asked for: the transport calls the protocol's `dataReceived` (or
 * `bufferUpdated`) as data arrives.
 *
 * @example Answering a greeting and closing
 * ```ts
 * import type { Protocol, Transport } from "@protocols/core";
 *
 * class Hello implements Protocol {
 *   connectionMade(transport: Transport) {
 *     transport.write("hello\n");
 *     transport.close(); // sends "hello\n" first, then closes
 *   }
 * }
 * ```
 */
export interface Transport {
  /**
   * Queues `data` to be sent, in order after everything written before.
   * Strings are sent as UTF-8. An empty write does nothing.
   *
   * The bytes are sent as they are when they reach the socket, without a
   * copy: do not change the array after handing it over. Any chunk
   * `dataReceived` was given may be written, to any transport, any number
   * of times, at any time, and is sent intact.
   *
   * @throws {Error} after `writeEof()`, `close()` or `abort()`. After the
   * connection was lost to an error the data is dropped silently, as
   * asyncio does: `connectionLost` tells the protocol.
   * @throws {TypeError} for an array whose memory a transport took back
   * (detached): a chunk used after {@linkcode Transport.release}.
   */
  write(data: Uint8Array | string): void;

  /** Writes each chunk in turn, as {@linkcode Transport.write} would. */
  writelines(chunks: Iterable<Uint8Array | string>): void;

  /**
   * Gives a chunk this transport passed to `dataReceived` back to it, for
   * later reads: the protocol promises not to read, write or keep the chunk
   * (or any view of it) again. Writes of it made before the call, to this
   * transport or any other of this library's, are still sent intact; once
   * every one has been, the transport may read new bytes into that memory,
   * after detaching the array, so a view kept by mistake is empty (length
   * 0), never rewritten. Anything else that reads the chunk (a file write,
   * a `WritableStream`) must have finished with it before the call.
   *
   * This is how an echo or a proxy reads without new memory per read, at
   * the speed of a hand-written read loop. It is never required: a chunk
   * not released is the protocol's for good, like asyncio's `bytes`.
   * Releasing anything else (a copy, a slice, a chunk already released, a
   * chunk of another transport) does nothing, as it does on a transport
   * that lends no memory (a `BufferedProtocol`'s).
   *
   * @example A zero-copy proxy: each chunk goes to the other connection
   * ```ts
   * import type { Protocol, Transport } from "@protocols/core";
   *
   * class Forward implements Protocol {
   *   constructor(readonly to: Transport) {}
   *   #from!: Transport;
   *   connectionMade(transport: Transport) { this.#from = transport; }
   *   dataReceived(data: Uint8Array) {
   *     this.to.write(data);
   *     this.#from.release(data);
   *   }
   * }
   * ```
   */
  release(data: Uint8Array): void;

  /**
   * Half-closes the connection: once everything buffered has been sent, the
   * peer sees end-of-file. Data still arrives until the peer's own EOF.
   * A second call does nothing.
   *
   * @throws {Error} when the transport cannot half-close (see
   * {@linkcode Transport.canWriteEof}) or is closing.
   */
  writeEof(): void;

  /** Whether {@linkcode Transport.writeEof} is supported (true for TCP). */
  canWriteEof(): boolean;

  /**
   * Closes the connection gracefully: no more data is delivered, buffered
   * writes are flushed, then the connection closes and the protocol's
   * `connectionLost(null)` is called. A second call does nothing. Over TLS
   * the end of the data (close_notify) is sent and waited for like data,
   * so the peer knows it got everything.
   */
  close(): void;

  /**
   * Closes the connection at once, dropping buffered writes; the protocol's
   * `connectionLost(null)` is called. A TLS server connection is cut
   * without close_notify, so the peer does not take what it got for all.
   */
  abort(): void;

  /** Whether the transport is closing or closed. */
  isClosing(): boolean;

  /**
   * Resolves once the protocol's `connectionLost` has been called, with
   * the same argument (`null` for a normal close, else the cause). Never
   * rejects.
   */
  readonly closed: Promise<Error | null>;

  /**
   * Returns information about the connection, or `fallback` when the
   * transport has none by that name. The names every transport of the
   * library may know, and their types, are {@linkcode ExtraInfo}'s
   * (`"peername"`, `"sockname"`, `"conn"`, ...); any other name is typed
   * as the caller says.
   */
  getExtraInfo<K extends keyof ExtraInfo>(
    name: K,
    fallback?: ExtraInfo[K],
  ): ExtraInfo[K] | undefined;
  /** Returns information by a name of the caller's own. */
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined;

  /**
   * Stops delivering data to the protocol until
   * {@linkcode Transport.resumeReading}; the socket is not read meanwhile,
   * so the peer is slowed down by TCP's own flow control.
   */
  pauseReading(): void;

  /** Starts delivering data again after {@linkcode Transport.pauseReading}. */
  resumeReading(): void;

  /** Whether data is being delivered (not paused, not closing). */
  isReading(): boolean;

  /**
   * Sets the write buffer's water marks. As in asyncio, a missing low mark
   * is a quarter of the high one, a missing high mark four times the low one
   * (or 64 KiB when neither is given).
   *
   * @throws {RangeError} when a mark is negative or not whole, or low > high.
   */
  setWriteBufferLimits(limits?: Partial<WriteBufferLimits>): void;

  /** The write buffer's current water marks. */
  getWriteBufferLimits(): WriteBufferLimits;

  /** How many written bytes have not yet been handed to the socket. */
  getWriteBufferSize(): number;

  /**
   * Sets the idle timeout: once `seconds` pass without a read or a write
   * completing, either way, the protocol's
   * `timeoutConnection` is called; a protocol
   * without it has its connection aborted, and `connectionLost` gets a
   * `Deno.errors.TimedOut`. Traffic restarts the count; `null` or 0 turns
   * the timeout off. It fires once: after that it is off until set again.
   *
   * The count is looked at every quarter of the timeout (at most every
   * second), with one timer for all the connections that share a timeout,
   * and no work per read or write: it fires up to that much late.
   *
   * @throws {RangeError} when `seconds` is negative or not finite.
   */
  setIdleTimeout(seconds: number | null): void;

  /** The idle timeout in seconds, or `null` when there is none. */
  getIdleTimeout(): number | null;
}

/**
 * What a socket transport runs over: a {@linkcode Deno.Conn} (TCP,
 * TLS, Unix socket), or any byte stream with the same four methods (a child
 * process's pipes, see `connectProcess`).
 */
export interface ByteStream {
  /** Reads into `p`; resolves to the count, or `null` at end of input. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes from `p`; resolves to how many bytes were taken. */
  write(p: Uint8Array): Promise<number>;
  /** Ends the output (half-close), keeping the input open. */
  closeWrite(): Promise<void>;
  /** Closes both directions; a pending read then rejects. */
  close(): void;
  /**
   * Whether a clean close needs {@linkcode ByteStream.closeWrite} first
   * (TLS: close_notify, which tells the peer its data is complete): the
   * transport's `close()` then sends it and waits for it, as for data.
   */
  readonly closeWriteOnClose?: boolean;
  /**
   * Closes at once without ending the stream cleanly, where the stream
   * tells the two apart (TLS: no close_notify, so the peer does not take
   * the data it got for all of it). Without it, `close()` is used.
   */
  abort?(): void;
  /** The far end's address, where there is one. */
  readonly remoteAddr?: Deno.Addr;
  /** The near end's address, where there is one. */
  readonly localAddr?: Deno.Addr;
}
