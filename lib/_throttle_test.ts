import assert from "node:assert/strict";
import { Throttle } from "./_throttle.ts";

Deno.test("Throttle: one event an interval, then the count of the rest", async () => {
  const summaries: number[] = [];
  const summarized = Promise.withResolvers<void>();
  const throttle = new Throttle((count) => {
    summaries.push(count);
    summarized.resolve();
  }, 50);
  const passed = Array.from({ length: 100 }, () => throttle.attempt());
  assert.equal(passed.filter(Boolean).length, 1);
  assert.equal(passed[0], true);
  // The throttle's timer never keeps a process alive: this one does.
  const alive = setTimeout(() => {}, 10_000);
  await summarized.promise;
  clearTimeout(alive);
  assert.deepEqual(summaries, [99]);
  throttle.close();
});

Deno.test("Throttle: close() reports what is held back at once", () => {
  const summaries: number[] = [];
  const throttle = new Throttle((count) => summaries.push(count), 60_000);
  throttle.attempt();
  throttle.attempt();
  throttle.attempt();
  throttle.close();
  assert.deepEqual(summaries, [2]);
});
