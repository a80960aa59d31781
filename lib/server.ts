/**
 * {@linkcode createServer} and {@linkcode Server}: accept connections and run
 * a new protocol over each.
 *
 * @module
 */

import { ACCEPT_BACKOFF } from "./_defaults.ts";
import { log, preloadLogTape } from "./_log.ts";
import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import { type Accepted, Admission, peerText } from "./_admission.ts";
import { reportError } from "./_report.ts";
import { ThrottledWarnings } from "./_throttle.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type Listening, openListeners } from "./_listen.ts";
import {
  recordAcceptError,
  recordConnection,
  unwatchServer,
  watchServer,
} from "./_metrics.ts";
import type {
  ConnectionOutcome,
  ConnectionRecord,
} from "./connection_record.ts";
import {
  type CheckedServerOptions,
  checkServerOptions,
  type ServerOptions,
} from "./server_options.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";
import type { PeerCertificate } from "./peer_certificate.ts";
import { SocketTransport, statsOf, upgradedOf } from "./socket_transport.ts";
import type { ByteStream } from "./transport.ts";

/** Accept errors that concern one connection only: retry at once. */
function isPerConnectionError(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionAborted;
}

/** Makes a Server: only {@linkcode createServer} can. */
let makeServer: (
  listening: Listening,
  factory: ProtocolFactory<Protocol | BufferedProtocol>,
  options: ServerOptions,
  checked: CheckedServerOptions,
) => Server;

/**
 * A listening server: returned by {@linkcode createServer}.
 *
 * @example Serving until a signal, then shutting down
 * ```ts
 * import { createServer, type Protocol, type Transport } from "@protocols/core";
 *
 * class Echo implements Protocol {
 *   #transport!: Transport;
 *   connectionMade(transport: Transport) { this.#transport = transport; }
 *   dataReceived(data: Uint8Array) { this.#transport.write(data); }
 * }
 * await using server = await createServer(() => new Echo(), { port: 0 });
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
  #admission: Admission;
  #warnings = new ThrottledWarnings((message, properties) =>
    log.warning(message, properties)
  );
  #factory: ProtocolFactory<Protocol | BufferedProtocol>;
  #options: ServerOptions;
  #connections = new Set<SocketTransport>();
  #accepting: Promise<void>[];
  #listening = true;
  #done = Promise.withResolvers<void>();
  #stopped = Promise.withResolvers<void>();
  #clock: Clock;
  /** Attributes of this server's metrics. */
  readonly attributes: Record<string, string | number>;

  static {
    makeServer = (listening, factory, options, checked) =>
      new Server(listening, factory, options, checked);
  }

  private constructor(
    listening: Listening,
    factory: ProtocolFactory<Protocol | BufferedProtocol>,
    options: ServerOptions,
    checked: CheckedServerOptions,
  ) {
    preloadLogTape();
    const { listeners } = listening;
    this.#listeners = listeners;
    this.#cleanUp = listening.cleanUp;
    this.#factory = factory;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#admission = new Admission(
      {
        limits: checked.limits,
        proxyProtocol: options.proxyProtocol === true,
        trusted: checked.trusted,
        handshakeTimeout: checked.handshakeTimeout,
        tls: listening.tls,
        clock: this.#clock,
      },
      this.#warnings,
      {
        serve: (stream, extra, release, accepted) =>
          this.#start(stream, extra, release, accepted),
        ended: (accepted, outcome, extra) => {
          this.#ended(accepted, outcome, extra);
          this.#checkDone();
        },
      },
    );
    this.addrs = listeners.map((listener) => listener.addr)
      .filter((addr): addr is Deno.NetAddr => addr.transport === "tcp");
    this.path = options.path;
    this.attributes = this.addrs.length > 0
      ? { "network.transport": "tcp", "server.port": this.addrs[0].port }
      : { "network.transport": "unix" };
    watchServer(this);
    this.#accepting = listeners.map((listener) => this.#acceptLoop(listener));
  }

  /** Reports an ended connection to the metrics and `onConnectionEnd`. */
  #ended(
    accepted: Accepted,
    outcome: ConnectionOutcome,
    extra: {
      bytesReceived?: number;
      bytesSent?: number;
      error?: unknown;
      peercert?: PeerCertificate;
    } = {},
  ): void {
    const error = extra.error instanceof Error ? extra.error : undefined;
    const record: ConnectionRecord = {
      peer: accepted.peer,
      ...(accepted.proxy ? { proxy: accepted.proxy } : {}),
      duration: (performance.now() - accepted.started) / 1000,
      durationMs: performance.now() - accepted.started,
      bytesReceived: extra.bytesReceived ?? 0,
      bytesSent: extra.bytesSent ?? 0,
      outcome,
      ...(error ? { error } : {}),
      ...(extra.peercert ? { peercert: extra.peercert } : {}),
    };
    recordConnection(this, record);
    const report = this.#options.onConnectionEnd;
    if (!report) return;
    try {
      report(record);
    } catch (thrown) {
      const cause = thrown instanceof Error
        ? thrown
        : new Error(String(thrown));
      reportError("onConnectionEnd failed: {error}", { error: cause }, cause);
    }
  }

  /** How many connections are open now (TLS handshakes included). */
  get connectionCount(): number {
    return this.#connections.size + this.#admission.pending;
  }

  /** Whether the server still accepts connections. */
  isServing(): boolean {
    return this.#listening;
  }

  /**
   * Serves new TLS settings (a renewed certificate, say) without a restart,
   * as Node's `setSecureContext` does: handshakes that start after the call
   * use them; connections already made, and handshakes already begun, keep
   * theirs. Settings that cannot be used are refused and the old ones stay.
   *
   * @example Reloading the certificate files on SIGHUP
   * ```ts
   * import { createServer } from "@protocols/core";
   *
   * const read = async () => ({
   *   cert: await Deno.readTextFile("cert.pem"),
   *   key: await Deno.readTextFile("key.pem"),
   * });
   * const server = await createServer(() => ({}), { port: 0, tls: await read() });
   * Deno.addSignalListener("SIGHUP", async () => {
   *   await server.setTls(await read()).catch((error) => console.error(error.message));
   * });
   * ```
   *
   * @throws {Error} on a server that does not serve TLS, or when the
   * certificate or key does not parse or the key is not the certificate's
   * (the message says which).
   */
  async setTls(options: TlsServerOptions): Promise<void> {
    if (!this.#admission.tls) {
      throw new Error("setTls() on a server that does not serve TLS");
    }
    const { tlsContext } = await import("./_tls_stream.ts");
    this.#admission.tls = tlsContext(options);
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    while (this.#listening) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (!this.#listening) break;
        recordAcceptError(this, error);
        // One failed accept (a peer that reset before we took it) does not
        // end the listener: log and go on.
        this.#warnings.warn(
          "accept() failed",
          "accept() failed on {host} port {port}: {error}",
          { ...peerText(listener.addr), error },
        );
        if (!isPerConnectionError(error)) {
          await new Promise<void>((resolve) =>
            this.#clock.setTimeout(resolve, ACCEPT_BACKOFF)
          );
        }
        continue;
      }
      this.#admission.admit(conn);
    }
  }

  #start(
    conn: ByteStream,
    extra: Record<string, unknown>,
    release: () => void,
    accepted: Accepted,
  ): void {
    let protocol: Protocol | BufferedProtocol;
    try {
      protocol = this.#factory();
    } catch (error) {
      const cause = error instanceof Error ? error : new Error(String(error));
      reportError(
        "Protocol factory failed for {host} port {port}: {error}",
        { ...peerText(conn.remoteAddr!), error: cause },
        cause,
      );
      conn.close();
      release();
      this.#ended(accepted, "reset", { error: cause });
      this.#checkDone();
      return;
    }
    const transport = SocketTransport.start(conn, protocol, {
      side: "server",
      noDelay: this.#options.noDelay,
      keepAlive: this.#options.keepAlive,
      writeBufferLimits: this.#options.writeBufferLimits,
      extra,
      idleTimeout: this.#options.idleTimeout || null,
      clock: this.#clock,
    });
    this.#track(transport, release, accepted);
  }

  /**
   * Counts `transport` as open until it ends, then reports it; a transport
   * that hands its connection over (STARTTLS) passes on to the new one.
   */
  #track(
    transport: SocketTransport,
    release: () => void,
    accepted: Accepted,
  ): void {
    this.#connections.add(transport);
    transport.closed.then(() => {
      this.#connections.delete(transport);
      const upgraded = upgradedOf(transport);
      if (upgraded) {
        this.#track(upgraded, release, accepted);
        return;
      }
      release();
      const stats = statsOf(transport);
      if (stats.idleExpired !== null) {
        const peer = transport.getExtraInfo<Deno.NetAddr>("peername");
        log.info(
          "Closed idle connection from {host} port {port}: no traffic for {seconds} s",
          {
            host: peer?.hostname,
            port: peer?.port,
            seconds: stats.idleExpired,
          },
        );
      }
      this.#ended(
        accepted,
        stats.idleExpired !== null
          ? "idle_timeout"
          : stats.error
          ? "reset"
          : stats.endedBy === "abort()"
          ? "aborted"
          : "closed",
        {
          bytesReceived: stats.bytesIn,
          bytesSent: stats.bytesOut,
          error: stats.error,
          peercert: transport.getExtraInfo("peercert"),
        },
      );
      this.#checkDone();
    });
  }

  #checkDone(): void {
    if (
      !this.#listening && this.#connections.size === 0 &&
      this.#admission.pending === 0
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
      this.#warnings.close();
      this.#admission.close();
      this.#done.promise.then(() => unwatchServer(this));
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
    const count = this.#connections.size;
    for (const transport of this.#connections) transport.abort();
    return count + this.#admission.abortPending();
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
 * ```ts
 * import { createServer, type Protocol, type Transport } from "@protocols/core";
 *
 * class Hello implements Protocol {
 *   connectionMade(transport: Transport) {
 *     transport.write("hello\n");
 *     transport.close();
 *   }
 * }
 * const server = await createServer(() => new Hello(), { port: 0 });
 * console.log(`listening on port ${server.addrs[0].port}`);
 * ```
 *
 * @throws {RangeError} for a bad port, limit, timeout or address range.
 * @throws {Deno.errors.AddrInUse} when the port is taken.
 * @throws {Deno.errors.NotFound} when the host name does not resolve.
 */
export async function createServer(
  factory: ProtocolFactory<Protocol | BufferedProtocol>,
  options: ServerOptions = {},
): Promise<Server> {
  const checked = checkServerOptions(options); // before anything listens
  return makeServer(await openListeners(options), factory, options, checked);
}
