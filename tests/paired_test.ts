import assert from "node:assert/strict";
import { pairedRatios, type Sample } from "../bench/paired.ts";

const RAW = 0;
const sample = (server: number, rate: number, cpuUs = 1): Sample => ({
  server,
  values: { rate, cpuUs },
});

Deno.test("pairedRatios: a change of machine speed between rounds does not move the ratio", () => {
  // The library runs at 0.95 of the raw loop throughout; the machine slows
  // by a quarter after the first round.
  const timeline = [
    sample(RAW, 100),
    sample(1, 95),
    sample(RAW, 100),
    sample(1, 71.25),
    sample(RAW, 75),
    sample(1, 71.25),
    sample(RAW, 75),
    sample(1, 71.25),
    sample(RAW, 75),
  ];
  const ratio = pairedRatios(timeline, RAW, { rate: "higher" }).get(1)!.rate;
  assert.equal(ratio.toFixed(3), "0.950");
});

Deno.test("pairedRatios: each run is compared with the raw runs either side of it", () => {
  const timeline = [sample(RAW, 100), sample(1, 90), sample(RAW, 80)];
  const ratios = pairedRatios(timeline, RAW, { rate: "higher" });
  assert.equal(ratios.get(1)!.rate, 1); // 90 ÷ mean(100, 80)
});

Deno.test("pairedRatios: at the ends of the timeline one raw run is enough", () => {
  const timeline = [sample(1, 50), sample(RAW, 100), sample(2, 120)];
  const ratios = pairedRatios(timeline, RAW, { rate: "higher" });
  assert.equal(ratios.get(1)!.rate, 0.5);
  assert.equal(ratios.get(2)!.rate, 1.2);
  assert.equal(ratios.has(RAW), false);
});

Deno.test("pairedRatios: a figure where less is better is inverted, so above 1 is better", () => {
  const timeline = [
    sample(RAW, 100, 8),
    sample(1, 100, 10),
    sample(RAW, 100, 8),
  ];
  const ratios = pairedRatios(timeline, RAW, {
    rate: "higher",
    cpuUs: "lower",
  });
  assert.deepEqual(ratios.get(1), { rate: 1, cpuUs: 0.8 });
});

Deno.test("pairedRatios: the median of the runs' ratios, so one odd run does not move it", () => {
  const timeline = [
    sample(RAW, 100),
    sample(1, 90),
    sample(RAW, 100),
    sample(1, 20), // a run disturbed on its own
    sample(RAW, 100),
    sample(1, 92),
    sample(RAW, 100),
  ];
  const ratios = pairedRatios(timeline, RAW, { rate: "higher" });
  assert.equal(ratios.get(1)!.rate, 0.9);
});

Deno.test("pairedRatios: without the baseline's runs there is nothing to pair with", () => {
  const timeline = [sample(1, 90), sample(2, 80)];
  assert.equal(pairedRatios(timeline, RAW, { rate: "higher" }).size, 0);
  assert.equal(pairedRatios(timeline, -1, { rate: "higher" }).size, 0);
});
