/**
 * UDP under the protocol model: asyncio's `DatagramProtocol` and
 * `loop.create_datagram_endpoint`, on `Deno.listenDatagram`.
 *
 * `Deno.listenDatagram` is unstable in Deno 2.9: run with `--unstable-net`
 * (and `--allow-net`). Without it {@linkcode createDatagramEndpoint} rejects
 * with an error that says so.
 *
 * @module
 */

import { canonicalIp } from "./_ip.ts";
import { reportError } from "./_report.ts";
import { resolveHost } from "./_resolve.ts";
import { writeQueued, writeSent } from "./_read_slabs.ts";

/** Room for the largest UDP payload (65,507 bytes over IPv4, 65,527 over IPv6). */
const MAX_DATAGRAM = 65535;

/** A host and port. */
export interface UdpAddress {
  /** Name or address. */
  hostname: string;
  /** Port (0 for a local address: any free one). */
  port: number;
}

/** The callbacks of a datagram protocol. */
export interface DatagramProtocol {
  /** Called once, first, with the endpoint's transport. */
  connectionMade?(transport: DatagramTransport): void;
  /**
   * Called with each datagram and the address it came from. The datagram
   * is the protocol's to keep, in memory of its own (its exact size, not a
   * view of a receive buffer).
   */
  datagramReceived?(data: Uint8Array, addr: Deno.NetAddr): void;
  /**
   * Called when a send or a receive fails (a datagram too long to send,
   * say); the endpoint stays open.
   *
   * Unlike asyncio's, it is not called for ICMP errors (a port-unreachable
   * from a peer with nothing listening): Linux reports those only on a
   * connected UDP socket, and Deno's datagram sockets cannot be connected.
   */
  errorReceived?(error: Error): void;
  /** Called once, last, when the endpoint is closed. */
  connectionLost?(error: Error | null): void;
}

/** Makes a DatagramTransport: only {@linkcode createDatagramEndpoint} can. */
let makeTransport: (
  conn: Deno.DatagramConn,
  protocol: DatagramProtocol,
  remote: Deno.NetAddr | undefined,
) => DatagramTransport;

/**
 * A UDP endpoint: send datagrams, close. asyncio's `DatagramTransport`.
 *
 * @example
 * ```ts
 * import { createDatagramEndpoint } from "@protocols/core";
 *
 * const { transport } = await createDatagramEndpoint(() => ({}), {
 *   localAddr: { hostname: "127.0.0.1", port: 0 },
 * });
 * transport.sendto(new TextEncoder().encode("ping"), {
 *   transport: "udp",
 *   hostname: "127.0.0.1",
 *   port: 9999,
 * });
 * transport.close();
 * ```
 */
export class DatagramTransport {
  #conn: Deno.DatagramConn;
  #protocol: DatagramProtocol;
  #remote: Deno.NetAddr | undefined;
  #pending = 0;
  #closing = false;
  #lost = false;
  #closed = Promise.withResolvers<Error | null>();

  static {
    makeTransport = (conn, protocol, remote) =>
      new DatagramTransport(conn, protocol, remote);
  }

  private constructor(
    conn: Deno.DatagramConn,
    protocol: DatagramProtocol,
    remote: Deno.NetAddr | undefined,
  ) {
    this.#conn = conn;
    this.#protocol = protocol;
    this.#remote = remote;
  }

  /**
   * Resolves once `connectionLost` has been called, with its argument. Never
   * rejects.
   */
  get closed(): Promise<Error | null> {
    return this.#closed.promise;
  }

  /** Starts receiving: called by {@linkcode createDatagramEndpoint}. */
  async run(): Promise<void> {
    try {
      this.#protocol.connectionMade?.(this);
      // One buffer takes every datagram; each is then copied out at its
      // own size, so a protocol that keeps small datagrams keeps only them.
      const buffer = new Uint8Array(MAX_DATAGRAM);
      const remote = this.#remote && canonicalIp(this.#remote.hostname);
      while (!this.#closing) {
        let received: [Uint8Array, Deno.Addr];
        try {
          received = await this.#conn.receive(buffer);
        } catch (error) {
          if (this.#closing) break;
          this.#protocol.errorReceived?.(error as Error);
          continue;
        }
        const [data, addr] = received;
        const from = addr as Deno.NetAddr;
        // With a remote address, datagrams from anywhere else are dropped
        // (as a connected UDP socket does).
        // Text first: an address is parsed only when its text differs
        // (another spelling, or another peer).
        if (
          remote !== undefined &&
          (from.port !== this.#remote!.port ||
            (from.hostname !== this.#remote!.hostname &&
              canonicalIp(from.hostname) !== remote))
        ) continue;
        this.#protocol.datagramReceived?.(data.slice(), from);
      }
      this.#finish(null);
    } catch (error) {
      this.#fatal(error);
    }
  }

  /** A protocol callback threw: report it, and close the endpoint. */
  #fatal(error: unknown): void {
    const cause = error instanceof Error ? error : new Error(String(error));
    reportError(
      "Fatal error in a datagram protocol callback: {error}",
      { error: cause },
      cause,
    );
    this.#finish(cause);
  }

  /**
   * Sends one datagram to `addr` (default: the endpoint's remote address).
   * Never blocks; a failure goes to `errorReceived`.
   *
   * @throws {Error} after close, or with no address to send to.
   */
  sendto(data: Uint8Array | string, addr?: Deno.NetAddr): void {
    if (this.#closing) throw new Error("sendto() after close()");
    const to = addr ?? this.#remote;
    if (!to) throw new Error("sendto() needs an address: no remote address");
    const bytes = typeof data === "string"
      ? new TextEncoder().encode(data)
      : data;
    this.#pending += bytes.byteLength;
    // Sent without a copy: a released chunk's memory waits for it.
    writeQueued(bytes);
    this.#conn.send(bytes, to).then(
      () => {
        this.#pending -= bytes.byteLength;
        writeSent(bytes);
      },
      (error) => {
        this.#pending -= bytes.byteLength;
        writeSent(bytes);
        if (this.#closing) return;
        try {
          this.#protocol.errorReceived?.(error);
        } catch (thrown) {
          this.#fatal(thrown); // never an unhandled rejection
        }
      },
    );
  }

  /** Bytes handed to `sendto` and not yet sent. */
  getWriteBufferSize(): number {
    return this.#pending;
  }

  /** `"sockname"` (the local address) and `"peername"` (the remote one). */
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined {
    if (name === "sockname") return this.#conn.addr as T;
    if (name === "peername" && this.#remote) return this.#remote as T;
    return fallback;
  }

  /** Whether the endpoint is closing or closed. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** Closes the endpoint; `connectionLost(null)` follows. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** The same as {@linkcode DatagramTransport.close} for UDP. */
  abort(): void {
    this.close();
  }

  #finish(error: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.close();
    try {
      this.#protocol.connectionLost?.(error);
    } finally {
      this.#closed.resolve(error);
    }
  }
}

/** Options of {@linkcode createDatagramEndpoint}. */
export interface DatagramEndpointOptions {
  /** Where to listen (default: 127.0.0.1, any free port). */
  localAddr?: UdpAddress;
  /** The default destination; datagrams from elsewhere are dropped. */
  remoteAddr?: UdpAddress;
}

/**
 * Opens a UDP endpoint and runs the protocol `factory` makes over it.
 *
 * @example A UDP echo server
 * ```ts
 * import {
 *   createDatagramEndpoint,
 *   type DatagramProtocol,
 *   type DatagramTransport,
 * } from "@protocols/core";
 *
 * class UdpEcho implements DatagramProtocol {
 *   #transport!: DatagramTransport;
 *   connectionMade(transport: DatagramTransport) { this.#transport = transport; }
 *   datagramReceived(data: Uint8Array, addr: Deno.NetAddr) {
 *     this.#transport.sendto(data, addr);
 *   }
 * }
 * await createDatagramEndpoint(() => new UdpEcho(), {
 *   localAddr: { hostname: "127.0.0.1", port: 9999 },
 * });
 * ```
 *
 * @throws {Deno.errors.NotSupported} without Deno's `--unstable-net`.
 */
export async function createDatagramEndpoint<P extends DatagramProtocol>(
  factory: () => P,
  options: DatagramEndpointOptions = {},
): Promise<{ transport: DatagramTransport; protocol: P }> {
  const listen = (Deno as { listenDatagram?: typeof Deno.listenDatagram })
    .listenDatagram;
  if (typeof listen !== "function") {
    throw new Deno.errors.NotSupported(
      "UDP needs Deno's --unstable-net flag (Deno.listenDatagram is unstable)",
    );
  }
  const local = options.localAddr ?? { hostname: "127.0.0.1", port: 0 };
  const [localHost] = await resolveHost(local.hostname);
  let remote: Deno.NetAddr | undefined;
  if (options.remoteAddr) {
    const [remoteHost] = await resolveHost(options.remoteAddr.hostname);
    remote = {
      transport: "udp",
      hostname: remoteHost,
      port: options.remoteAddr.port,
    };
  }
  const conn = listen({
    transport: "udp",
    hostname: localHost,
    port: local.port,
  });
  const protocol = factory();
  const transport = makeTransport(conn, protocol, remote);
  transport.run();
  return { transport, protocol };
}
