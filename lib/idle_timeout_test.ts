// Transport.setIdleTimeout on every stream transport (TCP, TLS, Unix
// socket, a child's pipes, memory), clients and servers alike, all on a
// FakeClock: no test here waits for real time to pass.

import assert from "node:assert/strict";
import {
  connectProcess,
  createConnection,
  createServer,
  type Protocol,
  type Transport,
} from "./mod.ts";
import { connectPair, FakeClock, MemoryTransport } from "./testing.ts";
import { testCerts } from "./_test_certs.ts";
import {
  captureLogs,
  EchoProtocol,
  readAll,
  silentServer,
  waitFor,
  within10s,
  writeAll,
} from "./_test_helpers.ts";

captureLogs("error");

/** A protocol that keeps its transport and what ended it. */
class Watched implements Protocol {
  transport!: Transport;
  lost = Promise.withResolvers<Error | null>();
  received = "";
  connectionMade(transport: Transport) {
    this.transport = transport;
  }
  dataReceived(data: Uint8Array) {
    this.received += new TextDecoder().decode(data);
  }
  connectionLost(error: Error | null) {
    this.lost.resolve(error);
  }
}

/**
 * The contract on one transport: not before `seconds`, aborted with
 * TimedOut within a sweep (a quarter of the timeout) after.
 */
async function expiresOnTime(
  clock: FakeClock,
  protocol: Watched,
  seconds: number,
): Promise<void> {
  assert.equal(protocol.transport.getIdleTimeout(), seconds);
  clock.advance(seconds * 0.9);
  assert.equal(protocol.transport.isClosing(), false, "not before its time");
  clock.advance(seconds * 0.35);
  const error = await within10s(protocol.lost.promise);
  assert.ok(error instanceof Deno.errors.TimedOut, String(error));
  assert.equal(error.message, `no traffic for ${seconds} s`);
  assert.equal(protocol.transport.getIdleTimeout(), null);
}

Deno.test("idle timeout: a TCP client's idleTimeout gives up on a silent server", async () => {
  using server = silentServer();
  const clock = new FakeClock();
  const { protocol } = await createConnection(() => new Watched(), {
    hostname: "127.0.0.1",
    port: server.port,
    idleTimeout: 30,
    clock,
  });
  await expiresOnTime(clock, protocol, 30);
  // The server sees the connection end.
  await within10s(readAll(await server.first).catch(() => null));
});

Deno.test("idle timeout: traffic either way restarts the count", async () => {
  const clock = new FakeClock();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
  });
  const { protocol, transport } = await createConnection(
    () => new Watched(),
    { hostname: "127.0.0.1", port: server.addrs[0].port, clock },
  );
  transport.setIdleTimeout(4);
  for (let i = 1; i <= 5; i++) {
    clock.advance(3);
    transport.write("x");
    await waitFor(() => protocol.received.length === i, "the echo");
  }
  assert.equal(transport.isClosing(), false, "15 s of traffic, 4 s apart");
  await expiresOnTime(clock, protocol, 4);
});

Deno.test("idle timeout: null turns it off; a new call restarts it from now", async () => {
  const clock = new FakeClock();
  const protocol = new Watched();
  MemoryTransport.connect(protocol, { clock });
  protocol.transport.setIdleTimeout(5);
  clock.advance(4);
  protocol.transport.setIdleTimeout(null);
  assert.equal(protocol.transport.getIdleTimeout(), null);
  clock.advance(100);
  assert.equal(protocol.transport.isClosing(), false);
  assert.equal(clock.pending, 0, "no timer left running");
  protocol.transport.setIdleTimeout(10);
  clock.advance(9);
  protocol.transport.setIdleTimeout(10); // restarts from now
  assert.equal(protocol.transport.isClosing(), false);
  await expiresOnTime(clock, protocol, 10);
});

Deno.test("idle timeout: timeoutConnection decides, here a goodbye and a clean close", async () => {
  const clock = new FakeClock();
  const calls: number[] = [];
  const server = new Watched();
  const client = new Watched();
  const [transport] = connectPair(
    Object.assign(server, {
      timeoutConnection() {
        calls.push(clock.now());
        server.transport.write("idle, bye\n");
        server.transport.close();
      },
    }),
    client,
    { clock },
  );
  transport.setIdleTimeout(2);
  clock.advance(2.5);
  assert.equal(calls.length, 1);
  assert.equal(await server.lost.promise, null, "closed, not aborted");
  assert.equal(await client.lost.promise, null);
  assert.equal(client.received, "idle, bye\n");
});

Deno.test("idle timeout: a timeoutConnection that throws ends that connection with its error", async () => {
  const clock = new FakeClock();
  await using server = await createServer(() => new EchoProtocol(), {
    hostname: "127.0.0.1",
  });
  const protocol = Object.assign(new Watched(), {
    timeoutConnection() {
      throw new Error("timeout handler bug");
    },
  });
  const { transport } = await createConnection(() => protocol, {
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    idleTimeout: 1,
    clock,
  });
  clock.advance(1.5);
  const error = await within10s(protocol.lost.promise);
  assert.equal(error?.message, "timeout handler bug");
  assert.equal(transport.isClosing(), true);
});

Deno.test("idle timeout: TLS, both ends (a server's idleTimeout, a client's)", async () => {
  const { cert, key, ca } = await testCerts();
  const clock = new FakeClock();
  const served: Watched[] = [];
  await using server = await createServer(() => {
    const protocol = new Watched();
    served.push(protocol);
    return protocol;
  }, { hostname: "localhost", tls: { cert, key }, idleTimeout: 8, clock });
  const { protocol } = await createConnection(() => new Watched(), {
    hostname: "localhost",
    port: server.addrs[0].port,
    tls: { caCerts: [ca] },
    idleTimeout: 6,
    clock,
  });
  await waitFor(() => served.length === 1, "accepted");
  // The client's 6 s comes first; the server then sees the connection cut.
  await expiresOnTime(clock, protocol, 6);
  const serverEnd = await within10s(served[0].lost.promise);
  assert.notEqual(serverEnd?.name, "TimedOut", "ended by the client");
});

Deno.test("idle timeout: a Unix socket server's connections", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/idle.sock`;
  const clock = new FakeClock();
  const served: Watched[] = [];
  try {
    await using server = await createServer(() => {
      const protocol = new Watched();
      served.push(protocol);
      return protocol;
    }, { path, idleTimeout: 3, clock });
    const conn = await Deno.connect({ transport: "unix", path });
    await waitFor(() => served.length === 1, "accepted");
    await expiresOnTime(clock, served[0], 3);
    assert.equal((await readAll(conn)).byteLength, 0, "the client sees EOF");
    conn.close();
    assert.equal(server.connectionCount, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("idle timeout: a child process that goes quiet", async () => {
  const clock = new FakeClock();
  // `cat` echoes, then sits waiting for more input.
  const { protocol, transport } = await connectProcess(
    () => new Watched(),
    "cat",
    [],
    { clock },
  );
  transport.setIdleTimeout(60);
  transport.write("hello\n");
  await waitFor(() => protocol.received === "hello\n", "cat's echo");
  await expiresOnTime(clock, protocol, 60);
});

Deno.test("idle timeout: bad seconds are a RangeError naming the option", async () => {
  const transport = MemoryTransport.connect({});
  for (const bad of [-1, NaN, Infinity]) {
    assert.throws(
      () => transport.setIdleTimeout(bad),
      new RangeError(
        `setIdleTimeout() must be a number of seconds >= 0 or null, got ${bad}`,
      ),
    );
    await assert.rejects(
      createConnection(() => ({}), { port: 1, idleTimeout: bad }),
      new RangeError(
        `idleTimeout must be a number of seconds >= 0 or null, got ${bad}`,
      ),
    );
  }
});

Deno.test("idle timeout: a server without one gives a connection none; a protocol may set its own", async () => {
  const clock = new FakeClock();
  const served: Watched[] = [];
  await using server = await createServer(() => {
    const protocol = new Watched();
    served.push(protocol);
    return protocol;
  }, { hostname: "127.0.0.1", clock });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await waitFor(() => served.length === 1, "accepted");
  assert.equal(served[0].transport.getIdleTimeout(), null);
  clock.advance(3600);
  assert.equal(served[0].transport.isClosing(), false);
  served[0].transport.setIdleTimeout(1);
  await writeAll(conn, new Uint8Array([1]));
  await waitFor(() => served[0].received.length === 1, "the byte");
  await expiresOnTime(clock, served[0], 1);
  conn.close();
});
