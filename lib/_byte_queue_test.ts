import assert from "node:assert/strict";
import { ByteQueue } from "./_byte_queue.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("ByteQueue: a pushed chunk is handed back as it is, not copied", () => {
  const queue = new ByteQueue();
  const chunk = encode("hello world");
  queue.push(chunk);
  const first = queue.take(5);
  assert.equal(first.buffer, chunk.buffer, "a view of the chunk");
  assert.equal(decode(first), "hello");
  assert.equal(queue.take(queue.length).buffer, chunk.buffer);
  assert.equal(queue.length, 0);
});

Deno.test("ByteQueue: append copies; a push behind waiting bytes is copied too", () => {
  const queue = new ByteQueue();
  const kept = encode("abc");
  queue.append(kept);
  kept.fill(0); // the queue's copy does not change
  queue.push(encode("def"));
  queue.push(encode("\nghi"));
  assert.equal(decode(queue.view()), "abcdef\nghi");
  assert.equal(queue.indexOf(encode("\n")), 6);
  assert.equal(queue.indexOf(encode("\n"), 7), -1);
  const line = queue.take(7);
  assert.equal(decode(line), "abcdef\n");
  queue.skip(1);
  assert.equal(decode(queue.view()), "hi");
});

Deno.test("ByteQueue: many small appends stay in order as the buffer grows and reuses its front", () => {
  const queue = new ByteQueue();
  let expected = "";
  for (let i = 0; i < 2000; i++) {
    const piece = `${i},`;
    queue.append(encode(piece));
    expected += piece;
    if (i % 7 === 0) {
      const n = Math.min(5, queue.length);
      assert.equal(decode(queue.take(n)), expected.slice(0, n));
      expected = expected.slice(n);
    }
  }
  assert.equal(decode(queue.view()), expected);
});
