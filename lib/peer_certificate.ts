/**
 * {@linkcode PeerCertificate}: what a TLS peer's certificate says, as
 * `getExtraInfo("peercert")` gives it.
 *
 * @module
 */

/**
 * A TLS peer's verified certificate (asyncio's `getpeercert()`), as
 * `transport.getExtraInfo("peercert")` gives it.
 *
 * @example Who the client is, under mutual TLS
 * ```ts
 * import type { Transport } from "@protocols/core";
 *
 * function clientName(transport: Transport): string {
 *   return transport.getExtraInfo("peercert")?.subject ?? "anonymous";
 * }
 * ```
 */
export interface PeerCertificate {
  /** The subject's distinguished name, one `KEY=value` a line (`CN=alice`). */
  subject: string;
  /** The issuer's distinguished name, likewise. */
  issuer: string;
  /** Subject alternative names (`DNS:example.com, IP Address:127.0.0.1`). */
  subjectAltName: string | undefined;
  /** When it becomes valid. */
  validFrom: Date;
  /** When it expires. */
  validTo: Date;
  /** SHA-256 fingerprint, hex pairs separated by colons. */
  fingerprint256: string;
  /** The certificate, PEM. */
  pem: string;
}
