/**
 * {@linkcode Admission}: what happens to an accepted connection before a
 * protocol is made for it: the connection limits, the PROXY header, the TLS
 * handshake, all within the handshake timeout.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import { log } from "./_log.ts";
import { canonicalIp } from "./_ip.ts";
import { ThrottledWarnings } from "./_throttle.ts";
import type { TlsContext } from "./_tls_stream.ts";
import type { AddressRanges } from "./address_ranges.ts";
import type { ConnectionLimits, Refusal } from "./connection_limits.ts";
import type { ConnectionOutcome } from "./connection_record.ts";
import { PrefixedConn, readProxyHeader } from "./proxy_protocol.ts";
import type { ByteStream } from "./transport.ts";

/** A connection from accept on: when it started and who it is. */
export interface Accepted {
  started: number;
  peer: Deno.Addr | undefined;
  proxy?: Deno.Addr;
}

/** `1 connection`, `2 connections`. */
function connections(count: number): string {
  return `${count} connection${count === 1 ? "" : "s"}`;
}

/** A refusal already logged: the connection only needs closing. */
class Reported extends Error {}

/** The IP address of a TCP peer; undefined for other peers. */
export function ipOf(addr: Deno.Addr | undefined): string | undefined {
  return addr && "hostname" in addr ? canonicalIp(addr.hostname) : undefined;
}

/** `host port N` for TCP peers, `a Unix socket peer` otherwise. */
export function peerText(
  addr: Deno.Addr,
): { host: string; port: number | string } {
  return "hostname" in addr
    ? { host: canonicalIp(addr.hostname), port: addr.port }
    : { host: "unix socket", port: "path" in addr ? addr.path ?? "-" : "-" };
}

/** What an {@linkcode Admission} tells the server. */
export interface AdmissionHooks {
  /**
   * The connection is admitted: serve `stream` (with `extra` for
   * `getExtraInfo`); `release` gives its slots back once it is over.
   */
  serve(
    stream: ByteStream,
    extra: Record<string, unknown>,
    release: () => void,
    accepted: Accepted,
  ): void;
  /** The connection ended before it was served. */
  ended(
    accepted: Accepted,
    outcome: ConnectionOutcome,
    extra?: { error?: unknown },
  ): void;
}

/** How a server admits connections. */
export interface AdmissionOptions {
  /** Counted against these limits. */
  limits: ConnectionLimits;
  /** A PROXY header first (from `trusted` peers only, when set). */
  proxyProtocol: boolean;
  /** The proxies allowed to send one (null: any peer). */
  trusted: AddressRanges | null;
  /** Seconds for a TLS handshake or a PROXY header. */
  handshakeTimeout: number;
  /** Where the handshake timer comes from (default the system's). */
  clock?: Clock;
  /** TLS to start each connection with (replaceable: `tls`). */
  tls: TlsContext | undefined;
}

/**
 * Takes each accepted connection to the point where a protocol can be run
 * over it, or refuses it: counts it against the limits (the PROXY header's
 * client, once read, instead of the proxy), reads the header, runs the TLS
 * handshake, and ends what is not done within the handshake timeout. Every
 * connection is either served (`hooks.serve`) or reported as ended before
 * (`hooks.ended`), with its slots given back.
 */
export class Admission {
  /** TLS for connections accepted from now on (a server's `setTls`). */
  tls: TlsContext | undefined;
  #options: AdmissionOptions;
  #limits: ConnectionLimits;
  #trusted: AddressRanges | null;
  #handshakeSeconds: number;
  #clock: Clock;
  #warnings: ThrottledWarnings;
  #hooks: AdmissionHooks;
  #pending = new Set<ByteStream>();
  #tlsFailures = new ThrottledWarnings((message, properties) =>
    log.info(message, properties)
  );

  /** Admits with `options`, warns through `warnings`, reports to `hooks`. */
  constructor(
    options: AdmissionOptions,
    warnings: ThrottledWarnings,
    hooks: AdmissionHooks,
  ) {
    this.#options = options;
    this.tls = options.tls;
    this.#limits = options.limits;
    this.#trusted = options.trusted;
    this.#handshakeSeconds = options.handshakeTimeout;
    this.#clock = options.clock ?? systemClock;
    this.#warnings = warnings;
    this.#hooks = hooks;
  }

  /** Connections still being admitted (a handshake or header pending). */
  get pending(): number {
    return this.#pending.size;
  }

  /** Reports what the throttled log lines hold back, and stops their timers. */
  close(): void {
    this.#tlsFailures.close();
  }

  /** Closes every connection still being admitted; returns how many. */
  abortPending(): number {
    const count = this.#pending.size;
    for (const conn of this.#pending) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    return count;
  }

  #warn(kind: string, message: string, properties: Record<string, unknown>) {
    this.#warnings.warn(kind, message, properties);
  }

  /** Logs why a connection over a limit is refused. */
  #refuse(refusal: Refusal, addr: Deno.Addr): void {
    if (refusal === "total") {
      this.#warn(
        "refused at the connection limit",
        "Refusing connection from {host} port {port}: {open} open (the limit)",
        { ...peerText(addr), open: connections(this.#limits.maxConnections) },
      );
    } else {
      this.#warn(
        "refused at the per-address limit",
        "Refusing connection from {host} port {port}: {open} open from {host} (the per-address limit)",
        {
          ...peerText(addr),
          open: connections(this.#limits.maxConnectionsPerIp),
        },
      );
    }
  }

  /** Admits (or refuses) one accepted connection. */
  admit(conn: Deno.Conn): void {
    const accepted: Accepted = {
      started: performance.now(),
      peer: conn.remoteAddr,
    };
    const proxied = this.#options.proxyProtocol;
    // A proxied connection counts against the per-address limit once its
    // header names the client (the proxy's own address says nothing).
    const address = proxied ? undefined : ipOf(conn.remoteAddr);
    const refusal = this.#limits.acquire(address);
    if (refusal) {
      this.#refuse(refusal, conn.remoteAddr);
      conn.close();
      this.#hooks.ended(accepted, "refused");
      return;
    }
    const release = () => this.#limits.release(address);
    if (this.tls) {
      this.#handshake(conn as Deno.TcpConn, this.tls, release, accepted);
    } else if (proxied) this.#readProxy(conn, release, accepted);
    else this.#hooks.serve(conn, {}, release, accepted);
  }

  /** Completes a TLS handshake, then serves the connection. */
  #handshake(
    conn: Deno.TcpConn,
    tls: TlsContext,
    release: () => void,
    accepted: Accepted,
  ): void {
    const stream = tls.accept(conn);
    this.#prepare(
      accepted,
      "tls_failed",
      stream,
      async () => [stream, await stream.handshakeExtra()],
      (error, timedOut) =>
        // A peer can cause these at will: at most one line a second.
        this.#tlsFailures.warn(
          "TLS handshake failed",
          "TLS handshake with {host} port {port} failed: {error}",
          {
            ...peerText(conn.remoteAddr),
            error: timedOut
              ? `not done within ${this.#handshakeSeconds} s`
              : error,
          },
        ),
      release,
    );
  }

  /** Reads the PROXY header, then serves the rest of the connection. */
  #readProxy(
    conn: Deno.Conn,
    release: () => void,
    accepted: Accepted,
  ): void {
    const proxy = ipOf(conn.remoteAddr);
    if (this.#trusted && !(proxy !== undefined && this.#trusted.has(proxy))) {
      this.#warn(
        "PROXY header from an untrusted peer",
        "Closing connection from {host} port {port}: not a trusted PROXY protocol sender (proxyProtocolFrom)",
        peerText(conn.remoteAddr),
      );
      conn.close();
      release();
      this.#hooks.ended(accepted, "proxy_rejected");
      return;
    }
    let client: string | undefined;
    this.#prepare(accepted, "proxy_rejected", conn, async () => {
      const header = await readProxyHeader(conn);
      client = ipOf(header.source);
      if (header.source) {
        accepted.proxy = conn.remoteAddr;
        accepted.peer = header.source;
      }
      const refusal = this.#limits.acquire(client, false);
      if (refusal) {
        this.#refuse(refusal, header.source!);
        client = undefined;
        throw new Reported();
      }
      return [new PrefixedConn(conn, header.rest), {
        peername: header.source ?? conn.remoteAddr,
        proxyname: conn.remoteAddr,
      }];
    }, (error, timedOut) => {
      if (error instanceof Reported) return;
      this.#warn(
        "PROXY header rejected",
        "Closing connection from {host} port {port}: {why}",
        {
          ...peerText(conn.remoteAddr),
          why: timedOut
            ? `no PROXY protocol header within ${this.#handshakeSeconds} s`
            : error instanceof Deno.errors.ConnectionReset
            ? "the peer reset the connection during the PROXY protocol header"
            : `malformed PROXY protocol header: ${
              error instanceof Error ? error.message : String(error)
            }`,
        },
      );
    }, () => {
      this.#limits.release(client, false);
      release();
    });
  }

  /**
   * Runs what must happen before a connection is served (a TLS handshake,
   * a PROXY header) within the handshake timeout, counting the connection
   * as open meanwhile; then serves it, or reports why not and closes it.
   * `release` is called once the connection is over, either way.
   */
  async #prepare(
    accepted: Accepted,
    failure: ConnectionOutcome,
    conn: ByteStream,
    prepare: () => Promise<[ByteStream, Record<string, unknown>]>,
    failed: (error: unknown, timedOut: boolean) => void,
    release: () => void,
  ): Promise<void> {
    this.#pending.add(conn);
    let timedOut = false;
    const timer = this.#clock.setTimeout(() => {
      timedOut = true;
      conn.close();
    }, this.#handshakeSeconds);
    try {
      const [stream, extra] = await prepare();
      timer.cancel();
      this.#pending.delete(conn);
      this.#hooks.serve(stream, extra, release, accepted);
    } catch (error) {
      timer.cancel();
      this.#pending.delete(conn);
      failed(error, timedOut);
      try {
        conn.close();
      } catch {
        // Closed by the timer or the peer.
      }
      release();
      this.#hooks.ended(
        accepted,
        error instanceof Reported ? "refused" : failure,
        {
          error: timedOut
            ? new Deno.errors.TimedOut("handshake not done in time")
            : error,
        },
      );
    }
  }
}
