import assert from "node:assert/strict";
import { EchoClient, EchoServer, SEED_MESSAGES } from "../echo/echo.ts";
import { configureLogging } from "../echo/logging.ts";
import { connectPair, MemoryTransport } from "../lib/testing.ts";
import { assertSameBytes } from "./_helpers.ts";

/** Captures log lines at `level` for the duration of `fn`. */
async function captureLogs(
  level: "debug" | "info",
  fn: () => Promise<void> | void,
): Promise<string[]> {
  const lines: string[] = [];
  configureLogging({ level, write: (line) => lines.push(line.trimEnd()) });
  try {
    await fn();
  } finally {
    configureLogging({ level: "error", write: () => {} });
  }
  return lines;
}

Deno.test("EchoServer echoes, answers EOF with EOF, and logs the seed's lines", async () => {
  let transport!: MemoryTransport;
  const lines = await captureLogs("debug", async () => {
    transport = MemoryTransport.connect(new EchoServer());
    transport.receive("This is the message. ");
    transport.receive("It's\x1b[2J");
    transport.receiveEof();
    assert.equal(await transport.closed, null);
  });
  assert.equal(transport.writtenText(), "This is the message. It's\x1b[2J");
  assert.equal(transport.eofWritten, true);
  const name = "EchoServer_127.0.0.1_54321";
  assert.deepEqual(lines, [
    `${name}: connection accepted`,
    `${name}: received b'This is the message. '`,
    `${name}: sent b'This is the message. '`,
    `${name}: received b"It's\\x1b[2J"`,
    `${name}: sent b"It's\\x1b[2J"`,
    `${name}: received EOF`,
    `${name}: closing`,
  ]);
});

Deno.test("EchoServer logs ERROR when the connection is lost to an error", async () => {
  const lines = await captureLogs("debug", async () => {
    const transport = MemoryTransport.connect(new EchoServer());
    transport.loseConnection(new Error("Connection reset by peer"));
    await transport.closed;
  });
  assert.equal(
    lines.at(-1),
    "EchoServer_127.0.0.1_54321: ERROR: Connection reset by peer",
  );
});

Deno.test("EchoServer stops reading while its write buffer is full", () => {
  const transport = MemoryTransport.connect(new EchoServer());
  transport.setWriteBufferLimits({ high: 100 });
  transport.blockWrites();
  transport.receive(new Uint8Array(60));
  assert.equal(transport.isReading(), true);
  transport.receive(new Uint8Array(60));
  assert.equal(transport.isReading(), false, "paused past 100 bytes");
  transport.receive(new Uint8Array(500)); // held, not echoed yet
  assert.equal(transport.getWriteBufferSize(), 120);
  transport.unblockWrites();
  assert.equal(transport.isReading(), true);
  assert.equal(transport.written().byteLength, 620);
});

Deno.test("EchoServer builds no bytes repr when debug is off", async () => {
  // bytesRepr starts by looking for quotes in the data: count those looks.
  const includes = Uint8Array.prototype.includes;
  let reprs = 0;
  Uint8Array.prototype.includes = function (
    this: Uint8Array,
    ...args: Parameters<typeof includes>
  ) {
    reprs++;
    return includes.apply(this, args);
  };
  try {
    const quiet = await captureLogs("info", () => {
      const transport = MemoryTransport.connect(new EchoServer());
      transport.receive(new Uint8Array(16));
      assert.equal(transport.written().byteLength, 16);
    });
    assert.equal(reprs, 0);
    assert.deepEqual(quiet, []);
    const loud = await captureLogs("debug", () => {
      const transport = MemoryTransport.connect(new EchoServer());
      transport.receive(new Uint8Array(4));
    });
    assert.ok(reprs > 0, "the counter does see a repr being built");
    assert.ok(
      loud.some((line) => line.endsWith("received b'\\x00\\x00\\x00\\x00'")),
    );
  } finally {
    Uint8Array.prototype.includes = includes;
  }
});

Deno.test("EchoServer never reads into a buffer whose bytes are still queued", () => {
  const transport = MemoryTransport.connect(new EchoServer());
  transport.setWriteBufferLimits({ high: 1 << 20 });
  const sent: Uint8Array[] = [];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 400; i++) {
    // Writes are held for runs of reads, then sent all at once, with sizes
    // that move the server between buffer sizes.
    if (i % 7 === 0) transport.blockWrites();
    if (i % 7 === 4) transport.unblockWrites();
    const chunk = new Uint8Array(1 + Math.floor(random() * 5000));
    for (let j = 0; j < chunk.length; j++) chunk[j] = (i * 31 + j) & 0xff;
    sent.push(chunk);
    transport.receive(chunk);
  }
  transport.unblockWrites();
  const expected = new Uint8Array(sent.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const chunk of sent) {
    expected.set(chunk, offset);
    offset += chunk.length;
  }
  assertSameBytes(transport.written(), expected);
});

Deno.test("EchoClient and EchoServer run the seed's exchange in memory", async () => {
  const echoed: Uint8Array[] = [];
  const client = new EchoClient(SEED_MESSAGES, {
    onData: (data) => void echoed.push(data),
  });
  const lines = await captureLogs("debug", async () => {
    connectPair(client, new EchoServer());
    assert.equal(await client.done, null);
  });
  assert.equal(
    echoed.map((d) => new TextDecoder().decode(d)).join(""),
    SEED_MESSAGES.join(""),
  );
  const clientLines = lines.filter((line) => line.startsWith("EchoClient"));
  assert.deepEqual(clientLines.slice(0, 4), [
    "EchoClient: connecting to 127.0.0.1 port 54321",
    "EchoClient: sending b'This is the message. '",
    "EchoClient: sending b'It will be sent '",
    "EchoClient: sending b'in parts.'",
  ]);
  assert.ok(clientLines.includes("EchoClient: received EOF"));
  assert.equal(clientLines.at(-1), "EchoClient: server closed connection");
});

Deno.test("EchoClient holds an async source back while writing is paused", async () => {
  let pulled = 0;
  async function* source() {
    for (let i = 0; i < 10; i++) {
      pulled++;
      yield new Uint8Array(100);
    }
  }
  configureLogging({ level: "error", write: () => {} });
  const client = new EchoClient(source());
  const transport = MemoryTransport.connect(client, {
    writeBufferLimits: { high: 250 },
  });
  // Blocked before the source's first chunk arrives (a microtask later).
  transport.blockWrites();
  // Let the pump run as far as it can.
  for (let i = 0; i < 20; i++) await Promise.resolve();
  assert.equal(pulled, 3, "stopped right after passing 250 bytes");
  transport.unblockWrites();
  for (let i = 0; i < 100 && !transport.eofWritten; i++) {
    await Promise.resolve();
  }
  assert.equal(pulled, 10);
  assert.equal(transport.written().byteLength, 1000);
  assert.equal(transport.eofWritten, true);
  assert.equal(client.sentBytes, 1000);
});

Deno.test("EchoClient pauses reading while its output is busy and settles after it", async () => {
  configureLogging({ level: "error", write: () => {} });
  const release = Promise.withResolvers<void>();
  const seen: number[] = [];
  const client = new EchoClient([new Uint8Array(12)], {
    onData: (data) => {
      seen.push(data.byteLength);
      return seen.length === 1 ? release.promise : undefined;
    },
  });
  const transport = MemoryTransport.connect(client);
  transport.receive(new Uint8Array(5));
  assert.equal(transport.isReading(), false);
  transport.receive(new Uint8Array(7));
  transport.receiveEof();
  assert.deepEqual(seen, [5]);
  let settled = false;
  client.done.then(() => settled = true);
  await Promise.resolve();
  assert.equal(settled, false);
  release.resolve();
  assert.equal(await client.done, null);
  assert.deepEqual(seen, [5, 7]);
});

Deno.test("EchoClient aborts once more comes back than was sent, and says where it differs", async () => {
  const lines = await captureLogs("debug", async () => {
    const client = new EchoClient(["hi"]);
    const transport = MemoryTransport.connect(client);
    transport.receive(new TextEncoder().encode("h"));
    assert.equal(transport.isClosing(), false, "an echo so far");
    transport.receive(new TextEncoder().encode("iX!"));
    assert.equal(transport.aborted, true);
    assert.equal(await client.done, null);
    assert.equal(client.firstDifference, 2);
    assert.equal(client.receivedBytes, 4);
  });
  assert.deepEqual(lines.slice(-2), [
    `EchoClient: received b'iX!'`,
    "EchoClient: more came back than was sent: closing",
  ]);
});

Deno.test("EchoClient.done resolves to the error a connection was lost to", async () => {
  const lines = await captureLogs("debug", async () => {
    const client = new EchoClient();
    const transport = MemoryTransport.connect(client);
    const error = new Error("Connection reset by peer");
    transport.loseConnection(error);
    assert.equal(await client.done, error);
  });
  assert.deepEqual(lines.slice(-2), [
    "EchoClient: ERROR: Connection reset by peer",
    "EchoClient: server closed connection",
  ]);
});
