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
 * import { addrText } from "./addr.ts";
 *
 * addrText({ transport: "tcp", hostname: "::1", port: 10000 }); // "::1 port 10000"
 * ```
 */
export function addrText(addr: Deno.Addr | undefined): string {
  if (!addr) return "unknown";
  if ("hostname" in addr) return `${addr.hostname} port ${addr.port}`;
  return "path" in addr && addr.path ? addr.path : addr.transport;
}

/**
 * `host_port` of an address, for per-connection logger names
 * (`EchoServer_127.0.0.1_35952`); otherwise as {@linkcode addrText}.
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
