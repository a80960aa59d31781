/**
 * Addresses as log lines show them: the library's `addrText` (peer-chosen
 * Unix paths escaped), and {@linkcode addrLabel} for logger names.
 *
 * @module
 */

import { addrText } from "@protocols/core";

export { addrText };

/**
 * `host_port` of an address, for per-connection logger names
 * (`EchoServer_127.0.0.1_35952`); otherwise as `addrText`.
 *
 * @example
 * ```ts
 * import { addrLabel } from "./addr.ts";
 *
 * addrLabel({ transport: "tcp", hostname: "127.0.0.1", port: 35952 }); // "127.0.0.1_35952"
 * ```
 */
export function addrLabel(addr: Deno.Addr | undefined): string {
  if (addr && "hostname" in addr) return `${addr.hostname}_${addr.port}`;
  return addrText(addr);
}
