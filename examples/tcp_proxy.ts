/**
 * A TCP proxy written with the library: every accepted connection opens one
 * to the target, and each side's chunks are written to the other side and
 * released (`transport.release`), so the proxy reads without new memory per
 * read. A side whose write buffer is full stops the other side's reads, a
 * half-close (EOF) is passed on, and the pair closes once both sides have
 * ended; a reset on one side aborts the other.
 *
 * ```sh
 * deno run --allow-net examples/tcp_proxy.ts LISTEN_PORT TARGET_HOST TARGET_PORT
 * ```
 *
 * prints `listening on PORT` (LISTEN_PORT 0 picks a free port) and proxies
 * until interrupted.
 *
 * @module
 */

import {
  createConnection,
  createServer,
  type Protocol,
  type Transport,
} from "@protocols/core";

/** One side of a proxied pair: what it reads, the other side writes. */
class Side implements Protocol {
  transport!: Transport;
  other: Side | null = null;
  #ended = false; // this side's peer half-closed

  connectionMade(transport: Transport): void {
    this.transport = transport;
  }

  dataReceived(data: Uint8Array): void {
    this.other!.transport.write(data);
    this.transport.release(data); // written on: the memory is read into again
  }

  eofReceived(): boolean {
    this.#ended = true;
    const other = this.other!;
    if (other.#ended || !other.transport.canWriteEof()) {
      other.transport.close();
      return false; // both ended: close this side too, once flushed
    }
    other.transport.writeEof();
    return true; // the other direction goes on
  }

  connectionLost(error: Error | null): void {
    const other = this.other?.transport; // none while the target connects
    if (!other || other.isClosing()) return;
    if (error) other.abort();
    else other.close();
  }

  /** This side's writes are backing up: stop reading the other side. */
  pauseWriting(): void {
    this.other?.transport.pauseReading();
  }

  resumeWriting(): void {
    this.other?.transport.resumeReading();
  }
}

/** Reads the command line; a usage error is one line and exit code 2. */
function parse(args: string[]): [number, string, number] {
  const [listen, host, target] = args;
  const port = (text: string | undefined) => {
    const n = Number(text);
    return text !== undefined && /^\d+$/.test(text) && n <= 65535 ? n : null;
  };
  const listenPort = port(listen);
  const targetPort = port(target);
  if (listenPort === null || !host || targetPort === null || args.length > 3) {
    console.error(
      "usage: tcp_proxy.ts LISTEN_PORT TARGET_HOST TARGET_PORT (ports 0-65535)",
    );
    Deno.exit(2);
  }
  return [listenPort, host, targetPort];
}

/** The accepted side: it connects to the target before it reads. */
class ClientSide extends Side {
  constructor(readonly target: { hostname: string; port: number }) {
    super();
  }

  override connectionMade(transport: Transport): void {
    super.connectionMade(transport);
    transport.pauseReading(); // until the target has answered
    createConnection(() => {
      const upstream = new Side();
      upstream.other = this;
      this.other = upstream;
      return upstream;
    }, this.target).then(({ transport: upstream }) => {
      if (transport.isClosing()) upstream.close();
      else transport.resumeReading();
    }, (error) => {
      console.error(`tcp_proxy: ${error.message}`);
      transport.abort();
    });
  }
}

if (import.meta.main) {
  const [listenPort, hostname, port] = parse(Deno.args);
  const server = await createServer(
    () => new ClientSide({ hostname, port }),
    { hostname: "127.0.0.1", port: listenPort },
  );
  console.log(`listening on ${server.addrs[0].port}`);
  await server.serveForever();
}
