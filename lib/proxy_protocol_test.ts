import assert from "node:assert/strict";
import { ProxyHeaderError, readProxyHeader } from "./proxy_protocol.ts";
import { createServer } from "./server.ts";
import {
  captureLogs,
  EchoProtocol,
  readAll,
  receiveQueue,
  recording,
  waitFor,
  writeAll,
} from "./_test_helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** A ByteStream over fixed bytes, read in pieces of `step`. */
function bytes(data: Uint8Array, step = 1000) {
  let offset = 0;
  return {
    read(p: Uint8Array) {
      if (offset >= data.length) return Promise.resolve(null);
      const n = Math.min(step, p.length, data.length - offset);
      p.set(data.subarray(offset, offset + n));
      offset += n;
      return Promise.resolve(n);
    },
    write: () => Promise.resolve(0),
    closeWrite: () => Promise.resolve(),
    close() {},
  };
}

function v2(family: number, addresses: number[], command = 1): Uint8Array {
  const head = [
    0x0d,
    0x0a,
    0x0d,
    0x0a,
    0x00,
    0x0d,
    0x0a,
    0x51,
    0x55,
    0x49,
    0x54,
    0x0a,
  ];
  return new Uint8Array([
    ...head,
    0x20 | command,
    family,
    addresses.length >> 8,
    addresses.length & 0xff,
    ...addresses,
  ]);
}

Deno.test("PROXY v1: TCP4 and TCP6 lines, read a byte at a time, keep what follows", async () => {
  const four = await readProxyHeader(
    bytes(encode("PROXY TCP4 203.0.113.7 127.0.0.1 56324 10000\r\nhello"), 1),
  );
  assert.deepEqual(four.source, {
    transport: "tcp",
    hostname: "203.0.113.7",
    port: 56324,
  });
  assert.deepEqual(four.destination, {
    transport: "tcp",
    hostname: "127.0.0.1",
    port: 10000,
  });
  assert.equal(
    four.rest.length,
    0,
    "read a byte at a time: nothing past the header",
  );
  const whole = await readProxyHeader(
    bytes(encode("PROXY TCP4 203.0.113.7 127.0.0.1 56324 10000\r\nhello")),
  );
  assert.equal(
    new TextDecoder().decode(whole.rest),
    "hello",
    "what came with it is kept",
  );
  const six = await readProxyHeader(
    bytes(encode("PROXY TCP6 2001:db8::1 ::1 4000 443\r\n")),
  );
  assert.equal(six.source?.hostname, "2001:db8::1");
  const unknown = await readProxyHeader(bytes(encode("PROXY UNKNOWN\r\n")));
  assert.equal(unknown.source, undefined);
});

Deno.test("PROXY v2: TCP4, TCP6 and LOCAL", async () => {
  const four = await readProxyHeader(bytes(
    new Uint8Array([
      ...v2(0x11, [203, 0, 113, 7, 127, 0, 0, 1, 0xdc, 0x04, 0x27, 0x10]),
      ...encode("data"),
    ]),
    3,
  ));
  assert.deepEqual(four.source, {
    transport: "tcp",
    hostname: "203.0.113.7",
    port: 56324,
  });
  assert.equal(four.destination?.port, 10000);
  // Read 5 bytes at a time: the header is 28 bytes, so 2 bytes came with it.
  assert.equal(new TextDecoder().decode(four.rest), "da");
  const ip6 = [0x20, 0x01, 0x0d, 0xb8, ...Array(11).fill(0), 1];
  const six = await readProxyHeader(
    bytes(v2(0x21, [...ip6, ...Array(15).fill(0), 1, 0, 80, 1, 187])),
  );
  assert.equal(six.source?.hostname, "2001:db8::1");
  assert.equal(six.destination?.hostname, "::1");
  assert.equal(six.source?.port, 80);
  const local = await readProxyHeader(bytes(v2(0x00, [], 0)));
  assert.equal(local.source, undefined);
});

Deno.test("PROXY: malformed headers are refused with a reason", async () => {
  const bad: [Uint8Array, RegExp][] = [
    [encode("GET / HTTP/1.1\r\n\r\n"), /does not start with a PROXY header/],
    [encode("PROXY TCP4 1.2.3.4\r\n"), /bad version 1 header/],
    [encode("PROXY TCP4 1.2.3.4 5.6.7.8 99999 1\r\n"), /bad port/],
    [encode("PROXY TCP4 " + "1".repeat(120)), /longer than 107 bytes/],
    [encode("PROXY TCP4 1.2.3.4 5.6.7.8 1 2"), /ended inside the PROXY header/],
    [v2(0x31, [1, 2, 3]), /unsupported version 2 address family 0x31/],
    [encode("PROXY TCP6 ::1\x1b[31m ::1 1 2\r\n"), /bad version 1 header/],
    [encode("PROXY TCP6 :: ::1: 1 2\r\n"), /bad TCP6 addresses/],
    [encode("PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"), /bad TCP6 addresses/],
    [encode("PROXY TCP4 256.1.1.1 1.1.1.1 1 2\r\n"), /bad TCP4 addresses/],
    [encode("PROXY TCP4 ::1 ::1 1 2\r\n"), /bad TCP4 addresses/],
  ];
  for (const [data, message] of bad) {
    await assert.rejects(readProxyHeader(bytes(data)), ProxyHeaderError);
    await assert.rejects(readProxyHeader(bytes(data)), message);
  }
});

Deno.test("PROXY: what an error quotes from a header is escaped", async () => {
  const forged = [
    "PROXY TCP4 1.2.3.4\rfake 5.6.7.8 1 2\r\n",
    "PROXY TCP6 \x07::\x00 ::1 1 2\r\n",
    "PROXY TCP4 1.2.3.4 5.6.7.8 1 \x1b[2J\r\n",
  ];
  for (const header of forged) {
    const error = await readProxyHeader(bytes(encode(header))).then(
      () => assert.fail("accepted"),
      (error: Error) => error,
    );
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(error.message, /[\x00-\x1f\x7f]/);
  }
});

Deno.test("PROXY v2: a header sent a byte at a time is read in place", async () => {
  // The largest header: 16 bytes and 65,535 of addresses and TLVs.
  const addresses = new Array(65535).fill(0);
  addresses.splice(0, 12, 10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0, 80);
  const header = v2(0x11, addresses);
  const data = new Uint8Array([...header, ...encode("after")]);
  // Every read must land right after the bytes already read: the header is
  // never copied as it grows, so a byte-a-time sender costs linear time.
  let offset = 0;
  let misplaced = 0;
  const buffers = new Set<ArrayBufferLike>();
  const stream = {
    read(p: Uint8Array) {
      if (offset >= data.length) return Promise.resolve(null);
      buffers.add(p.buffer);
      if (p.byteOffset !== offset) misplaced++;
      p[0] = data[offset++];
      return Promise.resolve(1);
    },
    write: () => Promise.resolve(0),
    closeWrite: () => Promise.resolve(),
    close() {},
  };
  const parsed = await readProxyHeader(stream);
  assert.deepEqual(parsed.source, {
    transport: "tcp",
    hostname: "10.0.0.1",
    port: 0x1f90,
  });
  assert.equal(misplaced, 0);
  // One buffer per doubling, not one per byte.
  assert.ok(buffers.size <= 12, `${buffers.size} buffers`);
});

Deno.test("server: proxyProtocol makes peername the real client; malformed closes", async () => {
  captureLogs("error");
  const { factory, recorders } = recording({ echo: true });
  await using server = await createServer(factory, {
    hostname: "127.0.0.1",
    proxyProtocol: true,
  });
  const port = server.addrs[0].port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(
    conn,
    encode("PROXY TCP4 203.0.113.7 127.0.0.1 56324 10000\r\nhel"),
  );
  await writeAll(conn, encode("lo"));
  await conn.closeWrite();
  assert.equal(new TextDecoder().decode(await readAll(conn)), "hello");
  conn.close();
  const peer = recorders[0].transport.getExtraInfo<Deno.NetAddr>("peername");
  assert.deepEqual(peer, {
    transport: "tcp",
    hostname: "203.0.113.7",
    port: 56324,
  });
  const proxy = recorders[0].transport.getExtraInfo<Deno.NetAddr>("proxyname");
  assert.equal(proxy?.hostname, "127.0.0.1");

  const bad = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAll(bad, encode("hello without a header\r\n"));
  assert.equal((await readAll(bad)).byteLength, 0, "closed without an echo");
  bad.close();
  assert.equal(recorders.length, 1, "no protocol for the malformed one");
  await assert.rejects(
    createServer(() => new EchoProtocol(), {
      proxyProtocol: true,
      tls: { cert: "", key: "" },
    }),
    /proxyProtocol cannot be used with tls/,
  );
});

Deno.test("server: every spelling of a client's address in PROXY headers is one per-IP budget", async () => {
  const logged = captureLogs("info");
  const { factory } = recording({ echo: true });
  await using server = await createServer(factory, {
    hostname: "127.0.0.1",
    proxyProtocol: true,
    maxConnectionsPerIp: 3,
  });
  const port = server.addrs[0].port;
  const mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7];
  const loopback6 = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
  const headers = [
    encode("PROXY TCP4 192.0.2.7 127.0.0.1 1000 10000\r\n"),
    encode("PROXY TCP6 ::ffff:192.0.2.7 ::1 1000 10000\r\n"),
    encode("PROXY TCP6 ::FFFF:C000:207 ::1 1000 10000\r\n"),
    encode("PROXY TCP6 0:0:0:0:0:ffff:c000:0207 ::1 1000 10000\r\n"),
    v2(0x21, [...mapped, ...loopback6, 0x03, 0xe8, 0x27, 0x10]),
  ];
  const conns: Deno.Conn[] = [];
  let served = 0;
  try {
    for (const header of headers) {
      for (let i = 0; i < 3; i++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port });
        conns.push(conn);
        await writeAll(conn, header);
        await writeAll(conn, encode("x"));
        const answer = new Uint8Array(1);
        const n = await conn.read(answer).catch(() => null);
        if (n === 1) served++;
      }
    }
  } finally {
    for (const conn of conns) conn.close();
  }
  assert.equal(served, 3, "one client, one budget of 3");
  const refusals = logged.filter((l) => l.includes("per-address limit"));
  // Refusals are logged at a limited rate: at least the first, in one text.
  assert.ok(refusals.length >= 1, logged.join("\n"));
  for (const line of refusals) {
    assert.match(
      line,
      /from 192\.0\.2\.7 port 1000: 3 connections open from 192\.0\.2\.7 /,
    );
  }
});

Deno.test("server: a peer that resets in the middle of a PROXY header is logged as a reset", async () => {
  const logged = captureLogs("info");
  const { factory } = recording({ echo: true });
  await using server = await createServer(factory, {
    hostname: "127.0.0.1",
    proxyProtocol: true,
  });
  const port = server.addrs[0].port;
  const peer = new Deno.Command("python3", {
    args: [
      "-c",
      `
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"PROXY TCP4 192.0.2.7 ")
print(s.getsockname()[1], flush=True)
sys.stdin.readline()
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
`,
      String(port),
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const out = peer.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const peerPort = Number((await out.read()).value);
  // Reset once the server has read the half header (a reset discards what
  // the server has not read yet).
  await waitFor(
    async () => (await receiveQueue(port, peerPort)) === 0,
    "the server reading the half header",
  );
  const stdin = peer.stdin.getWriter();
  await stdin.write(encode("reset\n"));
  await stdin.close();
  assert.ok((await peer.status).success);
  out.releaseLock();
  await peer.stdout.cancel().catch(() => {});
  await waitFor(
    () => logged.some((l) => l.includes("PROXY")),
    "the rejected header's log line",
  );
  const line = logged.find((l) => l.includes("PROXY"))!;
  assert.match(
    line,
    /the peer reset the connection during the PROXY protocol header/,
  );
  assert.doesNotMatch(line, /malformed/);
});
