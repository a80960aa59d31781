// The server's metrics go to whatever meter provider is registered when a
// server starts, and the OpenTelemetry API is loaded only where something
// registered with it. Each test runs a fresh Deno (no OTEL_DENO).

import assert from "node:assert/strict";
import { loadProbe, runScript } from "./_test_helpers.ts";

const LIB = new URL("./mod.ts", import.meta.url).href;
const OTEL_API = "npm:@opentelemetry/api@^1.9.0";

/** Runs `script` in a new Deno without OTEL_DENO; its standard output. */
async function run(script: string, probe?: string): Promise<string> {
  return (await runBoth(script, probe)).out;
}

/** Runs `script` in a new Deno without OTEL_DENO; its output and error. */
function runBoth(
  script: string,
  probe?: string,
): Promise<{ out: string; err: string }> {
  return runScript(script, { probe, env: { OTEL_DENO: "false" } });
}

// A server, one connection that sends 3 bytes and closes, the server closed.
const ONE_CONNECTION = `
  const { createServer } = await import("${LIB}");
  const lost = Promise.withResolvers();
  const server = await createServer(() => ({
    connectionLost: () => lost.resolve(),
  }), { hostname: "127.0.0.1" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await conn.write(new Uint8Array(3));
  conn.close();
  await lost.promise;
  await server.close();
  await server.waitClosed();
`;

Deno.test("a meter provider registered after the library is imported gets the server's metrics", async () => {
  const out = await run(`
    import { metrics } from "${OTEL_API}";
    const seen = [];
    const instrument = (name) => ({
      add: (value, attributes) => seen.push([name, value, attributes]),
      record: (value, attributes) => seen.push([name, value, attributes]),
      addCallback() {},
    });
    const meter = {
      createCounter: instrument,
      createUpDownCounter: instrument,
      createHistogram: instrument,
      createObservableUpDownCounter: instrument,
      createObservableGauge: instrument,
      createObservableCounter: instrument,
    };
    await import("${LIB}"); // imported first, as an application would
    metrics.setGlobalMeterProvider({ getMeter: () => meter });
    ${ONE_CONNECTION}
    console.log(JSON.stringify(seen));
  `);
  const seen: [string, number, Record<string, unknown>][] = JSON.parse(out);
  const ended = seen.find(([name]) => name === "protocols.server.connections");
  assert.ok(ended, out);
  assert.equal(ended[1], 1);
  assert.equal(ended[2]["protocols.connection.outcome"], "closed");
  const received = seen.find(([name, , attributes]) =>
    name === "protocols.server.io" &&
    attributes["network.io.direction"] === "receive"
  );
  assert.equal(received?.[1], 3, out);
});

Deno.test("a process that registers nothing with OpenTelemetry does not load its API", async () => {
  // The module graph says: an import map turns the API into a stub that
  // announces itself when anything loads it.
  const probe = await loadProbe(OTEL_API, "npm:@opentelemetry/api@1.10.0");
  const loaded = `MODULE LOADED: ${OTEL_API}`;
  const without = await runBoth(ONE_CONNECTION, probe);
  assert.ok(!without.err.includes(loaded), without.err);
  // The probe does see a process that loads the API.
  const used = await runBoth(`import "${OTEL_API}";\n${ONE_CONNECTION}`, probe);
  assert.ok(used.err.includes(loaded), used.err);
  await Deno.remove(probe, { recursive: true });
});
