/**
 * {@linkcode ConnectionRecord}: what a server knows of a connection once it
 * has ended, for access logs and metrics.
 *
 * @module
 */

import type { PeerCertificate } from "./peer_certificate.ts";

/**
 * How a connection ended:
 *
 * - `closed`: a normal close (either side, after EOF or `close()`);
 * - `aborted`: `abort()`, by the protocol or at shutdown;
 * - `reset`: lost to an error (a peer reset, a broken pipe, a callback's
 *   exception; see `error`);
 * - `idle_timeout`: closed by the server's `idleTimeout`;
 * - `refused`: refused at `maxConnections` or `maxConnectionsPerIp`;
 * - `tls_failed`: the TLS handshake failed or was not done in time;
 * - `proxy_rejected`: no valid PROXY header in time, or from a peer not in
 *   `proxyProtocolFrom`.
 */
export type ConnectionOutcome =
  | "closed"
  | "aborted"
  | "reset"
  | "idle_timeout"
  | "refused"
  | "tls_failed"
  | "proxy_rejected";

/**
 * One ended connection, as `createServer`'s `onConnectionEnd` receives it.
 *
 * @example An access log line
 * ```ts
 * import type { ConnectionRecord } from "@protocols/core";
 *
 * function accessLine(r: ConnectionRecord): string {
 *   return `${r.outcome} after ${r.duration.toFixed(3)} s, ` +
 *     `${r.bytesReceived} bytes in, ${r.bytesSent} out`;
 * }
 * ```
 */
export interface ConnectionRecord {
  /** The client: the PROXY header's source where there was one. */
  peer: Deno.Addr | undefined;
  /** The proxy's own address, for a connection that came through one. */
  proxy?: Deno.Addr;
  /** From accept to the end, in seconds. */
  duration: number;
  /**
   * From accept to the end, in milliseconds.
   *
   * @deprecated Use {@linkcode ConnectionRecord.duration} (seconds, as every
   * time in the library); `durationMs` goes in 0.5.
   */
  durationMs: number;
  /** Bytes read from the client. */
  bytesReceived: number;
  /** Bytes sent to the client. */
  bytesSent: number;
  /** How it ended. */
  outcome: ConnectionOutcome;
  /** The error behind a `reset`, `tls_failed` or `proxy_rejected`. */
  error?: Error;
  /** The client's certificate, for a TLS client that sent one. */
  peercert?: PeerCertificate;
}
