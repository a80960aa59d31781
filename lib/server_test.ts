import assert from "node:assert/strict";
import { FakeClock, RecordingProtocol } from "./testing.ts";
import type { ConnectionRecord } from "./connection_record.ts";
import { createServer, Server } from "./server.ts";
import { resolveHost } from "./_resolve.ts";
import type { Protocol } from "./protocol.ts";
import type { Transport } from "./transport.ts";
import { readAll, recording, waitFor, writeAll } from "./_test_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A minimal echo protocol. */
function echo(): Protocol {
  let transport: Transport;
  return {
    connectionMade: (t) => transport = t,
    dataReceived: (data) => transport.write(data),
  };
}

/** One request/response over a fresh connection: send, half-close, read. */
async function exchange(
  hostname: string,
  port: number,
  text: string,
): Promise<string> {
  const conn = await Deno.connect({ hostname, port });
  try {
    await writeAll(conn, encoder.encode(text));
    await conn.closeWrite();
    return decoder.decode(await readAll(conn));
  } finally {
    conn.close();
  }
}

Deno.test("a server given a name listens on every address it resolves to", async () => {
  await using server = await createServer(echo, { hostname: "localhost" });
  const expected = await resolveHost("localhost");
  assert.deepEqual(server.addrs.map((addr) => addr.hostname), expected);
  const port = server.addrs[0].port;
  assert.ok(port > 0);
  for (const addr of server.addrs) {
    assert.equal(addr.port, port, "every listener shares one port");
    assert.equal(await exchange(addr.hostname, port, "hi"), "hi");
  }
});

Deno.test("IPv6 and IPv4 literals both serve", async () => {
  for (const hostname of ["::1", "127.0.0.1", "[::1]"]) {
    await using server = await createServer(echo, { hostname });
    const host = server.addrs[0].hostname;
    assert.equal(host, hostname.replace(/[[\]]/g, ""));
    assert.equal(
      await exchange(host, server.addrs[0].port, hostname),
      hostname,
    );
  }
});

Deno.test("a taken port is refused with AddrInUse", async () => {
  await using server = await createServer(echo, { hostname: "127.0.0.1" });
  await assert.rejects(
    createServer(echo, { hostname: "127.0.0.1", port: server.addrs[0].port }),
    Deno.errors.AddrInUse,
  );
});

Deno.test("an exception in one connection leaves the others working", async () => {
  let count = 0;
  const lost: Promise<Error | null>[] = [];
  await using server = await createServer(() => {
    const recorder = new RecordingProtocol();
    lost.push(recorder.lost.promise);
    if (count++ === 0) {
      recorder.onData = () => {
        throw new Error("protocol bug");
      };
    } else {
      recorder.onData = (data, self) => self.transport.write(data);
    }
    return recorder;
  }, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  const broken = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(broken, encoder.encode("crash"));
  assert.equal((await readAll(broken)).byteLength, 0);
  broken.close();
  const error = await lost[0];
  assert.equal(error?.message, "protocol bug");
  assert.equal(await exchange("127.0.0.1", port, "still here"), "still here");
});

Deno.test("a factory that throws costs one connection, not the server", async () => {
  let calls = 0;
  await using server = await createServer(() => {
    if (calls++ === 0) throw new Error("factory bug");
    return echo();
  }, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  assert.equal(await exchange("127.0.0.1", port, "first"), "");
  assert.equal(await exchange("127.0.0.1", port, "second"), "second");
});

Deno.test("peers that reset right after connecting do not stop accepting", async () => {
  await using server = await createServer(echo, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  // SO_LINGER 0 makes close() send a reset; Deno cannot set it, Python can.
  const script = `
import socket, struct, sys
for _ in range(50):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
`;
  const result = await new Deno.Command("python3", {
    args: ["-c", script, String(port)],
  }).output();
  assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
  assert.equal(
    await exchange("127.0.0.1", port, "after resets"),
    "after resets",
  );
});

Deno.test("maxConnections closes connections over the limit and goes on", async () => {
  await using server = await createServer(echo, {
    hostname: "127.0.0.1",
    maxConnections: 2,
  });
  const port = server.addrs[0].port;
  const held = [
    await Deno.connect({ hostname: "127.0.0.1", port }),
    await Deno.connect({ hostname: "127.0.0.1", port }),
  ];
  // Make sure both are being served before the third arrives.
  for (const conn of held) {
    await writeAll(conn, encoder.encode("x"));
    assert.equal(await conn.read(new Uint8Array(1)), 1);
  }
  assert.equal(server.connectionCount, 2);
  const third = await Deno.connect({ hostname: "127.0.0.1", port });
  assert.equal((await readAll(third)).byteLength, 0, "closed at once");
  third.close();
  held.pop()!.close();
  // One slot is free again once the server has seen that close.
  await waitFor(() => server.connectionCount === 1, "the server saw the close");
  assert.equal(await exchange("127.0.0.1", port, "room again"), "room again");
  held[0].close();
});

Deno.test("close() stops accepting; open connections go on; waitClosed waits for them", async () => {
  const server = await createServer(echo, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  const open = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(open, encoder.encode("a"));
  assert.equal(await open.read(new Uint8Array(1)), 1);
  const stopped = server.close();
  assert.equal(server.isServing(), false);
  await stopped;
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
  let waited = false;
  const closed = server.waitClosed().then(() => waited = true);
  await writeAll(open, encoder.encode("still served"));
  await open.closeWrite();
  assert.equal(decoder.decode(await readAll(open)), "still served");
  open.close();
  await closed;
  assert.equal(waited, true);
  assert.equal(server.connectionCount, 0);
});

Deno.test("closeClients flushes and closes; abortClients drops at once", async () => {
  const { factory, recorders } = recording();
  const server = await createServer(factory, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  const a = await Deno.connect({ hostname: "127.0.0.1", port });
  const b = await Deno.connect({ hostname: "127.0.0.1", port });
  await waitFor(() => recorders.length === 2, "both connections accepted");
  await Promise.all(recorders.map((r) => r.made.promise));
  recorders[0].transport.write("goodbye");
  server.closeClients();
  assert.equal(decoder.decode(await readAll(a)), "goodbye");
  await recorders[0].lost.promise;
  server.close();
  await server.waitClosed();
  assert.equal(server.abortClients(), 0);
  a.close();
  b.close();
});

Deno.test("abortClients counts and ends every connection", async () => {
  const { factory, recorders } = recording();
  const server = await createServer(factory, { hostname: "127.0.0.1" });
  const port = server.addrs[0].port;
  const conns = await Promise.all(
    [1, 2, 3].map(() => Deno.connect({ hostname: "127.0.0.1", port })),
  );
  await waitFor(() => server.connectionCount === 3, "three connections");
  server.close();
  assert.equal(server.abortClients(), 3);
  await server.waitClosed();
  for (const recorder of recorders) {
    assert.equal(await recorder.lost.promise, null);
  }
  for (const conn of conns) conn.close();
});

Deno.test("await using closes the server and its connections", async () => {
  let port = 0;
  const recorder = new RecordingProtocol();
  {
    await using server = await createServer(() => recorder, {
      hostname: "127.0.0.1",
    });
    assert.ok(server instanceof Server);
    port = server.addrs[0].port;
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await recorder.made.promise;
    conn.close();
  }
  assert.deepEqual(recorder.events.at(-1), "lost");
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
});

Deno.test("serveForever returns once its signal aborts and connections end", async () => {
  const server = await createServer(echo, { hostname: "127.0.0.1" });
  const stop = new AbortController();
  const serving = server.serveForever(stop.signal);
  assert.equal(
    await exchange("127.0.0.1", server.addrs[0].port, "ping"),
    "ping",
  );
  stop.abort();
  await serving;
  assert.equal(server.isServing(), false);
});

Deno.test("idleTimeout aborts a silent connection at its time, spares a busy one, and records it", async () => {
  const { factory, recorders } = recording({ echo: true });
  const clock = new FakeClock();
  const records: ConnectionRecord[] = [];
  await using server = await createServer(factory, {
    hostname: "127.0.0.1",
    idleTimeout: 2,
    clock,
    onConnectionEnd: (record) => records.push(record),
  });
  const port = server.addrs[0].port;
  const silent = await Deno.connect({ hostname: "127.0.0.1", port });
  const busy = await Deno.connect({ hostname: "127.0.0.1", port });
  await waitFor(() => recorders.length === 2, "both accepted");
  const byte = new Uint8Array(1);
  // The busy client makes a round trip every half second of the clock.
  for (let i = 0; i < 3; i++) {
    clock.advance(0.5);
    await writeAll(busy, byte);
    assert.equal(await busy.read(byte), 1);
  }
  assert.equal(recorders[0].transport.isClosing(), false, "not before 2 s");
  for (let i = 0; i < 3; i++) {
    clock.advance(0.5);
    await writeAll(busy, byte);
    assert.equal(await busy.read(byte), 1);
  }
  // 3 s on the clock: the silent one is over, within a sweep of its 2 s.
  const lost = await recorders[0].lost.promise;
  assert.ok(lost instanceof Deno.errors.TimedOut, String(lost));
  assert.equal(lost.message, "no traffic for 2 s");
  assert.equal((await readAll(silent)).byteLength, 0, "closed by the server");
  assert.equal(recorders[1].transport.isClosing(), false, "busy one kept");
  await waitFor(() => records.length === 1, "the record");
  assert.equal(records[0].outcome, "idle_timeout");
  silent.close();
  busy.close();
});

Deno.test("idleTimeout calls the protocol's timeoutConnection, which may say goodbye", async () => {
  const clock = new FakeClock();
  await using server = await createServer(() => {
    let transport: Transport;
    return {
      connectionMade: (t: Transport) => transport = t,
      timeoutConnection() {
        transport.write("bye\n");
        transport.close();
      },
    };
  }, { hostname: "127.0.0.1", idleTimeout: 1, clock });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await waitFor(() => server.connectionCount === 1, "accepted");
  clock.advance(1.5);
  assert.equal(new TextDecoder().decode(await readAll(conn)), "bye\n");
  conn.close();
});

Deno.test("createServer rejects bad limits with a RangeError", async () => {
  await assert.rejects(createServer(echo, { port: 70000 }), RangeError);
  await assert.rejects(createServer(echo, { maxConnections: 0 }), RangeError);
  await assert.rejects(createServer(echo, { idleTimeout: -1 }), RangeError);
  await assert.rejects(createServer(echo, { handshakeTimeout: 0 }), RangeError);
  await assert.rejects(
    createServer(echo, { maxConnectionsPerIp: -1 }),
    RangeError,
  );
  await assert.rejects(
    createServer(echo, { proxyProtocol: true, proxyProtocolFrom: ["10/8"] }),
    /not an address range/,
  );
  await assert.rejects(
    createServer(echo, { proxyProtocolFrom: ["10.0.0.0/8"] }),
    /proxyProtocolFrom needs proxyProtocol/,
  );
});

Deno.test("handshakeTimeout (10 s by default, on the clock) closes a connection that sends no PROXY header", async () => {
  const clock = new FakeClock();
  const server = await createServer(echo, {
    hostname: "127.0.0.1",
    proxyProtocol: true,
    clock,
  });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  try {
    await waitFor(() => server.connectionCount === 1, "accepted");
    await waitFor(() => clock.pending === 1, "the header's deadline");
    clock.advance(9.9);
    assert.equal(server.connectionCount, 1, "not before 10 s");
    clock.advance(0.1);
    // The server closes it: the read ends without a byte.
    assert.equal(await conn.read(new Uint8Array(1)), null);
    assert.equal(server.connectionCount, 0);
  } finally {
    conn.close();
    await server.close();
    await server.waitClosed();
  }
});
