import assert from "node:assert/strict";
import {
  ReadSlabs,
  RETURNED_SLAB_SIZE,
  SLAB_SIZE,
} from "../lib/_read_slabs.ts";

/** `count` reads of `n` bytes (each filled with its number); the chunks. */
function readChunks(slabs: ReadSlabs, count: number, size: number, n: number) {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const target = slabs.target(size);
    target.fill(i + 1, 0, n);
    chunks.push(slabs.take(target, n));
  }
  return chunks;
}

Deno.test("reads go one after another into a slab, each chunk its own bytes", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 3, 256, 100);
  assert.equal(chunks[0].buffer, chunks[1].buffer);
  assert.deepEqual(chunks.map((c) => c.byteOffset), [0, 100, 200]);
  chunks.forEach((chunk, i) => assert.ok(chunk.every((b) => b === i + 1)));
});

Deno.test("a slab whose chunks all came back and were sent is detached, not rewritten", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 2, 256, 256); // the first slab: two reads
  for (const chunk of chunks) slabs.queued(chunk);
  const first = chunks[0];
  // Still being sent: untouched.
  slabs.target(256); // retires the full slab
  assert.equal(first.byteLength, 256);
  slabs.sent(chunks[0]);
  assert.equal(first.byteLength, 256, "a write of it is still queued");
  slabs.sent(chunks[1]);
  assert.equal(first.byteLength, 0, "all sent: detached");
});

Deno.test("a view of a chunk, queued after it, holds the slab until it is sent", () => {
  const slabs = new ReadSlabs();
  const [chunk] = readChunks(slabs, 1, 256, 256);
  const view = chunk.subarray(0, 1);
  slabs.queued(chunk);
  slabs.queued(view);
  slabs.sent(chunk);
  slabs.target(512); // the slab is full: retired
  assert.equal(view.byteLength, 1);
  slabs.sent(view);
  assert.equal(chunk.byteLength, 0);
});

Deno.test("a slab with a chunk the protocol kept is never detached", () => {
  const slabs = new ReadSlabs();
  const [kept] = readChunks(slabs, 1, 256, 200);
  slabs.delivered();
  slabs.queued(kept);
  slabs.sent(kept);
  readChunks(slabs, 10, 256, 256); // retires it, and more
  assert.equal(kept.byteLength, 200);
  assert.ok(kept.every((b) => b === 1));
});

Deno.test("slabs grow to 8 KiB while chunks come back, to 64 KiB while kept", () => {
  const returned = new ReadSlabs();
  const sizes = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const [chunk] = readChunks(returned, 1, 1024, 1024);
    sizes.add(chunk.buffer.byteLength);
    returned.queued(chunk);
    returned.sent(chunk);
  }
  assert.equal(Math.max(...sizes), RETURNED_SLAB_SIZE);

  const keeping = new ReadSlabs();
  const kept = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const [chunk] = readChunks(keeping, 1, 1024, 1024);
    keeping.delivered();
    kept.add(chunk.buffer.byteLength);
  }
  assert.equal(Math.max(...kept), SLAB_SIZE);
  assert.equal(Math.min(...kept), 2 * 1024, "the first slab holds two reads");
});

Deno.test("a chunk written again after its slab was retired still holds that slab", () => {
  const slabs = new ReadSlabs();
  const [chunk] = readChunks(slabs, 1, 256, 256);
  slabs.queued(chunk);
  slabs.target(512); // the next read needs a new slab: the first is retired
  slabs.queued(chunk); // written again, later
  slabs.sent(chunk);
  assert.equal(chunk.byteLength, 256, "one write of it is still queued");
  slabs.sent(chunk);
  assert.equal(chunk.byteLength, 0);
});

Deno.test("many retired slabs waiting on their writes each come back once sent, in any order", () => {
  const slabs = new ReadSlabs();
  // A peer that stops reading: chunks are written back and none is sent.
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < 3000; i++) {
    const [chunk] = readChunks(slabs, 1, 1024, 1024);
    slabs.queued(chunk);
    chunks.push(chunk);
  }
  slabs.target(2 * SLAB_SIZE); // more than any slab holds: all are retired
  const memory = new Map<Uint8Array, ArrayBufferLike>(
    chunks.map((chunk) => [chunk, chunk.buffer]),
  );
  const unsent = new Set(chunks);
  // Sent newest first: each slab comes back once its own writes are all
  // sent, not before.
  for (const chunk of [...chunks].reverse()) {
    slabs.sent(chunk);
    unsent.delete(chunk);
    const waiting = [...unsent].some((c) =>
      memory.get(c) === memory.get(chunk)
    );
    assert.equal(chunk.byteLength === 0, !waiting);
  }
  assert.ok(chunks.every((chunk) => chunk.byteLength === 0));
});
