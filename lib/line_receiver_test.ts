import assert from "node:assert/strict";
import { LineReceiver } from "./mod.ts";
import { MemoryTransport } from "./testing.ts";
import { floodWithoutReading } from "./_test_helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

class Lines extends LineReceiver {
  lines: string[] = [];
  exceeded: string[] = [];
  override lineReceived(line: Uint8Array) {
    this.lines.push(decode(line));
  }
  override lineLengthExceeded(line: Uint8Array) {
    this.exceeded.push(decode(line));
    super.lineLengthExceeded(line);
  }
}

/** Every way to cut `data` into pieces at up to two positions, plus bytewise. */
function* splits(data: Uint8Array): Generator<Uint8Array[]> {
  yield [data];
  for (let i = 1; i < data.length; i++) {
    yield [data.subarray(0, i), data.subarray(i)];
    for (let j = i + 1; j < data.length; j++) {
      yield [data.subarray(0, i), data.subarray(i, j), data.subarray(j)];
    }
  }
  yield [...data].map((byte) => new Uint8Array([byte]));
}

Deno.test("LineReceiver: every split of the input gives the same lines", () => {
  const input = encode("one\r\ntwo\r\n\r\nthree and more\r\nrest");
  let cases = 0;
  for (const pieces of splits(input)) {
    const protocol = new Lines();
    const transport = MemoryTransport.connect(protocol);
    for (const piece of pieces) transport.receive(piece);
    assert.deepEqual(
      protocol.lines,
      ["one", "two", "", "three and more"],
      pieces.map(decode).join("|"),
    );
    cases++;
  }
  assert.ok(cases > 400, `${cases} splits`);
});

Deno.test("LineReceiver: kept lines stay intact; sendLine adds the delimiter", () => {
  const protocol = new (class extends Lines {
    kept: Uint8Array[] = [];
    override lineReceived(line: Uint8Array) {
      this.kept.push(line);
      this.sendLine(line);
    }
  })();
  const transport = MemoryTransport.connect(protocol);
  transport.receive("a\r\nb");
  transport.receive("c\r\nd\r\n");
  assert.deepEqual(protocol.kept.map(decode), ["a", "bc", "d"]);
  assert.equal(transport.writtenText(), "a\r\nbc\r\nd\r\n");
});

Deno.test("LineReceiver: another delimiter, one or several bytes", () => {
  for (const delimiter of ["\n", "<end>"]) {
    const protocol = new Lines();
    protocol.delimiter = encode(delimiter);
    const transport = MemoryTransport.connect(protocol);
    const input = encode(`x${delimiter}yy${delimiter}z`);
    for (const byte of input) transport.receive(new Uint8Array([byte]));
    assert.deepEqual(protocol.lines, ["x", "yy"]);
  }
});

Deno.test("LineReceiver: a line over maxLength closes the connection, in one read or many", () => {
  for (const step of [1, 7, 1000]) {
    const protocol = new Lines();
    protocol.maxLength = 10;
    const transport = MemoryTransport.connect(protocol);
    const input = encode("short\r\n" + "x".repeat(50) + "\r\nafter\r\n");
    for (let i = 0; i < input.length && !transport.isClosing(); i += step) {
      transport.receive(input.subarray(i, i + step));
    }
    assert.deepEqual(protocol.lines, ["short"], `step ${step}`);
    assert.equal(protocol.exceeded.length, 1);
    assert.ok(transport.isClosing());
  }
});

Deno.test("LineReceiver: a line that never ends is cut off at maxLength, memory bounded", () => {
  const protocol = new Lines();
  protocol.maxLength = 1000;
  const transport = MemoryTransport.connect(protocol);
  for (let i = 0; i < 100 && !transport.isClosing(); i++) {
    transport.receive(new Uint8Array(100).fill(0x61));
  }
  assert.equal(protocol.exceeded.length, 1);
  // At most maxLength and its delimiter, plus the read that went past.
  assert.ok(protocol.exceeded[0].length <= 1000 + 2 + 100);
  assert.ok(transport.isClosing());
});

Deno.test("LineReceiver: lines of exactly maxLength are accepted", () => {
  const protocol = new Lines();
  protocol.maxLength = 4;
  const transport = MemoryTransport.connect(protocol);
  transport.receive("abcd\r");
  transport.receive("\nefgh\r\n");
  assert.deepEqual(protocol.lines, ["abcd", "efgh"]);
  assert.ok(!transport.isClosing());
});

Deno.test("LineReceiver: an echo pauses reading while a peer that never reads fills its write buffer", async () => {
  class LineEcho extends LineReceiver {
    override lineReceived(line: Uint8Array) {
      this.sendLine(line);
    }
  }
  const line = encode("x".repeat(1022) + "\r\n");
  const { paused, buffered } = await floodWithoutReading(
    () => new LineEcho(),
    line,
  );
  assert.ok(paused, "the server never paused reading");
  // At most one read's lines past the high-water mark.
  assert.ok(buffered < 512 * 1024, `${buffered} bytes buffered`);
});

Deno.test("LineReceiver: reading pauses and resumes with writing, unless told not to", () => {
  for (const pauses of [true, false]) {
    const protocol = new Lines();
    protocol.pauseReadingWhileWritingPaused = pauses;
    const transport = MemoryTransport.connect(protocol, {
      writeBufferLimits: { high: 4 },
    });
    transport.blockWrites();
    protocol.sendLine("hello");
    assert.equal(transport.isReading(), !pauses);
    transport.unblockWrites();
    assert.ok(transport.isReading());
  }
});

Deno.test("LineReceiver: a string delimiter, such as nc's \\n", () => {
  const protocol = new Lines();
  protocol.delimiter = "\n";
  const transport = MemoryTransport.connect(protocol);
  transport.receive("one\ntw");
  transport.receive("o\n");
  assert.deepEqual(protocol.lines, ["one", "two"]);
  protocol.sendLine("back");
  assert.equal(transport.writtenText(), "back\n");
  protocol.delimiter = "||"; // changed later: used from then on
  transport.receive("three||");
  assert.deepEqual(protocol.lines, ["one", "two", "three"]);
});
