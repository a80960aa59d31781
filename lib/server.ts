/**
 * {@linkcode createServer} and {@linkcode Server}: accept connections and run
 * a new protocol over each.
 *
 * @module
 */

import { ACCEPT_BACKOFF, SERVER_HANDSHAKE_TIMEOUT } from "./_defaults.ts";
import { log, preloadLogTape } from "./_log.ts";
import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import { AddressRanges } from "./address_ranges.ts";
import { canonicalIp } from "./_ip.ts";
import { reportError } from "./_report.ts";
import { Throttle } from "./_throttle.ts";
import { checkHandshakeTimeout } from "./_tls_handshake.ts";
import type { TlsContext } from "./_tls_server.ts";
import { ConnectionLimits, type Refusal } from "./connection_limits.ts";
import { IdleSweeper } from "./_idle_sweeper.ts";
import { type Listening, openListeners } from "./_listen.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";
import { PrefixedConn, readProxyHeader } from "./proxy_protocol.ts";
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
import { ioCountOf, SocketTransport, statsOf } from "./socket_transport.ts";
import type { ByteStream, WriteBufferLimits } from "./transport.ts";

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
   * The most connections served at once (default: no limit), TLS
   * handshakes and PROXY headers still pending included. A connection over
   * the limit is closed as soon as it is accepted, with a warning in the log
   * (at most one a second, then a count); the server goes on accepting.
   */
  maxConnections?: number;
  /**
   * The most connections served at once from one IP address (default 0: no
   * limit), counted like `maxConnections`. With `proxyProtocol`, the address
   * is the client's from the PROXY header, not the proxy's.
   */
  maxConnectionsPerIp?: number;
  /**
   * Counters shared with other servers, in this thread or others (see
   * {@linkcode ConnectionLimits.shared}): their limits replace
   * `maxConnections` and `maxConnectionsPerIp`, so servers in several
   * workers keep one limit between them.
   */
  limits?: ConnectionLimits;
  /**
   * Seconds a connection gets to finish its TLS handshake or send its PROXY
   * header (default 10). Past that it is closed and its descriptor released;
   * until then it counts against `maxConnections`.
   */
  handshakeTimeout?: number;
  /**
   * Seconds a connection may go without a completed read or write before it
   * is closed (default 0: never). A connection with unsent data is aborted,
   * since its peer is not reading. Logged at info level.
   */
  idleTimeout?: number;
  /**
   * Serve TLS with this certificate and key, PEM. The handshake must finish
   * within `handshakeTimeout`; the negotiated ALPN protocol is
   * `getExtraInfo("alpnProtocol")`. A peer that closes without TLS
   * close_notify ends its connection as a plain EOF would.
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
   * `handshakeTimeout` is closed with a warning. Not with `tls`.
   *
   * Anyone who can connect can claim any address this way: name the
   * proxies in `proxyProtocolFrom`.
   */
  proxyProtocol?: boolean;
  /**
   * With `proxyProtocol`: the address ranges (CIDR, such as `10.0.0.0/8`,
   * `2001:db8::/32`, or single addresses) of the proxies allowed to send a
   * PROXY header. A connection from anywhere else is closed with a warning
   * before its first byte is read. Default: every peer may.
   */
  proxyProtocolFrom?: string[];
  /**
   * Called once for each connection when it ends (refused, failed before
   * it was served, or served and closed), with its peer, duration, bytes
   * and outcome: for access logs. An exception it throws is reported and
   * ignored.
   */
  onConnectionEnd?: (record: ConnectionRecord) => void;
}

/** A connection from accept on: when it started and who it is. */
interface Accepted {
  started: number;
  peer: Deno.Addr | undefined;
  proxy?: Deno.Addr;
}

/** `1 connection`, `2 connections`. */
function connections(count: number): string {
  return `${count} connection${count === 1 ? "" : "s"}`;
}

/** A refusal already logged: the connection only needs closing. */
class Reported extends Error {}

/** The IP address of a TCP peer; undefined for other peers. */
function ipOf(addr: Deno.Addr | undefined): string | undefined {
  return addr && "hostname" in addr ? canonicalIp(addr.hostname) : undefined;
}

/** `host port N` for TCP peers, `a Unix socket peer` otherwise. */
function peerText(addr: Deno.Addr): { host: string; port: number | string } {
  return "hostname" in addr
    ? { host: canonicalIp(addr.hostname), port: addr.port }
    : { host: "unix socket", port: "path" in addr ? addr.path ?? "-" : "-" };
}

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
  checked: Checked,
) => Server;

/** What `createServer` made of the options while checking them. */
interface Checked {
  limits: ConnectionLimits;
  trusted: AddressRanges | null;
}

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
  #tls: TlsContext | undefined;
  #handshaking = new Set<ByteStream>();
  #factory: ProtocolFactory<Protocol | BufferedProtocol>;
  #options: ServerOptions;
  #limits: ConnectionLimits;
  #handshakeMs: number;
  #trusted: AddressRanges | null;
  #connections = new Set<SocketTransport>();
  #accepting: Promise<void>[];
  #listening = true;
  #done = Promise.withResolvers<void>();
  #stopped = Promise.withResolvers<void>();
  #sweeper: IdleSweeper<SocketTransport> | null = null;
  #throttles = new Map<string, Throttle>();
  #idleClosed = new WeakSet<SocketTransport>();
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
    checked: Checked,
  ) {
    preloadLogTape();
    const { listeners } = listening;
    this.#listeners = listeners;
    this.#cleanUp = listening.cleanUp;
    this.#tls = listening.tls;
    this.#factory = factory;
    this.#options = options;
    this.#limits = checked.limits;
    this.#handshakeMs = 1000 *
      (options.handshakeTimeout ?? SERVER_HANDSHAKE_TIMEOUT);
    this.#trusted = checked.trusted;
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
        this.#idleClosed.add(transport);
        // Unsent data, or a close still waiting to write its end (TLS's
        // close_notify) to a peer that does not read: cut it.
        if (transport.getWriteBufferSize() > 0 || transport.isClosing()) {
          transport.abort();
        } else {
          transport.close();
        }
      }, ioCountOf);
    }
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
    extra: { bytesReceived?: number; bytesSent?: number; error?: unknown } = {},
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
    return this.#connections.size + this.#handshaking.size;
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
    if (!this.#tls) {
      throw new Error("setTls() on a server that does not serve TLS");
    }
    const { tlsContext } = await import("./_tls_server.ts");
    this.#tls = tlsContext(options);
  }

  /**
   * Logs a warning that peers can cause at will: at most one line a second
   * for each `kind`, then one line with how many were held back.
   */
  #warn(kind: string, message: string, properties: Record<string, unknown>) {
    let throttle = this.#throttles.get(kind);
    if (!throttle) {
      throttle = new Throttle((count) =>
        log.warning(
          "{count} more warning(s) like the last held back in the last second: {kind}",
          { count, kind },
        )
      );
      this.#throttles.set(kind, throttle);
    }
    if (throttle.attempt()) log.warning(message, properties);
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
        this.#warn(
          "accept() failed",
          "accept() failed on {host} port {port}: {error}",
          { ...peerText(listener.addr), error },
        );
        if (!isPerConnectionError(error)) {
          await new Promise((resolve) =>
            setTimeout(resolve, ACCEPT_BACKOFF * 1000)
          );
        }
        continue;
      }
      this.#serve(conn);
    }
  }

  /** Logs why a connection over a limit is refused. */
  #refuse(refusal: Refusal, addr: Deno.Addr): void {
    if (refusal === "total") {
      this.#warn(
        "refused at the connection limit",
        "Refusing connection from {host} port {port}: {open} open (the limit)",
        { ...peerText(addr), open: connections(this.#limits.maxConnections) },
      );
    } else {
      this.#warn(
        "refused at the per-address limit",
        "Refusing connection from {host} port {port}: {open} open from {host} (the per-address limit)",
        {
          ...peerText(addr),
          open: connections(this.#limits.maxConnectionsPerIp),
        },
      );
    }
  }

  #serve(conn: Deno.Conn): void {
    const accepted: Accepted = {
      started: performance.now(),
      peer: conn.remoteAddr,
    };
    const proxied = this.#options.proxyProtocol === true;
    // A proxied connection counts against the per-address limit once its
    // header names the client (the proxy's own address says nothing).
    const address = proxied ? undefined : ipOf(conn.remoteAddr);
    const refusal = this.#limits.acquire(address);
    if (refusal) {
      this.#refuse(refusal, conn.remoteAddr);
      conn.close();
      this.#ended(accepted, "refused");
      return;
    }
    const release = () => this.#limits.release(address);
    if (this.#tls) {
      this.#handshake(conn as Deno.TcpConn, this.#tls, release, accepted);
    } else if (proxied) this.#readProxy(conn, release, accepted);
    else this.#start(conn, {}, release, accepted);
  }

  /** Completes a TLS handshake, then serves the connection. */
  #handshake(
    conn: Deno.TcpConn,
    tls: TlsContext,
    release: () => void,
    accepted: Accepted,
  ): void {
    const stream = tls.accept(conn);
    this.#prepare(
      accepted,
      "tls_failed",
      stream,
      async () => {
        const info = await stream.handshake();
        return [stream, { alpnProtocol: info.alpnProtocol }];
      },
      (error, timedOut) =>
        log.info("TLS handshake with {host} port {port} failed: {error}", {
          ...peerText(conn.remoteAddr),
          error: timedOut
            ? `not done within ${this.#handshakeMs / 1000} s`
            : error,
        }),
      release,
    );
  }

  /** Reads the PROXY header, then serves the rest of the connection. */
  #readProxy(
    conn: Deno.Conn,
    release: () => void,
    accepted: Accepted,
  ): void {
    const proxy = ipOf(conn.remoteAddr);
    if (this.#trusted && !(proxy !== undefined && this.#trusted.has(proxy))) {
      this.#warn(
        "PROXY header from an untrusted peer",
        "Closing connection from {host} port {port}: not a trusted PROXY protocol sender (proxyProtocolFrom)",
        peerText(conn.remoteAddr),
      );
      conn.close();
      release();
      this.#ended(accepted, "proxy_rejected");
      return;
    }
    let client: string | undefined;
    this.#prepare(accepted, "proxy_rejected", conn, async () => {
      const header = await readProxyHeader(conn);
      client = ipOf(header.source);
      if (header.source) {
        accepted.proxy = conn.remoteAddr;
        accepted.peer = header.source;
      }
      const refusal = this.#limits.acquire(client, false);
      if (refusal) {
        this.#refuse(refusal, header.source!);
        client = undefined;
        throw new Reported();
      }
      return [new PrefixedConn(conn, header.rest), {
        peername: header.source ?? conn.remoteAddr,
        proxyname: conn.remoteAddr,
      }];
    }, (error, timedOut) => {
      if (error instanceof Reported) return;
      this.#warn(
        "PROXY header rejected",
        "Closing connection from {host} port {port}: {why}",
        {
          ...peerText(conn.remoteAddr),
          why: timedOut
            ? `no PROXY protocol header within ${this.#handshakeMs / 1000} s`
            : error instanceof Deno.errors.ConnectionReset
            ? "the peer reset the connection during the PROXY protocol header"
            : `malformed PROXY protocol header: ${
              error instanceof Error ? error.message : String(error)
            }`,
        },
      );
    }, () => {
      this.#limits.release(client, false);
      release();
    });
  }

  /**
   * Runs what must happen before a connection is served (a TLS handshake,
   * a PROXY header) within the handshake timeout, counting the connection
   * as open meanwhile; then serves it, or reports why not and closes it.
   * `release` is called once the connection is over, either way.
   */
  async #prepare(
    accepted: Accepted,
    failure: ConnectionOutcome,
    conn: ByteStream,
    prepare: () => Promise<[ByteStream, Record<string, unknown>]>,
    failed: (error: unknown, timedOut: boolean) => void,
    release: () => void,
  ): Promise<void> {
    this.#handshaking.add(conn);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      conn.close();
    }, this.#handshakeMs);
    try {
      const [stream, extra] = await prepare();
      clearTimeout(timer);
      this.#handshaking.delete(conn);
      this.#start(stream, extra, release, accepted);
    } catch (error) {
      clearTimeout(timer);
      this.#handshaking.delete(conn);
      failed(error, timedOut);
      try {
        conn.close();
      } catch {
        // Closed by the timer or the peer.
      }
      release();
      this.#ended(
        accepted,
        error instanceof Reported ? "refused" : failure,
        {
          error: timedOut
            ? new Deno.errors.TimedOut("handshake not done in time")
            : error,
        },
      );
      this.#checkDone();
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
      writeBufferLimits: this.#options.writeBufferLimits,
      extra,
    });
    this.#connections.add(transport);
    this.#sweeper?.add(transport);
    transport.closed.then(() => {
      this.#connections.delete(transport);
      this.#sweeper?.delete(transport);
      release();
      const stats = statsOf(transport);
      this.#ended(
        accepted,
        this.#idleClosed.has(transport)
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
        },
      );
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
      for (const throttle of this.#throttles.values()) throttle.close();
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
  const { port = 0 } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(
      `port must be a whole number from 0 to 65535, got ${port}`,
    );
  }
  const { maxConnections, idleTimeout, handshakeTimeout } = options;
  if (
    maxConnections !== undefined &&
    (!Number.isInteger(maxConnections) || maxConnections < 1)
  ) {
    throw new RangeError(
      `maxConnections must be a whole number >= 1, got ${maxConnections}`,
    );
  }
  // Made here, so that a bad maxConnectionsPerIp is refused before listening
  // (also when shared limits replace it).
  const own = ConnectionLimits.local({
    maxConnections,
    maxConnectionsPerIp: options.maxConnectionsPerIp,
  });
  const limits = options.limits ?? own;
  if (options.proxyProtocol && options.tls) {
    throw new RangeError(
      "proxyProtocol cannot be used with tls",
    );
  }
  if (options.proxyProtocolFrom && !options.proxyProtocol) {
    throw new RangeError("proxyProtocolFrom needs proxyProtocol");
  }
  const trusted = options.proxyProtocolFrom
    ? new AddressRanges(options.proxyProtocolFrom)
    : null;
  if (
    idleTimeout !== undefined && !(idleTimeout >= 0 && isFinite(idleTimeout))
  ) {
    throw new RangeError(
      `idleTimeout must be a number of seconds >= 0, got ${idleTimeout}`,
    );
  }
  checkHandshakeTimeout(handshakeTimeout);
  return makeServer(await openListeners(options), factory, options, {
    limits,
    trusted,
  });
}
