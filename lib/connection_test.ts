import assert from "node:assert/strict";
import { createConnection } from "./connection.ts";
import { createServer } from "./server.ts";
import { FakeClock } from "./fake_clock.ts";
import {
  EchoProtocol,
  readAll,
  sender,
  silentServer,
  UNRESOLVABLE_HOST,
  waitFor,
  within10s,
} from "./_test_helpers.ts";

Deno.test("createConnection runs the protocol over the connection", async () => {
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
  });
  const chunks: Uint8Array[] = [];
  const { transport, protocol } = await createConnection(
    () => sender(["ping ", "pong"], chunks),
    { hostname: "127.0.0.1", port: server.addrs[0].port },
  );
  assert.equal(await protocol.lost.promise, null);
  assert.equal(transport.isClosing(), true);
  assert.equal(
    chunks.map((c) => new TextDecoder().decode(c)).join(""),
    "ping pong",
  );
});

Deno.test("hostname defaults to localhost; ::1 works as a literal", async () => {
  await using v4 = await createServer(() => new EchoProtocol());
  const first = await createConnection(() => sender(["a"]), {
    port: v4.addrs[0].port,
  });
  assert.equal(await first.protocol.lost.promise, null);

  await using v6 = await createServer(() => new EchoProtocol(), {
    hostname: "::1",
  });
  const second = await createConnection(() => sender(["b"]), {
    hostname: "::1",
    port: v6.addrs[0].port,
  });
  assert.equal(await second.protocol.lost.promise, null);
  const peer = second.transport.getExtraInfo<Deno.NetAddr>("peername")!;
  assert.equal(peer.hostname, "::1");
});

Deno.test("a refused connection's error names the host and the port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await createConnection(() => sender(), {
    hostname: "localhost",
    port,
  }).catch((e) => e);
  assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
  assert.match(
    error.message,
    new RegExp(`cannot connect to localhost port ${port}: `),
  );
});

Deno.test("an unknown host fails with NotFound naming the host", async () => {
  const error = await createConnection(() => sender(), {
    hostname: UNRESOLVABLE_HOST,
    port: 10000,
  }).catch((e) => e);
  assert.ok(error instanceof Deno.errors.NotFound, String(error));
  assert.ok(error.message.includes(UNRESOLVABLE_HOST), error.message);
});

Deno.test("a TLS handshake the server never answers ends at handshakeTimeout (60 s by default, on the clock)", async () => {
  using server = silentServer();
  const clock = new FakeClock();
  const connecting = createConnection(() => sender(), {
    hostname: "127.0.0.1",
    port: server.port,
    tls: {},
    clock,
  }).catch((e) => e);
  await server.first;
  await waitFor(() => clock.pending === 1, "the handshake's deadline");
  assert.equal(clock.untilNext(), 60);
  clock.advance(60);
  const error = await within10s(connecting);
  assert.ok(error instanceof Deno.errors.TimedOut, String(error));
  assert.equal(
    error.message,
    `cannot connect to 127.0.0.1 port ${server.port}: TLS handshake not done within 60 s`,
  );
  // The socket is closed then, not when the server next speaks: the server
  // reads the client's hello and then its end.
  const hello = await within10s(readAll(await server.first));
  assert.equal(hello[0], 22, "a TLS handshake record");
});

Deno.test("the signal aborts a TLS handshake in progress: its reason is thrown as it is", async () => {
  using server = silentServer();
  const controller = new AbortController();
  const connecting = createConnection(() => sender(), {
    hostname: "127.0.0.1",
    port: server.port,
    tls: {},
    signal: controller.signal,
  });
  await server.first; // connected; the handshake is waiting
  const reason = new Error("given up");
  controller.abort(reason);
  assert.equal(await within10s(connecting).catch((e) => e), reason);
});

Deno.test("handshakeTimeout must be a number of seconds > 0", async () => {
  for (const handshakeTimeout of [0, -1, NaN, Infinity]) {
    await assert.rejects(
      createConnection(() => sender(), {
        port: 1,
        tls: {},
        handshakeTimeout,
      }),
      new RangeError(
        `handshakeTimeout must be a number of seconds > 0, got ${handshakeTimeout}`,
      ),
    );
  }
});
