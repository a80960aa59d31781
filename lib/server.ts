/**
 * {@linkcode createServer} and {@linkcode Server}: accept connections and run
 * a new protocol over each.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import { IdleSweeper } from "./idle_sweeper.ts";
import {
  type Listening,
  openListeners,
  type TlsServerOptions,
} from "./listen.ts";
import { PrefixedConn, readProxyHeader } from "./proxy_protocol.ts";
import { type ByteStream, SocketTransport } from "./socket_transport.ts";
import type { WriteBufferLimits } from "./transport.ts";

const log = getLogger(["protocols"]);

/** Pause after an accept error that a retry cannot cure at once (EMFILE). */
const ACCEPT_BACKOFF_MS = 100;

/** Options of {@linkcode createServer}. */
export interface ServerOptions {
  /**
   * The name or address to listen on (default `"localhost"`). A name is
   * resolved and every address it names gets a listener, all on one port.
   * `""` means every IPv4 interface (`0.0.0.0`).
   */
  hostname?: string;
  /** The TCP port (default 0: any free port; see {@linkcode Server.addrs}). */
  port?: number;
  /**
   * Let several processes listen on the same address and port (Linux
   * `SO_REUSEPORT`; needs Deno's `--unstable-net`).
   */
  reusePort?: boolean;
  /** Turn Nagle's algorithm off on each connection (default `true`). */
  noDelay?: boolean;
  /** Write buffer limits of each new connection. */
  writeBufferLimits?: Partial<WriteBufferLimits>;
  /**
   * The most connections served at once (default: no limit). A connection
   * over the limit is closed as soon as it is accepted, with a warning in
   * the log; the server goes on accepting.
   */
  maxConnections?: number;
  /**
   * Seconds a connection may go without a completed read or write before it
   * is closed (default 0: never). A connection with unsent data is aborted,
   * since its peer is not reading. Logged at info level.
   */
  idleTimeout?: number;
  /**
   * Serve TLS (on `Deno.listenTls`) with this certificate and key, PEM. The
   * handshake must finish within {@linkcode TLS_HANDSHAKE_TIMEOUT_MS}; the
   * negotiated ALPN protocol is `getExtraInfo("alpnProtocol")`.
   */
  tls?: TlsServerOptions;
  /**
   * Listen on this Unix socket path instead of TCP (`hostname` and `port`
   * are then unused). A stale socket file left by a dead server is
   * replaced; anything else at the path is an error. The server removes its
   * socket file when it closes. Needs read and write permission for the
   * path.
   */
  path?: string;
  /**
   * Expect a PROXY protocol header (version 1 or 2, as HAProxy and nginx
   * send with `proxy_protocol on`) at the start of every connection: the
   * real client becomes `getExtraInfo("peername")` (the proxy's address is
   * `"proxyname"`). A connection without a valid header within
   * {@linkcode TLS_HANDSHAKE_TIMEOUT_MS} is closed with a warning. Not with
   * `tls` (Deno cannot read bytes ahead of a server-side TLS handshake).
   */
  proxyProtocol?: boolean;
}

/** How long a TLS client gets to finish its handshake. */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** `host port N` for TCP peers, `a Unix socket peer` otherwise. */
function peerText(addr: Deno.Addr): { host: string; port: number | string } {
  return "hostname" in addr
    ? { host: addr.hostname, port: addr.port }
    : { host: "unix socket", port: "path" in addr ? addr.path ?? "-" : "-" };
}

/** Accept errors that concern one connection only: retry at once. */
function isPerConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

/**
 * A listening server: returned by {@linkcode createServer}.
 *
 * @example Serving until a signal, then shutting down
 * ```ts ignore
 * import { createServer } from "./server.ts";
 * import { EchoServer } from "./echo.ts";
 *
 * await using server = await createServer(() => new EchoServer(), { port: 0 });
 * console.log(server.addrs[0].port);
 * const stop = new AbortController();
 * Deno.addSignalListener("SIGINT", () => stop.abort());
 * await server.serveForever(stop.signal);
 * ```
 */
export class Server implements AsyncDisposable {
  /** Every bound TCP address, with the real port (empty for a Unix socket). */
  readonly addrs: readonly Deno.NetAddr[];
  /** The Unix socket path, for a server listening on one. */
  readonly path: string | undefined;

  #listeners: Deno.Listener[];
  #cleanUp: () => Promise<void>;
  #handshaking = new Set<Deno.Conn>();
  #factory: ProtocolFactory<Protocol | BufferedProtocol>;
  #options: ServerOptions;
  #connections = new Set<SocketTransport>();
  #accepting: Promise<void>[];
  #listening = true;
  #done = Promise.withResolvers<void>();
  #stopped = Promise.withResolvers<void>();
  #sweeper: IdleSweeper<SocketTransport> | null = null;

  /** Use {@linkcode createServer}. */
  constructor(
    listening: Listening,
    factory: ProtocolFactory<Protocol | BufferedProtocol>,
    options: ServerOptions,
  ) {
    const { listeners } = listening;
    this.#listeners = listeners;
    this.#cleanUp = listening.cleanUp;
    this.#factory = factory;
    this.#options = options;
    this.addrs = listeners.map((listener) => listener.addr)
      .filter((addr): addr is Deno.NetAddr => addr.transport === "tcp");
    this.path = options.path;
    const idle = options.idleTimeout ?? 0;
    if (idle > 0) {
      this.#sweeper = new IdleSweeper(idle * 1000, (transport) => {
        const peer = transport.getExtraInfo<Deno.NetAddr>("peername");
        log.info(
          "Closing idle connection from {host} port {port}: no traffic for {seconds} s",
          { host: peer?.hostname, port: peer?.port, seconds: idle },
        );
        if (transport.getWriteBufferSize() > 0) transport.abort();
        else transport.close();
      });
    }
    this.#accepting = listeners.map((listener) => this.#acceptLoop(listener));
  }

  /** How many connections are open now (TLS handshakes included). */
  get connectionCount(): number {
    return this.#connections.size + this.#handshaking.size;
  }

  /** Whether the server still accepts connections. */
  isServing(): boolean {
    return this.#listening;
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (this.#listening) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!this.#listening) break;
        // One failed accept (a peer that reset before we took it) does not
        // end the listener: log and go on.
        log.warning("accept() failed on {host} port {port}: {error}", {
          ...peerText(listener.addr),
          error,
        });
        if (!isPerConnectionError(error)) {
          await new Promise((resolve) =>
            setTimeout(resolve, ACCEPT_BACKOFF_MS)
          );
        }
        continue;
      }
      this.#serve(conn);
    }
  }

  #serve(conn: Deno.Conn): void {
    const max = this.#options.maxConnections;
    const open = this.#connections.size + this.#handshaking.size;
    if (max !== undefined && open >= max) {
      log.warning(
        "Refusing connection from {host} port {port}: {max} connections open (the limit)",
        { ...peerText(conn.remoteAddr), max },
      );
      conn.close();
      return;
    }
    if ("handshake" in conn) this.#handshake(conn as Deno.TlsConn);
    else if (this.#options.proxyProtocol) this.#readProxy(conn);
    else this.#start(conn, {});
  }

  /** Completes a TLS handshake, then serves the connection. */
  #handshake(conn: Deno.TlsConn): void {
    this.#prepare(
      conn,
      async () => {
        const info = await conn.handshake();
        return [conn, { alpnProtocol: info.alpnProtocol }];
      },
      (error) =>
        log.info("TLS handshake with {host} port {port} failed: {error}", {
          ...peerText(conn.remoteAddr),
          error,
        }),
    );
  }

  /** Reads the PROXY header, then serves the rest of the connection. */
  #readProxy(conn: Deno.Conn): void {
    this.#prepare(conn, async () => {
      const header = await readProxyHeader(conn);
      return [new PrefixedConn(conn, header.rest), {
        peername: header.source ?? conn.remoteAddr,
        proxyname: conn.remoteAddr,
      }];
    }, (error) =>
      log.warning(
        "Closing connection from {host} port {port}: malformed PROXY protocol header: {error}",
        { ...peerText(conn.remoteAddr), error },
      ));
  }

  /**
   * Runs what must happen before a connection is served (a TLS handshake,
   * a PROXY header) within {@linkcode TLS_HANDSHAKE_TIMEOUT_MS}, counting
   * the connection as open meanwhile; then serves it, or reports why not
   * and closes it.
   */
  async #prepare(
    conn: Deno.Conn,
    prepare: () => Promise<[ByteStream, Record<string, unknown>]>,
    failed: (error: unknown) => void,
  ): Promise<void> {
    this.#handshaking.add(conn);
    const timer = setTimeout(() => conn.close(), TLS_HANDSHAKE_TIMEOUT_MS);
    try {
      const [stream, extra] = await prepare();
      this.#start(stream, extra);
    } catch (error) {
      failed(error);
      try {
        conn.close();
      } catch {
        // Closed by the timer or the peer.
      }
    } finally {
      clearTimeout(timer);
      this.#handshaking.delete(conn);
      this.#checkDone();
    }
  }

  #start(conn: ByteStream, extra: Record<string, unknown>): void {
    let protocol: Protocol | BufferedProtocol;
    try {
      protocol = this.#factory();
    } catch (error) {
      log.error("Protocol factory failed for {host} port {port}: {error}", {
        ...peerText(conn.remoteAddr!),
        error,
      });
      conn.close();
      return;
    }
    const transport = SocketTransport.start(conn, protocol, {
      side: "server",
      noDelay: this.#options.noDelay,
      writeBufferLimits: this.#options.writeBufferLimits,
      extra,
    });
    this.#connections.add(transport);
    this.#sweeper?.add(transport);
    transport.closed.then(() => {
      this.#connections.delete(transport);
      this.#sweeper?.delete(transport);
      this.#checkDone();
    });
  }

  #checkDone(): void {
    if (
      !this.#listening && this.#connections.size === 0 &&
      this.#handshaking.size === 0
    ) {
      this.#done.resolve();
    }
  }

  /**
   * Stops accepting: every listener closes at once. Open connections go on
   * until they end; see {@linkcode Server.closeClients} and
   * {@linkcode Server.abortClients}. A second call does nothing.
   *
   * The returned promise resolves once the listening sockets are gone (a
   * connection attempt is then refused); awaiting it is optional.
   */
  close(): Promise<void> {
    if (this.#listening) {
      this.#listening = false;
      for (const listener of this.#listeners) {
        try {
          listener.close();
        } catch {
          // Already closed.
        }
      }
      Promise.all(this.#accepting).then(() => this.#cleanUp()).then(() => {
        this.#stopped.resolve();
        this.#checkDone();
      });
    }
    return this.#stopped.promise;
  }

  /** Closes every open connection gracefully (flushing its writes). */
  closeClients(): void {
    for (const transport of this.#connections) transport.close();
  }

  /**
   * Aborts every open connection at once, dropping unsent data.
   * Returns how many were aborted.
   */
  abortClients(): number {
    const count = this.#connections.size + this.#handshaking.size;
    for (const transport of this.#connections) transport.abort();
    for (const conn of this.#handshaking) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    return count;
  }

  /**
   * Resolves once the server is closed (see {@linkcode Server.close}) and
   * every connection has ended. Never rejects.
   */
  async waitClosed(): Promise<void> {
    await this.#stopped.promise;
    await this.#done.promise;
  }

  /**
   * Serves until `signal` aborts (or {@linkcode Server.close} is called),
   * then closes the server and waits for its connections to end.
   */
  async serveForever(signal?: AbortSignal): Promise<void> {
    if (signal) {
      if (signal.aborted) this.close();
      else signal.addEventListener("abort", () => this.close(), { once: true });
    }
    await this.waitClosed();
  }

  /** `await using`: closes the server and its connections, and waits. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    this.closeClients();
    await this.waitClosed();
  }
}

/**
 * Listens for TCP connections and runs a new protocol from `factory` over
 * each one. asyncio's `loop.create_server`.
 *
 * @example An echo server on a free port
 * ```ts ignore
 * import { createServer } from "./server.ts";
 * import { EchoServer } from "./echo.ts";
 *
 * const server = await createServer(() => new EchoServer(), { port: 0 });
 * console.log(`listening on port ${server.addrs[0].port}`);
 * ```
 *
 * @throws {RangeError} for a bad port, `maxConnections` or `idleTimeout`.
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 * @throws {Deno.errors.NotFound} when the host name does not resolve.
 */
export async function createServer(
  factory: ProtocolFactory<Protocol | BufferedProtocol>,
  options: ServerOptions = {},
): Promise<Server> {
  const { port = 0 } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `port must be a whole number from 0 to 65535, got ${port}`,
    );
  }
  const { maxConnections, idleTimeout } = options;
  if (
    maxConnections !== undefined &&
    (!Number.isInteger(maxConnections) || maxConnections < 1)
  ) {
    throw new RangeError(
      `maxConnections must be a whole number >= 1, got ${maxConnections}`,
    );
  }
  if (options.proxyProtocol && options.tls) {
    throw new RangeError(
      "proxyProtocol cannot be used with tls: Deno cannot read a PROXY header ahead of a server-side TLS handshake",
    );
  }
  if (
    idleTimeout !== undefined && !(idleTimeout >= 0 && isFinite(idleTimeout))
  ) {
    throw new RangeError(
      `idleTimeout must be a number of seconds >= 0, got ${idleTimeout}`,
    );
  }
  return new Server(await openListeners(options), factory, options);
}
