/**
 * Addresses as log lines show them.
 *
 * @module
 */

/**
 * `host port N` for a TCP or UDP address (as asyncio's logs show a
 * `peername` tuple), the path for a Unix socket, `unknown` for none.
 *
 * @example
 * ```ts
 * import { addrText } from "./_addr.ts";
 *
 * addrText({ transport: "tcp", hostname: "::1", port: 10000 }); // "::1 port 10000"
 * ```
 */
export function addrText(addr: Deno.Addr | undefined): string {
  if (!addr) return "unknown";
  if ("hostname" in addr) return `${addr.hostname} port ${addr.port}`;
  return "path" in addr && addr.path ? addr.path : addr.transport;
}
