import assert from "node:assert/strict";
import { LatencyHistogram } from "../echo/latency_histogram.ts";

/** The exact percentile of `values`, by the same rank rule. */
function exact(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1];
}

Deno.test("LatencyHistogram: percentiles below 1,024 µs are exact", () => {
  const h = new LatencyHistogram();
  const values = Array.from({ length: 1000 }, (_, i) => (i * 37) % 1000);
  for (const v of values) h.record(v);
  for (const p of [0.01, 0.5, 0.9, 0.99, 1]) {
    assert.equal(h.percentile(p), exact(values, p), `p${p * 100}`);
  }
  assert.equal(h.count, 1000);
  assert.equal(h.max, 999);
});

Deno.test("LatencyHistogram: large values within 0.2%, max exact", () => {
  const h = new LatencyHistogram();
  let seed = 1;
  const values: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    // Spread over 1 µs to about 17 minutes.
    values.push(Math.round(2 ** (30 * seed / 2 ** 31)));
  }
  for (const v of values) h.record(v);
  for (const p of [0.5, 0.9, 0.99, 0.999]) {
    const want = exact(values, p);
    const got = h.percentile(p);
    assert.ok(
      got >= want && got <= want * 1.002 + 1,
      `p${p * 100}: ${got} for ${want}`,
    );
  }
  assert.equal(h.max, Math.max(...values));
  assert.equal(h.percentile(1), h.max);
});

Deno.test("LatencyHistogram: empty, and values past the top bucket", () => {
  const h = new LatencyHistogram();
  assert.equal(h.percentile(0.5), 0);
  assert.equal(h.max, 0);
  h.record(2 ** 45);
  h.record(-3);
  assert.equal(h.percentile(0.5), 0);
  assert.equal(h.percentile(1), 2 ** 45);
});
