import assert from "node:assert/strict";
import { ConnectionLimits } from "./connection_limits.ts";

for (const kind of ["local", "shared"] as const) {
  Deno.test(`ConnectionLimits (${kind}): total and per-address limits`, () => {
    const limits = ConnectionLimits[kind]({
      maxConnections: 4,
      maxConnectionsPerIp: 2,
    });
    assert.equal(limits.acquire("10.0.0.1"), null);
    assert.equal(limits.acquire("10.0.0.1"), null);
    assert.equal(limits.acquire("10.0.0.1"), "per_address");
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

/** FNV-1a, as the shared limits once placed addresses: slots of 65,536. */
function fnvSlot(address: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    hash ^= address.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % 65536;
}

Deno.test("ConnectionLimits (shared): an address that hashes with another cannot shut it out", () => {
  // Find a loopback address that shared 127.0.0.1's slot in an unkeyed
  // table, as an attacker would (a fraction of a second).
  const victim = "127.0.0.1";
  let attacker = "";
  for (let n = 1; attacker === "" && n < 1 << 24; n++) {
    const candidate = `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    if (candidate !== victim && fnvSlot(candidate) === fnvSlot(victim)) {
      attacker = candidate;
    }
  }
  assert.notEqual(attacker, "");
  const limits = ConnectionLimits.shared({ maxConnectionsPerIp: 3 });
  for (let i = 0; i < 3; i++) assert.equal(limits.acquire(attacker), null);
  assert.equal(limits.acquire(attacker), "per_address");
  for (let i = 0; i < 3; i++) {
    assert.equal(limits.acquire(victim), null, `the victim's connection ${i}`);
  }
  assert.equal(limits.acquire(victim), "per_address");
});

for (const kind of ["local", "shared"] as const) {
  Deno.test(`ConnectionLimits (${kind}): every spelling of an address is one budget`, () => {
    const limits = ConnectionLimits[kind]({ maxConnectionsPerIp: 3 });
    const spellings = [
      "192.0.2.7",
      "::ffff:192.0.2.7",
      "::FFFF:C000:207",
      "0:0:0:0:0:ffff:c000:0207",
    ];
    let accepted = 0;
    for (const spelling of spellings) {
      if (limits.acquire(spelling) === null) accepted++;
    }
    assert.equal(accepted, 3);
    limits.release("::ffff:c000:207");
    assert.equal(limits.acquire("192.0.2.7"), null);
  });
}

Deno.test("ConnectionLimits (shared): counts stay exact through many addresses coming and going", () => {
  const limits = ConnectionLimits.shared({ maxConnectionsPerIp: 2 });
  const model = new Map<string, number>();
  let seed = 1;
  const random = () => (seed = (seed * 48271) % 0x7fffffff) / 0x7fffffff;
  const address = () =>
    `10.0.${Math.floor(random() * 120)}.${Math.floor(random() * 250)}`;
  for (let step = 0; step < 60_000; step++) {
    const a = address();
    const open = model.get(a) ?? 0;
    if (open > 0 && random() < 0.45) {
      limits.release(a);
      model.set(a, open - 1);
    } else {
      const refusal = limits.acquire(a);
      assert.equal(refusal, open < 2 ? null : "per_address", `${a} at ${step}`);
      if (refusal === null) model.set(a, open + 1);
    }
  }
});
