import assert from "node:assert/strict";
import { ReadSlabs, writeQueued, writeSent } from "./_read_slabs.ts";
import { KEPT_READ_SIZE, RELEASED_SLAB_SIZE, SLAB_SIZE } from "./_defaults.ts";

/**
 * `count` reads of `n` bytes (each filled with its number), each delivered
 * to a protocol that does `use` with it; the chunks.
 */
function readChunks(
  slabs: ReadSlabs,
  count: number,
  size: number,
  n: number,
  use: (chunk: Uint8Array) => void = () => {},
): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const target = slabs.target(size);
    target.fill(i + 1, 0, n);
    const chunk = slabs.take(target, n);
    use(chunk);
    slabs.delivered();
    chunks.push(chunk);
  }
  return chunks;
}

/** An echo's dataReceived: write the chunk back, then release it. */
const echo = (slabs: ReadSlabs) => (chunk: Uint8Array) => {
  writeQueued(chunk);
  slabs.release(chunk);
};

Deno.test("reads go one after another into a slab, each chunk its own bytes", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 3, 256, 100);
  assert.equal(chunks[0].buffer, chunks[1].buffer);
  assert.deepEqual(chunks.map((c) => c.byteOffset), [0, 100, 200]);
  chunks.forEach((chunk, i) => assert.ok(chunk.every((b) => b === i + 1)));
});

Deno.test("chunks not released are never detached nor rewritten, whatever was written", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 2000, 1024, 1000, (chunk) => {
    writeQueued(chunk); // written twice, to two transports, say
    writeQueued(chunk);
  });
  for (const chunk of chunks) {
    writeSent(chunk);
    writeSent(chunk);
  }
  readChunks(slabs, 100, 2 * SLAB_SIZE, 10); // retires every slab
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.byteLength, 1000);
    assert.ok(chunk.every((b) => b === ((i + 1) & 0xff)));
  });
});

Deno.test("a slab whose chunks were all released and sent is detached, not rewritten", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 2, 256, 256, echo(slabs)); // one slab
  const first = chunks[0];
  slabs.target(256); // retires the full slab
  assert.equal(first.byteLength, 256, "still being sent: untouched");
  writeSent(chunks[0]);
  assert.equal(first.byteLength, 256, "a write of it is still queued");
  writeSent(chunks[1]);
  assert.equal(first.byteLength, 0, "all sent: detached");
});

Deno.test("a released chunk still queued on another transport holds its slab until sent there", () => {
  const slabs = new ReadSlabs();
  const [chunk] = readChunks(slabs, 1, 256, 256, (chunk) => {
    writeQueued(chunk); // written back,
    writeQueued(chunk); // and to a slow transport
    slabs.release(chunk);
  });
  writeSent(chunk); // the fast one sent it
  slabs.target(512); // the slab is full: retired
  assert.equal(chunk.byteLength, 256);
  assert.ok(chunk.every((b) => b === 1));
  writeSent(chunk); // the slow one too
  assert.equal(chunk.byteLength, 0);
});

Deno.test("a view of a released chunk, written after it, holds the slab until it is sent", () => {
  const slabs = new ReadSlabs();
  let view: Uint8Array = new Uint8Array(0);
  const [chunk] = readChunks(slabs, 1, 256, 256, (chunk) => {
    view = chunk.subarray(0, 1);
    writeQueued(chunk);
    writeQueued(view);
    slabs.release(chunk);
  });
  writeSent(chunk);
  slabs.target(512);
  assert.equal(view.byteLength, 1);
  writeSent(view);
  assert.equal(chunk.byteLength, 0);
});

Deno.test("a chunk released after its call comes back then; a slice of it, a copy or a second release do nothing", () => {
  const slabs = new ReadSlabs();
  const [a, b] = readChunks(slabs, 2, 256, 256);
  slabs.target(512); // retired, both chunks held
  slabs.release(a.subarray(1)); // not a chunk
  slabs.release(a.slice()); // a copy
  slabs.release(a);
  slabs.release(a); // again: must not count for b
  assert.equal(b.byteLength, 256, "b is still held");
  assert.equal(a.byteLength, 256, "a's slab is b's too");
  slabs.release(b);
  assert.equal(b.byteLength, 0);
  assert.equal(a.byteLength, 0);
});

Deno.test("a chunk of another connection's slabs is not released through this one", () => {
  const one = new ReadSlabs();
  const other = new ReadSlabs();
  const [chunk] = readChunks(one, 1, 256, 256);
  one.target(512);
  other.release(chunk);
  assert.equal(chunk.byteLength, 256);
  one.release(chunk);
  assert.equal(chunk.byteLength, 0);
});

Deno.test("memory a protocol froze, or marked as it likes, is still a slab's and comes back", () => {
  const slabs = new ReadSlabs();
  const chunks = readChunks(slabs, 2, 256, 256, (chunk) => {
    if (!Object.isFrozen(chunk.buffer)) {
      Object.defineProperty(chunk.buffer, "slab", { value: "mine" });
      Object.freeze(chunk.buffer);
    }
    echo(slabs)(chunk);
  });
  slabs.target(256); // retires the full slab
  writeSent(chunks[0]);
  assert.equal(chunks[0].byteLength, 256, "a write of it is still queued");
  writeSent(chunks[1]);
  assert.equal(chunks[0].byteLength, 0, "all sent: detached");
  const [next] = readChunks(slabs, 1, 256, 256);
  assert.equal(next.byteLength, 256);
  assert.ok(next.every((b) => b === 1));
});

Deno.test("slabs grow to 8 KiB while chunks are released, to 64 KiB while kept", () => {
  const released = new ReadSlabs();
  const sizes = new Set<number>();
  for (let i = 0; i < 200; i++) {
    const [chunk] = readChunks(released, 1, 1024, 1024, echo(released));
    sizes.add(chunk.buffer.byteLength);
    writeSent(chunk);
  }
  assert.equal(Math.max(...sizes), RELEASED_SLAB_SIZE);

  const keeping = new ReadSlabs();
  const kept = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const [chunk] = readChunks(keeping, 1, 1024, 1024);
    kept.add(chunk.buffer.byteLength);
  }
  assert.equal(Math.max(...kept), SLAB_SIZE);
  assert.equal(Math.min(...kept), 2 * 1024, "the first slab holds two reads");
});

Deno.test("an echo's slabs all come back: every full one is detached once sent", () => {
  const slabs = new ReadSlabs();
  const memory = new Set<ArrayBufferLike>();
  for (let i = 0; i < 1000; i++) {
    const [chunk] = readChunks(slabs, 1, 1024, 1024, echo(slabs));
    memory.add(chunk.buffer);
    writeSent(chunk);
  }
  const current = slabs.target(1024).buffer;
  const kept = [...memory].filter((b) => b.byteLength > 0);
  assert.deepEqual(kept, [current]);
});

Deno.test("with a slab per read, a released chunk is detached once its writes are sent, not inside its call", () => {
  const slabs = new ReadSlabs({ slabPerRead: true });
  const target = slabs.target(4);
  const chunk = slabs.take(target, 4);
  // dataReceived: written, sent at once (an in-memory peer), released.
  writeQueued(chunk);
  writeSent(chunk);
  assert.equal(chunk.byteLength, 4, "not freed under the call");
  slabs.release(chunk);
  assert.equal(chunk.byteLength, 4);
  slabs.delivered();
  assert.equal(chunk.byteLength, 0, "taken back once the call returned");
});

Deno.test("many retired slabs waiting on their writes each come back once sent, in any order", () => {
  const slabs = new ReadSlabs();
  // A peer that stops reading: chunks are written back and none is sent.
  const chunks = readChunks(slabs, 3000, 1024, 1024, echo(slabs));
  slabs.target(2 * SLAB_SIZE); // more than any slab holds: all are retired
  const memory = new Map<Uint8Array, ArrayBufferLike>(
    chunks.map((chunk) => [chunk, chunk.buffer]),
  );
  const unsent = new Set(chunks);
  // Sent newest first: each slab comes back once its own writes are all
  // sent, not before.
  for (const chunk of [...chunks].reverse()) {
    writeSent(chunk);
    unsent.delete(chunk);
    const waiting = [...unsent].some((c) =>
      memory.get(c) === memory.get(chunk)
    );
    assert.equal(chunk.byteLength === 0, !waiting);
  }
  assert.ok(chunks.every((chunk) => chunk.byteLength === 0));
});

Deno.test("while chunks are kept, each read is copied into a slab exactly: no memory left unused between them", () => {
  const slabs = new ReadSlabs();
  // Reads of 16 KiB with 32 KiB asked for, as a ping-pong of 16 KiB has: a
  // slab read into directly would hold three, a quarter of it unused.
  const n = 16 * 1024;
  const chunks = readChunks(slabs, 40, 2 * n, n);
  const later = chunks.slice(10); // once the slabs are grown
  const memory = new Set(later.map((chunk) => chunk.buffer));
  const used = [...memory].reduce((sum, b) => sum + b.byteLength, 0);
  // The first and the last slab are shared with other chunks.
  assert.ok(
    used <= later.length * n + 2 * SLAB_SIZE,
    `${used} bytes of slabs for ${later.length * n} bytes of chunks`,
  );
  chunks.forEach((chunk, i) => {
    assert.equal(chunk.byteLength, n);
    assert.ok(chunk.every((b) => b === i + 1));
  });
});

Deno.test("copies of kept chunks are left to the garbage collector: releasing them later changes nothing", () => {
  const slabs = new ReadSlabs();
  // Kept from the first slab on, so later reads are copied, back to back.
  const chunks = readChunks(slabs, 200, 1024, 1000);
  const copies = chunks.slice(10);
  assert.ok(copies[0].buffer === copies[1].buffer, "small copies share memory");
  for (const chunk of copies) slabs.release(chunk);
  slabs.target(1024);
  copies.forEach((chunk, i) => {
    assert.equal(chunk.byteLength, 1000);
    assert.ok(chunk.every((b) => b === i + 11));
  });
});

Deno.test("while chunks are kept, reads are at most 64 KiB: larger copies would be fresh pages", () => {
  const slabs = new ReadSlabs();
  readChunks(slabs, 3, 1024, 1024); // kept: the first slab retired held
  const target = slabs.target(128 * 1024);
  assert.equal(target.byteLength, KEPT_READ_SIZE);
  const chunk = slabs.take(target, KEPT_READ_SIZE);
  assert.equal(chunk.byteLength, KEPT_READ_SIZE);
  assert.notEqual(chunk.buffer, target.buffer, "a copy, not the read buffer");
});
