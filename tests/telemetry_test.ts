// What the people who run the server look at: the access log (one line per
// connection, for each way a connection ends) and OpenTelemetry metrics
// exported over OTLP/HTTP to a receiver on loopback.

import assert from "node:assert/strict";
import { readAll, waitFor, writeAll } from "./_helpers.ts";
import { ServerProcess } from "./_process.ts";

const HOST = "127.0.0.1";
const encode = (text: string) => new TextEncoder().encode(text);

async function echoOnce(port: number, text: string): Promise<string> {
  const conn = await Deno.connect({ hostname: HOST, port });
  await writeAll(conn, encode(text));
  await conn.closeWrite();
  const back = new TextDecoder().decode(await readAll(conn));
  conn.close();
  return back;
}

/** Resets a connection from Python (SO_LINGER 0) after sending `bytes`. */
async function resetAfter(port: number, bytes: number): Promise<void> {
  const { success } = await new Deno.Command("python3", {
    args: [
      "-c",
      `import socket, struct, time
s = socket.create_connection(("${HOST}", ${port}))
s.sendall(b"x" * ${bytes})
s.recv(${bytes})
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()`,
    ],
  }).output();
  assert.ok(success);
}

const accessLine = (outcome: string) => (l: string) =>
  l.startsWith("access: ") && l.includes(`: ${outcome} after `);

Deno.test("access log: one line per connection for closed, idle timeout, reset, refused and aborted", async () => {
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--access-log",
    "--log-level",
    "info",
    "--max-connections",
    "2",
    "--idle-timeout",
    "1",
    "--grace",
    "0",
  ]);
  try {
    assert.equal(await echoOnce(server.port, "hello"), "hello");
    const closed = await server.waitForLine(accessLine("closed"));
    assert.match(
      closed,
      /^access: 127\.0\.0\.1 port \d+: closed after \d+\.\d{3} s, 5 bytes in, 5 bytes out$/,
    );
    const idle = await Deno.connect({ hostname: HOST, port: server.port });
    await server.waitForLine(accessLine("idle timeout"));
    idle.close();
    await resetAfter(server.port, 3);
    assert.match(
      await server.waitForLine(accessLine("reset")),
      /: reset after .* 3 bytes in, 3 bytes out \(.+\)$/,
    );
    // Two held, the third refused.
    const held = await Promise.all(
      [1, 2].map(() => Deno.connect({ hostname: HOST, port: server.port })),
    );
    for (const conn of held) {
      await writeAll(conn, encode("x"));
      await conn.read(new Uint8Array(1));
    }
    const third = await Deno.connect({ hostname: HOST, port: server.port });
    await server.waitForLine(accessLine("refused"));
    third.close();
    // Shut down with no grace: the held ones are aborted.
    server.kill("SIGTERM");
    await server.status();
    assert.equal(server.lines.filter(accessLine("aborted")).length, 2);
    for (const conn of held) conn.close();
  } finally {
    await server.stop();
  }
});

Deno.test("access log: PROXY clients with their proxy, rejected headers, failed TLS handshakes", async () => {
  const proxied = await ServerProcess.start([
    "--host",
    HOST,
    "--access-log",
    "--log-level",
    "info",
    "--proxy-protocol",
  ]);
  try {
    const conn = await Deno.connect({ hostname: HOST, port: proxied.port });
    await writeAll(
      conn,
      encode("PROXY TCP4 203.0.113.9 192.0.2.1 4000 80\r\nhi"),
    );
    await conn.closeWrite();
    await readAll(conn);
    conn.close();
    assert.match(
      await proxied.waitForLine(accessLine("closed")),
      /^access: 203\.0\.113\.9 port 4000 via 127\.0\.0\.1 port \d+: closed after .* 2 bytes in, 2 bytes out$/,
    );
    const bad = await Deno.connect({ hostname: HOST, port: proxied.port });
    await writeAll(bad, encode("GET / HTTP/1.0\r\n\r\n")).catch(() => {});
    await readAll(bad).catch(() => {});
    bad.close();
    await proxied.waitForLine(accessLine("proxy rejected"));
  } finally {
    await proxied.stop("SIGTERM");
  }
  const tls = await ServerProcess.startTls([
    "--host",
    HOST,
    "--access-log",
    "--log-level",
    "info",
    "--handshake-timeout",
    "0.5",
  ]);
  try {
    const silent = await Deno.connect({ hostname: HOST, port: tls.port });
    assert.match(
      await tls.waitForLine(accessLine("tls failed")),
      /: tls failed after .* \(handshake not done in time\)$/,
    );
    silent.close();
  } finally {
    await tls.stop("SIGTERM");
  }
});

Deno.test("metrics: connections, bytes and outcomes reach an OTLP/HTTP receiver", async () => {
  const payloads: unknown[] = [];
  const receiver = Deno.serve(
    { hostname: HOST, port: 0, onListen() {} },
    async (request) => {
      if (new URL(request.url).pathname === "/v1/metrics") {
        payloads.push(await request.json());
      } else await request.body?.cancel();
      return Response.json({});
    },
  );
  const server = await ServerProcess.start(
    ["--host", HOST, "--log-level", "warning", "--max-connections", "1"],
    ["--allow-net"],
    {
      OTEL_DENO: "true",
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://${HOST}:${receiver.addr.port}`,
      OTEL_METRIC_EXPORT_INTERVAL: "200",
      OTEL_SERVICE_NAME: "echo-server-test",
    },
  );
  try {
    for (let i = 0; i < 3; i++) {
      assert.equal(await echoOnce(server.port, "four"), "four");
    }
    // One held, one refused at --max-connections 1.
    const held = await Deno.connect({ hostname: HOST, port: server.port });
    await writeAll(held, encode("x"));
    await held.read(new Uint8Array(1));
    const refused = await Deno.connect({ hostname: HOST, port: server.port });
    await readAll(refused).catch(() => {});
    refused.close();

    /** The latest data points of a metric, flattened. */
    const points = (name: string) => {
      const found: { value: number; attributes: Record<string, unknown> }[] =
        [];
      for (const payload of payloads.slice(-1)) {
        // deno-lint-ignore no-explicit-any
        for (const rm of (payload as any).resourceMetrics ?? []) {
          for (const sm of rm.scopeMetrics ?? []) {
            for (const metric of sm.metrics ?? []) {
              if (metric.name !== name) continue;
              const data = metric.sum ?? metric.histogram ?? metric.gauge;
              for (const point of data.dataPoints) {
                const attributes = Object.fromEntries(
                  (point.attributes ?? []).map((
                    a: { key: string; value: Record<string, unknown> },
                  ) => [a.key, Object.values(a.value)[0]]),
                );
                const value = Number(
                  point.asInt ?? point.asDouble ?? point.count ?? 0,
                );
                found.push({ value, attributes });
              }
            }
          }
        }
      }
      return found;
    };
    const outcome = (name: string) =>
      points("protocols.server.connections").find((p) =>
        p.attributes["protocols.connection.outcome"] === name
      )?.value ?? 0;
    const bytes = (direction: string) =>
      points("protocols.server.io").find((p) =>
        p.attributes["network.io.direction"] === direction
      )?.value ?? 0;
    await waitFor(
      () =>
        outcome("closed") >= 3 && outcome("refused") >= 1 &&
        bytes("receive") >= 12 && bytes("transmit") >= 12 &&
        points("protocols.server.active_connections").some((p) =>
          p.value === 1
        ),
      "the metrics of 3 exchanges, 1 refusal and 1 open connection",
      20_000,
    );
    const duration = points("protocols.server.connection.duration");
    assert.ok(duration.some((p) => p.value >= 3), "a duration histogram");
    assert.equal(
      points("protocols.server.connections")[0].attributes["server.port"],
      server.port,
    );
    // lib/README.md's sample shows what is sent: a sum's points and the port
    // attribute as doubles (Deno exports the values it was given as numbers).
    // deno-lint-ignore no-explicit-any
    const metric = (payloads.at(-1) as any).resourceMetrics
      .flatMap((rm: { scopeMetrics: unknown[] }) => rm.scopeMetrics)
      .flatMap((sm: { metrics: unknown[] }) => sm.metrics)
      .find((m: { name: string }) => m.name === "protocols.server.connections");
    const sample = JSON.stringify(metric);
    assert.match(
      sample,
      /\{"key":"server\.port","value":\{"doubleValue":\d+\}\}/,
    );
    assert.match(sample, /"asDouble":\d+/);
    assert.doesNotMatch(sample, /"intValue"|"asInt"/);
    held.close();
  } finally {
    server.kill("SIGTERM");
    await server.status();
    await receiver.shutdown();
  }
});
