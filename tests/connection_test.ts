import assert from "node:assert/strict";
import { createConnection } from "../lib/connection.ts";
import { createServer } from "../lib/server.ts";
import { EchoClient, EchoServer } from "../echo/echo.ts";

Deno.test("createConnection runs the protocol over the connection", async () => {
  await using server = await createServer(() => new EchoServer(), {
    hostname: "127.0.0.1",
  });
  const chunks: Uint8Array[] = [];
  const { transport, protocol } = await createConnection(
    () =>
      new EchoClient(["ping ", "pong"], { onData: (d) => void chunks.push(d) }),
    { hostname: "127.0.0.1", port: server.addrs[0].port },
  );
  assert.equal(await protocol.done, null);
  assert.equal(transport.isClosing(), true);
  assert.equal(protocol.receivedBytes, 9);
  assert.equal(
    chunks.map((c) => new TextDecoder().decode(c)).join(""),
    "ping pong",
  );
});

Deno.test("hostname defaults to localhost; ::1 works as a literal", async () => {
  await using v4 = await createServer(() => new EchoServer());
  const first = await createConnection(() => new EchoClient(["a"]), {
    port: v4.addrs[0].port,
  });
  assert.equal(await first.protocol.done, null);

  await using v6 = await createServer(() => new EchoServer(), {
    hostname: "::1",
  });
  const second = await createConnection(() => new EchoClient(["b"]), {
    hostname: "::1",
    port: v6.addrs[0].port,
  });
  assert.equal(await second.protocol.done, null);
  const peer = second.transport.getExtraInfo<Deno.NetAddr>("peername")!;
  assert.equal(peer.hostname, "::1");
});

Deno.test("a refused connection's error names the host and the port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const error = await createConnection(() => new EchoClient(), {
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
  const error = await createConnection(() => new EchoClient(), {
    hostname: "no-such-host.invalid",
    port: 10000,
  }).catch((e) => e);
  assert.ok(error instanceof Deno.errors.NotFound, String(error));
  assert.match(error.message, /no-such-host\.invalid/);
});
