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
}
