import assert from "node:assert/strict";
import { LengthPrefixedReceiver } from "./mod.ts";
import { MemoryTransport } from "./testing.ts";
import { floodWithoutReading } from "./_test_helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

class Messages extends LengthPrefixedReceiver {
  messages: string[] = [];
  kept: Uint8Array[] = [];
  exceeded: number[] = [];
  override stringReceived(data: Uint8Array) {
    this.kept.push(data);
    this.messages.push(decode(data));
  }
  override lengthLimitExceeded(length: number) {
    this.exceeded.push(length);
    super.lengthLimitExceeded(length);
  }
}

/** Messages framed with a `prefix`-byte big-endian length. */
function framed(prefix: 1 | 2 | 4, messages: string[]): Uint8Array {
  const parts: number[] = [];
  for (const message of messages) {
    const bytes = encode(message);
    for (let i = prefix - 1; i >= 0; i--) {
      parts.push(Math.floor(bytes.length / 2 ** (8 * i)) & 0xff);
    }
    parts.push(...bytes);
  }
  return new Uint8Array(parts);
}

for (const prefix of [1, 2, 4] as const) {
  Deno.test(`LengthPrefixedReceiver (${prefix}-byte prefix): every split gives the same messages`, () => {
    const messages = ["first", "", "x".repeat(200), "last"];
    const input = framed(prefix, messages);
    const cuts: Uint8Array[][] = [[input]];
    for (let i = 1; i < input.length; i++) {
      cuts.push([input.subarray(0, i), input.subarray(i)]);
    }
    cuts.push([...input].map((byte) => new Uint8Array([byte])));
    for (const pieces of cuts) {
      const protocol = new Messages();
      protocol.prefixLength = prefix;
      const transport = MemoryTransport.connect(protocol);
      for (const piece of pieces) transport.receive(piece);
      assert.deepEqual(protocol.messages, messages);
      // Kept messages are never rewritten by later input.
      assert.deepEqual(protocol.kept.map(decode), messages);
    }
  });

  Deno.test(`LengthPrefixedReceiver (${prefix}-byte prefix): sendString frames what it sends`, () => {
    const protocol = new Messages();
    protocol.prefixLength = prefix;
    const transport = MemoryTransport.connect(protocol);
    protocol.sendString("hello");
    protocol.sendString(encode(""));
    assert.deepEqual(transport.written(), framed(prefix, ["hello", ""]));
  });
}

Deno.test("LengthPrefixedReceiver: a length over maxLength closes without buffering", () => {
  const protocol = new Messages();
  protocol.maxLength = 100;
  const transport = MemoryTransport.connect(protocol);
  transport.receive(framed(4, ["ok"]));
  // A peer announces 4 GB minus one: refused at once, nothing kept.
  transport.receive(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
  assert.deepEqual(protocol.messages, ["ok"]);
  assert.deepEqual(protocol.exceeded, [0xffffffff]);
  assert.ok(transport.isClosing());
});

Deno.test("LengthPrefixedReceiver: sendString refuses what the prefix cannot say", () => {
  const protocol = new Messages();
  protocol.prefixLength = 1;
  MemoryTransport.connect(protocol);
  assert.throws(() => protocol.sendString(new Uint8Array(256)), RangeError);
});

Deno.test("LengthPrefixedReceiver: an echo pauses reading while a peer that never reads fills its write buffer", async () => {
  class MessageEcho extends LengthPrefixedReceiver {
    override prefixLength = 2 as const;
    override stringReceived(data: Uint8Array) {
      this.sendString(data);
    }
  }
  const { paused, buffered } = await floodWithoutReading(
    () => new MessageEcho(),
    framed(2, ["x".repeat(1022)]),
  );
  assert.ok(paused, "the server never paused reading");
  assert.ok(buffered < 512 * 1024, `${buffered} bytes buffered`);
});

Deno.test("LengthPrefixedReceiver: reading pauses and resumes with writing, unless told not to", () => {
  for (const pauses of [true, false]) {
    const protocol = new Messages();
    protocol.pauseReadingWhileWritingPaused = pauses;
    const transport = MemoryTransport.connect(protocol, {
      writeBufferLimits: { high: 4 },
    });
    transport.blockWrites();
    protocol.sendString("hello");
    assert.equal(transport.isReading(), !pauses);
    transport.unblockWrites();
    assert.ok(transport.isReading());
  }
});
