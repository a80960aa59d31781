/**
 * The echo protocols of the PyMOTW asyncio example this application
 * reproduces ("Asynchronous I/O with Protocol Class Abstractions"):
 * {@linkcode EchoServer} and {@linkcode EchoClient}, logging its lines.
 *
 * @module
 */

import { getLogger, type Logger } from "@logtape/logtape";
import {
  type DatagramProtocol,
  type DatagramTransport,
  type Protocol,
  type Transport,
} from "@protocols/core";
import { addrLabel, addrText } from "./addr.ts";
import { bytesRepr } from "./bytes_repr.ts";
import { EchoCheck } from "./echo_check.ts";
import { namedLogger } from "./logging.ts";

/** The client's messages when none are given: the seed's three. */
export const SEED_MESSAGES: readonly string[] = [
  "This is the message. ",
  "It will be sent ",
  "in parts.",
];

/**
 * How many bytes of each chunk the echo protocols log by default: the
 * asyncio example's messages whole, and a short line for anything long.
 */
export const DEFAULT_LOG_BYTES = 64;

/** Options of the echo protocols' logging. */
export interface EchoLogOptions {
  /**
   * Show at most this many bytes of each chunk in `received`/`sent` lines,
   * then the chunk's length (default {@linkcode DEFAULT_LOG_BYTES}).
   */
  logBytes?: number;
}

/**
 * The asyncio example's echo server protocol: writes back every chunk it
 * receives, answers the peer's EOF with its own, and logs each step under
 * the name `EchoServer_HOST_PORT`.
 *
 * It is the example's ten lines plus logging: each chunk is written back as
 * it is and then released ({@linkcode Transport.release}), so its memory is
 * read into again once sent and echoing costs no memory per read; and while
 * the write buffer is over the high-water mark it stops reading, so a peer
 * that sends without reading cannot make it buffer without bound.
 *
 * @example
 * ```ts
 * import { createServer } from "@protocols/core";
 * import { EchoServer } from "./echo.ts";
 *
 * const server = await createServer(() => new EchoServer(), { port: 10000 });
 * ```
 */
export class EchoServer implements Protocol {
  #transport!: Transport;
  #logBytes: number;
  #log: Logger | null = null; // made on first use: most connections log nothing
  #debug = false;

  /** Makes the protocol for one connection. */
  constructor(options: EchoLogOptions = {}) {
    this.#logBytes = options.logBytes ?? DEFAULT_LOG_BYTES;
  }

  /** Logs `connection accepted`. */
  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#debug = getLogger(["EchoServer"]).isEnabledFor("debug");
    if (this.#debug) this.#logger().debug("connection accepted");
  }

  /** The logger named after the peer, `EchoServer_HOST_PORT`. */
  #logger(): Logger {
    if (this.#log === null) {
      const peer = this.#transport.getExtraInfo<Deno.Addr>("peername");
      this.#log = namedLogger("EchoServer", `EchoServer_${addrLabel(peer)}`);
    }
    return this.#log;
  }

  /**
   * Writes the chunk back and releases it; logs `received …` and `sent …`.
   */
  dataReceived(data: Uint8Array): void {
    const transport = this.#transport;
    if (!this.#debug) {
      transport.write(data);
      transport.release(data);
      return;
    }
    const repr = bytesRepr(data, this.#logBytes);
    this.#logger().debug("received {data}", { data: repr });
    transport.write(data);
    transport.release(data); // done with it: its memory is read into again
    this.#logger().debug("sent {data}", { data: repr });
  }

  /** Logs `received EOF` and half-closes; the transport then closes. */
  eofReceived(): void {
    if (this.#debug) this.#logger().debug("received EOF");
    if (this.#transport.canWriteEof()) this.#transport.writeEof();
  }

  /** Logs `closing`, or `ERROR: …` when the connection failed. */
  connectionLost(error: Error | null): void {
    if (error) this.#logger().error("ERROR: {error}", { error });
    else if (this.#debug) this.#logger().debug("closing");
  }

  /** Stops reading until the write buffer drains. */
  pauseWriting(): void {
    this.#transport.pauseReading();
  }

  /** Reads again. */
  resumeWriting(): void {
    this.#transport.resumeReading();
  }

  /**
   * The idle timeout (`--idle-timeout`): closes the connection, or cuts it
   * when an echo is still unsent (its peer is not reading).
   */
  timeoutConnection(): void {
    if (this.#transport.getWriteBufferSize() > 0) this.#transport.abort();
    else this.#transport.close();
  }
}

/** Options of {@linkcode EchoClient}. */
export interface EchoClientOptions extends EchoLogOptions {
  /**
   * Called with each chunk that comes back. When it returns a promise,
   * reading pauses until the promise settles, and {@linkcode EchoClient.done}
   * waits for the last one.
   */
  onData?: (data: Uint8Array) => void | Promise<void>;
}

/** What an {@linkcode EchoClient} sends. */
export type EchoSource =
  | Iterable<Uint8Array | string>
  | AsyncIterable<Uint8Array>;

/**
 * The seed's echo client protocol: sends its messages one write each,
 * half-closes, logs what comes back, and settles {@linkcode EchoClient.done}
 * on the server's EOF or when the connection is lost, whichever comes first.
 *
 * The messages may also be an async iterable (standard input, say): it is
 * sent as it arrives, pausing while the transport's write buffer is full.
 *
 * @example
 * ```ts ignore
 * import { createConnection } from "@protocols/core";
 * import { EchoClient } from "./echo.ts";
 *
 * const { protocol } = await createConnection(
 *   () => new EchoClient(["This is the message. "]),
 *   { port: 10000 },
 * );
 * const error = await protocol.done; // null when all went well
 * ```
 */
export class EchoClient implements Protocol {
  /**
   * Resolves when the exchange is over: to `null` after a clean end, or to
   * the error the connection was lost to. Never rejects.
   */
  readonly done: Promise<Error | null>;
  /** How many bytes were sent. */
  sentBytes = 0;
  /** How many bytes came back. */
  receivedBytes = 0;
  /** The first bytes that came back (up to 16), to tell what answered. */
  head: Uint8Array = new Uint8Array(0);
  /** Whether the exchange ended because the idle timeout expired. */
  idleTimedOut = false;
  /**
   * Where the echo first differs from what was sent (a byte offset), or
   * `null` while it matches; see {@linkcode EchoCheck}.
   */
  get firstDifference(): number | null {
    return this.#check.firstDifference;
  }

  #source: EchoSource;
  #transport!: Transport;
  #log: Logger = getLogger(["EchoClient"]);
  #settle: (error: Error | null) => void;
  #onData?: (data: Uint8Array) => void | Promise<void>;
  #output: Promise<void> = Promise.resolve();
  #drained: PromiseWithResolvers<void> | null = null;
  #logBytes: number;
  #check = new EchoCheck();

  /**
   * Makes a client that will send `messages` once connected.
   *
   * @param messages what to send, one write each (default: the seed's).
   * @param options where the echoed data goes.
   */
  constructor(
    messages: EchoSource = SEED_MESSAGES,
    options: EchoClientOptions = {},
  ) {
    this.#source = messages;
    this.#onData = options.onData;
    this.#logBytes = options.logBytes ?? DEFAULT_LOG_BYTES;
    const { promise, resolve } = Promise.withResolvers<Error | null>();
    this.done = promise;
    this.#settle = resolve;
  }

  /** Logs `connecting to …`, sends every message, then half-closes. */
  connectionMade(transport: Transport): void {
    this.#transport = transport;
    const peer = transport.getExtraInfo<Deno.Addr>("peername");
    this.#log.debug("connecting to {peer}", { peer: addrText(peer) });
    const source = this.#source;
    if (Symbol.asyncIterator in source) {
      this.#pump(source);
      return;
    }
    const encoder = new TextEncoder();
    for (const message of source) {
      this.#send(
        typeof message === "string" ? encoder.encode(message) : message,
      );
    }
    if (transport.canWriteEof()) transport.writeEof();
  }

  #send(bytes: Uint8Array): void {
    this.#transport.write(bytes);
    this.#check.sent(bytes);
    this.sentBytes += bytes.byteLength;
    this.#log.debug(
      "sending {data}",
      () => ({ data: bytesRepr(bytes, this.#logBytes) }),
    );
  }

  /** Sends an async source as it arrives, minding flow control. */
  async #pump(source: AsyncIterable<Uint8Array>): Promise<void> {
    const transport = this.#transport;
    try {
      for await (const chunk of source) {
        if (transport.isClosing()) return;
        this.#send(chunk);
        if (this.#drained) await this.#drained.promise;
      }
      if (!transport.isClosing() && transport.canWriteEof()) {
        transport.writeEof();
      }
    } catch (error) {
      this.#log.error("ERROR: reading input failed: {error}", { error });
      transport.abort();
      this.#settle(error instanceof Error ? error : new Error(String(error)));
    }
  }

  /**
   * Logs `received b'…'` and hands the data on. Once more has come back
   * than was sent, closes the connection (aborts): no echo does that.
   */
  dataReceived(data: Uint8Array): void {
    if (this.head.length < 16) {
      const head = new Uint8Array(Math.min(16, this.head.length + data.length));
      head.set(this.head);
      head.set(
        data.subarray(0, head.length - this.head.length),
        this.head.length,
      );
      this.head = head;
    }
    this.receivedBytes += data.byteLength;
    this.#check.received(data);
    this.#log.debug(
      "received {data}",
      () => ({ data: bytesRepr(data, this.#logBytes) }),
    );
    const pending = this.#onData?.(data);
    if (pending) {
      const transport = this.#transport;
      transport.pauseReading();
      this.#output = pending.then(
        () => transport.resumeReading(),
        (error) => {
          this.#log.error("ERROR: writing output failed: {error}", { error });
          transport.abort();
          this.#settle(
            error instanceof Error ? error : new Error(String(error)),
          );
        },
      );
    }
    if (this.#overrun()) {
      // No echo sends more than it was sent: what differs is known, and a
      // peer that keeps sending would otherwise be read until it stops.
      // (Once aborted, nothing more is received, nor sent.)
      this.#log.debug("more came back than was sent: closing");
      this.#transport.abort();
    }
  }

  /** More came back than was sent: the client closed the connection. */
  #overrun(): boolean {
    return this.receivedBytes > this.sentBytes;
  }

  /** Logs `received EOF`, closes, and settles {@linkcode EchoClient.done}. */
  eofReceived(): void {
    this.#log.debug("received EOF");
    this.#transport.close();
    this.#output.then(() => this.#settle(null));
  }

  /** Logs `server closed connection` and settles {@linkcode EchoClient.done}. */
  connectionLost(error: Error | null): void {
    if (error) this.#log.error("ERROR: {error}", { error });
    if (!this.#overrun()) this.#log.debug("server closed connection");
    this.#drained?.resolve();
    this.#output.then(() => this.#settle(error));
  }

  /**
   * The idle timeout (the client's `--idle-timeout`): ends the exchange at
   * once; {@linkcode EchoClient.idleTimedOut} says why.
   */
  timeoutConnection(): void {
    this.idleTimedOut = true;
    this.#transport.abort();
  }

  /** Holds the source back until the write buffer drains. */
  pauseWriting(): void {
    this.#drained ??= Promise.withResolvers<void>();
  }

  /** Lets the source go on. */
  resumeWriting(): void {
    this.#drained?.resolve();
    this.#drained = null;
  }
}

/**
 * The echo server for UDP: sends every datagram back to where it came from,
 * logging `received b'…'` and `sent b'…'` under the sender's
 * `EchoServer_HOST_PORT` name, as the TCP {@linkcode EchoServer} does.
 *
 * @example
 * ```ts ignore
 * import { createDatagramEndpoint } from "@protocols/core";
 * import { UdpEchoServer } from "./echo.ts";
 *
 * await createDatagramEndpoint(() => new UdpEchoServer(), {
 *   localAddr: { hostname: "localhost", port: 10000 },
 * });
 * ```
 */
export class UdpEchoServer implements DatagramProtocol {
  #transport!: DatagramTransport;
  #debug = false;
  #log: Logger = getLogger(["EchoServer"]);
  #logBytes: number;

  /** Makes the protocol for the endpoint. */
  constructor(options: EchoLogOptions = {}) {
    this.#logBytes = options.logBytes ?? DEFAULT_LOG_BYTES;
  }

  /** Keeps the transport. */
  connectionMade(transport: DatagramTransport): void {
    this.#transport = transport;
    this.#debug = this.#log.isEnabledFor("debug");
  }

  /** Sends the datagram back; logs it. */
  datagramReceived(data: Uint8Array, addr: Deno.NetAddr): void {
    this.#transport.sendto(data, addr);
    if (!this.#debug) return;
    const log = namedLogger("EchoServer", `EchoServer_${addrLabel(addr)}`);
    const repr = bytesRepr(data, this.#logBytes);
    log.debug("received {data}", { data: repr });
    log.debug("sent {data}", { data: repr });
  }

  /** Logs `ERROR: …`; the endpoint goes on. */
  errorReceived(error: Error): void {
    this.#log.error("ERROR: {error}", { error });
  }
}
