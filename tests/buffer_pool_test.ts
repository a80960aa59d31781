import assert from "node:assert/strict";
import { BufferPool } from "../echo/buffer_pool.ts";

Deno.test("BufferPool hands back what it was given, up to maxFree", () => {
  const pool = new BufferPool(1024, 2);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.equal(a.byteLength, 1024);
  assert.notEqual(a, b);
  pool.give(a);
  pool.give(b);
  pool.give(c); // over maxFree: dropped
  assert.equal(pool.freeCount, 2);
  assert.equal(pool.take(), b);
  assert.equal(pool.take(), a);
  assert.notEqual(pool.take(), c);
});

Deno.test("BufferPool refuses arrays of another size", () => {
  const pool = new BufferPool(1024, 4);
  pool.give(new Uint8Array(10));
  assert.equal(pool.freeCount, 0);
});
