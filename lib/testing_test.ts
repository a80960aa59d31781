import assert from "node:assert/strict";
import { connectPair, MemoryTransport, RecordingProtocol } from "./testing.ts";

Deno.test("MemoryTransport records writes and a half-close", async () => {
  const recorder = new RecordingProtocol();
  recorder.onMade = (self) => {
    self.transport.write("hello ");
    self.transport.writelines(["in ", new TextEncoder().encode("memory")]);
    self.transport.writeEof();
  };
  const transport = MemoryTransport.connect(recorder);
  assert.equal(transport.writtenText(), "hello in memory");
  assert.equal(transport.eofWritten, true);
  assert.throws(() => transport.write("x"), /after writeEof/);
  transport.receive("reply");
  transport.receiveEof();
  assert.equal(await transport.closed, null);
  assert.deepEqual(recorder.events, ["made", "data", "eof", "lost"]);
  assert.equal(recorder.text(), "reply");
});

Deno.test("MemoryTransport calls connectionLost after the current callback", async () => {
  const recorder = new RecordingProtocol();
  recorder.onData = (_data, self) => {
    self.transport.close();
    self.events.push("after close()");
  };
  const transport = MemoryTransport.connect(recorder);
  transport.receive("x");
  assert.deepEqual(recorder.events, ["made", "data", "after close()"]);
  await transport.closed;
  assert.deepEqual(recorder.events.at(-1), "lost");
  assert.throws(() => transport.write("y"), /write\(\) after close\(\)/);
});

Deno.test("MemoryTransport holds data and EOF while reading is paused", () => {
  const recorder = new RecordingProtocol();
  recorder.keepOpenOnEof = true;
  const transport = MemoryTransport.connect(recorder);
  transport.pauseReading();
  transport.receive("a");
  transport.receiveEof();
  assert.deepEqual(recorder.events, ["made"]);
  transport.resumeReading();
  assert.deepEqual(recorder.events, ["made", "data", "eof"]);
});

Deno.test("MemoryTransport flow control: pause past high, resume at low", () => {
  const recorder = new RecordingProtocol();
  const transport = MemoryTransport.connect(recorder);
  transport.setWriteBufferLimits({ high: 10, low: 0 });
  transport.blockWrites();
  transport.write("0123456789");
  assert.deepEqual(recorder.events, ["made"]);
  transport.write("!");
  assert.deepEqual(recorder.events, ["made", "pause"]);
  assert.equal(transport.getWriteBufferSize(), 11);
  assert.equal(transport.writtenText(), "");
  transport.unblockWrites();
  assert.deepEqual(recorder.events, ["made", "pause", "resume"]);
  assert.equal(transport.writtenText(), "0123456789!");
});

Deno.test("an exception in a callback aborts with that error", async () => {
  const recorder = new RecordingProtocol();
  recorder.onData = () => {
    throw new Error("bad");
  };
  const transport = MemoryTransport.connect(recorder);
  transport.receive("x");
  assert.equal((await transport.closed)?.message, "bad");
  assert.equal(recorder.events.filter((e) => e === "lost").length, 1);
});

Deno.test("connectPair joins two protocols back to back", async () => {
  const a = new RecordingProtocol();
  const b = new RecordingProtocol();
  b.onData = (data, self) => self.transport.write(data);
  a.onMade = (self) => {
    self.transport.write("round trip");
    self.transport.writeEof();
  };
  const [ta, tb] = connectPair(a, b);
  assert.equal(await ta.closed, null);
  assert.equal(await tb.closed, null);
  assert.equal(a.text(), "round trip");
  assert.deepEqual(a.folded(), ["made", "data", "eof", "lost"]);
  assert.deepEqual(b.folded(), ["made", "data", "eof", "lost"]);
});

Deno.test("MemoryTransport takes back a released chunk once its writes are sent, and only then", () => {
  const kept: Uint8Array[] = [];
  const transport: MemoryTransport = MemoryTransport.connect({
    dataReceived(data: Uint8Array) {
      kept.push(data);
      transport.write(data);
      transport.write(data.subarray(0, 1)); // waits behind the chunk
      transport.release(data);
    },
  });
  transport.blockWrites();
  transport.receive("ab");
  assert.equal(kept[0].byteLength, 2, "still queued: still whole");
  transport.unblockWrites();
  assert.equal(transport.writtenText(), "aba");
  assert.equal(kept[0].byteLength, 0, "sent: detached, never rewritten");
  assert.throws(() => transport.write(kept[0]), /detached array/);
});

Deno.test("MemoryTransport never takes back a chunk not released", () => {
  const kept: Uint8Array[] = [];
  const transport: MemoryTransport = MemoryTransport.connect({
    dataReceived(data: Uint8Array) {
      kept.push(data);
      transport.write(data);
    },
  });
  transport.receive("ab");
  transport.receive("cd");
  assert.equal(transport.writtenText(), "abcd");
  assert.deepEqual(kept.map((c) => new TextDecoder().decode(c)), ["ab", "cd"]);
  transport.write(kept[0]); // again, later
  assert.equal(transport.writtenText(), "abcdab");
});
