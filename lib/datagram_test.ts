import assert from "node:assert/strict";
import { createDatagramEndpoint, type DatagramTransport } from "./datagram.ts";
import { captureLogs, waitFor } from "./_test_helpers.ts";

captureLogs("error");

// Deno.listenDatagram is unstable: without --unstable-net (as in a plain
// `deno test -A` here) these tests cannot run, and say so.
const UNSTABLE_NET = "listenDatagram" in Deno;
if (!UNSTABLE_NET) {
  console.log(
    "UDP tests ignored: Deno.listenDatagram needs --unstable-net (deno task test runs them)",
  );
}
const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A client endpoint that collects what it receives. */
async function client(port: number, count: number) {
  const got: string[] = [];
  const all = Promise.withResolvers<void>();
  const lost = Promise.withResolvers<Error | null>();
  const { transport } = await createDatagramEndpoint(() => ({
    datagramReceived(data: Uint8Array) {
      got.push(text(data));
      if (got.length === count) all.resolve();
    },
    connectionLost: (error: Error | null) => lost.resolve(error),
  }), { remoteAddr: { hostname: "127.0.0.1", port } });
  return { transport, got, all: all.promise, lost: lost.promise };
}

Deno.test({
  ignore: !UNSTABLE_NET,
  name: "UDP: the echo server sends each datagram back, boundaries kept",
}, async () => {
  const { transport: server } = await createDatagramEndpoint(
    () => {
      let endpoint: DatagramTransport;
      return {
        connectionMade: (t: DatagramTransport) => void (endpoint = t),
        datagramReceived: (data: Uint8Array, addr: Deno.NetAddr) =>
          endpoint.sendto(data, addr),
      };
    },
    { localAddr: { hostname: "127.0.0.1", port: 0 } },
  );
  const port = server.getExtraInfo<Deno.NetAddr>("sockname")!.port;
  const c = await client(port, 3);
  for (
    const message of ["This is the message. ", "It will be sent ", "in parts."]
  ) {
    c.transport.sendto(message);
  }
  await c.all;
  assert.deepEqual(c.got.sort(), [
    "It will be sent ",
    "This is the message. ",
    "in parts.",
  ]);
  c.transport.close();
  assert.equal(await c.lost, null);
  server.close();
  await server.closed;
});

Deno.test({
  ignore: !UNSTABLE_NET,
  name: "UDP: with a remote address, datagrams from elsewhere are dropped",
}, async () => {
  const { transport: sender } = await createDatagramEndpoint(() => ({}));
  const { transport: stranger } = await createDatagramEndpoint(() => ({}));
  const senderPort = sender.getExtraInfo<Deno.NetAddr>("sockname")!.port;
  const got: string[] = [];
  const expected = Promise.withResolvers<void>();
  const { transport: filtered } = await createDatagramEndpoint(() => ({
    datagramReceived(data: Uint8Array) {
      got.push(text(data));
      if (text(data) === "expected") expected.resolve();
    },
  }), { remoteAddr: { hostname: "127.0.0.1", port: senderPort } });
  const to: Deno.NetAddr = {
    transport: "udp",
    hostname: "127.0.0.1",
    port: filtered.getExtraInfo<Deno.NetAddr>("sockname")!.port,
  };
  // Loopback delivers on send: once the stranger's datagram is sent, it is
  // queued ahead of the expected one.
  stranger.sendto("dropped", to);
  await waitFor(() => stranger.getWriteBufferSize() === 0, "stranger sent");
  sender.sendto("expected", to);
  await expected.promise;
  assert.deepEqual(got, ["expected"]);
  for (const t of [filtered, sender, stranger]) t.close();
});

Deno.test({
  ignore: !UNSTABLE_NET,
  name: "UDP: sendto after close throws; no address throws",
}, async () => {
  const { transport } = await createDatagramEndpoint(() => ({}));
  assert.throws(() => transport.sendto("x"), /needs an address/);
  transport.close();
  assert.throws(() => transport.sendto("x"), /after close/);
  await transport.closed;
});

Deno.test({
  ignore: !UNSTABLE_NET,
  name:
    "UDP: a received datagram holds its own bytes, not a view of a receive buffer",
}, async () => {
  const kept: Uint8Array[] = [];
  const three = Promise.withResolvers<void>();
  const { transport: receiver } = await createDatagramEndpoint(() => ({
    datagramReceived(data: Uint8Array) {
      kept.push(data);
      if (kept.length === 3) three.resolve();
    },
  }));
  const { transport: sender } = await createDatagramEndpoint(() => ({}));
  const to = receiver.getExtraInfo<Deno.NetAddr>("sockname")!;
  for (const word of ["one", "two", "three"]) sender.sendto(word, to);
  await three.promise;
  assert.deepEqual(kept.map(text).sort(), ["one", "three", "two"]);
  for (const data of kept) {
    assert.equal(data.buffer.byteLength, data.byteLength, "its own memory");
  }
  receiver.close();
  sender.close();
});
