/**
 * The PROXY protocol (versions 1 and 2), as HAProxy and nginx send it ahead
 * of a proxied connection's data: {@linkcode readProxyHeader} reads the
 * header and says who the real client is.
 *
 * @module
 */

import { canonicalIp, ipText, isIPv4, isIPv6 } from "./_ip.ts";
import { escapeBytes } from "./_escape.ts";
import type { ByteStream } from "./transport.ts";

/** The 12 bytes every version 2 header starts with. */
const V2_SIGNATURE = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
const V1_PREFIX = new TextEncoder().encode("PROXY ");
/** A version 1 header is at most 107 bytes, CRLF included. */
const V1_MAX = 107;

/**
 * A header that is not a PROXY protocol header, or a broken one.
 *
 * @example
 * ```ts
 * import {
 *   ProxyHeaderError,
 *   readProxyHeader,
 * } from "@protocols/core/proxy-protocol";
 *
 * const listener = Deno.listen({ port: 0 });
 * const conn = await listener.accept();
 * try {
 *   await readProxyHeader(conn);
 * } catch (error) {
 *   if (error instanceof ProxyHeaderError) conn.close();
 * }
 * ```
 */
export class ProxyHeaderError extends Error {
  /** The error's name. */
  override name = "ProxyHeaderError";
}

/** What a PROXY header said. */
export interface ProxyHeader {
  /** 1 or 2. */
  version: 1 | 2;
  /**
   * The real client, when the proxy passed one (not for LOCAL/UNKNOWN).
   * Its address is in one text whatever the proxy's spelling: an
   * IPv4-mapped IPv6 address as IPv4 (`::ffff:c000:207` is `192.0.2.7`),
   * IPv6 in RFC 5952's short lower-case form.
   */
  source?: Deno.NetAddr;
  /** The address the client connected to, likewise. */
  destination?: Deno.NetAddr;
  /** Bytes read past the header: the start of the client's data. */
  rest: Uint8Array;
}

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(data.length, prefix.length);
  for (let i = 0; i < n; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function tcp(hostname: string, port: number): Deno.NetAddr {
  return { transport: "tcp", hostname, port };
}

/** Text from a header, quoted as bytes are in log lines: no byte raw. */
function quote(text: string): string {
  return escapeBytes(new TextEncoder().encode(text));
}

function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new ProxyHeaderError(`bad port ${quote(text)}`);
  }
  return Number(text);
}

/** Whether `text` is an address of the family: a plain literal, no zone. */
function isAddress(family: "TCP4" | "TCP6", text: string): boolean {
  return family === "TCP4" ? isIPv4(text) : isIPv6(text) && !text.includes("%");
}

/** Parses a complete version 1 line (without its CRLF). */
function parseV1(line: string): Omit<ProxyHeader, "rest"> {
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") return { version: 1 };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) {
    throw new ProxyHeaderError(`bad version 1 header ${quote(line)}`);
  }
  const [, family, src, dst, sport, dport] = parts;
  if (!isAddress(family, src) || !isAddress(family, dst)) {
    throw new ProxyHeaderError(`bad ${family} addresses in ${quote(line)}`);
  }
  return {
    version: 1,
    source: tcp(canonicalIp(src), parsePort(sport)),
    destination: tcp(canonicalIp(dst), parsePort(dport)),
  };
}

/** Parses a complete version 2 header's fixed part and addresses. */
function parseV2(header: Uint8Array): Omit<ProxyHeader, "rest"> {
  const versionCommand = header[12];
  if (versionCommand >> 4 !== 2) {
    throw new ProxyHeaderError(
      `bad version 2 header version ${versionCommand >> 4}`,
    );
  }
  const command = versionCommand & 0x0f;
  if (command === 0) return { version: 2 }; // LOCAL: the proxy's own check
  if (command !== 1) {
    throw new ProxyHeaderError(`bad version 2 command ${command}`);
  }
  const family = header[13];
  const view = new DataView(header.buffer, header.byteOffset + 16);
  const length = header.length - 16;
  if (family === 0x11 && length >= 12) {
    const ip = (o: number) => header.subarray(16 + o, 20 + o).join(".");
    return {
      version: 2,
      source: tcp(ip(0), view.getUint16(8)),
      destination: tcp(ip(4), view.getUint16(10)),
    };
  }
  if (family === 0x21 && length >= 36) {
    return {
      version: 2,
      source: tcp(ipText(header.subarray(16, 32)), view.getUint16(32)),
      destination: tcp(ipText(header.subarray(32, 48)), view.getUint16(34)),
    };
  }
  if (family === 0x00) return { version: 2 };
  throw new ProxyHeaderError(
    `unsupported version 2 address family 0x${family.toString(16)}`,
  );
}

/**
 * Reads a PROXY protocol header (version 1 or 2) from the start of `conn`.
 *
 * @example
 * ```ts
 * import { readProxyHeader } from "@protocols/core/proxy-protocol";
 *
 * const listener = Deno.listen({ port: 0 });
 * const conn = await listener.accept();
 * const header = await readProxyHeader(conn);
 * console.log(header.source); // the real client, e.g. { hostname: "203.0.113.7", port: 56324 }
 * ```
 *
 * @throws {ProxyHeaderError} when the data does not start with a valid
 * header, or the connection ends inside it.
 */
export async function readProxyHeader(conn: ByteStream): Promise<ProxyHeader> {
  // Reads go straight into one buffer that doubles when full: a header
  // sent a byte at a time costs no more than one sent at once.
  let buffer = new Uint8Array(256);
  let length = 0;
  let data = buffer.subarray(0, 0);
  const more = async () => {
    if (length === buffer.length) {
      const bigger = new Uint8Array(2 * buffer.length);
      bigger.set(buffer);
      buffer = bigger;
    }
    const n = await conn.read(buffer.subarray(length));
    if (n === null) {
      throw new ProxyHeaderError(
        "the connection ended inside the PROXY header",
      );
    }
    length += n;
    data = buffer.subarray(0, length);
  };
  while (data.length < 16) {
    if (!startsWith(data, V2_SIGNATURE) && !startsWith(data, V1_PREFIX)) {
      throw new ProxyHeaderError(
        "the connection does not start with a PROXY header",
      );
    }
    // A version 1 header may be complete before 16 bytes: "PROXY UNKNOWN\r\n".
    if (startsWith(data, V1_PREFIX) && data.includes(0x0a)) break;
    await more();
  }
  if (startsWith(data, V2_SIGNATURE) && data.length >= 16) {
    const total = 16 + ((data[14] << 8) | data[15]);
    while (data.length < total) await more();
    return {
      ...parseV2(data.subarray(0, total)),
      rest: data.slice(total),
    };
  }
  if (!startsWith(data, V1_PREFIX)) {
    throw new ProxyHeaderError(
      "the connection does not start with a PROXY header",
    );
  }
  let end: number;
  while ((end = data.indexOf(0x0a)) < 0) {
    if (data.length >= V1_MAX) {
      throw new ProxyHeaderError("version 1 header longer than 107 bytes");
    }
    await more();
  }
  if (end + 1 > V1_MAX || data[end - 1] !== 0x0d) {
    throw new ProxyHeaderError(
      "version 1 header without CRLF within 107 bytes",
    );
  }
  const line = data.subarray(0, end - 1);
  // Printable ASCII only: anything else is not a header (and is never
  // decoded into a log line).
  if (line.some((byte) => byte < 0x20 || byte > 0x7e)) {
    throw new ProxyHeaderError(`bad version 1 header ${escapeBytes(line)}`);
  }
  return {
    ...parseV1(new TextDecoder().decode(line)),
    rest: data.slice(end + 1),
  };
}

/**
 * A connection whose first reads return bytes already taken from it (what
 * came after the PROXY header); everything else goes to the connection.
 */
export class PrefixedConn implements ByteStream {
  #conn: Deno.Conn;
  #prefix: Uint8Array | null;

  /** Serves `prefix` first, then reads from `conn`. */
  constructor(conn: Deno.Conn, prefix: Uint8Array) {
    this.#conn = conn;
    this.#prefix = prefix.length > 0 ? prefix : null;
  }

  /** The proxy's address (the transport's `peername` says the client's). */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Our address. */
  get localAddr(): Deno.Addr {
    return this.#conn.localAddr;
  }

  /** Reads the prefix first, then the connection. */
  read(p: Uint8Array): Promise<number | null> {
    const prefix = this.#prefix;
    if (!prefix) return this.#conn.read(p);
    const n = Math.min(prefix.length, p.length);
    p.set(prefix.subarray(0, n));
    this.#prefix = n < prefix.length ? prefix.subarray(n) : null;
    return Promise.resolve(n);
  }

  /** Writes to the connection. */
  write(p: Uint8Array): Promise<number> {
    return this.#conn.write(p);
  }

  /** Half-closes the connection. */
  closeWrite(): Promise<void> {
    return this.#conn.closeWrite();
  }

  /** Closes the connection. */
  close(): void {
    this.#conn.close();
  }

  /** Turns Nagle's algorithm off or on, on a TCP connection. */
  setNoDelay(noDelay?: boolean): void {
    (this.#conn as Deno.TcpConn).setNoDelay?.(noDelay);
  }
}
