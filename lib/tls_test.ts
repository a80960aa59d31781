import assert from "node:assert/strict";
import { FakeClock, RecordingProtocol } from "./testing.ts";
import { createConnection } from "./connection.ts";
import { createServer } from "./server.ts";
import type { Protocol } from "./protocol.ts";
import type { Transport } from "./transport.ts";
import type { SocketTransport } from "./socket_transport.ts";
import { makeCerts, testCerts } from "./_test_certs.ts";
import {
  assertSameBytes,
  captureLogs,
  concat,
  EchoProtocol,
  echoThrough,
  EXAMPLE_MESSAGES,
  randomBytes,
  rawListener,
  readAll,
  sender,
  silentServer,
  waitFor,
  within10s,
  writeAll,
} from "./_test_helpers.ts";

captureLogs("error");

Deno.test("TLS: the seed's exchange, with half-close and ALPN", async () => {
  const { cert, key, ca } = await testCerts();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "localhost",
    tls: { cert, key, alpnProtocols: ["echo"] },
  });
  const chunks: Uint8Array[] = [];
  const { transport, protocol } = await createConnection(
    () => sender(EXAMPLE_MESSAGES, chunks),
    {
      hostname: "localhost",
      port: server.addrs[0].port,
      tls: { caCerts: [ca], alpnProtocols: ["echo"] },
    },
  );
  assert.equal(transport.getExtraInfo("alpnProtocol"), "echo");
  // The client end sees the server's certificate, without one of its own.
  const peer = transport.getExtraInfo("peercert");
  assert.equal(peer?.subject, "CN=localhost");
  assert.match(peer?.pem ?? "", /^-----BEGIN CERTIFICATE-----/);
  assert.equal(peer?.pem.trim(), cert.trim());
  assert.equal(transport.canWriteEof(), true);
  assert.equal(await protocol.lost.promise, null, "ended by the server's EOF");
  assert.equal(
    new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c]))),
    EXAMPLE_MESSAGES.join(""),
  );
});

/** An EchoServer over TLS on 127.0.0.1 and a client connected to it. */
async function echoOverTls(): Promise<
  { conn: Deno.TlsConn } & AsyncDisposable
> {
  const { cert, key, ca } = await testCerts();
  const server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
    tls: { cert, key },
  });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    caCerts: [ca],
  });
  return { conn, [Symbol.asyncDispose]: () => server[Symbol.asyncDispose]() };
}

Deno.test("TLS: 16 MiB echoed byte-exact", async () => {
  await using echo = await echoOverTls();
  const conn = echo.conn;
  const data = randomBytes(16 << 20);
  const back = await echoThrough(conn, data);
  conn.close();
  assertSameBytes(back, data);
});

Deno.test("TLS: a client's close_notify ends the echo even when the server is holding its reads back", async () => {
  // The client writes 16 MiB while reading, then reads the rest: its
  // close_notify and EOF reach the server while the server has stopped
  // reading (its write buffer is full). They must still end the echo.
  await using echo = await echoOverTls();
  const conn = echo.conn;
  const data = randomBytes(16 << 20);
  let written = false;
  const writing = writeAll(conn, data).then(() => conn.closeWrite())
    .then(() => written = true);
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  const readOne = async () => {
    const n = await conn.read(buffer);
    if (n !== null) parts.push(buffer.slice(0, n));
    return n;
  };
  while (!written && await readOne() !== null);
  await writing;
  const stuck = setTimeout(() => conn.close(), 10_000);
  try {
    while (await readOne() !== null);
  } catch (error) {
    assert.fail(`the server never ended the echo (${error})`);
  } finally {
    clearTimeout(stuck);
  }
  conn.close();
  assertSameBytes(concat(parts), data);
});

Deno.test("TLS: a server protocol that closes after writing ends with close_notify", async () => {
  const { cert, key, ca } = await testCerts();
  await using server = await createServer(() => ({
    connectionMade(transport: Transport) {
      transport.write("hello");
      transport.close();
    },
  }), { hostname: "127.0.0.1", tls: { cert, key } });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    caCerts: [ca],
  });
  // Deno's TLS client throws UnexpectedEof at a close without close_notify.
  const text = new TextDecoder().decode(await readAll(conn));
  assert.equal(text, "hello");
  conn.close();
});

Deno.test("TLS: a server protocol's abort() reaches the client as a cut, not a clean end", async () => {
  const { cert, key, ca } = await testCerts();
  await using server = await createServer(() => ({
    connectionMade(transport: Transport) {
      transport.write("hello");
      transport.abort(); // drops what is buffered: the data is not complete
    },
  }), { hostname: "127.0.0.1", tls: { cert, key } });
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    caCerts: [ca],
  });
  await assert.rejects(readAll(conn), Deno.errors.UnexpectedEof);
  conn.close();
});

Deno.test("TLS: a client refuses a certificate it does not trust", async () => {
  const { cert, key } = await testCerts();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
    tls: { cert, key },
  });
  const port = server.addrs[0].port;
  const error = await createConnection(() => sender(), {
    hostname: "127.0.0.1",
    port,
    tls: {},
  }).catch((e) => e);
  assert.ok(error instanceof Deno.errors.InvalidData, String(error));
  assert.equal(
    error.message,
    `cannot connect to 127.0.0.1 port ${port}: the server's certificate was refused: unable to verify the first certificate`,
  );
  // The server logs the failed handshake and goes on serving.
  assert.equal(server.isServing(), true);
});

Deno.test("TLS: a wrong server name is refused", async () => {
  const { cert, key, ca } = await testCerts();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
    tls: { cert, key },
  });
  const error = await createConnection(() => sender(), {
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    tls: { caCerts: [ca], serverName: "example.invalid" },
  }).catch((e) => e);
  assert.ok(error instanceof Deno.errors.InvalidData, String(error));
  assert.match(
    error.message,
    /the server's certificate was refused: .*example\.invalid/,
  );
});

Deno.test("TLS: a client that hangs up mid-handshake, without an alert, frees its connection at once", async () => {
  const { cert, key } = await testCerts();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
    // Beyond the test's own 10 s limit: only the hang-up can end it in time.
    tls: { cert, key },
    handshakeTimeout: 30,
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  // A TLS record header announcing a ClientHello that never comes.
  await writeAll(conn, new Uint8Array([22, 3, 1, 0, 200, 1]));
  await conn.closeWrite();
  // The server closes its end: the read ends, with EOF or a reset.
  await within10s(readAll(conn).catch(() => null));
  conn.close();
  server.close();
  server.closeClients();
  await within10s(server.waitClosed());
});

Deno.test("startTls upgrades a client connection in place (STARTTLS against Python)", async () => {
  const { certFile, keyFile, ca } = await testCerts();
  const script = `
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv = socket.create_server(("127.0.0.1", 0))
print(srv.getsockname()[1], flush=True)
conn, _ = srv.accept()
assert conn.recv(100) == b"STARTTLS\\n"
conn.sendall(b"GO\\n")
tls = ctx.wrap_socket(conn, server_side=True)
data = b""
while not data.endswith(b"\\n"):
    data += tls.recv(100)
tls.sendall(b"secret echo: " + data)
tls.unwrap()
conn.close()
`;
  const python = new Deno.Command("python3", {
    args: ["-c", script, certFile, keyFile],
    stdout: "piped",
  }).spawn();
  const reader = python.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const port = Number((await reader.read()).value!.trim());
  reader.releaseLock();
  const upgraded = Promise.withResolvers<SocketTransport>();
  const received: string[] = [];
  const lost = Promise.withResolvers<Error | null>();
  let first = true;
  const protocol: Protocol = {
    connectionMade: (t) => t.write("STARTTLS\n"),
    dataReceived(data) {
      received.push(new TextDecoder().decode(data));
      if (first) {
        first = false;
        plain.pauseReading();
        plain.startTls({ hostname: "localhost", caCerts: [ca] }).then(
          upgraded.resolve,
          upgraded.reject,
        );
      }
    },
    connectionLost: (error) => lost.resolve(error),
  };
  const { transport: plain } = await createConnection(() => protocol, {
    hostname: "127.0.0.1",
    port,
  });
  const tls = await upgraded.promise;
  assert.equal(tls.getExtraInfo("peercert")?.subject, "CN=localhost");
  tls.write("hello\n");
  assert.equal(await lost.promise, null);
  assert.deepEqual(received.join(""), "GO\nsecret echo: hello\n");
  assert.equal((await python.status).code, 0);
  await python.stdout.cancel().catch(() => {});
});

Deno.test("startTls refuses a pending read, saying why", async () => {
  const recorder = new RecordingProtocol();
  await using server = await createServer(() => recorder, {
    hostname: "127.0.0.1",
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await recorder.made.promise;
  const client = new RecordingProtocol();
  const { transport } = await createConnection(() => client, {
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await assert.rejects(
    transport.startTls(),
    /pauseReading\(\) in dataReceived first/,
  );
  transport.close();
  conn.close();
});

Deno.test("startTls gives up a handshake the server never answers at handshakeTimeout", async () => {
  using server = silentServer();
  const client = new RecordingProtocol();
  client.onMade = (self) => self.transport.pauseReading();
  const clock = new FakeClock();
  const { transport } = await createConnection(() => client, {
    hostname: "127.0.0.1",
    port: server.port,
    clock,
  });
  const upgrading = transport.startTls({ handshakeTimeout: 20 })
    .catch((e) => e);
  await waitFor(() => clock.pending === 1, "the handshake's deadline");
  clock.advance(20);
  const error = await within10s(upgrading);
  assert.ok(error instanceof Deno.errors.TimedOut, String(error));
  assert.equal(error.message, "TLS handshake not done within 20 s");
  assert.equal(await client.lost.promise, error, "the connection is lost");
});

/**
 * A STARTTLS server that answers `OK` and then never reads again, and a
 * client that sends `STARTTLS` and 64 MiB behind it, then calls `upgrade`
 * on its transport from `dataReceived`.
 */
async function startTlsBehindUnreadWrites(
  upgrade: (transport: SocketTransport) => Promise<SocketTransport>,
): Promise<{ error: unknown; lost: Error | null }> {
  const { listener, port } = rawListener();
  const served = (async () => {
    const conn = await listener.accept();
    const buffer = new Uint8Array(16);
    await conn.read(buffer); // "STARTTLS\n" and perhaps more: enough
    await writeAll(conn, new TextEncoder().encode("OK\n"));
    return conn;
  })();
  const client = new RecordingProtocol();
  const outcome = Promise.withResolvers<unknown>();
  client.onMade = (self) => {
    self.transport.write("STARTTLS\n");
    self.transport.write(new Uint8Array(64 << 20));
  };
  client.onData = (_data, self) => {
    const transport = self.transport as SocketTransport;
    transport.pauseReading();
    upgrade(transport).then(outcome.resolve, outcome.resolve);
  };
  await createConnection(() => client, { hostname: "127.0.0.1", port });
  const error = await within10s(outcome.promise);
  const lost = await within10s(client.lost.promise);
  (await served).close();
  listener.close();
  return { error, lost };
}

Deno.test("startTls: handshakeTimeout covers the wait for writes a peer never reads", async () => {
  const { error, lost } = await startTlsBehindUnreadWrites((transport) =>
    transport.startTls({ handshakeTimeout: 0.5 })
  );
  assert.ok(error instanceof Deno.errors.TimedOut, String(error));
  assert.equal(lost, error, "connectionLost gets the same error");
});

Deno.test("startTls: an AbortSignal gives up the upgrade", async () => {
  const controller = new AbortController();
  const reason = new Error("given up");
  const { error, lost } = await startTlsBehindUnreadWrites((transport) => {
    const upgrade = transport.startTls({ signal: controller.signal });
    controller.abort(reason);
    return upgrade;
  });
  assert.equal(error, reason);
  assert.equal(lost, reason);
  const aborted = AbortSignal.abort(reason);
  const client = new RecordingProtocol();
  using server = silentServer();
  const { transport } = await createConnection(() => client, {
    hostname: "127.0.0.1",
    port: server.port,
  });
  transport.pauseReading();
  await assert.rejects(transport.startTls({ signal: aborted }), reason);
  assert.ok(!transport.isClosing(), "refused before anything was done");
  transport.close();
});

Deno.test("Server.setTls: new handshakes use the new certificate; unusable ones are refused with a reason", async () => {
  const first = await testCerts();
  const second = await makeCerts("Echo Second CA");
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
    tls: { cert: first.cert, key: first.key },
  });
  const port = server.addrs[0].port;
  const handshake = async (ca: string) => {
    const conn = await Deno.connectTls({
      hostname: "localhost",
      port,
      caCerts: [ca],
    });
    try {
      await conn.handshake();
    } finally {
      conn.close();
    }
  };
  await handshake(first.ca);
  await server.setTls({ cert: second.cert, key: second.key });
  await handshake(second.ca);
  await assert.rejects(handshake(first.ca), /certificate/i);
  await assert.rejects(
    server.setTls({ cert: second.cert, key: first.key }),
    /the private key is not the certificate's \(CN=localhost\)/,
  );
  await assert.rejects(
    server.setTls({
      cert: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
      key: second.key,
    }),
    /the certificate does not parse/,
  );
  await assert.rejects(
    server.setTls({ cert: second.cert, key: "not a key" }),
    /the private key does not parse/,
  );
  await handshake(second.ca); // still the second
  await using plain = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
  });
  await assert.rejects(
    plain.setTls({ cert: second.cert, key: second.key }),
    /setTls\(\) on a server that does not serve TLS/,
  );
  await assert.rejects(
    createServer(() => new EchoProtocol(), {
      hostname: "127.0.0.1",
      tls: { cert: first.cert, key: second.key },
    }),
    /the private key is not the certificate's/,
  );
});

/**
 * A server protocol that echoes, and on a `STARTTLS` line answers `GO` and
 * upgrades its end to TLS with `options`; the outcome of each upgrade is
 * pushed to `upgrades`.
 */
function startTlsEcho(
  options: Parameters<SocketTransport["startTls"]>[0],
  upgrades: Promise<SocketTransport>[],
  lost: Promise<Error | null>[],
) {
  return () => {
    const done = Promise.withResolvers<Error | null>();
    lost.push(done.promise);
    let transport!: SocketTransport;
    const protocol: Protocol = {
      connectionMade: (t) => void (transport = t as SocketTransport),
      dataReceived(data) {
        if (new TextDecoder().decode(data) === "STARTTLS\n") {
          transport.pauseReading();
          transport.write("GO\n");
          const upgrade = transport.startTls(options);
          upgrades.push(upgrade);
          upgrade.then((tls) => transport = tls, () => {});
        } else {
          transport.write(data);
        }
      },
      connectionLost: (error) => done.resolve(error),
    };
    return protocol;
  };
}

/** Sends STARTTLS over `conn` and reads up to the server's `GO`. */
async function askStartTls(conn: Deno.Conn): Promise<void> {
  await writeAll(conn, new TextEncoder().encode("STARTTLS\n"));
  const buffer = new Uint8Array(3);
  let got = 0;
  while (got < 3) {
    const n = await conn.read(buffer.subarray(got));
    if (n === null) throw new Error("closed before GO");
    got += n;
  }
  assert.equal(new TextDecoder().decode(buffer), "GO\n");
}

Deno.test("startTls on a server's connection: plain then TLS, nothing lost or reordered; the server tracks it through", async () => {
  const { cert, key, ca } = await testCerts();
  const upgrades: Promise<SocketTransport>[] = [];
  const lost: Promise<Error | null>[] = [];
  const records: string[] = [];
  await using server = await createServer(
    startTlsEcho({ cert, key }, upgrades, lost),
    {
      hostname: "127.0.0.1",
      onConnectionEnd: (r) =>
        records.push(`${r.outcome} ${r.bytesReceived} ${r.bytesSent}`),
    },
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await writeAll(conn, new TextEncoder().encode("plain "));
  const plain = new Uint8Array(6);
  let got = 0;
  while (got < 6) got += (await conn.read(plain.subarray(got)))!;
  assert.equal(new TextDecoder().decode(plain), "plain ");
  await askStartTls(conn);
  const tls = await Deno.startTls(conn, {
    hostname: "localhost",
    caCerts: [ca],
  });
  await writeAll(tls, new TextEncoder().encode("secure"));
  const secure = new Uint8Array(6);
  got = 0;
  while (got < 6) got += (await tls.read(secure.subarray(got)))!;
  assert.equal(new TextDecoder().decode(secure), "secure");
  const upgraded = await upgrades[0];
  assert.equal(upgraded.getExtraInfo("alpnProtocol"), null);
  assert.equal(server.connectionCount, 1, "still counted after the upgrade");
  const data = randomBytes(1 << 20);
  const echoed = await echoThrough(tls, data, 65536);
  assertSameBytes(echoed, data);
  tls.close();
  assert.equal(await lost[0], null);
  await waitFor(() => records.length === 1, "the connection's record");
  assert.match(records[0], /^closed \d+ \d+$/);
  const [, bytesIn] = records[0].split(" ").map(Number);
  assert.ok(bytesIn >= (1 << 20) + 6 + 9, records[0]);
});

Deno.test("startTls on a server's connection: garbage instead of a ClientHello loses that connection only", async () => {
  const { cert, key, ca } = await testCerts();
  const upgrades: Promise<SocketTransport>[] = [];
  const lost: Promise<Error | null>[] = [];
  await using server = await createServer(
    startTlsEcho({ cert, key }, upgrades, lost),
    { hostname: "127.0.0.1" },
  );
  const port = server.addrs[0].port;
  const bad = await Deno.connect({ hostname: "127.0.0.1", port });
  await askStartTls(bad);
  await writeAll(bad, new TextEncoder().encode("this is not TLS\r\n\r\n"));
  await assert.rejects(upgrades[0]);
  assert.ok((await lost[0]) instanceof Error, "lost with the error");
  bad.close();
  // The server goes on: the next client upgrades.
  const good = await Deno.connect({ hostname: "127.0.0.1", port });
  await askStartTls(good);
  const tls = await Deno.startTls(good, {
    hostname: "localhost",
    caCerts: [ca],
  });
  const echoed = await echoThrough(tls, new TextEncoder().encode("fine"));
  assert.equal(new TextDecoder().decode(echoed), "fine");
  tls.close();
  assert.equal(await lost[1], null);
});

Deno.test("startTls on a server's connection: a handshake that never comes ends at handshakeTimeout, socket freed", async () => {
  const { cert, key } = await testCerts();
  const upgrades: Promise<SocketTransport>[] = [];
  const lost: Promise<Error | null>[] = [];
  const clock = new FakeClock();
  await using server = await createServer(
    startTlsEcho({ cert, key, handshakeTimeout: 30 }, upgrades, lost),
    { hostname: "127.0.0.1", clock },
  );
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await askStartTls(conn);
  await waitFor(() => clock.pending === 1, "the handshake's deadline");
  clock.advance(30);
  const error = await within10s(upgrades[0].catch((e) => e));
  assert.ok(error instanceof Deno.errors.TimedOut, String(error));
  assert.equal(await lost[0], error);
  // The server let the socket go: the client sees it end.
  assert.equal(
    await within10s(conn.read(new Uint8Array(8)).catch(() => null)),
    null,
  );
  conn.close();
  await waitFor(() => server.connectionCount === 0, "no connection left");
});

Deno.test("startTls on a server's connection needs the server's cert and key", async () => {
  const recorder = new RecordingProtocol();
  await using server = await createServer(() => recorder, {
    hostname: "127.0.0.1",
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await recorder.made.promise;
  recorder.transport.pauseReading();
  await assert.rejects(
    (recorder.transport as SocketTransport).startTls({ hostname: "x" }),
    /startTls\(\) on the server end needs the server's cert and key/,
  );
  assert.ok(!recorder.transport.isClosing(), "refused before anything");
  conn.close();
});
