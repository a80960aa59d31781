import assert from "node:assert/strict";
import { IdleSweeper } from "./_idle_sweeper.ts";
import { systemClock } from "./clock.ts";
import { FakeClock } from "./fake_clock.ts";

type Item = { ioCount: number };

Deno.test("IdleSweeper reports an item whose counter stops, and only it, within a sweep of its timeout", () => {
  const clock = new FakeClock();
  const quiet = { ioCount: 0 };
  const busy = { ioCount: 0 };
  const seen: [Item, number][] = [];
  const sweeper = new IdleSweeper<Item>(
    clock,
    2,
    (item) => seen.push([item, clock.now()]),
    (item) => item.ioCount,
  );
  sweeper.add(quiet);
  sweeper.add(busy);
  // `busy` has traffic every 0.1 s; `quiet` never.
  for (let i = 0; i < 30; i++) {
    busy.ioCount++;
    clock.advance(0.1);
  }
  assert.deepEqual(seen.map(([item]) => item), [quiet]);
  const at = seen[0][1];
  assert.ok(at >= 2 && at <= 2 + 0.5, `reported at ${at} s`);
  assert.equal(sweeper.size, 1, "busy is still watched");
  sweeper.delete(busy);
  assert.equal(clock.pending, 0, "no timer once nothing is watched");
});

Deno.test("IdleSweeper forgets deleted items, and restarts with the next add", () => {
  const clock = new FakeClock();
  const item = { ioCount: 0 };
  const other = { ioCount: 0 };
  const reported: Item[] = [];
  const sweeper = new IdleSweeper<Item>(
    clock,
    1,
    (i) => reported.push(i),
    (i) => i.ioCount,
  );
  sweeper.add(item);
  sweeper.add(other);
  sweeper.delete(item);
  clock.advance(1.5);
  assert.deepEqual(reported, [other]);
  assert.equal(clock.pending, 0);
  sweeper.add(item);
  clock.advance(1.5);
  assert.deepEqual(reported, [other, item]);
});

Deno.test("IdleSweeper on the system clock reports in real time", async () => {
  const reported = Promise.withResolvers<Item>();
  const item = { ioCount: 0 };
  const sweeper = new IdleSweeper<Item>(
    systemClock,
    0.05,
    reported.resolve,
    (i) => i.ioCount,
  );
  const started = performance.now();
  sweeper.add(item);
  // The sweeper's timer does not keep the process alive: this one does.
  const keepAlive = setInterval(() => {}, 1000);
  try {
    assert.equal(await reported.promise, item);
  } finally {
    clearInterval(keepAlive);
  }
  assert.ok(performance.now() - started >= 50);
  assert.equal(sweeper.size, 0);
});
