// The Transport contract, run against every transport: the socket
// transport over a real loopback connection and the in-memory one that
// protocol tests use instead. The in-memory transport's claim to behave as a
// socket does is only as good as this suite.

import assert from "node:assert/strict";
import { type Protocol, SocketTransport, type Transport } from "./mod.ts";
import { MemoryTransport } from "./testing.ts";
import {
  assertSameBytes,
  concat,
  randomBytes,
  waitFor,
  writeAll,
} from "./_test_helpers.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The far end of a transport under test, played by the test. */
interface Peer {
  /** The transport the protocol was given. */
  transport: Transport;
  /** Sends bytes to the protocol. */
  send(data: string | Uint8Array): Promise<void>;
  /** Half-closes towards the protocol: it sees EOF. */
  sendEof(): Promise<void>;
  /** Everything the protocol wrote, once its side has ended (EOF or close). */
  receivedAll(): Promise<string>;
  /** {@linkcode Peer.receivedAll} as bytes. */
  receivedBytes(): Promise<Uint8Array>;
  /** Stops taking the protocol's writes (a peer that does not read). */
  stopReading(): void;
  /** Takes the protocol's writes again. */
  startReading(): void;
  /** Resolves with connectionLost's argument. */
  lost: Promise<Error | null>;
  /** Frees what the harness holds. */
  dispose(): void;
}

/** A protocol that records every callback, with optional behaviour. */
class RecordingProtocol implements Protocol {
  events: string[] = [];
  transport!: Transport;
  lost = Promise.withResolvers<Error | null>();
  constructor(
    readonly hooks: {
      made?: (t: Transport) => void;
      data?: (t: Transport, data: Uint8Array) => void;
      eof?: (t: Transport) => boolean | void;
    } = {},
  ) {}
  connectionMade(transport: Transport) {
    this.transport = transport;
    this.events.push("made");
    this.hooks.made?.(transport);
  }
  /** How many bytes dataReceived was given. */
  received = 0;
  dataReceived(data: Uint8Array) {
    this.received += data.byteLength;
    this.events.push(`data:${decoder.decode(data)}`);
    this.hooks.data?.(this.transport, data);
  }
  eofReceived() {
    this.events.push("eof");
    return this.hooks.eof?.(this.transport);
  }
  connectionLost(error: Error | null) {
    this.events.push(error ? `lost:${error.message}` : "lost");
    this.lost.resolve(error);
  }
  pauseWriting() {
    this.events.push("pause");
  }
  resumeWriting() {
    this.events.push("resume");
  }
  /** The data events joined, as chunk boundaries carry no meaning. */
  get text(): string {
    return this.events.filter((e) => e.startsWith("data:"))
      .map((e) => e.slice(5)).join("");
  }
}

type Harness = (protocol: RecordingProtocol) => Promise<Peer>;

/** SocketTransport over a real loopback TCP connection. */
const socketHarness: Harness = async (protocol) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const [client, server] = await Promise.all([
    Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
    listener.accept(),
  ]);
  listener.close();
  const transport = SocketTransport.start(server, protocol);
  let reading = Promise.withResolvers<void>();
  reading.resolve();
  const parts: Uint8Array[] = [];
  const drained = (async () => {
    const buffer = new Uint8Array(64 * 1024);
    while (true) {
      await reading.promise;
      const n = await client.read(buffer).catch(() => null);
      if (n === null) return;
      parts.push(buffer.slice(0, n));
    }
  })();
  return {
    transport,
    send: (data) =>
      writeAll(
        client,
        typeof data === "string" ? encoder.encode(data) : data,
      ),
    sendEof: () => client.closeWrite(),
    receivedAll: async () => {
      await drained;
      return decoder.decode(concat(parts));
    },
    receivedBytes: async () => {
      await drained;
      return concat(parts);
    },
    stopReading: () => reading = Promise.withResolvers<void>(),
    startReading: () => reading.resolve(),
    lost: protocol.lost.promise,
    dispose: () => {
      try {
        client.close();
      } catch {
        // Already closed.
      }
    },
  };
};

/** MemoryTransport, with the test as its peer. */
const memoryHarness: Harness = (protocol) => {
  const parts: Uint8Array[] = [];
  const ended = Promise.withResolvers<void>();
  const transport = MemoryTransport.connect(protocol, {
    onWrite: (data) => parts.push(data),
    onWriteEof: () => ended.resolve(),
  });
  transport.closed.then(() => ended.resolve());
  return Promise.resolve({
    transport,
    send: (data) => Promise.resolve(transport.receive(data)),
    sendEof: () => Promise.resolve(transport.receiveEof()),
    receivedAll: async () => {
      await ended.promise;
      return decoder.decode(concat(parts));
    },
    receivedBytes: async () => {
      await ended.promise;
      return concat(parts);
    },
    stopReading: () => transport.blockWrites(),
    startReading: () => transport.unblockWrites(),
    lost: protocol.lost.promise,
    dispose: () => {},
  });
};

const harnesses: [string, Harness][] = [
  ["SocketTransport", socketHarness],
  ["MemoryTransport", memoryHarness],
];

for (const [name, harness] of harnesses) {
  const contract = (title: string, fn: () => Promise<void>) =>
    Deno.test(`transport contract (${name}): ${title}`, fn);

  contract("callbacks come in order, connectionLost exactly once", async () => {
    const protocol = new RecordingProtocol();
    const peer = await harness(protocol);
    try {
      await peer.send("hello");
      await waitFor(() => protocol.text === "hello", "the data");
      await peer.sendEof();
      assert.equal(await peer.lost, null);
      const events = protocol.events;
      assert.equal(events[0], "made");
      assert.deepEqual(events.slice(-2), ["eof", "lost"]);
      assert.ok(
        events.slice(1, -2).every((e) => e.startsWith("data:")),
        events.join(),
      );
      // Nothing after connectionLost, even once everything has settled.
      await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(events.filter((e) => e.startsWith("lost")).length, 1);
      assert.ok(peer.transport.isClosing());
    } finally {
      peer.dispose();
    }
  });

  contract("EOF closes the transport once its writes are flushed", async () => {
    const protocol = new RecordingProtocol({
      data: (t, data) => t.write(data),
    });
    const peer = await harness(protocol);
    try {
      await peer.send("echo me");
      await waitFor(() => protocol.text === "echo me", "the data");
      await peer.sendEof();
      assert.equal(await peer.receivedAll(), "echo me");
      assert.equal(await peer.lost, null);
    } finally {
      peer.dispose();
    }
  });

  contract("eofReceived returning true keeps the connection open", async () => {
    const protocol = new RecordingProtocol({ eof: () => true });
    const peer = await harness(protocol);
    try {
      await peer.sendEof();
      await waitFor(() => protocol.events.includes("eof"), "EOF");
      assert.ok(!peer.transport.isClosing());
      peer.transport.write("still here");
      peer.transport.close();
      assert.equal(await peer.receivedAll(), "still here");
      assert.equal(await peer.lost, null);
    } finally {
      peer.dispose();
    }
  });

  contract(
    "writeEof half-closes: data still arrives, writes are refused",
    async () => {
      const protocol = new RecordingProtocol({
        made: (t) => {
          t.write("bye");
          t.writeEof();
        },
      });
      const peer = await harness(protocol);
      try {
        assert.ok(peer.transport.canWriteEof());
        assert.equal(await peer.receivedAll(), "bye");
        assert.throws(() => peer.transport.write("more"), /after writeEof/);
        peer.transport.writeEof(); // a second call does nothing
        await peer.send("late");
        await waitFor(() => protocol.text === "late", "data after EOF sent");
        await peer.sendEof();
        assert.equal(await peer.lost, null);
      } finally {
        peer.dispose();
      }
    },
  );

  contract("close() flushes first; write() after close() throws", async () => {
    const protocol = new RecordingProtocol({
      made: (t) => {
        t.write("first ");
        t.writelines(["second ", encoder.encode("third")]);
        t.write(""); // nothing
        t.close();
        t.close(); // nothing
      },
    });
    const peer = await harness(protocol);
    try {
      assert.equal(await peer.receivedAll(), "first second third");
      assert.equal(await peer.lost, null);
      assert.throws(() => peer.transport.write("x"), /after close\(\)/);
      assert.ok(peer.transport.isClosing());
      assert.ok(!peer.transport.isReading());
    } finally {
      peer.dispose();
    }
  });

  contract("abort() ends at once with connectionLost(null)", async () => {
    const protocol = new RecordingProtocol({ made: (t) => t.abort() });
    const peer = await harness(protocol);
    try {
      assert.equal(await peer.lost, null);
      assert.ok(peer.transport.isClosing());
      assert.throws(() => peer.transport.write("x"), /after abort\(\)/);
    } finally {
      peer.dispose();
    }
  });

  contract("an exception in a callback aborts with that error", async () => {
    const protocol = new RecordingProtocol({
      data: () => {
        throw new RangeError("protocol bug");
      },
    });
    const peer = await harness(protocol);
    // This suite checks the transport; the report itself is tested elsewhere.
    const quiet = console.error;
    console.error = () => {};
    try {
      await peer.send("x");
      const error = await peer.lost;
      assert.ok(error instanceof RangeError);
      assert.equal(error.message, "protocol bug");
      assert.ok(peer.transport.isClosing());
    } finally {
      console.error = quiet;
      peer.dispose();
    }
  });

  contract(
    "pauseReading holds data until resumeReading, in order",
    async () => {
      const protocol = new RecordingProtocol();
      const peer = await harness(protocol);
      try {
        await peer.send("a");
        await waitFor(() => protocol.text === "a", "the first chunk");
        peer.transport.pauseReading();
        assert.ok(!peer.transport.isReading());
        await peer.send("b");
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(protocol.text, "a", "nothing delivered while paused");
        peer.transport.resumeReading();
        assert.ok(peer.transport.isReading());
        await waitFor(() => protocol.text === "ab", "the held chunk");
        await peer.sendEof();
        await peer.lost;
      } finally {
        peer.dispose();
      }
    },
  );

  contract(
    "write buffer limits: defaults, validation, pause and resume",
    async () => {
      const protocol = new RecordingProtocol();
      const peer = await harness(protocol);
      try {
        const t = peer.transport;
        assert.deepEqual(t.getWriteBufferLimits(), { high: 65536, low: 16384 });
        assert.throws(
          () => t.setWriteBufferLimits({ high: 1, low: 2 }),
          RangeError,
        );
        t.setWriteBufferLimits({ high: 1024 });
        assert.deepEqual(t.getWriteBufferLimits(), { high: 1024, low: 256 });
        peer.stopReading();
        // A peer that reads nothing: the buffer grows past the high mark.
        const block = new Uint8Array(256 * 1024);
        for (let i = 0; i < 64 && !protocol.events.includes("pause"); i++) {
          t.write(block);
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        assert.ok(protocol.events.includes("pause"), "pauseWriting");
        peer.startReading();
        await waitFor(
          () => protocol.events.includes("resume"),
          "resumeWriting",
        );
        assert.ok(t.getWriteBufferSize() <= 256, "resumed at the low mark");
        assert.deepEqual(
          protocol.events.filter((e) => e === "pause" || e === "resume"),
          ["pause", "resume"],
        );
        t.close();
        await peer.receivedAll();
        await peer.lost;
      } finally {
        peer.dispose();
      }
    },
  );

  contract(
    "getExtraInfo knows the peer; unknown names give the fallback",
    async () => {
      const protocol = new RecordingProtocol();
      const peer = await harness(protocol);
      try {
        const addr = peer.transport.getExtraInfo<Deno.NetAddr>("peername");
        assert.equal(addr?.transport, "tcp");
        assert.equal(addr?.hostname, "127.0.0.1");
        assert.equal(peer.transport.getExtraInfo("nothing", 42), 42);
        peer.transport.abort();
        await peer.lost;
      } finally {
        peer.dispose();
      }
    },
  );
}

for (const [name, harness] of harnesses) {
  // Enough bytes, sent to a peer that reads late, that a socket's write
  // buffer holds many slabs' worth (the kernel's buffers take megabytes).
  const late = name === "SocketTransport" ? 8 << 20 : 256 << 10;
  const total = (chunks: Uint8Array[]) =>
    chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);

  Deno.test(`transport contract (${name}): a chunk stays the protocol's: echoed to a late reader, kept, written again later`, async () => {
    const kept: Uint8Array[] = [];
    const protocol = new RecordingProtocol({
      data: (t, data) => {
        kept.push(data);
        t.write(data);
      },
    });
    const peer = await harness(protocol);
    try {
      peer.stopReading();
      const data = randomBytes(late);
      await peer.send(data);
      await waitFor(() => total(kept) === late, "every byte read");
      peer.startReading();
      await waitFor(
        () => peer.transport.getWriteBufferSize() === 0,
        "the echo sent",
      );
      assertSameBytes(concat(kept), data);
      // Written again, after every write of it was sent: still whole.
      await new Promise((resolve) => setTimeout(resolve, 0));
      for (const chunk of kept) peer.transport.write(chunk);
      await peer.sendEof();
      assertSameBytes(await peer.receivedBytes(), concat([data, data]));
      assertSameBytes(concat(kept), data);
    } finally {
      peer.dispose();
    }
  });

  Deno.test(`transport contract (${name}): a chunk broadcast to every connection, one reading late, reaches each intact`, async () => {
    const all: Transport[] = [];
    const recorders = [0, 1, 2].map(() =>
      new RecordingProtocol({
        made: (t) => all.push(t),
        data: (_t, data) => {
          for (const t of all) t.write(data); // the sender's too
        },
      })
    );
    const peers: Peer[] = [];
    try {
      for (const recorder of recorders) peers.push(await harness(recorder));
      peers[1].stopReading();
      const data = randomBytes(late);
      await peers[0].send(data);
      await waitFor(
        () => recorders[0].text.length > 0 && all[1].getWriteBufferSize() > 0,
        "writes held for the late reader",
      );
      await peers[0].sendEof();
      await waitFor(() => recorders[0].received === late, "all read");
      peers[1].startReading();
      all[1].close();
      all[2].close();
      for (const peer of peers) {
        assertSameBytes(await peer.receivedBytes(), data);
      }
    } finally {
      for (const peer of peers) peer.dispose();
    }
  });

  Deno.test(`transport contract (${name}): released chunks forwarded to a late reader arrive intact, then their memory comes back`, async () => {
    const released: Uint8Array[] = [];
    const to = new RecordingProtocol();
    const from = new RecordingProtocol({
      data: (t, data) => {
        to.transport.write(data);
        t.release(data);
        released.push(data); // to see it emptied: not to use it
      },
    });
    const [sink, source] = [await harness(to), await harness(from)];
    try {
      sink.stopReading();
      const data = randomBytes(late);
      await source.send(data);
      await waitFor(() => from.received === late, "every byte forwarded");
      // Writes of released chunks wait in the sink's buffer: not one may be
      // read into before it is sent (the bytes below would differ).
      assert.ok(to.transport.getWriteBufferSize() > 0);
      sink.startReading();
      to.transport.close();
      assertSameBytes(await sink.receivedBytes(), data);
      // Sent: the memory is the source's again, and what the protocol kept
      // by mistake is emptied, not rewritten, and cannot be written.
      await waitFor(
        () => released.some((chunk) => chunk.byteLength === 0),
        "a released chunk taken back",
      );
      const gone = released.find((chunk) => chunk.byteLength === 0)!;
      assert.throws(() => from.transport.write(gone), TypeError);
      await source.sendEof();
      assert.equal(await source.lost, null);
    } finally {
      sink.dispose();
      source.dispose();
    }
  });

  Deno.test(`transport contract (${name}): a chunk kept without a write stays the protocol's`, async () => {
    const kept: Uint8Array[] = [];
    const protocol = new RecordingProtocol({
      data: (_t, data) => kept.push(data),
    });
    const peer = await harness(protocol);
    try {
      for (const word of ["alpha", "beta", "gamma"]) {
        await peer.send(word);
        await waitFor(() => protocol.text.endsWith(word), word);
      }
      await peer.sendEof();
      await peer.lost;
      assert.deepEqual(kept.map((c) => decoder.decode(c)), [
        "alpha",
        "beta",
        "gamma",
      ]);
    } finally {
      peer.dispose();
    }
  });
}
