/**
 * TLS through `node:tls` over a TCP connection the library holds itself:
 * the server end always, and the client end where Deno's own TLS client
 * cannot serve (a client certificate).
 *
 * `Deno.listenTls` runs each handshake in a task that owns the socket until
 * the peer sends or closes: closing a `Deno.TlsConn` whose handshake never
 * finished leaves its descriptor open for as long as the peer likes, so a
 * client that connects and says nothing holds a descriptor for ever. Here
 * the TCP connection stays ours ({@linkcode Deno.listen}) and TLS runs over
 * it through `node:tls`: closing the TCP connection releases the descriptor
 * whatever state the handshake is in.
 *
 * Five things `node:tls` leaves to its user are done here, each where it
 * happens: the TLS socket flows (paused, it can lose the peer's
 * close_notify); reads of the TCP connection stop while decrypted bytes
 * wait (else a peer that sends without reading fills memory); `closeWrite`
 * resolves when close_notify has been written to the TCP connection, not
 * queued; `close` sends close_notify first (else the peer cannot tell the
 * end of the data from a cut connection); errors after the handshake are
 * released (else a record that fails to decrypt reads as the end of data).
 *
 * @module
 */

import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import tls from "node:tls";
import {
  CLOSE_NOTIFY_WAIT,
  TLS_MIN_READ_SIZE,
  TLS_PLAINTEXT_HIGH_WATER,
  TLS_READ_SIZE,
} from "./_defaults.ts";
import { isIP } from "./_ip.ts";
import { ReadSize } from "./_read_size.ts";
import type { PeerCertificate } from "./peer_certificate.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";
import type { ByteStream } from "./transport.ts";

/** TLS settings of a server, made once and shared by its connections. */
export interface TlsContext {
  /** The certificate and key, parsed. */
  secureContext: tls.SecureContext;
  /** ALPN protocols to accept, in order of preference. */
  alpnProtocols?: string[];
  /** The context for a name a client asks for (SNI), if one is set. */
  contextFor(name: string): tls.SecureContext | undefined;
  /** Client certificates: not asked for, asked for, or required. */
  clientCert: "none" | "request" | "require";
  /** The CAs client certificates must be signed by. */
  clientCas: X509Certificate[];
  /**
   * The server side of TLS over an accepted connection (a
   * {@linkcode TlsStream}): the server needs no import of this
   * module, which loads node:tls, to make one.
   */
  accept(conn: Deno.TcpConn): TlsStream;
}

/**
 * Parses a certificate chain and key once for every connection.
 *
 * @throws {Error} when the certificate or key cannot be used.
 */
export function tlsContext(options: TlsServerOptions): TlsContext {
  const ca = options.clientCa === undefined
    ? undefined
    : typeof options.clientCa === "string"
    ? [options.clientCa]
    : options.clientCa;
  if (ca !== undefined) {
    ca.forEach((pem, i) => {
      try {
        new X509Certificate(pem);
      } catch (error) {
        throw new Error(
          `clientCa ${i + 1} does not parse as a certificate: ${
            messageOf(error)
          }`,
        );
      }
    });
  }
  if (options.clientCert !== undefined && ca === undefined) {
    throw new Error("clientCert needs clientCa: the CAs to verify clients by");
  }
  const secure = (cert: string, key: string, name?: string) => {
    try {
      checkKeyPair(cert, key);
    } catch (error) {
      throw name === undefined
        ? error
        : new Error(`sni ${name}: ${messageOf(error)}`);
    }
    return tls.createSecureContext({ cert, key, ...(ca ? { ca } : {}) });
  };
  const main = secure(options.cert, options.key);
  const exact = new Map<string, tls.SecureContext>();
  const wildcards = new Map<string, tls.SecureContext>(); // by the suffix
  for (const [name, pair] of Object.entries(options.sni ?? {})) {
    const lower = name.toLowerCase();
    const context = secure(pair.cert, pair.key, name);
    if (lower.startsWith("*.")) wildcards.set(lower.slice(1), context);
    else exact.set(lower, context);
  }
  const context: TlsContext = {
    secureContext: main,
    alpnProtocols: options.alpnProtocols,
    contextFor(name) {
      const lower = name.toLowerCase();
      const found = exact.get(lower);
      if (found) return found;
      const dot = lower.indexOf(".");
      return dot > 0 ? wildcards.get(lower.slice(dot)) : undefined;
    },
    clientCert: ca === undefined ? "none" : options.clientCert ?? "require",
    clientCas: (ca ?? []).map((pem) => new X509Certificate(pem)),
    accept: (conn) => new TlsStream(conn, context),
  };
  return context;
}

/**
 * Why a client certificate (DER) is refused, or null: it must be valid now
 * and signed by one of `cas`.
 */
function refusal(raw: Uint8Array, cas: X509Certificate[]): string | null {
  const certificate = new X509Certificate(raw);
  const now = new Date();
  if (now < certificate.validFromDate || now > certificate.validToDate) {
    return `${certificate.subject} is not valid now (${certificate.validFrom} to ${certificate.validTo})`;
  }
  const signed = cas.some((ca) =>
    certificate.checkIssued(ca) && certificate.verify(ca.publicKey)
  );
  return signed ? null : `${certificate.subject} is not signed by clientCa`;
}

/** What a certificate says, for `getExtraInfo("peercert")`. */
function describePeer(raw: Uint8Array): PeerCertificate {
  const certificate = new X509Certificate(raw);
  return {
    subject: certificate.subject,
    issuer: certificate.issuer,
    subjectAltName: certificate.subjectAltName,
    validFrom: certificate.validFromDate,
    validTo: certificate.validToDate,
    fingerprint256: certificate.fingerprint256,
    pem: certificate.toString(),
  };
}

/**
 * Checks that `cert` starts with a certificate that parses, that `key` is
 * a private key, and that the key is the certificate's: `node:tls` takes
 * any of these broken and fails each handshake instead.
 *
 * @throws {Error} saying which of the three is wrong.
 */
function checkKeyPair(cert: string, key: string): void {
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch (error) {
    throw new Error(`the certificate does not parse: ${messageOf(error)}`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new Error(`the private key does not parse: ${messageOf(error)}`);
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(
      `the private key is not the certificate's (${certificate.subject})`,
    );
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Holds reads from the TCP connection back while it is closed. */
class ReadGate {
  #closed = false;
  #held: (() => void) | null = null;

  /** Runs `read` now, or when the gate opens. */
  pass(read: () => void): void {
    if (this.#closed) this.#held = read;
    else read();
  }

  /** Holds the next read back. */
  close(): void {
    this.#closed = true;
  }

  /** Lets reads through, and the one held back, if any. */
  open(): void {
    this.#closed = false;
    const held = this.#held;
    this.#held = null;
    held?.();
  }
}

/** The TCP connection as the Node stream `node:tls` runs over. */
function rawStream(conn: Deno.Conn, gate: ReadGate): Duplex {
  const readSize = new ReadSize(TLS_MIN_READ_SIZE, TLS_READ_SIZE);
  let buffer = new Uint8Array(readSize.size);
  const stream: Duplex = new Duplex({
    allowHalfOpen: true,
    read() {
      gate.pass(readOnce);
    },
    write(chunk: Uint8Array, _encoding, callback) {
      const written = writeAll(conn, chunk);
      writing = written;
      const settled = (error?: Error | null) => {
        if (writing === written) writing = null;
        callback(error);
      };
      written.then(() => settled(), settled);
    },
    final(callback) {
      conn.closeWrite().then(() => callback(), callback);
    },
    destroy(error, callback) {
      const close = () => {
        try {
          conn.close();
        } catch {
          // Already closed.
        }
        callback(error);
      };
      // node:tls destroys this stream once both of its sides are done,
      // which can be while close_notify is still being written (the peer
      // had sent its EOF, and reads slowly): let that write finish first,
      // for at most CLOSE_NOTIFY_WAIT seconds. (An abort closes `conn` itself.)
      if (writing === null || error) close();
      else afterCloseNotify(writing, close);
    },
  });
  let writing: Promise<void> | null = null; // the write in progress
  const readOnce = () => {
    conn.read(buffer).then((n) => {
      if (n === null) {
        stream.push(null);
        return;
      }
      // A copy of what was read: one buffer takes every read, and a small
      // read does not cost a large allocation.
      stream.push(buffer.slice(0, n));
      readSize.update(n, buffer.byteLength);
      if (readSize.size !== buffer.byteLength) {
        buffer = new Uint8Array(readSize.size);
      }
    }, (error) => stream.destroy(error));
  };
  return stream;
}

/**
 * Runs `then` once, when `writing` (close_notify on its way) settles or
 * after CLOSE_NOTIFY_WAIT seconds, whichever comes first: a peer that does not
 * read is not waited for.
 */
function afterCloseNotify(writing: Promise<unknown>, then: () => void): void {
  let done = false;
  const once = () => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    then();
  };
  const timer = setTimeout(once, CLOSE_NOTIFY_WAIT * 1000);
  writing.then(once, once);
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    offset += await conn.write(data.subarray(offset));
  }
}

/**
 * Whether `error` is node:tls refusing the server's certificate (an OpenSSL
 * verification code, or the name check's), not a network failure.
 */
function isCertificateError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" &&
    /^(CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|INVALID_|HOSTNAME_|ERR_TLS_CERT_)/
      .test(code);
}

/** The client end's TLS settings (`createConnection`'s `tls`, `startTls`). */
export interface TlsClientSettings {
  /** The name the server's certificate must carry (and SNI asks for). */
  serverName: string;
  /** PEM certificates to trust (only these); without them, Deno's roots. */
  caCerts?: string[];
  /** The client's certificate chain, PEM, when the server asks for one. */
  cert?: string;
  /** Its private key, PEM. */
  key?: string;
  /** ALPN protocols to offer. */
  alpnProtocols?: string[];
}

/**
 * The client end of TLS over `conn`, a {@linkcode TlsStream} playing
 * the client: node:tls, so that a client certificate can be presented and
 * the server's certificate read (`Deno.startTls` does neither).
 *
 * @throws {Error} when `cert` comes without `key`, or the pair is unusable.
 */
export function tlsConnect(
  conn: Deno.TcpConn,
  settings: TlsClientSettings,
): TlsStream {
  if ((settings.cert === undefined) !== (settings.key === undefined)) {
    throw new Error("a client certificate needs both cert and key");
  }
  if (settings.cert !== undefined) checkKeyPair(settings.cert, settings.key!);
  return new TlsStream(conn, settings);
}

/** What a finished handshake agreed on (`serverName`: the server end only). */
export interface TlsHandshakeInfo {
  /** The ALPN protocol (`null`: none). */
  alpnProtocol: string | null;
  /** The name the client asked for (SNI), if it asked. */
  serverName: string | undefined;
  /** The client's verified certificate, if it sent one. */
  peercert: PeerCertificate | undefined;
}

/**
 * A TLS connection, either end, as a {@linkcode ByteStream}: what
 * `SocketTransport` runs over. {@linkcode TlsStream.handshake} must
 * resolve before the stream is used.
 */
export class TlsStream implements ByteStream {
  readonly remoteAddr: Deno.Addr;
  readonly localAddr: Deno.Addr;
  /** A clean close sends close_notify first. */
  readonly closeWriteOnClose = true;
  #conn: Deno.TcpConn;
  #raw: Duplex; // the TCP connection, under the TLS socket
  #socket: tls.TLSSocket;
  #gate = new ReadGate();
  #chunks: Uint8Array[] = []; // decrypted, not yet read
  #buffered = 0; // their bytes
  #ended = false;
  #error: Error | null = null;
  #waiting: (() => void) | null = null;
  #ending: Promise<void> | null = null; // closeWrite() called
  #secure = false; // the handshake is done
  #closeWaiting = false; // close() waits for close_notify to be written
  #released = false; // the TCP connection is closed
  #clientCert: TlsContext["clientCert"];
  #client = false; // the client end of TLS
  #clientCas: X509Certificate[];

  /**
   * Starts TLS over `conn`: as the server with a server's context, as the
   * client with client settings (see {@linkcode tlsConnect}).
   */
  constructor(
    conn: Deno.TcpConn,
    context: TlsContext | TlsClientSettings,
  ) {
    this.#conn = conn;
    this.remoteAddr = conn.remoteAddr;
    this.localAddr = conn.localAddr;
    this.#raw = rawStream(conn, this.#gate);
    if ("accept" in context) {
      this.#socket = new tls.TLSSocket(this.#raw, {
        isServer: true,
        secureContext: context.secureContext,
        ALPNProtocols: context.alpnProtocols,
        SNICallback: (name, callback) =>
          callback(null, context.contextFor(name)),
        requestCert: context.clientCert !== "none",
        // A "request" client without a certificate is let through here and
        // one whose certificate does not verify is refused in handshake().
        rejectUnauthorized: context.clientCert === "require",
      });
      this.#clientCert = context.clientCert;
      this.#clientCas = context.clientCas;
    } else {
      // The client end: node:tls verifies the server's certificate (and
      // its name) against `caCerts`, or the system's roots without them.
      this.#client = true;
      const name = context.serverName;
      this.#socket = tls.connect({
        socket: this.#raw,
        // SNI takes a name, never an address: an address is checked alone.
        ...(isIP(name) ? { host: name } : { servername: name }),
        // With caCerts, only they are trusted (node:tls's rule: reading the
        // system's roots as well needs Deno's --allow-sys).
        ...(context.caCerts ? { ca: context.caCerts } : {}),
        ...(context.cert !== undefined
          ? { cert: context.cert, key: context.key }
          : {}),
        ALPNProtocols: context.alpnProtocols,
      });
      this.#clientCert = "none";
      this.#clientCas = [];
    }
    const socket = this.#socket;
    socket.allowHalfOpen = true;
    // The TLS socket flows: decrypted bytes wait in #chunks, and the gate
    // on the TCP reads holds the peer back while they pile up. Pausing the
    // TLS socket itself instead loses the peer's close_notify and EOF when
    // they arrive while it is paused (the connection then never ends).
    socket.on("data", (chunk: Uint8Array) => {
      this.#chunks.push(chunk);
      this.#buffered += chunk.byteLength;
      if (this.#buffered >= TLS_PLAINTEXT_HIGH_WATER) this.#gate.close();
      this.#wake();
    });
    // A TLS socket made by hand keeps its errors after the handshake to
    // itself ("_tlsError"): a record that fails to decrypt then looks like
    // a clean end of data. tls.Server releases them on "secure"; so do we,
    // and they reach "error".
    socket.once("secureConnect", () => this.#secure = true);
    socket.once("secure", () => {
      this.#secure = true;
      (socket as unknown as { _releaseControl?(): boolean })
        ._releaseControl?.();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("error", (error: Error) => {
      this.#error ??= error;
      this.#wake();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#wake();
    });
  }

  #wake(): void {
    const waiting = this.#waiting;
    this.#waiting = null;
    waiting?.();
  }

  /**
   * Resolves once the handshake is done, with the negotiated ALPN protocol
   * (`null` for none); rejects when it fails or the connection closes first.
   */
  /**
   * Runs the handshake, until `expired` rejects when it is given, and
   * resolves to what the connection's `getExtraInfo` learns from it
   * (`alpnProtocol`, and `serverName` and `peercert` where there are such).
   * Aborts the stream when the handshake does not succeed.
   *
   * @throws what `expired` rejects with, or the handshake's own error.
   */
  async handshakeExtra(
    expired?: Promise<never>,
  ): Promise<Record<string, unknown>> {
    let info: TlsHandshakeInfo;
    try {
      info = await (expired
        ? Promise.race([this.handshake(), expired])
        : this.handshake());
    } catch (error) {
      this.abort();
      throw error;
    }
    return {
      alpnProtocol: info.alpnProtocol,
      ...(info.serverName !== undefined ? { serverName: info.serverName } : {}),
      ...(info.peercert !== undefined ? { peercert: info.peercert } : {}),
    };
  }

  handshake(): Promise<TlsHandshakeInfo> {
    const socket = this.#socket;
    return new Promise((resolve, reject) => {
      const fail = (error?: Error) => {
        socket.off(this.#client ? "secureConnect" : "secure", done);
        socket.off("error", fail);
        socket.off("close", closed);
        socket.off("end", closed);
        reject(
          error === undefined
            ? new Deno.errors.UnexpectedEof(
              "the connection closed during the TLS handshake",
            )
            : this.#client && isCertificateError(error)
            ? new Deno.errors.InvalidData(
              `the server's certificate was refused: ${error.message}`,
              { cause: error },
            )
            : error,
        );
      };
      const done = () => {
        socket.off("error", fail);
        socket.off("close", closed);
        socket.off("end", closed);
        const alpn = socket.alpnProtocol;
        if (this.#client) {
          if (!socket.authorized) {
            reject(
              new Deno.errors.InvalidData(
                `the server's certificate was refused: ${
                  socket.authorizationError ?? "it does not verify"
                }`,
              ),
            );
            return;
          }
          const server = (socket.getPeerCertificate() as { raw?: Uint8Array })
            .raw;
          resolve({
            alpnProtocol: typeof alpn === "string" ? alpn : null,
            serverName: undefined,
            peercert: server ? describePeer(server) : undefined,
          });
          return;
        }
        const raw = this.#clientCert === "none"
          ? undefined
          : (socket.getPeerCertificate() as { raw?: Uint8Array }).raw;
        // Checked here whatever node:tls did: Deno's lets some through
        // (another CA's, an expired one) even when told to reject them.
        const refused = this.#clientCert === "none"
          ? null
          : raw !== undefined
          ? refusal(raw, this.#clientCas)
          : this.#clientCert === "require"
          ? "it sent none"
          : null;
        if (refused !== null) {
          reject(new Error(`the client's certificate was refused: ${refused}`));
          return;
        }
        const servername = (socket as unknown as { servername?: unknown })
          .servername;
        resolve({
          alpnProtocol: typeof alpn === "string" ? alpn : null,
          serverName: typeof servername === "string" ? servername : undefined,
          peercert: raw ? describePeer(raw) : undefined,
        });
      };
      const closed = () => fail();
      socket.once(this.#client ? "secureConnect" : "secure", done);
      socket.once("error", fail);
      socket.once("close", closed);
      // The peer's end of data before the handshake is done: node:tls
      // reports nothing else when it comes without an alert.
      socket.once("end", closed);
    });
  }

  /** Reads decrypted bytes into `p`; `null` at the peer's end of data. */
  async read(p: Uint8Array): Promise<number | null> {
    while (true) {
      const chunk = this.#chunks[0];
      if (chunk !== undefined) {
        const n = Math.min(chunk.byteLength, p.byteLength);
        p.set(n === chunk.byteLength ? chunk : chunk.subarray(0, n));
        if (n === chunk.byteLength) this.#chunks.shift();
        else this.#chunks[0] = chunk.subarray(n);
        this.#buffered -= n;
        if (this.#buffered < TLS_PLAINTEXT_HIGH_WATER) this.#gate.open();
        return n;
      }
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => this.#waiting = resolve);
    }
  }

  /** Encrypts and sends `p`; resolves once the socket has taken it. */
  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#socket.write(p, (error) => {
        if (error) reject(error);
        else resolve(p.byteLength);
      });
    });
  }

  /**
   * Sends TLS close_notify, then half-closes the TCP connection; resolves
   * once the TCP connection has taken every byte and the half-close (or
   * failed, or was closed).
   */
  closeWrite(): Promise<void> {
    return this.#ending ??= new Promise((resolve) => {
      const raw = this.#raw;
      if (raw.writableFinished || raw.destroyed) return resolve();
      raw.once("finish", () => resolve());
      raw.once("close", () => resolve());
      // node:tls's end() resolves once close_notify is queued on the raw
      // stream, and leaves that stream open: end it after close_notify, so
      // the TCP half-close follows it and "finish" says both were written.
      this.#socket.end(() => raw.end());
    });
  }

  /**
   * Closes the connection and releases its descriptor once close_notify has
   * been written (within a second: a peer that does not read is not waited
   * for). After a finished handshake close_notify is sent here if
   * {@linkcode TlsStream.closeWrite} did not send it, as Deno's own
   * TLS connections do on close, so the peer knows its data is complete;
   * before one, or after a TLS error, the connection is closed at once.
   */
  close(): void {
    if (this.#released || this.#closeWaiting) return;
    if (
      this.#ending === null && this.#secure && this.#error === null &&
      !this.#socket.destroyed
    ) {
      this.closeWrite();
    }
    const ending = this.#ending;
    if (ending === null) {
      this.#release();
      return;
    }
    this.#closeWaiting = true;
    afterCloseNotify(ending, () => this.#release());
  }

  /**
   * Closes the connection at once, without close_notify: the peer sees the
   * connection cut, not the data complete (what the transport's `abort()`
   * and failures need).
   */
  abort(): void {
    this.#release();
  }

  /** Destroys the TLS socket and closes the TCP connection. */
  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#ended = true;
    this.#socket.destroy();
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
    this.#wake();
  }

  /** Turns TCP keepalive on or off, on the TCP connection. */
  setKeepAlive(keepAlive?: boolean): void {
    this.#conn.setKeepAlive(keepAlive);
  }

  /** Turns Nagle's algorithm off or on, on the TCP connection. */
  setNoDelay(noDelay?: boolean): void {
    this.#conn.setNoDelay(noDelay);
  }
}
