/**
 * Addresses as log lines show them.
 *
 * @module
 */

import { canonicalIp } from "./_ip.ts";

/**
 * `text` with every character outside printable ASCII escaped (`\xhh`, or
 * `\u{h...}` above `\xff`) and `\` doubled: a path a peer chose can carry no
 * newline, escape sequence or NUL into a log line.
 */
function escapeText(text: string): string {
  return text.replace(/[^\x20-\x5b\x5d-\x7e]/gu, (char) => {
    if (char === "\\") return "\\\\";
    const code = char.codePointAt(0)!;
    return code <= 0xff
      ? "\\x" + code.toString(16).padStart(2, "0")
      : `\\u{${code.toString(16)}}`;
  });
}

/**
 * An address as a log line shows it: `host port N` for a TCP or UDP address
 * (as asyncio's logs show a `peername` tuple; an IPv4-mapped IPv6 address
 * as IPv4, IPv6 in its short lower-case form), the path for a Unix socket,
 * `unknown` for none.
 *
 * A Unix socket's peer path is chosen by the peer (a client may bind its
 * socket to any name before connecting), so it is escaped: every character
 * outside printable ASCII becomes `\xhh` (or `\u{h...}`) and `\` is doubled,
 * and a log line about the connection stays one line of plain text.
 *
 * @example
 * ```ts
 * import { addrText } from "@protocols/core";
 *
 * addrText({ transport: "tcp", hostname: "::1", port: 10000 }); // "::1 port 10000"
 * addrText({ transport: "unix", path: "/tmp/a\nb" }); // "/tmp/a\\x0ab"
 * ```
 */
export function addrText(addr: Deno.Addr | undefined): string {
  if (!addr) return "unknown";
  if ("hostname" in addr) {
    return `${escapeText(canonicalIp(addr.hostname))} port ${addr.port}`;
  }
  return "path" in addr && addr.path ? escapeText(addr.path) : addr.transport;
}
