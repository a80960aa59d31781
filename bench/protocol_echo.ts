/**
 * The asyncio example's echo at its plainest, for the benchmark: each chunk
 * `dataReceived` is given is written back, and reading stops while the write
 * buffer is full. No logging and no application code: the row that shows
 * what the library's plain-Protocol path costs against the raw loop
 * (EchoServer is the same protocol with the application's logging around it).
 *
 * `deno run --allow-net bench/protocol_echo.ts` prints `listening on PORT`.
 *
 * @module
 */

import { createServer, type Protocol, type Transport } from "@protocols/core";

class ProtocolEcho implements Protocol {
  #transport!: Transport;

  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }

  dataReceived(data: Uint8Array): void {
    this.#transport.write(data);
  }

  pauseWriting(): void {
    this.#transport.pauseReading();
  }

  resumeWriting(): void {
    this.#transport.resumeReading();
  }
}

const server = await createServer(() => new ProtocolEcho(), {
  hostname: "127.0.0.1",
  port: 0,
});
console.log(`listening on ${server.addrs[0].port}`);
