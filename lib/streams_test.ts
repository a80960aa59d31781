import assert from "node:assert/strict";
import {
  IncompleteReadError,
  LimitOverrunError,
  openConnection,
  type Server,
  startServer,
  StreamReader,
  type StreamWriter,
} from "./mod.ts";
import { MemoryTransport } from "./testing.ts";
import {
  assertSameBytes,
  randomBytes,
  rawListener,
  readAll,
  receiveQueue,
  sha256,
  waitFor,
  within10s,
  writeAll,
} from "./_test_helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** A reader fed by hand. */
function fed(...parts: (string | null)[]): StreamReader {
  const reader = new StreamReader(16);
  for (const part of parts) {
    if (part === null) reader.feedEof();
    else reader.feedData(encode(part));
  }
  return reader;
}

Deno.test("StreamReader.read: what is there, n at most, to EOF with -1", async () => {
  const reader = fed("hello ", "world");
  assert.equal(decode(await reader.read(3)), "hel");
  assert.equal(decode(await reader.read(100)), "lo world");
  const later = reader.read(5);
  reader.feedData(encode("!"));
  assert.equal(decode(await later), "!");
  assert.equal((await reader.read(0)).length, 0);
  const rest = reader.read();
  reader.feedData(encode("a"));
  reader.feedData(encode("b"));
  reader.feedEof();
  assert.equal(decode(await rest), "ab");
  assert.equal((await reader.read(10)).length, 0);
  assert.ok(reader.atEof());
});

Deno.test("StreamReader.readexactly: waits for n; EOF in the middle is IncompleteReadError", async () => {
  const reader = fed("abc");
  const exactly = reader.readexactly(5);
  reader.feedData(encode("de"));
  assert.equal(decode(await exactly), "abcde");
  reader.feedData(encode("xy"));
  reader.feedEof();
  const error = await reader.readexactly(4).catch((e) => e);
  assert.ok(error instanceof IncompleteReadError);
  assert.equal(decode(error.partial), "xy");
  assert.equal(error.expected, 4);
  assert.ok(reader.atEof());
});

Deno.test("StreamReader.readuntil: separators split across feeds, several in one", async () => {
  const reader = fed("one\r", "\ntwo\r\nthr");
  assert.equal(decode(await reader.readuntil("\r\n")), "one\r\n");
  assert.equal(decode(await reader.readuntil("\r\n")), "two\r\n");
  const third = reader.readuntil(encode("\r\n"));
  reader.feedData(encode("ee\r"));
  reader.feedData(encode("\n"));
  assert.equal(decode(await third), "three\r\n");
  reader.feedData(encode("tail"));
  reader.feedEof();
  const error = await reader.readuntil("\r\n").catch((e) => e);
  assert.ok(error instanceof IncompleteReadError);
  assert.equal(decode(error.partial), "tail");
  assert.equal(error.expected, null);
});

Deno.test("StreamReader.readuntil: past the limit without a separator is LimitOverrunError", async () => {
  const reader = new StreamReader(8);
  reader.feedData(encode("0123456789"));
  const error = await reader.readuntil("\n").catch((e) => e);
  assert.ok(error instanceof LimitOverrunError);
  assert.equal(error.consumed, 10);
  // The bytes stay: readline discards the over-long line and throws.
  reader.feedData(encode("ab\nnext\n"));
  await assert.rejects(reader.readline(), LimitOverrunError);
  assert.equal(decode(await reader.readline()), "next\n");
});

Deno.test("StreamReader.readline: the last line without a newline, then empty", async () => {
  const reader = fed("a\nb", null);
  assert.equal(decode(await reader.readline()), "a\n");
  assert.equal(decode(await reader.readline()), "b");
  assert.equal((await reader.readline()).length, 0);
});

Deno.test("StreamReader: async iteration yields chunks to the end", async () => {
  const reader = fed("x", "y", null);
  const chunks: string[] = [];
  for await (const chunk of reader) chunks.push(decode(chunk));
  assert.equal(chunks.join(""), "xy");
});

Deno.test("StreamReader: a lost connection rejects pending and later reads", async () => {
  const reader = new StreamReader();
  const pending = reader.read(10);
  reader.setException(new Deno.errors.ConnectionReset("reset"));
  await assert.rejects(pending, Deno.errors.ConnectionReset);
  await assert.rejects(reader.readline(), Deno.errors.ConnectionReset);
});

Deno.test("StreamReader: reading pauses the transport past twice the limit, resumes at the limit", async () => {
  const reader = new StreamReader(100);
  const transport = MemoryTransport.connect({});
  reader.setTransport(transport);
  reader.feedData(new Uint8Array(150));
  assert.ok(transport.isReading());
  reader.feedData(new Uint8Array(100)); // 250 > 200
  assert.ok(!transport.isReading(), "paused");
  await reader.read(100); // 150 left: still over the limit
  assert.ok(!transport.isReading());
  await reader.read(60); // 90 left
  await reader.read(1); // the next read resumes
  assert.ok(transport.isReading(), "resumed");
});

/** A stream echo server on loopback. */
async function echoServer(): Promise<Server> {
  return await startServer(async (reader, writer) => {
    await reader.readable.pipeTo(writer.writable);
    writer.close();
  }, { hostname: "127.0.0.1" });
}

Deno.test("startServer + openConnection: lines, drain, half-close, waitClosed", async () => {
  const server = await startServer(async (reader, writer) => {
    while (true) {
      const line = await reader.readline();
      if (line.length === 0) break;
      writer.write(decode(line).toUpperCase());
      await writer.drain();
    }
    writer.close();
  }, { hostname: "127.0.0.1" });
  try {
    const { reader, writer } = await openConnection({
      hostname: "127.0.0.1",
      port: server.addrs[0].port,
    });
    writer.writelines(["one\n", "two\n"]);
    assert.equal(decode(await reader.readline()), "ONE\n");
    assert.equal(decode(await reader.readline()), "TWO\n");
    assert.ok(writer.canWriteEof());
    writer.writeEof();
    assert.equal((await reader.read()).length, 0);
    assert.ok(reader.atEof());
    assert.ok(!writer.isClosing(), "both ways half-closed: closing is ours");
    writer.close();
    await writer.waitClosed();
    assert.equal(
      writer.getExtraInfo<Deno.NetAddr>("peername")?.port,
      server.addrs[0].port,
    );
    await assert.rejects(writer.drain(), Error);
  } finally {
    await server.close();
    await server.waitClosed();
  }
});

Deno.test("pipeTo echo: 64 MiB byte-exact", async () => {
  const server = await echoServer();
  try {
    const { reader, writer } = await openConnection({
      hostname: "127.0.0.1",
      port: server.addrs[0].port,
    });
    const block = randomBytes(1024 * 1024);
    const sent = sha256();
    const received = sha256();
    let total = 0;
    const reading = (async () => {
      for await (const chunk of reader) {
        received.update(chunk);
        total += chunk.length;
      }
    })();
    for (let i = 0; i < 64; i++) {
      sent.update(block);
      writer.write(block);
      await writer.drain();
    }
    writer.writeEof();
    await reading;
    assert.equal(total, 64 * 1024 * 1024);
    assert.equal(received.hex(), sent.hex());
    writer.close();
  } finally {
    await server.close();
    await server.waitClosed();
  }
});

/**
 * Writes `block` to `conn` over and over, up to `limit` bytes, and resolves
 * once the writes stall (no progress over 100 ms) or all went through, with
 * how many bytes went through and the writing, which ends once `conn` is
 * closed.
 */
async function writeUntilStalled(
  conn: Deno.Conn,
  block: Uint8Array,
  limit: number,
): Promise<{ written: number; writing: Promise<void> }> {
  let written = 0;
  const writing = (async () => {
    while (written < limit) {
      await writeAll(conn, block);
      written += block.length;
    }
  })().catch(() => {});
  let last = -1;
  await waitFor(
    async () => {
      await new Promise((resolve) => setTimeout(resolve, 100));
      const still = written === last;
      last = written;
      return still && written > 0;
    },
    "the writer stalls",
    20_000,
  );
  return { written, writing };
}

Deno.test("a reader nobody reads stops the peer by TCP; memory stays bounded", async () => {
  let serverReader: StreamReader | undefined;
  const server = await startServer((reader) => {
    serverReader = reader; // never read
  }, { hostname: "127.0.0.1", limit: 64 * 1024 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  try {
    const block = new Uint8Array(1024 * 1024);
    const { written, writing } = await writeUntilStalled(
      conn,
      block,
      64 * 1024 * 1024,
    );
    // The writer stalls well short of 64 MiB: the server stopped reading.
    assert.ok(written < 64 * 1024 * 1024, `${written} bytes went through`);
    // What waits in the server's reader is bounded by the limit (plus one
    // read), the rest sits in the kernel's buffers.
    const local = (conn.localAddr as Deno.NetAddr).port;
    assert.ok(await receiveQueue(server.addrs[0].port, local) > 0);
    // read(n) returns at once all that waits (up to n): at most twice the
    // limit plus one read of the transport (128 KiB).
    const buffered = (await serverReader!.read(16 * 1024 * 1024)).length;
    assert.ok(
      buffered > 0 && buffered <= 2 * 64 * 1024 + 128 * 1024,
      `${buffered}`,
    );
    conn.close();
    await writing;
  } finally {
    await server.close();
    server.abortClients();
    await server.waitClosed();
  }
});

Deno.test("a readline echo whose peer sends 100 MB of lines and reads none back keeps its memory bounded", async () => {
  let serverWriter: StreamWriter | undefined;
  const lines = Promise.withResolvers<void>();
  const server = await startServer(async (reader, writer) => {
    serverWriter = writer;
    lines.resolve();
    try {
      while (true) {
        const line = await reader.readline();
        if (line.byteLength === 0) break;
        writer.write(line);
        await writer.drain();
      }
    } catch {
      // The peer hangs up at the end of the test, with drain() waiting.
    }
  }, { hostname: "127.0.0.1", limit: 64 * 1024 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  try {
    // 100 MB in 1 MiB writes of 1 KiB lines; the echo is never read.
    const line = new TextEncoder().encode("y".repeat(1023) + "\n");
    const block = new Uint8Array(1024 * 1024);
    for (let at = 0; at < block.length; at += line.length) block.set(line, at);
    await lines.promise;
    const { written, writing } = await writeUntilStalled(
      conn,
      block,
      100_000_000,
    );
    assert.ok(written < 100_000_000, `${written} bytes went through`);
    // The echo waits in the write buffer, at most one line past the
    // high-water mark; reading stopped; the rest is in the kernel's buffers.
    const transport = serverWriter!.transport;
    assert.ok(
      transport.getWriteBufferSize() <= 64 * 1024 + line.length,
      `${transport.getWriteBufferSize()} bytes buffered`,
    );
    assert.equal(transport.isReading(), false, "reading paused");
    conn.close();
    await writing;
  } finally {
    await server.close();
    server.abortClients();
    await server.waitClosed();
  }
});

Deno.test("a handler that throws is reported and its connection closed", async () => {
  const errors: string[] = [];
  const original = console.error;
  console.error = (line: string) => errors.push(line);
  const server = await startServer(() => {
    throw new Error("handler bug");
  }, { hostname: "127.0.0.1" });
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addrs[0].port,
    });
    assert.equal((await readAll(conn)).length, 0);
    conn.close();
    await waitFor(() => errors.length > 0, "the report");
    assert.match(
      errors[0],
      /stream handler failed for 127\.0\.0\.1 port \d+: handler bug/,
    );
  } finally {
    console.error = original;
    await server.close();
    await server.waitClosed();
  }
});

Deno.test("openConnection and startServer reject a bad limit", async () => {
  await assert.rejects(startServer(() => {}, { limit: 0 }), RangeError);
  assert.throws(() => new StreamReader(-1), RangeError);
});

Deno.test("streams over a Unix socket; writer.transport is the connection's", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/streams.sock`;
  const server = await startServer(async (reader, writer) => {
    writer.write(await reader.readexactly(4));
    await writer.drain();
    writer.close();
  }, { path });
  try {
    const { reader, writer } = await openConnection({ path });
    assert.equal(
      writer.transport.getExtraInfo<Deno.UnixAddr>("peername")?.transport,
      "unix",
    );
    writer.write("ping");
    assert.equal(decode(await reader.read()), "ping");
    writer.close();
    await writer.waitClosed();
  } finally {
    await server.close();
    await server.waitClosed();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reads of more than twice the limit finish: read() to EOF and readexactly, server and client", async () => {
  const payload = randomBytes(300_000);
  // The server side: a handler reads everything, then answers its digest.
  for (const read of ["to EOF", "exactly"] as const) {
    await using server = await startServer(async (reader, writer) => {
      const got = read === "to EOF"
        ? await reader.read()
        : await reader.readexactly(200_000);
      const digest = sha256();
      digest.update(got);
      writer.write(`${got.length} ${digest.hex()}`);
      writer.close();
    }, { hostname: "127.0.0.1", port: 0 });
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addrs[0].port,
    });
    await writeAll(conn, payload);
    await conn.closeWrite();
    const answer = decode(await within10s(readAll(conn)));
    conn.close();
    const expected = read === "to EOF" ? payload : payload.subarray(0, 200_000);
    const digest = sha256();
    digest.update(expected);
    assert.equal(answer, `${expected.length} ${digest.hex()}`, read);
  }
  // The client side: the peer sends it all and closes.
  const { listener, port } = rawListener();
  const peer = (async () => {
    const conn = await listener.accept();
    await writeAll(conn, payload);
    conn.close();
  })();
  const { reader, writer } = await openConnection({
    hostname: "127.0.0.1",
    port,
  });
  const got = await within10s(reader.read());
  assert.equal(got.length, payload.length);
  assertSameBytes(got, payload);
  writer.close();
  await writer.waitClosed();
  await peer;
  listener.close();
});

Deno.test("StreamReader.readuntil: a separator that completes later is found at the limit however it was split", async () => {
  const record = encode("h".repeat(1022) + "\r\n\r\n");
  for (const cut of [record.length, record.length - 1, record.length - 3]) {
    const reader = new StreamReader(1024);
    reader.feedData(record.subarray(0, cut));
    const found = reader.readuntil("\r\n\r\n");
    reader.feedData(record.subarray(cut));
    assert.equal((await found).length, record.length, `cut at ${cut}`);
  }
  // Past the limit by one, it is refused however it is split.
  const long = encode("h".repeat(1025) + "\r\n\r\n");
  for (const cut of [long.length, long.length - 1]) {
    const reader = new StreamReader(1024);
    reader.feedData(long.subarray(0, cut));
    const found = reader.readuntil("\r\n\r\n").catch((e) => e);
    reader.feedData(long.subarray(cut));
    assert.ok(await found instanceof LimitOverrunError, `cut at ${cut}`);
  }
});

Deno.test("StreamReader.readline: a line dribbled in small pieces is searched once, not once per piece", async () => {
  const reader = new StreamReader(1 << 20);
  const line = new Uint8Array(256 * 1024).fill(0x61);
  line[line.length - 1] = 0x0a;
  const reading = reader.readline();
  // Count the bytes the reader copies while the line arrives: joining what
  // is buffered on every piece copies the line over and over.
  const set = Uint8Array.prototype.set;
  let copied = 0;
  Uint8Array.prototype.set = function (
    this: Uint8Array,
    source: ArrayLike<number>,
    offset?: number,
  ) {
    copied += source.length;
    return set.call(this, source, offset);
  };
  try {
    for (let at = 0; at < line.length; at += 64) {
      reader.feedData(line.slice(at, at + 64));
      await Promise.resolve();
    }
    assert.equal((await reading).length, line.length);
  } finally {
    Uint8Array.prototype.set = set;
  }
  // Each byte copied in once, plus the buffer's doubling: linear.
  assert.ok(copied <= 4 * line.length, `${copied} bytes copied`);
});
