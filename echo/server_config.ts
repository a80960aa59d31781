/**
 * The echo server's settings, and the one place they become
 * `createServer` options: shared by the program and its workers.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { logAccess } from "./access_log.ts";
import type {
  ConnectionLimits,
  ServerOptions,
  TlsServerOptions,
} from "@protocols/core";
import type { CommonConfig } from "./flags.ts";

/** The PEM files TLS is served from (read at start and at each SIGHUP). */
export interface TlsFiles {
  /** The default certificate chain and its key. */
  certFile: string;
  keyFile: string;
  /** More certificates, by the name a client asks for (SNI). */
  sni: { name: string; certFile: string; keyFile: string }[];
  /** CA certificates client certificates must be signed by (mutual TLS). */
  clientCaFile?: string;
}

/** The echo server's settings. */
export interface ServerConfig extends CommonConfig {
  /** Seconds open connections get to finish at shutdown. */
  grace: number;
  /** The most connections served at once. */
  maxConnections: number;
  /** The most connections served at once from one IP address (0: no limit). */
  maxConnectionsPerIp: number;
  /** Seconds without traffic before a connection is closed (0: never). */
  idleTimeout: number;
  /** Seconds a TLS handshake or PROXY header may take. */
  handshakeTimeout: number;
  /** Serve TLS with these PEM files. */
  tls?: TlsFiles;
  /** Turn TCP keepalive on for each connection. */
  keepAlive: boolean;
  /** Listen on this Unix socket instead of TCP. */
  unix?: string;
  /** Echo UDP datagrams instead of TCP connections. */
  udp: boolean;
  /** Expect a PROXY protocol header on each connection. */
  proxyProtocol: boolean;
  /** The proxies allowed to send one (CIDR ranges; empty: any peer). */
  proxyProtocolFrom: string[];
  /** Worker threads sharing the port (1: none). */
  workers: number;
  /** Log one line per connection when it ends. */
  accessLog: boolean;
}

/**
 * The `createServer` options a configuration asks for.
 *
 * @example
 * ```ts ignore
 * const server = await createServer(factory, serverOptions(config, { tls }));
 * ```
 */
export function serverOptions(
  config: ServerConfig,
  extra: { tls?: TlsServerOptions; limits?: ConnectionLimits } = {},
): ServerOptions {
  return {
    hostname: config.host,
    port: config.port,
    path: config.unix,
    tls: extra.tls,
    proxyProtocol: config.proxyProtocol,
    ...(config.proxyProtocolFrom.length > 0
      ? { proxyProtocolFrom: config.proxyProtocolFrom }
      : {}),
    ...(extra.limits ? { limits: extra.limits } : {
      maxConnections: config.maxConnections,
      maxConnectionsPerIp: config.maxConnectionsPerIp,
    }),
    idleTimeout: config.idleTimeout,
    handshakeTimeout: config.handshakeTimeout,
    keepAlive: config.keepAlive,
    ...(config.accessLog ? { onConnectionEnd: logAccess } : {}),
  };
}

/**
 * With --proxy-protocol, says at start-up whom the server believes: without
 * --proxy-protocol-from, any peer can claim to be any client.
 */
export function announceTrust(config: ServerConfig): void {
  if (!config.proxyProtocol) return;
  const log = getLogger(["main"]);
  if (config.proxyProtocolFrom.length === 0) {
    log.warning(
      "PROXY protocol headers are accepted from any peer: every peer that can connect may claim any client address (limit it with --proxy-protocol-from)",
    );
  } else {
    log.info("PROXY protocol headers are accepted from {ranges} only", {
      ranges: config.proxyProtocolFrom.join(", "),
    });
  }
}
