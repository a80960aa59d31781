// The server end of TLS (lib/_tls_stream.ts) over an in-memory TCP
// connection whose writes the test can hold back, against a node:tls client.

import { RecordingProtocol } from "./testing.ts";
import assert from "node:assert/strict";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { tlsContext, TlsStream } from "./_tls_stream.ts";
import { testCerts } from "./_test_certs.ts";
import { settle } from "./_test_helpers.ts";
import { SocketTransport } from "./socket_transport.ts";

const ADDR: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 1 };

/**
 * The server's side of an in-memory TCP connection (what TlsStream
 * uses of a `Deno.TcpConn`) and the client's side as a Node stream. While
 * `hold()` is in force, the server's writes wait; `events` lists what the
 * server did to the connection.
 */
function connectionPair() {
  const toServer: Uint8Array[] = [];
  let serverWaiting: (() => void) | null = null;
  let clientEnded = false;
  let held: PromiseWithResolvers<void> | null = null;
  const events: string[] = [];
  const server = {
    closed: false,
    remoteAddr: ADDR,
    localAddr: ADDR,
    async read(p: Uint8Array): Promise<number | null> {
      while (toServer.length === 0) {
        if (clientEnded || server.closed) return null;
        await new Promise<void>((resolve) => serverWaiting = resolve);
      }
      const chunk = toServer[0];
      const n = Math.min(p.byteLength, chunk.byteLength);
      p.set(chunk.subarray(0, n));
      if (n === chunk.byteLength) toServer.shift();
      else toServer[0] = chunk.subarray(n);
      return n;
    },
    async write(p: Uint8Array): Promise<number> {
      if (held) await held.promise;
      events.push("write");
      if (server.closed) throw new Deno.errors.BadResource("closed");
      client.push(p.slice());
      return p.byteLength;
    },
    async closeWrite(): Promise<void> {
      if (held) await held.promise;
      events.push("closeWrite");
      client.push(null);
    },
    close(): void {
      if (!server.closed) events.push("close");
      server.closed = true;
      serverWaiting?.();
    },
    setNoDelay(): void {},
  };
  const client = new Duplex({
    read() {},
    write(chunk: Uint8Array, _encoding, callback) {
      toServer.push(new Uint8Array(chunk));
      serverWaiting?.();
      callback();
    },
    final(callback) {
      clientEnded = true;
      serverWaiting?.();
      callback();
    },
  });
  return {
    server: server as typeof server & Deno.TcpConn,
    client,
    events,
    hold: () => {
      events.push("hold");
      held = Promise.withResolvers();
    },
    release: () => {
      held?.resolve();
      held = null;
    },
  };
}

/** A TlsStream and a node:tls client over a {@linkcode connectionPair}. */
async function tlsOverPair() {
  const { cert, key, ca } = await testCerts();
  const pair = connectionPair();
  const stream = new TlsStream(pair.server, tlsContext({ cert, key }));
  const client = tls.connect({
    socket: pair.client,
    ca,
    servername: "localhost",
  });
  return { pair, stream, client };
}

/**
 * Fails unless, since `hold()`, the server wrote once (close_notify), then
 * half-closed the TCP connection, then closed it.
 */
async function assertEndedInOrder(
  pair: ReturnType<typeof connectionPair>,
): Promise<void> {
  await settle();
  assert.deepEqual(pair.events.slice(pair.events.indexOf("hold") + 1), [
    "write",
    "closeWrite",
    "close",
  ]);
}

Deno.test("TlsStream: close() after closeWrite() keeps the connection until close_notify is written", async () => {
  const { pair, stream, client } = await tlsOverPair();
  const received: Uint8Array[] = [];
  client.on("data", (chunk: Uint8Array) => received.push(chunk));
  const ended = new Promise<void>((resolve, reject) => {
    client.once("end", resolve);
    client.once("error", reject);
  });
  await stream.handshake();
  await stream.write(new TextEncoder().encode("hello"));

  // The TCP connection stops taking bytes (a peer that is slow to read);
  // the transport half-closes and closes, as it does after its last write.
  pair.hold();
  let closeWritten = false;
  const closing = stream.closeWrite().then(() => closeWritten = true);
  stream.close();
  await settle(20);
  assert.equal(
    closeWritten,
    false,
    "closeWrite() resolved before the TCP connection took close_notify",
  );
  assert.equal(pair.server.closed, false, "closed with close_notify unwritten");

  pair.release();
  await closing;
  await ended; // the client saw close_notify: a clean end, not a truncation
  assert.equal(new TextDecoder().decode(Buffer.concat(received)), "hello");
  await assertEndedInOrder(pair);
  client.destroy();
});

Deno.test("TlsStream: a record that fails to decrypt is an error, not the end of data", async () => {
  const { pair, stream, client } = await tlsOverPair();
  client.on("error", () => {}); // the server's alert, once it gives up
  await stream.handshake();
  // An application-data record whose bytes are no ciphertext, written under
  // the client's TLS layer (as a man in the middle would).
  const forged = new Uint8Array(5 + 32);
  forged.set([0x17, 0x03, 0x03, 0x00, 32]);
  crypto.getRandomValues(forged.subarray(5));
  pair.client.write(forged);
  await assert.rejects(
    stream.read(new Uint8Array(100)),
    /decrypt/,
    "a forged record read as the end of data",
  );
  stream.close();
  client.destroy();
});

Deno.test("TlsStream: close() alone sends close_notify after the handshake, and only then", async () => {
  const { pair, stream, client } = await tlsOverPair();
  const ended = new Promise<void>((resolve) => client.once("end", resolve));
  await stream.handshake();
  pair.hold();
  stream.close(); // no closeWrite() first, as a protocol's transport.close()
  await settle();
  assert.equal(pair.server.closed, false, "closed with close_notify unsent");
  pair.release();
  await ended;
  await assertEndedInOrder(pair);
  client.destroy();

  // Before the handshake there is nothing to notify: closed at once.
  const early = connectionPair();
  const { cert, key } = await testCerts();
  new TlsStream(early.server, tlsContext({ cert, key })).close();
  assert.equal(early.server.closed, true);
});

Deno.test("TlsStream: abort() closes at once, without close_notify", async () => {
  const { pair, stream, client } = await tlsOverPair();
  client.on("error", () => {});
  await stream.handshake();
  pair.hold();
  stream.abort();
  assert.equal(pair.server.closed, true);
  pair.release();
  await settle();
  assert.deepEqual(pair.events.slice(pair.events.indexOf("hold") + 1), [
    "close",
  ]);
  client.destroy();
});

Deno.test("SocketTransport over TLS: close() waits for close_notify as for data, then closes", async () => {
  const { pair, stream, client } = await tlsOverPair();
  const ended = new Promise<void>((resolve) => client.once("end", resolve));
  client.resume(); // read what comes
  await stream.handshake();
  const protocol = new RecordingProtocol();
  SocketTransport.start(stream, protocol, { side: "server" });
  await protocol.made.promise;
  protocol.transport.write("hello");
  await settle(); // written: only close_notify is left
  pair.hold(); // a peer slow to read
  protocol.transport.close();
  await settle(20);
  assert.equal(protocol.lostError, undefined, "lost before close_notify");
  assert.equal(pair.server.closed, false);
  pair.release();
  assert.equal(await protocol.lost.promise, null);
  await ended;
  await settle();
  assert.deepEqual(pair.events.slice(-2), ["closeWrite", "close"]);
  client.destroy();
});

Deno.test("TlsStream: after the peer's EOF, closeWrite() still writes close_notify before closing", async () => {
  const { pair, stream, client } = await tlsOverPair();
  const ended = new Promise<void>((resolve) => client.once("end", resolve));
  client.resume();
  await stream.handshake();
  client.end(); // the peer's close_notify and EOF
  assert.equal(await stream.read(new Uint8Array(10)), null);
  pair.hold(); // a peer slow to read
  let closeWritten = false;
  const closing = stream.closeWrite().then(() => closeWritten = true);
  await settle(20);
  assert.equal(closeWritten, false, "resolved with close_notify unwritten");
  assert.equal(pair.server.closed, false, "closed with close_notify unwritten");
  pair.release();
  await closing;
  await ended;
  stream.close();
  await settle();
  // close_notify, then the close (node:tls ends the TCP stream itself here).
  assert.deepEqual(pair.events.slice(pair.events.indexOf("hold") + 1), [
    "write",
    "close",
  ]);
  client.destroy();
});

Deno.test("TlsStream: an idle connection reads into a small buffer; a busy one's grows", async () => {
  const { pair, stream, client } = await tlsOverPair();
  const sizes: number[] = [];
  const read = pair.server.read.bind(pair.server);
  pair.server.read = (p: Uint8Array) => {
    sizes.push(p.byteLength);
    return read(p);
  };
  await stream.handshake();
  await settle();
  // After the handshake, the read waiting on an idle connection is small.
  assert.ok(sizes.at(-1)! <= 2048, `idle read of ${sizes.at(-1)} bytes`);
  // A megabyte from the client: reads grow to take whole TLS records.
  const data = new Uint8Array(1 << 20).fill(7);
  client.write(data);
  const into = new Uint8Array(65536);
  let got = 0;
  while (got < data.length) got += (await stream.read(into))!;
  assert.ok(Math.max(...sizes) >= 16384, `largest read ${Math.max(...sizes)}`);
  client.destroy();
  stream.abort();
});
