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
import { resolveHost } from "./resolve.ts";
import { SocketTransport } from "./socket_transport.ts";
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
}

/** Picks the listen addresses: one per resolved address. */
async function listenAddresses(hostname: string): Promise<string[]> {
  return hostname === "" ? ["0.0.0.0"] : await resolveHost(hostname);
}

/**
 * Opens one listener per address, all on the same port: the given one, or
 * the one the kernel picked for the first address when `port` is 0.
 */
function listenAll(
  addresses: string[],
  port: number,
  reusePort: boolean,
): Deno.TcpListener[] {
  for (let attempt = 0;; attempt++) {
    const listeners: Deno.TcpListener[] = [];
    let chosen = port;
    try {
      for (const hostname of addresses) {
        const listener = Deno.listen({
          hostname,
          port: chosen,
          ...(reusePort ? { reusePort: true } : {}),
        });
        listeners.push(listener);
        chosen = listener.addr.port;
      }
      return listeners;
    } catch (error) {
      for (const listener of listeners) listener.close();
      // With port 0, the port the first address got may be taken on the
      // next one: pick again a few times.
      const retry = port === 0 && listeners.length > 0 &&
        error instanceof Deno.errors.AddrInUse && attempt < 8;
      if (!retry) throw error;
    }
  }
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
  /** Every bound address, with the real port. */
  readonly addrs: readonly Deno.NetAddr[];

  #listeners: Deno.TcpListener[];
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
    listeners: Deno.TcpListener[],
    factory: ProtocolFactory<Protocol | BufferedProtocol>,
    options: ServerOptions,
  ) {
    this.#listeners = listeners;
    this.#factory = factory;
    this.#options = options;
    this.addrs = listeners.map((listener) => listener.addr);
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

  /** How many connections are open now. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** Whether the server still accepts connections. */
  isServing(): boolean {
    return this.#listening;
  }

  async #acceptLoop(listener: Deno.TcpListener): Promise<void> {
    while (this.#listening) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!this.#listening) break;
        // One failed accept (a peer that reset before we took it) does not
        // end the listener: log and go on.
        log.warning("accept() failed on {host} port {port}: {error}", {
          host: listener.addr.hostname,
          port: listener.addr.port,
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

  #serve(conn: Deno.TcpConn): void {
    const max = this.#options.maxConnections;
    if (max !== undefined && this.#connections.size >= max) {
      log.warning(
        "Refusing connection from {host} port {port}: {max} connections open (the limit)",
        { host: conn.remoteAddr.hostname, port: conn.remoteAddr.port, max },
      );
      conn.close();
      return;
    }
    let protocol: Protocol | BufferedProtocol;
    try {
      protocol = this.#factory();
    } catch (error) {
      log.error("Protocol factory failed for {host} port {port}: {error}", {
        host: conn.remoteAddr.hostname,
        port: conn.remoteAddr.port,
        error,
      });
      conn.close();
      return;
    }
    const transport = SocketTransport.start(conn, protocol, {
      noDelay: this.#options.noDelay,
      writeBufferLimits: this.#options.writeBufferLimits,
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
    if (!this.#listening && this.#connections.size === 0) {
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
      Promise.all(this.#accepting).then(() => {
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
    const count = this.#connections.size;
    for (const transport of this.#connections) transport.abort();
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
  const { hostname = "localhost", port = 0, reusePort = false } = options;
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
  if (
    idleTimeout !== undefined && !(idleTimeout >= 0 && isFinite(idleTimeout))
  ) {
    throw new RangeError(
      `idleTimeout must be a number of seconds >= 0, got ${idleTimeout}`,
    );
  }
  const addresses = await listenAddresses(hostname);
  const listeners = listenAll(addresses, port, reusePort);
  return new Server(listeners, factory, options);
}
