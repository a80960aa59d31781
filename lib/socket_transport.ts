/**
 * {@linkcode SocketTransport}: the {@linkcode Transport} over one
 * {@linkcode Deno.Conn}.
 *
 * @module
 */

import {
  COALESCE_LIMIT,
  MIN_READ_SIZE,
  READ_SIZE,
  SERVER_HANDSHAKE_TIMEOUT,
} from "./_defaults.ts";
import { log, preloadLogTape } from "./_log.ts";
import { reportError } from "./_report.ts";
import { addrText } from "./addr.ts";
import {
  type BufferedProtocol,
  isBufferedProtocol,
  type Protocol,
} from "./protocol.ts";
import { WriteFlowControl } from "./_flow_control.ts";
import { idleTimedOut, IdleTimeout } from "./_idle_timeout.ts";
import { type Clock, systemClock } from "./clock.ts";
import { ReadSize } from "./_read_size.ts";
import {
  isEmptyWrite,
  ReadSlabs,
  writeQueued,
  writeSent,
} from "./_read_slabs.ts";
import {
  checkHandshakeTimeout,
  deadline,
  handshakeSeconds,
} from "./_tls_handshake.ts";
import type { TlsContext } from "./_tls_stream.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";
import type {
  ByteStream,
  ExtraInfo,
  Transport,
  WriteBufferLimits,
} from "./transport.ts";

/** Microtask turns the read loop gives a write in flight to settle. */
const WRITE_SETTLE_TURNS = 3;

const encoder = new TextEncoder();
/** Awaited to give other microtasks a turn, without a new promise each time. */
const turn = Promise.resolve();

/** TLS settings for {@linkcode SocketTransport.startTls}. */
export interface StartTlsOptions {
  /** The name the server's certificate must carry (default: the host). */
  hostname?: string;
  /**
   * PEM certificates to trust: when given, these only; else Deno's root
   * store. (TLS runs through `node:tls`, as `createConnection`'s; the
   * server's verified certificate is the new transport's
   * `getExtraInfo("peercert")`.)
   */
  caCerts?: string[];
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
  /**
   * A client certificate chain, PEM, for a server that asks for one (with
   * `key`).
   */
  cert?: string;
  /** The client certificate's private key, PEM. */
  key?: string;
  /**
   * Seconds the upgrade may take (default 60, as asyncio's
   * `ssl_handshake_timeout`): the wait for writes still buffered and the
   * handshake together. Past that the connection is lost with
   * `Deno.errors.TimedOut`.
   */
  handshakeTimeout?: number;
  /**
   * Gives up the upgrade when it aborts: the connection is lost with the
   * signal's reason, and so does the promise `startTls` returned.
   */
  signal?: AbortSignal;
}

/**
 * TLS settings for {@linkcode SocketTransport.startTls} on the server end of
 * a connection (a server that offers STARTTLS): a server's certificate
 * settings, and the upgrade's deadline.
 */
export interface ServerStartTlsOptions extends TlsServerOptions {
  /**
   * Seconds the upgrade may take (default 10, as a server's
   * `handshakeTimeout`): the wait for buffered writes and the handshake.
   */
  handshakeTimeout?: number;
  /** Gives up the upgrade when it aborts (the connection is lost). */
  signal?: AbortSignal;
}

/** Options of {@linkcode SocketTransport.start}. */
export interface SocketTransportOptions {
  /**
   * Which end of the connection this is (default `"client"`): it decides
   * which end of TLS {@linkcode SocketTransport.startTls} plays.
   */
  side?: "client" | "server";
  /** Whether the stream can half-close (default `true`). */
  canWriteEof?: boolean;
  /**
   * Turn Nagle's algorithm off on TCP connections (default `true`, as
   * asyncio does): small writes go out at once instead of waiting for the
   * peer's acknowledgement.
   */
  noDelay?: boolean;
  /**
   * Turn TCP keepalive on (default `false`): the system probes a connection
   * that has been idle, and a peer that vanished (a crash, a cable) ends it
   * with an error instead of leaving it open for ever. Deno sets only the
   * switch: the probes' timing is the system's (Linux: the first after
   * `net.ipv4.tcp_keepalive_time`, 2 hours by default).
   */
  keepAlive?: boolean;
  /** Initial write buffer limits. */
  writeBufferLimits?: Partial<WriteBufferLimits>;
  /** More names for {@linkcode Transport.getExtraInfo}. */
  extra?: Record<string, unknown>;
  /**
   * The idle timeout in seconds to start with (default `null`: none); see
   * {@linkcode SocketTransport.setIdleTimeout}.
   */
  idleTimeout?: number | null;
  /** Where the transport's timers come from (default {@linkcode systemClock}). */
  clock?: Clock;
}

/** An error thrown by a protocol callback, with the callback's name. */
class CallbackError {
  constructor(readonly callback: string, readonly error: Error) {}
}

/**
 * Whether a failed read is the end of the data: a TLS peer that closed
 * without close_notify.
 */
function isEndOfData(error: unknown): boolean {
  return error instanceof Deno.errors.UnexpectedEof;
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** What a transport moved and how it ended (internal, for the server). */
export interface TransportStats {
  /** Bytes read from the connection. */
  bytesIn: number;
  /** Bytes the connection took from the write buffer. */
  bytesOut: number;
  /** What ended it by the protocol's hand, if anything did. */
  endedBy: "close()" | "abort()" | null;
  /** The error the connection was lost to, if any. */
  error: Error | null;
  /** The idle timeout that expired, in seconds, or `null`. */
  idleExpired: number | null;
}

/** The counters of a transport. Internal: not exported by the package. */
export let statsOf: (transport: SocketTransport) => TransportStats;

/**
 * The transport that carries on a connection this one handed over with
 * `startTls` (resolved when its `closed` resolves), or null. Internal: for
 * the server, which then tracks the new one.
 */
export let upgradedOf: (transport: SocketTransport) => SocketTransport | null;

/**
 * The transport over one {@linkcode Deno.Conn}: it reads with
 * `conn.read()` into its own buffer (or the protocol's, for a
 * {@linkcode BufferedProtocol}), calls the protocol's callbacks, and buffers
 * writes, coalescing queued chunks into one socket write.
 *
 * `connectionMade` is called by {@linkcode SocketTransport.start}, then the
 * read loop runs until EOF, close, abort or error; `connectionLost` is always
 * called once, last, and {@linkcode SocketTransport.closed} then resolves.
 * No promise of the transport ever rejects unhandled.
 *
 * @example Running a protocol over a connection made by hand
 * ```ts
 * import { SocketTransport, type Transport } from "@protocols/core";
 *
 * const conn = await Deno.connect({ hostname: "localhost", port: 10000 });
 * const transport = SocketTransport.start(conn, {
 *   connectionMade(t: Transport) {
 *     t.write("ping");
 *     t.writeEof();
 *   },
 *   dataReceived(data: Uint8Array) {
 *     console.log(data);
 *   },
 * });
 * await transport.closed;
 * ```
 */
export class SocketTransport implements Transport {
  #conn: ByteStream;
  #options: SocketTransportOptions;
  #protocol: Protocol | BufferedProtocol;
  #extra: Record<string, unknown>;

  // Writing.
  #queue: Uint8Array[] = []; // waiting behind the write in flight
  #queued = 0; // bytes written but not yet accepted by the socket
  #inFlight: Uint8Array | null = null; // handed to conn.write, not yet done
  #gathering = false; // writelines() queues its chunks, then sends them joined

  // The memory a plain Protocol's chunks are read into (see #readCopies).
  #slabs: ReadSlabs | null = null;
  #eofRequested = false;
  #eofSent = false;
  #eofPending = false; // closeWrite() not settled yet
  #flow: WriteFlowControl;

  // Reading.
  #readSize = new ReadSize(MIN_READ_SIZE, READ_SIZE);
  #reading = true;
  #readPending = false;
  #wake: (() => void) | null = null;
  #drain: PromiseWithResolvers<void> | null = null; // startTls waits on it
  #detached = false; // handed over to a TLS transport
  #upgradedTo: SocketTransport | null = null;

  #ioCount = 0; // completed reads and writes, for idle timeouts
  #idle: IdleTimeout;
  #idleExpired: number | null = null;
  #bytesIn = 0;
  #bytesOut = 0;
  #lostTo: Error | null = null;

  // Ending.
  #closing = false; // close() or abort() called, or the connection lost
  #endedBy: "close()" | "abort()" | null = null;
  #closeRequested = false; // close() waits for the flush
  #lost = false;
  #closed = Promise.withResolvers<Error | null>();

  static {
    upgradedOf = (transport) => transport.#upgradedTo;
    statsOf = (t) => ({
      bytesIn: t.#bytesIn,
      bytesOut: t.#bytesOut,
      endedBy: t.#endedBy,
      error: t.#lostTo,
      idleExpired: t.#idleExpired,
    });
  }

  private constructor(
    conn: ByteStream,
    protocol: Protocol | BufferedProtocol,
    options: SocketTransportOptions,
  ) {
    this.#conn = conn;
    this.#options = options;
    this.#protocol = protocol;
    this.#flow = new WriteFlowControl(options.writeBufferLimits);
    this.#idle = new IdleTimeout(
      options.clock ?? systemClock,
      () => this.#ioCount,
      (seconds) => this.#timedOut(seconds),
    );
    this.#extra = {
      peername: conn.remoteAddr,
      sockname: conn.localAddr,
      conn,
      ...options.extra,
    };
  }

  /**
   * Wraps `conn`, calls `protocol.connectionMade`, and starts reading.
   *
   * @example
   * ```ts
   * import { SocketTransport } from "@protocols/core";
   *
   * const conn = await Deno.connect({ hostname: "localhost", port: 10000 });
   * const transport = SocketTransport.start(conn, {
   *   dataReceived: (data: Uint8Array) => console.log(data.length),
   * });
   * ```
   */
  static start(
    conn: ByteStream,
    protocol: Protocol | BufferedProtocol,
    options: SocketTransportOptions = {},
  ): SocketTransport {
    preloadLogTape();
    const transport = new SocketTransport(conn, protocol, options);
    transport.#idle.set(options.idleTimeout ?? null, "idleTimeout");
    transport.#setNoDelay();
    transport.#run(true);
    return transport;
  }

  #setNoDelay(): void {
    const conn = this.#conn as Partial<Deno.TcpConn>;
    try {
      if (
        this.#options.noDelay !== false &&
        typeof conn.setNoDelay === "function"
      ) {
        conn.setNoDelay(true);
      }
      if (
        this.#options.keepAlive === true &&
        typeof conn.setKeepAlive === "function"
      ) {
        conn.setKeepAlive(true);
      }
    } catch {
      // A connection reset before we got here: the first read reports it.
    }
  }

  /**
   * Upgrades this TCP connection to TLS in place (asyncio's
   * `loop.start_tls`) and resolves to the new transport, which carries on
   * with the same protocol (`connectionMade` is not called again). This
   * transport is then finished with, without `connectionLost`.
   *
   * On the client end, `options` are a client's ({@linkcode StartTlsOptions});
   * on a server's connection (a server that offers STARTTLS), a server's
   * ({@linkcode ServerStartTlsOptions}: `cert`, `key`, `sni`, `clientCa`,
   * ...), and the server goes on counting, timing out and closing the
   * connection under its new transport. The protocol hears of bytes read
   * after the upgrade only once the returned promise has resolved and the
   * code awaiting it has run, so it can keep the new transport first.
   *
   * Reading must be stopped first: call {@linkcode SocketTransport.pauseReading}
   * from `dataReceived` (Deno cannot upgrade a connection while a read is
   * pending). Buffered writes are sent before the upgrade, within
   * `handshakeTimeout` too.
   *
   * @example
   * ```ts
   * import type { Protocol, SocketTransport } from "@protocols/core";
   *
   * // A client that asks for TLS, then upgrades once the server agrees.
   * class StartTls implements Protocol {
   *   transport!: SocketTransport;
   *   connectionMade(transport: SocketTransport) {
   *     this.transport = transport;
   *     transport.write("STARTTLS\r\n");
   *   }
   *   dataReceived(data: Uint8Array) {
   *     if (new TextDecoder().decode(data).startsWith("OK")) {
   *       this.transport.pauseReading();
   *       this.transport.startTls({ hostname: "example.com" })
   *         .then((tls) => this.transport = tls);
   *     }
   *   }
   * }
   * ```
   *
   * @throws {Error} on a non-TCP connection, with a read pending, without
   * `cert` and `key` on a server's connection, or when the TLS handshake
   * fails (the connection is then lost).
   */
  async startTls(
    options: StartTlsOptions | ServerStartTlsOptions = {},
  ): Promise<SocketTransport> {
    const server = this.#options.side === "server";
    const conn = this.#conn as Deno.Conn;
    if (conn.remoteAddr?.transport !== "tcp" || "handshake" in conn) {
      throw new Error("startTls() needs a plain TCP connection");
    }
    if (this.#closing) throw new Error("startTls() on a closing transport");
    // Checked before anything is done: bad settings leave the connection.
    let context: TlsContext | undefined;
    if (server) {
      const settings = options as ServerStartTlsOptions;
      if (
        typeof settings.cert !== "string" || typeof settings.key !== "string"
      ) {
        throw new Error(
          "startTls() on the server end needs the server's cert and key",
        );
      }
      checkHandshakeTimeout(settings.handshakeTimeout);
      context = (await import("./_tls_stream.ts")).tlsContext(settings);
    }
    const seconds = server
      ? options.handshakeTimeout ?? SERVER_HANDSHAKE_TIMEOUT
      : handshakeSeconds(options.handshakeTimeout);
    options.signal?.throwIfAborted();
    if (this.#readPending) {
      throw new Error(
        "startTls() needs reading stopped: call pauseReading() in dataReceived first (a read is pending)",
      );
    }
    this.#reading = false;
    // One deadline for the whole upgrade: the writes still in flight (a
    // peer that never reads holds them for ever) and the handshake.
    using limit = deadline(
      seconds,
      "TLS handshake",
      options.signal,
      this.#idle.clock,
    );
    try {
      while (this.#inFlight) {
        await Promise.race([
          (this.#drain ??= Promise.withResolvers<void>()).promise,
          limit.expired,
        ]);
        if (this.#lost) {
          throw new Error("the connection was lost before startTls");
        }
      }
    } catch (error) {
      this.#fail(error); // no-op when already lost
      throw error;
    }
    this.#detached = true;
    // The connection's idle timeout goes on with the new transport.
    const idleSeconds = this.#idle.seconds;
    this.#idle.end();
    this.#closing = true;
    this.#wake?.();
    try {
      let stream: ByteStream;
      let extra: Record<string, unknown>;
      if (context) {
        const tls = context.accept(conn as Deno.TcpConn);
        stream = tls;
        extra = await tls.handshakeExtra(limit.expired);
      } else {
        const { hostname, caCerts, alpnProtocols, cert, key } =
          options as StartTlsOptions;
        const peer = conn.remoteAddr as Deno.NetAddr;
        // Through node:tls, as createConnection.
        const { tlsConnect } = await import("./_tls_stream.ts");
        const tls = tlsConnect(conn as Deno.TcpConn, {
          serverName: hostname ?? peer.hostname,
          caCerts,
          alpnProtocols,
          cert,
          key,
        });
        stream = tls;
        extra = await tls.handshakeExtra(limit.expired);
      }
      const upgraded = new SocketTransport(stream, this.#protocol, {
        ...this.#options,
        extra: { ...this.#options.extra, ...extra },
      });
      upgraded.#flow = new WriteFlowControl(this.#flow.limits);
      upgraded.#idle.set(idleSeconds);
      upgraded.#bytesIn = this.#bytesIn;
      upgraded.#bytesOut = this.#bytesOut;
      this.#upgradedTo = upgraded;
      this.#closed.resolve(null);
      // Reading starts once the code awaiting this upgrade has run (a
      // macrotask later): the protocol keeps the new transport before any
      // of its bytes (perhaps decrypted already) reach dataReceived.
      setTimeout(() => upgraded.#run(false), 0);
      return upgraded;
    } catch (error) {
      // The connection is unusable now: end it as lost.
      this.#detached = false;
      this.#lost = false;
      this.#fail(error);
      throw error;
    }
  }

  /**
   * Resolves once `connectionLost` has been called, with its argument (or,
   * with `null`, once the connection has been handed to a new transport by
   * {@linkcode SocketTransport.startTls}). Never rejects.
   */
  get closed(): Promise<Error | null> {
    return this.#closed.promise;
  }

  #run(announce: boolean): void {
    const protocol = this.#protocol;
    if (announce) {
      try {
        protocol.connectionMade?.(this);
      } catch (error) {
        this.#fail(new CallbackError("connectionMade", asError(error)));
        return;
      }
    }
    const reading = isBufferedProtocol(protocol)
      ? this.#readInto(protocol)
      : this.#readCopies(protocol);
    reading.catch(this.#broke);
  }

  /**
   * The read loop for a plain Protocol: the protocol owns each chunk it is
   * given, so reads go into memory no one else uses: one after another
   * into slabs ({@linkcode ReadSlabs}), the protocol getting views of them.
   * While it releases its chunks (an echo, a proxy), a slab whose chunks
   * were all released and sent is read into again: no new memory per read.
   */
  async #readCopies(protocol: Protocol): Promise<void> {
    const conn = this.#conn;
    const slabs = this.#slabs = new ReadSlabs();
    while (true) {
      if (!this.#reading && !(await this.#waitForReading())) return;
      const size = this.#readSize.size;
      const target = slabs.target(size);
      let n: number | null;
      this.#readPending = true;
      try {
        n = await conn.read(target);
      } catch (error) {
        if (this.#closing) return;
        if (!isEndOfData(error)) return this.#fail(error);
        n = null;
      } finally {
        this.#readPending = false;
      }
      if (this.#closing) return;
      this.#ioCount++;
      if (!this.#reading && !(await this.#waitForReading())) return;
      if (n === null) return this.#eof();
      this.#adapt(n, size);
      const data = slabs.take(target, n);
      try {
        protocol.dataReceived?.(data);
      } catch (error) {
        throw new CallbackError("dataReceived", asError(error));
      } finally {
        // Released in the call, its memory comes back once its writes are
        // sent; otherwise it is the protocol's until released.
        slabs.delivered();
      }
      // See #readInto.
      for (let i = 0; i < WRITE_SETTLE_TURNS && this.#inFlight; i++) {
        await turn;
      }
    }
  }

  /** The read loop for a BufferedProtocol: reads go into its memory. */
  async #readInto(protocol: BufferedProtocol): Promise<void> {
    const conn = this.#conn;
    while (true) {
      if (!this.#reading && !(await this.#waitForReading())) return;
      let buffer: Uint8Array;
      try {
        buffer = protocol.getBuffer(this.#readSize.size);
      } catch (error) {
        throw new CallbackError("getBuffer", asError(error));
      }
      if (!(buffer instanceof Uint8Array) || buffer.length === 0) {
        throw new CallbackError(
          "getBuffer",
          new TypeError("getBuffer() must return a non-empty Uint8Array"),
        );
      }
      let n: number | null;
      this.#readPending = true;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (this.#closing) return;
        if (!isEndOfData(error)) return this.#fail(error);
        n = null;
      } finally {
        this.#readPending = false;
      }
      if (this.#closing) return;
      this.#ioCount++;
      if (!this.#reading && !(await this.#waitForReading())) return;
      if (n === null) return this.#eof();
      this.#adapt(n, buffer.byteLength);
      try {
        protocol.bufferUpdated(n);
      } catch (error) {
        throw new CallbackError("bufferUpdated", asError(error));
      }
      // A write that completed at once settles within a few microtask
      // turns: let it, so the protocol gets its buffer back before the next
      // read, and the read is not issued with a write still in flight (which
      // costs Deno more than it saves). A write the socket really blocked is
      // not waited for: reading goes on.
      for (let i = 0; i < WRITE_SETTLE_TURNS && this.#inFlight; i++) {
        await turn;
      }
    }
  }

  /** Counts a read of `n` bytes and adapts the read size (see ReadSize). */
  #adapt(n: number, size: number): void {
    this.#bytesIn += n;
    this.#readSize.update(n, size);
  }

  /** Waits while reading is paused; false when the transport is closing. */
  async #waitForReading(): Promise<boolean> {
    while (!this.#reading && !this.#closing) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    return !this.#closing;
  }

  #eof(): void {
    let keepOpen: boolean | void;
    try {
      keepOpen = this.#protocol.eofReceived?.();
    } catch (error) {
      throw new CallbackError("eofReceived", asError(error));
    }
    if (!keepOpen) this.close();
  }

  /** Ends the connection because of `error`: abort, then connectionLost. */
  #fail(error: unknown): void {
    if (this.#lost) return;
    if (error instanceof CallbackError) {
      reportError(
        "Fatal error: protocol.{callback}() call failed for {peer}: {error}",
        {
          callback: error.callback,
          peer: addrText(this.#conn.remoteAddr),
          error: error.error,
        },
        error.error,
      );
      this.#finish(error.error);
    } else {
      const cause = asError(error);
      log.debug("Connection with {peer} lost: {error}", {
        peer: addrText(this.#conn.remoteAddr),
        error: cause,
      });
      this.#finish(cause);
    }
  }

  /** Closes the socket and calls connectionLost once, soon after. */
  #finish(error: Error | null): void {
    if (this.#lost || this.#detached) return;
    this.#lost = true;
    this.#lostTo = error;
    this.#idle.end();
    this.#drain?.resolve();
    this.#closing = true;
    // Dropped, never handed to the socket: their memory is free. (The write
    // in flight is not until it settles: the system may still be reading
    // it. See #writeOver.)
    for (const chunk of this.#queue) writeSent(chunk);
    this.#queue = [];
    this.#queued = 0;
    this.#slabs?.clear();
    try {
      // Cut (aborted, or failed): the stream may say so to the peer.
      const cut = error !== null || this.#endedBy === "abort()";
      if (cut && this.#conn.abort) this.#conn.abort();
      else this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#wake?.();
    queueMicrotask(() => {
      try {
        this.#protocol.connectionLost?.(error);
      } catch (thrown) {
        reportError(
          "Error in protocol.connectionLost() for {peer}: {error}",
          { peer: addrText(this.#conn.remoteAddr), error: thrown },
          asError(thrown),
        );
      } finally {
        this.#closed.resolve(error);
      }
    });
  }

  write(data: Uint8Array | string): void {
    if (this.#closing || this.#eofRequested) {
      if (this.#endedBy) throw new Error(`write() after ${this.#endedBy}`);
      if (this.#eofRequested) throw new Error("write() after writeEof()");
      return; // Lost to an error: connectionLost tells the protocol.
    }
    if (typeof data === "string") data = encoder.encode(data);
    if (isEmptyWrite(data)) return;
    writeQueued(data);
    this.#queued += data.byteLength;
    if (this.#inFlight || this.#gathering) this.#queue.push(data);
    else this.#send(data);
    if (this.#flow.grew(this.#queued)) this.#callFlowControl("pauseWriting");
  }

  /**
   * Writes the chunks as {@linkcode SocketTransport.write} does each, but
   * hands them to the socket together: one joined write (up to 256 KiB),
   * not a system call and a TCP segment per chunk, as asyncio's `writelines`
   * joins them. A length prefix and its message go out as one.
   */
  writelines(chunks: Iterable<Uint8Array | string>): void {
    if (this.#inFlight) {
      for (const chunk of chunks) this.write(chunk);
      return;
    }
    this.#gathering = true;
    try {
      for (const chunk of chunks) this.write(chunk);
    } finally {
      this.#gathering = false;
    }
    if (!this.#inFlight && this.#queue.length > 0 && !this.#lost) {
      this.#send(this.#takeChunk());
    }
  }

  release(data: Uint8Array): void {
    this.#slabs?.release(data);
  }

  /** Calls pauseWriting/resumeWriting; an exception there is fatal. */
  #callFlowControl(name: "pauseWriting" | "resumeWriting"): void {
    try {
      this.#protocol[name]?.();
    } catch (error) {
      this.#fail(new CallbackError(name, asError(error)));
    }
  }

  /**
   * Hands one chunk to the socket. One write is in flight at a time; its
   * completion sends the next (see {@linkcode SocketTransport.#written}),
   * so there is no promise chain that grows with the number of writes.
   */
  #send(chunk: Uint8Array): void {
    this.#inFlight = chunk;
    let writing: Promise<number>;
    try {
      writing = this.#conn.write(chunk);
    } catch (error) {
      this.#fail(error); // a stream that throws instead of rejecting
      return;
    }
    writing.then(this.#written, this.#failed);
  }

  /** A socket write finished: go on with the rest of the buffer. */
  #written = (n: number): void => {
    try {
      this.#wrote(n);
    } catch (error) {
      this.#broke(error);
    }
  };

  #wrote(n: number): void {
    if (this.#lost) return this.#writeOver();
    const chunk = this.#inFlight!;
    this.#queued -= n;
    this.#bytesOut += n;
    this.#ioCount++;
    if (n < chunk.byteLength) {
      this.#send(chunk.subarray(n)); // a partial write: send the rest
      return;
    }
    writeSent(chunk);
    if (this.#flow.shrank(this.#queued)) {
      this.#callFlowControl("resumeWriting");
      if (this.#lost) return;
    }
    if (this.#queue.length > 0) {
      this.#send(this.#takeChunk());
      return;
    }
    this.#inFlight = null;
    if (this.#drain) {
      this.#drain.resolve();
      this.#drain = null;
    }
    this.#drained();
  }

  /** Ends the connection on a read, write or callback error. */
  #failed = (error: unknown): void => {
    if (!this.#lost) this.#fail(error);
    this.#writeOver();
  };

  /**
   * The write in flight of a lost connection settled: the system no longer
   * reads its memory, which is free now (a released chunk's slab, perhaps
   * another connection's, can be read into again).
   */
  #writeOver(): void {
    const chunk = this.#inFlight;
    if (chunk === null) return;
    this.#inFlight = null;
    writeSent(chunk);
  }

  /**
   * Ends the connection on an error thrown in the transport's own read or
   * write path: a callback's (reported by #fail), or a fault of the
   * transport or of what the protocol did to memory it handed over,
   * reported here with its stack. It never escapes as an unhandled
   * rejection: only this connection is lost.
   */
  #broke = (error: unknown): void => {
    if (this.#lost) return;
    if (error instanceof CallbackError) return this.#fail(error);
    const cause = asError(error);
    reportError(
      "Fatal error in the transport for {peer}: {error}",
      { peer: addrText(this.#conn.remoteAddr), error: cause },
      cause,
    );
    this.#finish(cause);
  };

  /** The buffer is empty: send a requested EOF, finish a requested close. */
  #drained(): void {
    if (this.#eofRequested && !this.#eofSent) {
      // A requested EOF is sent even when close() followed it: over TLS
      // it is the close_notify that tells the peer the data is complete.
      // Like data, it is waited for before the close (the idle timeout
      // ends a peer that never takes it).
      this.#eofSent = true;
      this.#eofPending = true;
      let closing: Promise<void>;
      try {
        closing = this.#conn.closeWrite();
      } catch (error) {
        this.#fail(error); // a stream that throws instead of rejecting
        return;
      }
      closing.then(() => {
        this.#eofPending = false;
        if (this.#closeRequested) this.#finish(null);
      }, this.#failed);
    } else if (this.#closeRequested && !this.#eofPending) {
      this.#finish(null);
    }
  }

  /** Takes the next chunk off the queue, joining small ones. */
  #takeChunk(): Uint8Array {
    const queue = this.#queue;
    const first = queue[0];
    if (queue.length === 1 || first.byteLength >= COALESCE_LIMIT) {
      queue.shift();
      return first;
    }
    let count = 0;
    let size = 0;
    while (
      count < queue.length && size + queue[count].byteLength <= COALESCE_LIMIT
    ) {
      size += queue[count].byteLength;
      count++;
    }
    if (count <= 1) {
      queue.shift();
      return first;
    }
    const joined = new Uint8Array(size);
    let offset = 0;
    for (const part of queue.splice(0, count)) {
      joined.set(part, offset);
      offset += part.byteLength;
      writeSent(part); // copied: its memory is free now
    }
    return joined;
  }

  writeEof(): void {
    if (this.#eofRequested) return;
    if (this.#endedBy) throw new Error(`writeEof() after ${this.#endedBy}`);
    if (!this.canWriteEof()) {
      throw new Error("writeEof(): this transport cannot half-close");
    }
    if (this.#closing) return;
    this.#eofRequested = true;
    if (!this.#inFlight) this.#drained();
  }

  canWriteEof(): boolean {
    return this.#options.canWriteEof !== false;
  }

  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#closeRequested = true;
    this.#endedBy = "close()";
    if (this.#conn.closeWriteOnClose && this.canWriteEof()) {
      this.#eofRequested = true; // TLS: close_notify before the close
    }
    this.#wake?.();
    if (!this.#inFlight) this.#drained();
  }

  abort(): void {
    if (this.#lost) return;
    this.#endedBy ??= "abort()";
    this.#finish(null);
  }

  isClosing(): boolean {
    return this.#closing;
  }

  getExtraInfo<K extends keyof ExtraInfo>(
    name: K,
    fallback?: ExtraInfo[K],
  ): ExtraInfo[K] | undefined;
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return name in this.#extra ? this.#extra[name] : fallback;
  }

  pauseReading(): void {
    this.#reading = false;
  }

  resumeReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  isReading(): boolean {
    return this.#reading && !this.#closing;
  }

  setWriteBufferLimits(limits?: Partial<WriteBufferLimits>): void {
    if (this.#flow.setLimits(limits, this.#queued)) {
      this.#callFlowControl("pauseWriting");
    }
  }

  getWriteBufferLimits(): WriteBufferLimits {
    return { ...this.#flow.limits };
  }

  setIdleTimeout(seconds: number | null): void {
    this.#idle.set(seconds);
  }

  getIdleTimeout(): number | null {
    return this.#idle.seconds;
  }

  /** The idle timeout expired: the protocol's say, or an abort. */
  #timedOut(seconds: number): void {
    this.#idleExpired = seconds;
    const protocol = this.#protocol;
    if (protocol.timeoutConnection) {
      try {
        protocol.timeoutConnection();
      } catch (error) {
        this.#fail(new CallbackError("timeoutConnection", asError(error)));
      }
      return;
    }
    log.debug("Connection with {peer}: no traffic for {seconds} s", {
      peer: addrText(this.#conn.remoteAddr),
      seconds,
    });
    this.#finish(idleTimedOut(seconds));
  }

  getWriteBufferSize(): number {
    return this.#queued;
  }
}
