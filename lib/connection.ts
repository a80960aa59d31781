/**
 * {@linkcode createConnection}: connect to a server and run a protocol over
 * the connection.
 *
 * @module
 */

import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import { namedConnectError } from "./_connect_error.ts";
import { AllAttemptsFailedError, staggeredConnect } from "./_happy_eyeballs.ts";
import { resolveHost, unbracket } from "./_resolve.ts";
import { deadline, handshakeSeconds } from "./_tls_handshake.ts";
import { checkIdleSeconds } from "./_idle_timeout.ts";
import type { Clock } from "./clock.ts";

import { HAPPY_EYEBALLS_DELAY } from "./_defaults.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { ByteStream, WriteBufferLimits } from "./transport.ts";

/** Options of {@linkcode createConnection}. */
export interface ConnectionOptions {
  /** The server's name or address (default `"localhost"`). */
  hostname?: string;
  /** The server's TCP port (unused with `path`). */
  port?: number;
  /** Connect to this Unix socket path instead of TCP. */
  path?: string;
  /**
   * Speak TLS, through `node:tls` (Deno's own client can neither present a
   * certificate nor show the server's): `caCerts` (PEM), when given, are
   * the certificates trusted, else Deno's root store; `serverName` is the
   * name the certificate must carry (default: the hostname); `alpnProtocols`
   * are offered; `cert` and `key` are the client's certificate, for a
   * server that asks for one (mutual TLS). The server's verified
   * certificate is `getExtraInfo("peercert")`; one that does not verify is
   * refused with `Deno.errors.InvalidData`.
   */
  tls?: {
    caCerts?: string[];
    serverName?: string;
    alpnProtocols?: string[];
    /** A client certificate chain, PEM, for a server that asks for one. */
    cert?: string;
    /** The client certificate's private key, PEM. */
    key?: string;
  };
  /** Turn Nagle's algorithm off (default `true`). */
  noDelay?: boolean;
  /**
   * Turn TCP keepalive on (default `false`): a peer that vanished without
   * a word ends its connection with an error once the system's probes go
   * unanswered. Deno sets only the switch; the probes' timing is the
   * system's (Linux: `net.ipv4.tcp_keepalive_time`, 2 hours by default).
   */
  keepAlive?: boolean;
  /** Initial write buffer limits. */
  writeBufferLimits?: Partial<WriteBufferLimits>;
  /**
   * Gives up connecting, and the TLS handshake with `tls`, when this signal
   * aborts: the connection is closed and the signal's reason thrown.
   */
  signal?: AbortSignal;
  /**
   * With `tls`: seconds the TLS handshake may take (default 60, as asyncio's
   * `ssl_handshake_timeout`). Past that the connection is closed and
   * {@linkcode createConnection} rejects with `Deno.errors.TimedOut`.
   */
  handshakeTimeout?: number;
  /**
   * Seconds between connection attempts when the name resolves to several
   * addresses (default 0.25, as RFC 8305 and asyncio's
   * `happy_eyeballs_delay`): the next address is tried that long after the
   * last attempt started, without waiting for it to fail, IPv6 and IPv4
   * interleaved; the first to connect wins and the others are closed.
   * `null` tries one address at a time, each after the last failed.
   */
  happyEyeballsDelay?: number | null;
  /**
   * Seconds the connection may go without a read or a write completing
   * (default `null`: for ever): then the protocol's `timeoutConnection` is
   * called, or, without it, the connection is aborted and `connectionLost`
   * gets `Deno.errors.TimedOut`. See `Transport.setIdleTimeout`,
   * which changes it later.
   */
  idleTimeout?: number | null;
  /**
   * Where the connection's timers come from (default
   * `systemClock`): the Happy Eyeballs delay, the handshake's
   * and the idle timeout. A `FakeClock` in tests.
   */
  clock?: Clock;
}

/** What {@linkcode createConnection} resolves to. */
export interface Connection<P extends Protocol | BufferedProtocol> {
  /** The connection's transport. */
  transport: SocketTransport;
  /** The protocol the factory made, already told `connectionMade`. */
  protocol: P;
}

/**
 * `error` with the target named ({@linkcode namedConnectError}), except the
 * signal's own reason, which is thrown as it is (as `fetch` does).
 */
function connectError(error: unknown, options: ConnectionOptions): unknown {
  const { signal } = options;
  if (signal?.aborted && error === signal.reason) return error;
  return namedConnectError(error, target(options));
}

/** What a connection error names: the host and port, or the socket path. */
function target(options: ConnectionOptions): string {
  return options.path !== undefined
    ? `cannot connect to ${options.path}`
    : `cannot connect to ${
      unbracket(options.hostname ?? "localhost")
    } port ${options.port}`;
}

/** What {@linkcode checkConnectionOptions} finds the options to ask for. */
interface CheckedConnectionOptions {
  /** Seconds for the TLS handshake. */
  handshakeSeconds: number;
  /** Seconds between attempts to a name's addresses, or `null`. */
  happyEyeballsDelay: number | null;
}

/**
 * Checks what no connection attempt can cure: the port (unless `path`),
 * `handshakeTimeout`, `idleTimeout` and `happyEyeballsDelay`. Internal: for
 * `createConnection` and `createReconnectingConnection`.
 *
 * @throws {RangeError} naming the first option out of range.
 */
export function checkConnectionOptions(
  options: ConnectionOptions,
): CheckedConnectionOptions {
  const handshake = handshakeSeconds(options.handshakeTimeout);
  checkIdleSeconds(options.idleTimeout);
  const { port, path } = options;
  if (
    path === undefined &&
    (port === undefined || !Number.isInteger(port) || port < 0 ||
      port > 65535)
  ) {
    throw new RangeError(
      `port must be a whole number from 0 to 65535, got ${port}`,
    );
  }
  const delay = options.happyEyeballsDelay === undefined
    ? HAPPY_EYEBALLS_DELAY
    : options.happyEyeballsDelay;
  if (delay !== null && !(delay >= 0 && isFinite(delay))) {
    throw new RangeError(
      `happyEyeballsDelay must be a number of seconds >= 0 or null, got ${delay}`,
    );
  }
  return { handshakeSeconds: handshake, happyEyeballsDelay: delay };
}

/**
 * Opens the TCP or Unix connection, trying each address in turn, `delay`
 * seconds apart (see `happyEyeballsDelay`).
 */
async function open(
  options: ConnectionOptions,
  delay: number | null,
): Promise<Deno.Conn> {
  const { signal } = options;
  if (options.path !== undefined) {
    try {
      return await Deno.connect({ transport: "unix", path: options.path });
    } catch (error) {
      throw namedConnectError(error, target(options));
    }
  }
  const port = options.port!;
  const hostname = unbracket(options.hostname ?? "localhost");
  let addresses: string[];
  try {
    addresses = await resolveHost(hostname);
  } catch (error) {
    throw namedConnectError(error, target(options));
  }
  try {
    return await staggeredConnect(
      addresses,
      port,
      delay,
      (attempt) => Deno.connect(attempt),
      signal,
      options.clock,
    );
  } catch (error) {
    // One address: its own error, as it was.
    const only = error instanceof AllAttemptsFailedError &&
        error.errors.length === 1
      ? error.errors[0].error
      : error;
    throw connectError(only, options);
  }
}

/**
 * Runs the TLS handshake over a fresh TCP connection; resolves to the TLS
 * connection and what TLS adds to `getExtraInfo`. Closes the connection
 * when the handshake fails, takes longer than `seconds` or the signal
 * aborts.
 */
async function upgrade(
  conn: Deno.TcpConn,
  options: ConnectionOptions,
  seconds: number,
): Promise<[ByteStream, Record<string, unknown>]> {
  const { caCerts, serverName, alpnProtocols, cert, key } = options.tls!;
  const name = serverName ?? unbracket(options.hostname ?? "localhost");
  // node:tls, not Deno.startTls: it can present a client certificate,
  // shows the server's certificate, and a handshake can be cut short.
  const { tlsConnect } = await import("./_tls_stream.ts");
  let tls;
  try {
    tls = tlsConnect(conn, {
      serverName: name,
      caCerts,
      alpnProtocols,
      cert,
      key,
    });
  } catch (error) {
    conn.close();
    throw error;
  }
  using limit = deadline(
    seconds,
    "TLS handshake",
    options.signal,
    options.clock,
  );
  return [tls, await tls.handshakeExtra(limit.expired)];
}

/**
 * Connects to `hostname`:`port` and runs the protocol `factory` makes over
 * the connection. asyncio's `loop.create_connection`. When the name resolves
 * to several addresses they are raced as RFC 8305 says (see
 * `happyEyeballsDelay`).
 *
 * @example
 * ```ts
 * import { createConnection, type Protocol, type Transport } from "@protocols/core";
 *
 * class Hello implements Protocol {
 *   done = Promise.withResolvers<void>();
 *   connectionMade(transport: Transport) {
 *     transport.write("hello\n");
 *     transport.writeEof();
 *   }
 *   dataReceived(data: Uint8Array) {
 *     console.log(new TextDecoder().decode(data));
 *   }
 *   connectionLost() { this.done.resolve(); }
 * }
 * const { protocol } = await createConnection(() => new Hello(), {
 *   hostname: "localhost",
 *   port: 10000,
 * });
 * await protocol.done.promise;
 * ```
 *
 * @throws {Deno.errors.ConnectionRefused} (and the like) with a message that
 * names the host and port, when no address accepts;
 * {@linkcode Deno.errors.TimedOut} when a TLS handshake takes longer than
 * `handshakeTimeout`; the signal's reason when it aborts first.
 */
export async function createConnection<P extends Protocol | BufferedProtocol>(
  factory: ProtocolFactory<P>,
  options: ConnectionOptions,
): Promise<Connection<P>> {
  // Checked before connecting.
  const checked = checkConnectionOptions(options);
  const seconds = checked.handshakeSeconds;
  let conn: ByteStream = await open(options, checked.happyEyeballsDelay);
  let extra: Record<string, unknown> = {};
  if (options.tls) {
    try {
      [conn, extra] = await upgrade(conn as Deno.TcpConn, options, seconds);
    } catch (error) {
      throw connectError(error, options);
    }
  }
  let protocol: P;
  try {
    protocol = factory();
  } catch (error) {
    conn.close();
    throw error;
  }
  const transport = SocketTransport.start(conn, protocol, {
    ...options,
    side: "client",
    extra,
  });
  return { transport, protocol };
}
