/**
 * A small SMTP-style server that offers STARTTLS: it greets in plain text,
 * answers `EHLO` with its extensions (`STARTTLS`), and on `STARTTLS` answers
 * `220` and upgrades the connection to TLS in place
 * (`transport.startTls(...)` on the server's end), then goes on with the same
 * protocol object: `EHLO` again, `NOOP`, `QUIT`. It speaks just enough SMTP
 * for `openssl s_client -starttls smtp` to talk to it.
 *
 * ```sh
 * deno run --allow-net --allow-read examples/starttls_server.ts PORT CERT KEY
 * openssl s_client -starttls smtp -crlf -connect localhost:PORT
 * ```
 *
 * prints `listening on PORT` (PORT 0 picks a free one).
 *
 * @module
 */

import {
  createServer,
  LineReceiver,
  type ServerStartTlsOptions,
  type SocketTransport,
  type Transport,
} from "@protocols/core";

const decoder = new TextDecoder();

/** One SMTP-style session; `tls` is what STARTTLS upgrades with. */
export class StartTlsServer extends LineReceiver {
  #tls: ServerStartTlsOptions;
  /** Whether the session is over TLS now. */
  secure = false;

  /** A session that upgrades with `tls` (a server's cert and key). */
  constructor(tls: ServerStartTlsOptions) {
    super();
    this.#tls = tls;
  }

  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    this.sendLine("220 localhost ESMTP ready");
  }

  override lineReceived(line: Uint8Array): void {
    const [verb] = decoder.decode(line).trim().split(" ");
    switch (verb.toUpperCase()) {
      case "EHLO":
        if (this.secure) this.sendLine("250 localhost");
        else this.sendLine("250-localhost\r\n250 STARTTLS");
        return;
      case "STARTTLS":
        if (this.secure) return this.sendLine("503 TLS already started");
        // No read may be pending while the connection changes hands: the
        // next bytes are the client's TLS handshake.
        this.transport.pauseReading();
        this.sendLine("220 Ready to start TLS");
        (this.transport as SocketTransport).startTls(this.#tls).then(
          (upgraded) => {
            this.transport = upgraded;
            this.secure = true;
          },
          () => {}, // the connection is lost, with connectionLost(error)
        );
        return;
      case "NOOP":
        return this.sendLine("250 OK");
      case "QUIT":
        this.sendLine("221 Bye");
        return this.transport.close();
      default:
        return this.sendLine("502 Command not implemented");
    }
  }
}

if (import.meta.main) {
  const [port, certFile, keyFile] = Deno.args;
  if (!port || !certFile || !keyFile) {
    console.error("usage: starttls_server.ts PORT CERT KEY");
    Deno.exit(2);
  }
  const tls = {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
  };
  const server = await createServer(() => new StartTlsServer(tls), {
    port: Number(port),
  });
  console.log(`listening on ${server.addrs[0].port}`);
  await server.serveForever();
}
