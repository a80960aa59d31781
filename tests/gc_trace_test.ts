import assert from "node:assert/strict";
import { GcTally } from "../bench/gc_trace.ts";

// Lines as Deno 2.9.6's V8 prints them.
const FULL =
  "[7721:0x55f478e78000]       33 ms: Mark-Compact 3.5 (4.5) -> 2.7 (4.5) MB, pooled: 0.0 MB, 5.68 / 0.00 ms (average mu = 0.822, current mu = 0.822) testing; GC in old space requested";
const INCREMENTAL =
  "[31906:0x5611ff236000]      696 ms: Incremental Mark-Compact 3.2 (7.5) -> 2.9 (7.5) MB, pooled: 0.0 MB, 0.55 / 0.00 ms (+ 8.1 ms in 47 steps since start of marking, biggest step 4.1 ms, walltime since start of marking 9 ms) (average mu = 0.921, current mu = 0.851) finalize incremental marking via task; GC in old space requested";
const SCAVENGE =
  "[7721:0x55f478e78000]       39 ms: Scavenge 3.8 (5.7) -> 3.5 (5.7) MB, pooled: 0.0 MB, 1.37 / 0.00 ms (average mu = 0.822, current mu = 0.822) allocation failure; ";

Deno.test("GcTally: counts full and young collections and the main thread's time in them", () => {
  const tally = new GcTally();
  for (const line of [FULL, SCAVENGE, INCREMENTAL, SCAVENGE]) tally.add(line);
  assert.equal(tally.full, 2);
  assert.equal(tally.young, 2);
  // The pauses, and the incremental marking's steps before its pause.
  assert.equal(
    tally.ms.toFixed(2),
    (5.68 + 1.37 + 0.55 + 8.1 + 1.37).toFixed(2),
  );
});

Deno.test("GcTally: ignores every other line", () => {
  const tally = new GcTally();
  tally.add("listening on 8000");
  tally.add("[7721:0x55f478e78000] Memory allocator,   used:   7680 KB");
  tally.add("");
  assert.deepEqual(tally.snapshot(), { full: 0, young: 0, ms: 0 });
});

Deno.test("GcTally: reads the trace of this Deno's V8", async () => {
  // A format change in a new Deno would leave bench:gc counting nothing.
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--v8-flags=--trace-gc,--expose-gc",
      "const gc = globalThis.gc; gc(); gc({ type: 'minor' });",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success);
  const tally = new GcTally();
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    tally.add(line);
  }
  // The two forced ones at least (start-up may add a young one).
  assert.ok(tally.full >= 1, `full: ${tally.full}`);
  assert.ok(tally.young >= 1, `young: ${tally.young}`);
  assert.ok(tally.ms > 0);
});
