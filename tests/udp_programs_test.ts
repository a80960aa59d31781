// The echo programs over UDP, as real processes.

import assert from "node:assert/strict";
import { createDatagramEndpoint } from "../lib/mod.ts";
import { runProgram, ServerProcess } from "./_process.ts";

const text = (data: Uint8Array) => new TextDecoder().decode(data);

/** A client endpoint that collects what it receives. */
async function client(port: number, count: number) {
  const got: string[] = [];
  const all = Promise.withResolvers<void>();
  const { transport } = await createDatagramEndpoint(() => ({
    datagramReceived(data: Uint8Array) {
      got.push(text(data));
      if (got.length === count) all.resolve();
    },
  }), { remoteAddr: { hostname: "127.0.0.1", port } });
  return { transport, got, all: all.promise };
}

Deno.test("UDP: main_server.ts --udp echoes and logs the seed's lines", async () => {
  const server = await ServerProcess.start(
    ["--udp", "--host", "127.0.0.1"],
    ["--allow-net", "--unstable-net"],
  );
  try {
    const c = await client(server.port, 1);
    c.transport.sendto("hello over UDP");
    await c.all;
    assert.deepEqual(c.got, ["hello over UDP"]);
    const local = c.transport.getExtraInfo<Deno.NetAddr>("sockname")!;
    const name = `EchoServer_127.0.0.1_${local.port}`;
    await server.waitForLine((l) => l === `${name}: sent b'hello over UDP'`);
    assert.ok(server.lines.includes(`${name}: received b'hello over UDP'`));
    c.transport.close();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    assert.deepEqual(server.lines.slice(-2), [
      "main: closing server",
      "main: closing event loop",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("UDP: --udp without --unstable-net says what to do, exit 1", async () => {
  const result = await runProgram("main_server.ts", ["--udp", "--port", "0"]);
  assert.equal(result.code, 1);
  assert.equal(result.lines.length, 1, result.stderr);
  assert.equal(
    result.lines[0],
    "main: --udp needs Deno's --unstable-net: deno run --allow-net --unstable-net main_server.ts --udp --port 0",
  );
});

Deno.test("UDP: main_client.ts --udp sends each message and logs each echo", async () => {
  const server = await ServerProcess.start(
    ["--udp", "--host", "127.0.0.1"],
    ["--allow-net", "--unstable-net"],
  );
  try {
    const result = await runProgram("main_client.ts", [
      "--udp",
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
    ], { permissions: ["--allow-net", "--unstable-net"] });
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.lines, [
      "main: waiting for client to complete",
      `EchoClient: sending to 127.0.0.1 port ${server.port} (UDP)`,
      "EchoClient: sending b'This is the message. '",
      "EchoClient: received b'This is the message. '",
      "EchoClient: sending b'It will be sent '",
      "EchoClient: received b'It will be sent '",
      "EchoClient: sending b'in parts.'",
      "EchoClient: received b'in parts.'",
      "main: closing event loop",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("UDP: main_client.ts --udp exits 1 when a datagram's echo is lost", async () => {
  // A UDP socket that receives and never answers.
  const silent = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  try {
    const port = (silent.addr as Deno.NetAddr).port;
    const result = await runProgram("main_client.ts", [
      "--udp",
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--timeout",
      "0.3",
      "--log-level",
      "error",
    ], { permissions: ["--allow-net", "--unstable-net"] });
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: datagram 1 of 3 got no echo from 127.0.0.1 port ${port} (UDP) within 0.3 s`,
    ]);
  } finally {
    silent.close();
  }
});

Deno.test("UDP: main_client.ts --udp with a stream-only flag is a usage error", async () => {
  for (const flag of ["--tls", "--stdin", "--connections=2"]) {
    const result = await runProgram("main_client.ts", ["--udp", flag]);
    assert.equal(result.code, 2, flag);
    assert.match(result.lines[0], /--udp cannot be used with --/);
  }
});

/** A UDP socket on 127.0.0.1 answering each datagram with `answer(data)`. */
function answeringServer(answer: (data: Uint8Array) => Uint8Array) {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const serving = (async () => {
    for await (const [data, addr] of socket) {
      await socket.send(answer(data), addr);
    }
  })().catch(() => {});
  return {
    port: (socket.addr as Deno.NetAddr).port,
    async close() {
      socket.close();
      await serving;
    },
  };
}

Deno.test("UDP: main_client.ts --udp exits 1 when what comes back is not the echo", async () => {
  const server = answeringServer((data) =>
    new TextEncoder().encode(new TextDecoder().decode(data).toUpperCase())
  );
  try {
    const result = await runProgram("main_client.ts", [
      "--udp",
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--log-level",
      "error",
    ], { permissions: ["--allow-net", "--unstable-net"] });
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: the echo of datagram 1 of 3 from 127.0.0.1 port ${server.port} (UDP) differs from what was sent at byte 1: 21 bytes came back for 21 sent`,
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("UDP: main_client.ts --udp refuses a message too long for one datagram", async () => {
  const server = answeringServer((data) => data);
  try {
    const result = await runProgram("main_client.ts", [
      "--udp",
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--message",
      "x".repeat(70_000),
      "--log-level",
      "error",
    ], { permissions: ["--allow-net", "--unstable-net"] });
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      "main: datagram 1 of 1 is 70000 bytes: too long for one UDP datagram (at most 65507 bytes)",
    ]);
  } finally {
    await server.close();
  }
});
