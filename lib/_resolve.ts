/**
 * Host name resolution for servers and clients.
 *
 * @module
 */

import { isIP } from "./_ip.ts";

/**
 * Strips the brackets of an IPv6 literal written as in a URL (`[::1]`).
 *
 * @example
 * ```ts
 * import { unbracket } from "./_resolve.ts";
 *
 * unbracket("[::1]"); // "::1"
 * unbracket("localhost"); // "localhost"
 * ```
 */
export function unbracket(hostname: string): string {
  return hostname.startsWith("[") && hostname.endsWith("]")
    ? hostname.slice(1, -1)
    : hostname;
}

/**
 * Resolves `hostname` to every address it names, through the system resolver
 * (so /etc/hosts counts), in the resolver's order and without repeats. An IP
 * literal resolves to itself without a lookup.
 *
 * @example
 * ```ts
 * import { resolveHost } from "./_resolve.ts";
 *
 * await resolveHost("localhost"); // e.g. ["::1", "127.0.0.1"]
 * ```
 *
 * @throws {Deno.errors.NotFound} when the name does not resolve.
 */
export async function resolveHost(hostname: string): Promise<string[]> {
  const host = unbracket(hostname);
  if (isIP(host)) return [host];
  // Loaded on the first name to look up: an address needs none of it.
  const { lookup } = await import("node:dns/promises");
  let found: { address: string }[];
  try {
    found = await lookup(host, { all: true });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === "EPERM" || code === "EACCES") {
      throw new Deno.errors.NotCapable(
        `permission denied resolving host ${host}`,
        { cause: error },
      );
    }
    throw new Deno.errors.NotFound(`host not found: ${host}`, {
      cause: error,
    });
  }
  const addresses = [...new Set(found.map((entry) => entry.address))];
  if (addresses.length === 0) {
    throw new Deno.errors.NotFound(`host not found: ${host}`);
  }
  return addresses;
}
