/**
 * {@linkcode TlsServerOptions}: how a server serves TLS.
 *
 * @module
 */

/**
 * TLS settings of a server (`createServer`'s `tls`, `Server.setTls`).
 *
 * @example
 * ```ts
 * import type { TlsServerOptions } from "@protocols/core";
 *
 * const tls: TlsServerOptions = {
 *   cert: await Deno.readTextFile("cert.pem"),
 *   key: await Deno.readTextFile("key.pem"),
 *   alpnProtocols: ["echo"],
 * };
 * ```
 */
export interface TlsServerOptions {
  /** The certificate chain, PEM: the server's certificate first. */
  cert: string;
  /** The private key of the certificate, PEM. */
  key: string;
  /** ALPN protocols to accept, in order of preference. */
  alpnProtocols?: string[];
  /**
   * More certificates, chosen by the name the client asks for (SNI): an
   * exact host name, or `*.example.com` for one label in front of it. A
   * client that asks for no name or an unknown one gets `cert`. Names match
   * whatever their case. The name asked for (in lower case) is the
   * connection's `getExtraInfo("serverName")`.
   */
  sni?: Record<string, { cert: string; key: string }>;
  /**
   * CA certificates (PEM, one or several) that client certificates must
   * chain to (mutual TLS): the server asks every client for a certificate
   * and, by default, refuses one without a certificate valid now that
   * chains to them. The client's certificate is `getExtraInfo("peercert")`.
   */
  clientCa?: string | string[];
  /**
   * With `clientCa`: `"require"` (the default) refuses a client without a
   * valid certificate; `"request"` asks for one, accepts a client that has
   * none, and refuses one whose certificate is not valid now or not signed
   * by one of `clientCa`. (A client certificate must be signed by one of
   * `clientCa` itself: no intermediate CA.)
   */
  clientCert?: "require" | "request";
}
