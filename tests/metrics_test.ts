// The server's metrics go to whatever meter provider is registered when a
// server starts, and the OpenTelemetry API is loaded only where something
// registered with it. Each test runs a fresh Deno (no OTEL_DENO).

import assert from "node:assert/strict";

const LIB = new URL("../lib/mod.ts", import.meta.url).href;
const OTEL_API = "npm:@opentelemetry/api@^1.9.0";

/** Runs `script` in a new Deno; its standard output. */
async function run(script: string): Promise<string> {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", OTEL_DENO: "false" },
  }).output();
  assert.ok(result.success, new TextDecoder().decode(result.stderr));
  return new TextDecoder().decode(result.stdout);
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
  const measure = `
    for (let i = 0; i < 5; i++) globalThis.gc();
    console.log(Deno.memoryUsage().heapUsed);`;
  const heap = Number(await run(ONE_CONNECTION + measure));
  const heapWithApi = Number(
    await run(`import "${OTEL_API}";\n${ONE_CONNECTION}${measure}`),
  );
  // The API takes about 0.3 MiB here.
  assert.ok(
    heapWithApi - heap > 150 * 1024,
    `live heap ${heap} B without the API, ${heapWithApi} B with it loaded`,
  );
});
