import assert from "node:assert/strict";
import { RecordingProtocol } from "./testing.ts";
import { SocketTransport } from "./socket_transport.ts";
import { MIN_READ_SIZE, READ_SIZE } from "./_defaults.ts";
import type { BufferedProtocol, Protocol } from "./protocol.ts";
import type { ByteStream, Transport } from "./transport.ts";
import {
  concat,
  randomBytes,
  randomChunks,
  readAll,
  receiveQueue,
  settle,
  sha256,
  waitFor,
  writeAll,
} from "./_test_helpers.ts";

/** A transport running `protocol` over one end of a loopback connection. */
async function connected(protocol: Protocol | BufferedProtocol) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const peer = await Deno.connect({
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  const conn = await listener.accept();
  listener.close();
  const transport = SocketTransport.start(conn, protocol);
  return { transport, peer, conn };
}

Deno.test("callbacks come in order: made, data, eof, lost - once each", async () => {
  const recorder = new RecordingProtocol();
  const { transport, peer } = await connected(recorder);
  await writeAll(peer, new TextEncoder().encode("hello"));
  await peer.closeWrite();
  assert.equal(await recorder.lost.promise, null);
  await transport.closed;
  assert.deepEqual(recorder.folded(), ["made", "data", "eof", "lost"]);
  assert.equal(recorder.text(), "hello");
  assert.equal((await readAll(peer)).byteLength, 0);
  peer.close();
});

Deno.test("data handed to dataReceived stays valid after the callback", async () => {
  const recorder = new RecordingProtocol();
  const { peer } = await connected(recorder);
  const data = randomBytes(300_000);
  await writeAll(peer, data);
  await peer.closeWrite();
  await recorder.lost.promise;
  assert.ok(recorder.chunks.length > 1, "several reads were needed");
  assert.deepEqual(concat(recorder.chunks), data);
  peer.close();
});

Deno.test("eofReceived returning true keeps the connection open for writing", async () => {
  const recorder = new RecordingProtocol();
  recorder.keepOpenOnEof = true;
  const { transport, peer } = await connected(recorder);
  await peer.closeWrite();
  await recorder.eof.promise;
  assert.equal(transport.isClosing(), false);
  transport.write("after your EOF");
  transport.close();
  assert.equal(new TextDecoder().decode(await readAll(peer)), "after your EOF");
  await recorder.lost.promise;
  assert.deepEqual(recorder.events, ["made", "eof", "lost"]);
  peer.close();
});

Deno.test("writeEof sends EOF after the buffered data; reading goes on", async () => {
  const recorder = new RecordingProtocol();
  const big = randomBytes(4 << 20);
  recorder.onMade = (self) => {
    self.transport.write(big);
    self.transport.writeEof();
  };
  const { peer } = await connected(recorder);
  const received = await readAll(peer); // ends at our EOF
  assert.deepEqual(received, big);
  await writeAll(peer, new TextEncoder().encode("still reading"));
  await peer.closeWrite();
  await recorder.lost.promise;
  assert.equal(recorder.text(), "still reading");
  peer.close();
});

Deno.test("64 MiB in random chunk sizes comes back byte-exact", async () => {
  let transport!: Transport;
  const echo: Protocol = {
    connectionMade: (t) => transport = t,
    dataReceived: (data) => transport.write(data),
    pauseWriting: () => transport.pauseReading(),
    resumeWriting: () => transport.resumeReading(),
  };
  const { peer } = await connected(echo);
  const total = 64 << 20;
  const sent = sha256();
  const received = sha256();
  let receivedBytes = 0;
  const reader = (async () => {
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await peer.read(buffer);
      if (n === null) break;
      received.update(buffer.subarray(0, n));
      receivedBytes += n;
    }
  })();
  const block = randomBytes(1 << 20);
  for (let i = 0; i < 64; i++) {
    for (const chunk of randomChunks(block, 100_000)) {
      sent.update(chunk);
      await writeAll(peer, chunk);
    }
  }
  await peer.closeWrite();
  await reader;
  assert.equal(receivedBytes, total);
  assert.equal(received.hex(), sent.hex());
  peer.close();
});

Deno.test("pauseWriting past the high-water mark, resumeWriting at the low one", async () => {
  const recorder = new RecordingProtocol();
  const data = randomBytes(8 << 20);
  let sizeAtPause = -1;
  let sizeAtResume = -1;
  recorder.pauseWriting = function () {
    this.events.push("pause");
    sizeAtPause = this.transport.getWriteBufferSize();
  };
  recorder.resumeWriting = function () {
    this.events.push("resume");
    sizeAtResume = this.transport.getWriteBufferSize();
  };
  recorder.onMade = (self) => {
    self.transport.setWriteBufferLimits({ high: 1 << 20 });
    assert.deepEqual(self.transport.getWriteBufferLimits(), {
      high: 1 << 20,
      low: 1 << 18,
    });
    for (const chunk of randomChunks(data, 65536)) self.transport.write(chunk);
    self.transport.writeEof();
  };
  const { peer } = await connected(recorder);
  // The peer has not read yet: the protocol must have been paused.
  assert.deepEqual(recorder.events, ["made", "pause"]);
  assert.ok(sizeAtPause > 1 << 20, `paused at ${sizeAtPause}`);
  assert.deepEqual(await readAll(peer), data);
  assert.deepEqual(recorder.events, ["made", "pause", "resume"]);
  assert.ok(sizeAtResume <= 1 << 18, `resumed at ${sizeAtResume}`);
  peer.close();
});

Deno.test("pauseReading stops delivery until resumeReading", async () => {
  const recorder = new RecordingProtocol();
  recorder.onMade = (self) => self.transport.pauseReading();
  const { transport, peer, conn } = await connected(recorder);
  assert.equal(transport.isReading(), false);
  await writeAll(peer, new TextEncoder().encode("held back"));
  await peer.closeWrite();
  // The bytes are in our socket's receive queue, unread.
  const local = (conn.localAddr as Deno.NetAddr).port;
  const remote = (conn.remoteAddr as Deno.NetAddr).port;
  const deadline = Date.now() + 5000;
  while ((await receiveQueue(local, remote)) === 0 && Date.now() < deadline) {
    await settle(1);
  }
  assert.ok((await receiveQueue(local, remote)) > 0, "data reached the kernel");
  await settle();
  assert.deepEqual(recorder.events, ["made"]);
  transport.resumeReading();
  assert.equal(transport.isReading(), true);
  await recorder.lost.promise;
  assert.deepEqual(recorder.folded(), ["made", "data", "eof", "lost"]);
  assert.equal(recorder.text(), "held back");
  peer.close();
});

Deno.test("close() flushes buffered writes first; abort() drops them", async () => {
  const data = randomBytes(16 << 20);
  const closing = new RecordingProtocol();
  closing.onMade = (self) => {
    self.transport.write(data);
    self.transport.close();
    assert.equal(self.transport.isClosing(), true);
  };
  const first = await connected(closing);
  assert.deepEqual(await readAll(first.peer), data);
  assert.equal(await closing.lost.promise, null);
  first.peer.close();

  const aborting = new RecordingProtocol();
  aborting.onMade = (self) => {
    self.transport.write(data);
    self.transport.abort();
    assert.equal(self.transport.getWriteBufferSize(), 0);
  };
  const second = await connected(aborting);
  let received = 0;
  try {
    received = (await readAll(second.peer)).byteLength;
  } catch (error) {
    assert.ok(error instanceof Deno.errors.ConnectionReset, String(error));
  }
  assert.ok(received < data.byteLength, `abort sent ${received} bytes`);
  assert.equal(await aborting.lost.promise, null);
  assert.deepEqual(aborting.events.filter((e) => e !== "pause"), [
    "made",
    "lost",
  ]);
  second.peer.close();
});

Deno.test("write() after writeEof, close or abort throws; an empty write does nothing", async () => {
  const recorder = new RecordingProtocol();
  const { transport, peer } = await connected(recorder);
  transport.write(new Uint8Array(0));
  transport.write("");
  assert.equal(transport.getWriteBufferSize(), 0);
  transport.writeEof();
  assert.throws(() => transport.write("x"), /write\(\) after writeEof\(\)/);
  transport.close();
  assert.throws(() => transport.write("x"), /write\(\) after close\(\)/);
  await recorder.lost.promise;
  peer.close();

  const other = new RecordingProtocol();
  const second = await connected(other);
  second.transport.abort();
  assert.throws(() => second.transport.write("x"), /write\(\) after abort\(\)/);
  assert.throws(() => second.transport.writeEof(), /writeEof\(\) after abort/);
  await other.lost.promise;
  second.peer.close();
});

Deno.test("a peer reset ends in connectionLost(error)", async () => {
  const recorder = new RecordingProtocol();
  const { transport, peer } = await connected(recorder);
  // Closing with unread data in its receive queue makes the peer's kernel
  // answer with a reset.
  transport.write(randomBytes(1 << 20));
  await new Promise((resolve) => setTimeout(resolve, 0));
  peer.close();
  const deadline = Date.now() + 5000;
  while (!transport.isClosing() && Date.now() < deadline) {
    try {
      transport.write(randomBytes(65536));
    } catch {
      break;
    }
    await settle(1);
  }
  const error = await recorder.lost.promise;
  assert.ok(error instanceof Error, "an error is reported");
  assert.ok(
    error instanceof Deno.errors.ConnectionReset ||
      error instanceof Deno.errors.BrokenPipe,
    `${error?.name}: ${error?.message}`,
  );
  assert.equal(recorder.events.filter((e) => e === "lost").length, 1);
});

Deno.test("an exception in a callback aborts that connection with the error", async () => {
  const recorder = new RecordingProtocol();
  const boom = new Error("boom");
  recorder.onData = () => {
    throw boom;
  };
  const { peer } = await connected(recorder);
  await writeAll(peer, new TextEncoder().encode("x"));
  assert.equal(await recorder.lost.promise, boom);
  assert.deepEqual(recorder.events, ["made", "data", "lost"]);
  // Aborted: the peer sees the end, and nothing more arrives.
  assert.equal((await readAll(peer)).byteLength, 0);
  peer.close();
});

Deno.test("BufferedProtocol reads go into the protocol's own buffer", async () => {
  const buffer = new Uint8Array(1000);
  const parts: Uint8Array[] = [];
  const hints: number[] = [];
  const lost = Promise.withResolvers<Error | null>();
  const protocol: BufferedProtocol = {
    getBuffer(hint) {
      hints.push(hint);
      return buffer;
    },
    bufferUpdated(n) {
      assert.ok(n >= 1 && n <= buffer.byteLength);
      parts.push(buffer.slice(0, n));
    },
    connectionLost: (error) => lost.resolve(error),
  };
  const { peer } = await connected(protocol);
  const data = randomBytes(50_000);
  await writeAll(peer, data);
  await peer.closeWrite();
  assert.equal(await lost.promise, null);
  assert.deepEqual(concat(parts), data);
  assert.ok(parts.length >= 50, "each read was at most the lent 1000 bytes");
  assert.ok(hints.every((hint) => hint > 0));
  peer.close();
});

Deno.test("getExtraInfo knows peername, sockname and conn", async () => {
  const recorder = new RecordingProtocol();
  const { transport, peer, conn } = await connected(recorder);
  const peername = transport.getExtraInfo<Deno.NetAddr>("peername")!;
  assert.equal(peername.hostname, "127.0.0.1");
  assert.equal(peername.port, (peer.localAddr as Deno.NetAddr).port);
  assert.deepEqual(transport.getExtraInfo("sockname"), conn.localAddr);
  assert.equal(transport.getExtraInfo("conn"), conn);
  assert.equal(transport.getExtraInfo("nothing", 42), 42);
  assert.equal(transport.canWriteEof(), true);
  transport.close();
  await recorder.lost.promise;
  peer.close();
});

Deno.test("setWriteBufferLimits rejects bad marks", async () => {
  const recorder = new RecordingProtocol();
  const { transport, peer } = await connected(recorder);
  assert.deepEqual(transport.getWriteBufferLimits(), {
    high: 65536,
    low: 16384,
  });
  assert.throws(
    () => transport.setWriteBufferLimits({ high: 10, low: 20 }),
    RangeError,
  );
  assert.throws(() => transport.setWriteBufferLimits({ high: -1 }), RangeError);
  transport.setWriteBufferLimits({ low: 100 });
  assert.deepEqual(transport.getWriteBufferLimits(), { high: 400, low: 100 });
  transport.abort();
  await recorder.lost.promise;
  peer.close();
});

Deno.test("the read size starts small, grows while reads fill it, and shrinks again", async () => {
  const hints: number[] = [];
  let buffer = new Uint8Array(0);
  const lost = Promise.withResolvers<void>();
  let received = 0;
  const protocol: BufferedProtocol = {
    getBuffer(hint) {
      hints.push(hint);
      return buffer = new Uint8Array(hint);
    },
    bufferUpdated(n) {
      received += n;
    },
    connectionLost: () => lost.resolve(),
  };
  const { peer } = await connected(protocol);
  assert.equal(
    hints[0],
    MIN_READ_SIZE,
    "an idle connection lends a small buffer",
  );
  const streamed = 8 << 20;
  await writeAll(peer, randomBytes(streamed));
  // Then one byte at a time, each read before the next is sent.
  for (let i = 1; i <= 40; i++) {
    await writeAll(peer, new Uint8Array([i]));
    await waitFor(() => received === streamed + i, `byte ${i} read`);
  }
  await peer.closeWrite();
  await lost.promise;
  assert.equal(
    Math.max(...hints),
    READ_SIZE,
    "streaming reads grow to the maximum",
  );
  assert.ok(
    hints.at(-1)! < READ_SIZE,
    `small reads shrank it to ${hints.at(-1)}`,
  );
  assert.ok(buffer.byteLength > 0);
  peer.close();
});

/** A protocol that writes every chunk back and keeps what it was given. */
class KeepingEcho implements Protocol {
  transport!: Transport;
  kept: Uint8Array[] = [];
  copies: Uint8Array[] = [];
  writes = 1;
  /** Release each chunk after writing it (the zero-copy echo). */
  release = false;
  lost = Promise.withResolvers<void>();
  connectionMade(transport: Transport) {
    this.transport = transport;
  }
  dataReceived(data: Uint8Array) {
    this.kept.push(data);
    this.copies.push(data.slice());
    for (let i = 0; i < this.writes; i++) this.transport.write(data);
    if (this.release) this.transport.release(data);
  }
  connectionLost() {
    this.lost.resolve();
  }
}

/**
 * Sends `messages` one round trip at a time, each expected back `times`
 * times; returns what came back for each.
 */
async function pingPong(peer: Deno.Conn, messages: string[], times = 1) {
  const answers: string[] = [];
  const buffer = new Uint8Array(64 * 1024);
  // A reply that never comes fails the test instead of hanging it.
  const guard = setTimeout(() => peer.close(), 10_000);
  try {
    for (const message of messages) {
      await writeAll(peer, new TextEncoder().encode(message));
      let got = "";
      while (got.length < message.length * times) {
        const n = await peer.read(buffer).catch(() => null);
        if (n === null) break;
        got += new TextDecoder().decode(buffer.subarray(0, n));
      }
      answers.push(got);
    }
  } finally {
    clearTimeout(guard);
  }
  return answers;
}

Deno.test("released chunks are read into again once sent; a view kept by mistake is emptied, never rewritten", async () => {
  const protocol = new KeepingEcho();
  protocol.release = true;
  const { peer } = await connected(protocol);
  // Enough round trips to fill several slabs: their memory comes back.
  const messages = Array.from(
    { length: 200 },
    (_, i) => `${i}:`.padEnd(1000, String.fromCharCode(97 + i % 26)),
  );
  assert.deepEqual(await pingPong(peer, messages), messages);
  // Writing a chunk released to the transport and taken back is an error,
  // not a silent empty write.
  const gone = protocol.kept.find((view) => view.byteLength === 0);
  assert.ok(gone, "no memory was read into again");
  assert.throws(() => protocol.transport.write(gone), /detached array/);
  peer.close();
  await protocol.lost.promise;
  assert.equal(
    protocol.copies.map((c) => new TextDecoder().decode(c)).join(""),
    messages.join(""),
  );
  // A view the protocol kept after releasing it is either untouched or
  // detached (empty) once its memory went back to the transport: none shows
  // another chunk's bytes.
  let emptied = 0;
  protocol.kept.forEach((view, i) => {
    if (view.byteLength === 0) emptied++;
    else assert.deepEqual(view, protocol.copies[i]);
  });
  assert.ok(emptied > 0, "no memory was read into again");
});

Deno.test("a chunk not released stays the protocol's, written once, twice or not at all", async () => {
  const once = new KeepingEcho();
  const zero = await connected(once);
  const messages = Array.from({ length: 200 }, (_, i) => `${i}:`.padEnd(1000));
  assert.deepEqual(await pingPong(zero.peer, messages), messages);
  zero.peer.close();
  await once.lost.promise;
  assert.deepEqual(once.kept, once.copies);

  const twice = new KeepingEcho();
  twice.writes = 2;
  const first = await connected(twice);
  const answers = await pingPong(first.peer, ["ab", "cd", "ef"], 2);
  assert.deepEqual(answers, ["abab", "cdcd", "efef"]);
  first.peer.close();
  await twice.lost.promise;
  assert.deepEqual(
    twice.kept.map((view) => new TextDecoder().decode(view)),
    ["ab", "cd", "ef"],
  );

  const quiet = new KeepingEcho();
  quiet.writes = 0;
  const second = await connected(quiet);
  for (const message of ["one", "two", "three"]) {
    await writeAll(second.peer, new TextEncoder().encode(message));
    await waitFor(
      () => quiet.copies.some((c) => new TextDecoder().decode(c) === message),
      message,
    );
  }
  second.peer.close();
  await quiet.lost.promise;
  assert.deepEqual(
    quiet.kept.map((view) => new TextDecoder().decode(view)),
    ["one", "two", "three"],
  );
});

Deno.test("a view of a chunk written back, written after it, is sent whole", async () => {
  // The chunk is written back once, then a view of its first byte: the
  // chunk's memory must not be taken back while that view waits to be sent.
  const lost = Promise.withResolvers<void>();
  let transport!: Transport;
  const { peer } = await connected({
    connectionMade: (t: Transport) => transport = t,
    dataReceived(data: Uint8Array) {
      transport.write(data);
      transport.write(data.subarray(0, 1));
    },
    connectionLost: () => lost.resolve(),
  });
  const answers = await pingPong(peer, ["ab", "cd", "ef"], 1.5);
  peer.close();
  await lost.promise;
  assert.deepEqual(answers, ["aba", "cdc", "efe"]);
});

/** A read issued to a {@linkcode ScriptedStream}, and how to answer it. */
interface ScriptedRead {
  target: Uint8Array;
  answer: (n: number | null) => void;
}

/** A stream whose reads the test answers and whose writes it settles. */
class ScriptedStream implements ByteStream {
  readonly writes: PromiseWithResolvers<number>[] = [];
  #issued: ScriptedRead[] = [];
  #waiting: ((read: ScriptedRead) => void)[] = [];

  read(target: Uint8Array): Promise<number | null> {
    const answered = Promise.withResolvers<number | null>();
    const read = { target, answer: answered.resolve };
    const waiting = this.#waiting.shift();
    if (waiting) waiting(read);
    else this.#issued.push(read);
    return answered.promise;
  }

  /** The transport's next read, once it is issued. */
  nextRead(): Promise<ScriptedRead> {
    const read = this.#issued.shift();
    if (read) return Promise.resolve(read);
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  write(_data: Uint8Array): Promise<number> {
    this.writes.push(Promise.withResolvers());
    return this.writes.at(-1)!.promise; // settled by the test, or close()
  }

  closeWrite(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {
    // As a socket's: closing it ends the operations still pending on it.
    for (const write of this.writes) {
      write.reject(new Deno.errors.Interrupted("operation canceled"));
    }
  }
}

Deno.test("a released chunk's memory comes back once a lost connection's write of it settles", async () => {
  // A proxy's case: a chunk read on one connection, written to another and
  // released; the other connection is lost with that write in flight. Once
  // the write is over, nothing uses the memory: its slab is taken back
  // (detached) like any other, not left to the garbage collector.
  const source = new ScriptedStream();
  const sink = new ScriptedStream();
  const toSink = SocketTransport.start(sink, {});
  let fromSource!: Transport;
  const forwarded: Uint8Array[] = [];
  SocketTransport.start(source, {
    connectionMade: (t: Transport) => fromSource = t,
    dataReceived(data: Uint8Array) {
      if (!toSink.isClosing()) {
        toSink.write(data);
        forwarded.push(data);
      }
      fromSource.release(data);
    },
  });
  let read = await source.nextRead();
  read.answer(read.target.byteLength);
  read = await source.nextRead();
  assert.equal(sink.writes.length, 1, "the chunk's write is in flight");
  const chunk = forwarded[0];
  toSink.abort(); // the write in flight is cut: it rejects
  // Reads that fill their memory retire the chunk's slab.
  for (let i = 0; i < 4; i++) {
    read.answer(read.target.byteLength);
    read = await source.nextRead();
  }
  assert.equal(chunk.byteLength, 0, "the chunk's slab never came back");
  fromSource.abort();
});

Deno.test("writelines hands its chunks to the socket as one write, as asyncio joins them", async () => {
  const written: Uint8Array[] = [];
  const stream = new ScriptedStream();
  stream.write = (data: Uint8Array) => {
    written.push(data.slice());
    return Promise.resolve(data.byteLength);
  };
  const transport = SocketTransport.start(stream, {});
  transport.writelines([
    new Uint8Array([0, 0, 0, 3]),
    new TextEncoder().encode("abc"),
  ]);
  transport.write("more"); // behind the write in flight
  await waitFor(() => written.length === 2, "both writes");
  assert.deepEqual(written, [
    new Uint8Array([0, 0, 0, 3, 97, 98, 99]),
    new TextEncoder().encode("more"),
  ]);
  transport.abort();
});
