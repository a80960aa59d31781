import assert from "node:assert/strict";
import { IdleSweeper } from "./_idle_sweeper.ts";

Deno.test("IdleSweeper reports an item whose counter stops, and only it", async () => {
  const quiet = { ioCount: 0 };
  const busy = { ioCount: 0 };
  const reported = Promise.withResolvers<{ ioCount: number }>();
  const seen: { ioCount: number }[] = [];
  const sweeper = new IdleSweeper<{ ioCount: number }>(200, (item) => {
    seen.push(item);
    reported.resolve(item);
  }, (item) => item.ioCount);
  const started = Date.now();
  sweeper.add(quiet);
  sweeper.add(busy);
  // Keep `busy` moving until `quiet` is reported.
  const ticker = setInterval(() => busy.ioCount++, 10);
  try {
    assert.equal(await reported.promise, quiet);
  } finally {
    clearInterval(ticker);
  }
  assert.ok(Date.now() - started >= 200, "not before the timeout");
  assert.deepEqual(seen, [quiet]);
  sweeper.delete(busy);
  sweeper.stop();
});

Deno.test("IdleSweeper forgets deleted items", async () => {
  const item = { ioCount: 0 };
  const other = { ioCount: 0 };
  const reported: unknown[] = [];
  const done = Promise.withResolvers<void>();
  const sweeper = new IdleSweeper<{ ioCount: number }>(50, (i) => {
    reported.push(i);
    done.resolve();
  }, (i) => i.ioCount);
  sweeper.add(item);
  sweeper.add(other);
  sweeper.delete(item);
  // The sweeper's timer does not keep the process alive on its own.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    await done.promise;
  } finally {
    clearInterval(keepAlive);
  }
  assert.deepEqual(reported, [other]);
  sweeper.stop();
});
