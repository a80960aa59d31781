import assert from "node:assert/strict";
import { ConnectionLimits } from "../lib/connection_limits.ts";

for (const kind of ["local", "shared"] as const) {
  Deno.test(`ConnectionLimits (${kind}): total and per-address limits`, () => {
    const limits = ConnectionLimits[kind]({
      maxConnections: 4,
      maxConnectionsPerIp: 2,
    });
    assert.equal(limits.acquire("10.0.0.1"), null);
    assert.equal(limits.acquire("10.0.0.1"), null);
    assert.equal(limits.acquire("10.0.0.1"), "per-address");
    assert.equal(limits.open, 2, "a refusal is not counted");
    assert.equal(limits.acquire("10.0.0.2"), null);
    assert.equal(limits.acquire(undefined), null); // a Unix socket peer
    assert.equal(limits.acquire("10.0.0.3"), "total");
    limits.release("10.0.0.1");
    assert.equal(limits.acquire("10.0.0.1"), null);
    // Per address only (a PROXY header's client counted later).
    limits.release("10.0.0.2");
    assert.equal(limits.acquire("10.0.0.2", false), null);
    assert.equal(limits.open, 3);
  });
}

Deno.test("ConnectionLimits: shared counts are one count for every thread", async () => {
  const main = ConnectionLimits.shared({ maxConnections: 3 });
  const worker = new Worker(
    `data:text/javascript,${
      encodeURIComponent(`
        self.onmessage = (event) => {
          const counts = new Int32Array(event.data);
          Atomics.add(counts, 0, 2); // two connections taken over there
          self.postMessage("done");
        };`)
    }`,
    { type: "module" },
  );
  try {
    const done = new Promise((resolve) => worker.onmessage = resolve);
    worker.postMessage(main.buffer);
    await done;
    assert.equal(main.open, 2);
    assert.equal(main.acquire("10.0.0.1"), null);
    assert.equal(main.acquire("10.0.0.1"), "total");
    // attach() sees the same counts and limits.
    const attached = ConnectionLimits.attach(main.buffer!);
    assert.equal(attached.maxConnections, 3);
    assert.equal(attached.acquire(undefined), "total");
  } finally {
    worker.terminate();
  }
});

Deno.test("ConnectionLimits: bad limits are RangeErrors", () => {
  assert.throws(
    () => ConnectionLimits.local({ maxConnectionsPerIp: -1 }),
    /maxConnectionsPerIp must be a whole number >= 0/,
  );
  assert.throws(
    () => ConnectionLimits.local({ maxConnections: 1.5 }),
    RangeError,
  );
});
