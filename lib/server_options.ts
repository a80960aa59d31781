/**
 * {@linkcode ServerOptions}: what `createServer` takes, and the checks it
 * makes of them before anything listens.
 *
 * @module
 */

import { SERVER_HANDSHAKE_TIMEOUT } from "./_defaults.ts";
import { checkHandshakeTimeout } from "./_tls_handshake.ts";
import { AddressRanges } from "./address_ranges.ts";
import { ConnectionLimits } from "./connection_limits.ts";
import type { ConnectionRecord } from "./connection_record.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";
import type { WriteBufferLimits } from "./transport.ts";
import type { Clock } from "./clock.ts";

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
  /**
   * Turn TCP keepalive on (default `false`): a peer that vanished without
   * a word ends its connection with an error once the system's probes go
   * unanswered. Deno sets only the switch; the probes' timing is the
   * system's (Linux: `net.ipv4.tcp_keepalive_time`, 2 hours by default).
   */
  keepAlive?: boolean;
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
   * Seconds a connection may go without a completed read or write (default
   * 0: for ever): each connection starts with this as its
   * `Transport.setIdleTimeout`, so the protocol's
   * `timeoutConnection` is called, or, without it, the connection is
   * aborted and `connectionLost` gets `Deno.errors.TimedOut`. Logged at
   * info level; the connection's record says `"idle_timeout"`.
   */
  idleTimeout?: number;
  /**
   * Where the server's timers come from (default `systemClock`):
   * idle and handshake timeouts, the accept backoff. A `FakeClock` in tests.
   */
  clock?: Clock;
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

/** What {@linkcode checkServerOptions} made of the options. */
export interface CheckedServerOptions {
  /** The limits in force: `limits`, or the server's own. */
  limits: ConnectionLimits;
  /** The proxies allowed to send a PROXY header (null: any peer). */
  trusted: AddressRanges | null;
  /** Seconds for a TLS handshake or a PROXY header. */
  handshakeTimeout: number;
}

/**
 * Checks `options` as `createServer` does before it listens, and makes what
 * they describe (the limits, the trusted proxies).
 *
 * @example
 * ```ts
 * import { checkServerOptions } from "./server_options.ts";
 *
 * checkServerOptions({ maxConnections: 100 }).limits.maxConnections; // 100
 * ```
 *
 * @throws {RangeError} for a bad port, limit, timeout or address range,
 * or options that do not go together, naming the option.
 */
export function checkServerOptions(
  options: ServerOptions,
): CheckedServerOptions {
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
  return {
    limits,
    trusted,
    handshakeTimeout: handshakeTimeout ?? SERVER_HANDSHAKE_TIMEOUT,
  };
}
