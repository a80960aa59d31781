import assert from "node:assert/strict";
import { formatSummary, runLoad } from "../echo/load.ts";
import { createServer } from "../lib/server.ts";
import { EchoServer } from "../echo/echo.ts";
import { configureLogging } from "../echo/logging.ts";
import type { Protocol } from "../lib/protocol.ts";
import type { Transport } from "../lib/transport.ts";
import { runClient, runProgram } from "./_process.ts";

configureLogging({ level: "error", write: () => {} });

/** An echo server that flips one bit of the `nth` byte it echoes. */
function corrupting(nth: number): () => Protocol {
  let seen = 0;
  return () => {
    let transport: Transport;
    return {
      connectionMade: (t) => transport = t,
      dataReceived(data) {
        const copy = data.slice();
        if (seen <= nth && nth < seen + copy.length) copy[nth - seen] ^= 1;
        seen += copy.length;
        transport.write(copy);
      },
    };
  };
}

Deno.test("runLoad: N round trips over several connections, all byte-exact", async () => {
  await using server = await createServer(() => new EchoServer(), {
    hostname: "127.0.0.1",
  });
  const summary = await runLoad({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    connections: 4,
    size: 70_000,
    duration: 0,
    requests: 200,
  });
  assert.equal(summary.roundTrips, 200);
  assert.equal(summary.errors, 0);
  assert.equal(summary.byteExact, true);
  assert.ok(summary.roundTripsPerSecond > 0);
  assert.ok(summary.latencyUs.p50 <= summary.latencyUs.p99);
  assert.ok(summary.latencyUs.p99 <= summary.latencyUs.max);
  assert.match(formatSummary(summary), /byte-exact: yes/);
});

Deno.test("runLoad: a corrupted echo is caught", async () => {
  await using server = await createServer(corrupting(5000), {
    hostname: "127.0.0.1",
  });
  const summary = await runLoad({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    connections: 1,
    size: 1000,
    duration: 0,
    requests: 20,
  });
  assert.equal(summary.byteExact, false);
  assert.equal(summary.mismatches, 1);
  assert.ok(summary.roundTrips < 20);
  assert.match(summary.firstError ?? "", /byte 0 of a message differs/);
  assert.match(formatSummary(summary), /byte-exact: NO/);
});

Deno.test("runLoad: a server that hangs up mid-echo counts as an error", async () => {
  await using server = await createServer(() => {
    let transport: Transport;
    return {
      connectionMade: (t) => transport = t,
      dataReceived: (data) => {
        transport.write(data.subarray(0, 10));
        transport.close();
      },
    };
  }, { hostname: "127.0.0.1" });
  const summary = await runLoad({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    connections: 2,
    size: 100,
    duration: 5,
    requests: 0,
  });
  assert.equal(summary.roundTrips, 0);
  assert.equal(summary.errors, 2);
  assert.equal(summary.byteExact, true, "what came back was right");
});

Deno.test("client load mode: --json summary and exit 0", async () => {
  await using server = await createServer(() => new EchoServer(), {
    hostname: "127.0.0.1",
  });
  const result = await runClient(server.addrs[0].port, [
    "--connections",
    "3",
    "--requests",
    "60",
    "--size",
    "2000",
    "--json",
  ]);
  assert.equal(result.code, 0, result.stderr);
  const summary = JSON.parse(new TextDecoder().decode(result.stdout));
  assert.equal(summary.roundTrips, 60);
  assert.equal(summary.connections, 3);
  assert.equal(summary.size, 2000);
  assert.equal(summary.byteExact, true);
  assert.equal(summary.errors, 0);
  assert.equal(
    result.stderr,
    "",
    "no progress lines when stderr is no terminal",
  );
});

Deno.test("client load mode: a corrupting server makes it exit 1", async () => {
  await using server = await createServer(corrupting(100), {
    hostname: "127.0.0.1",
  });
  const result = await runClient(server.addrs[0].port, [
    "--requests",
    "10",
    "--duration",
    "5",
  ]);
  assert.equal(result.code, 1);
  const text = new TextDecoder().decode(result.stdout);
  assert.match(text, /byte-exact: NO/);
});

Deno.test("client load mode: a refused connection exits 1 with one line", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runClient(port, [
    "--connections",
    "2",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: cannot connect to 127.0.0.1 port ${port}: connection refused`,
  ]);
});

const usageCases: [string[], RegExp][] = [
  [["--connections", "0"], /--connections must be a whole number >= 1/],
  [["--size", "0"], /--size must be a whole number >= 1/],
  [["--size", "67108865"], /--size must be at most 67108864/],
  [["--duration", "0"], /--duration must be more than 0 seconds/],
  [["--requests", "x"], /--requests must be a whole number >= 1/],
  [["--json"], /--json is for load mode/],
  [
    ["--connections", "2", "--stdin"],
    /load mode \(--connections\) cannot be used with --stdin/,
  ],
  [["--size", "10", "--message", "x"], /cannot be used with --message/],
];
for (const [args, message] of usageCases) {
  Deno.test(`client load mode: usage error ${JSON.stringify(args)} exits 2`, async () => {
    const result = await runProgram("main_client.ts", args);
    assert.equal(result.code, 2);
    assert.equal(result.lines.length, 1, result.stderr);
    assert.match(result.lines[0], message);
  });
}
