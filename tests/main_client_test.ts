import assert from "node:assert/strict";
import { createServer } from "../lib/server.ts";
import { EchoServer } from "../lib/echo.ts";
import { configureLogging } from "../lib/logging.ts";
import { runProgram } from "./_process.ts";
import { randomBytes } from "./_helpers.ts";

// The in-process servers below log nowhere: only the client's lines count.
configureLogging({ level: "error", write: () => {} });

async function echoServer() {
  return await createServer(() => new EchoServer(), { hostname: "127.0.0.1" });
}

Deno.test("client: the seed's transcript, line for line", async () => {
  await using server = await echoServer();
  const port = server.addrs[0].port;
  const result = await runProgram("main_client.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
  ]);
  assert.equal(result.code, 0, result.stderr);
  const lines = result.lines;
  assert.deepEqual(lines.slice(0, 5), [
    "main: waiting for client to complete",
    `EchoClient: connecting to 127.0.0.1 port ${port}`,
    "EchoClient: sending b'This is the message. '",
    "EchoClient: sending b'It will be sent '",
    "EchoClient: sending b'in parts.'",
  ]);
  const received = lines.slice(5, -3);
  assert.ok(received.length >= 1);
  const echoed = received.map((line) => {
    const match = line.match(/^EchoClient: received b'(.*)'$/);
    assert.ok(match, line);
    return match[1];
  }).join("");
  assert.equal(echoed, "This is the message. It will be sent in parts.");
  assert.deepEqual(lines.slice(-3), [
    "EchoClient: received EOF",
    "EchoClient: server closed connection",
    "main: closing event loop",
  ]);
});

Deno.test("client: --message replaces the seed's messages, one write each", async () => {
  await using server = await echoServer();
  const result = await runProgram("main_client.ts", [
    "--port",
    String(server.addrs[0].port),
    "--message",
    "one",
    "--message",
    "it's two",
  ]);
  assert.equal(result.code, 0, result.stderr);
  assert.deepEqual(result.lines.filter((l) => l.includes("sending")), [
    "EchoClient: sending b'one'",
    `EchoClient: sending b"it's two"`,
  ]);
});

Deno.test("client: --stdin echoes 5 MB of binary data byte-exact", async () => {
  await using server = await echoServer();
  const data = randomBytes(5 * 1024 * 1024);
  const result = await runProgram("main_client.ts", [
    "--port",
    String(server.addrs[0].port),
    "--stdin",
    "--log-level",
    "warning",
  ], { stdin: data });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stderr, "");
  assert.equal(result.stdout.byteLength, data.byteLength);
  assert.deepEqual(result.stdout, data);
});

Deno.test("client: empty standard input sends EOF and exits 0", async () => {
  await using server = await echoServer();
  const result = await runProgram("main_client.ts", [
    "--port",
    String(server.addrs[0].port),
    "--stdin",
  ], { stdin: new Uint8Array(0) });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.byteLength, 0);
  assert.ok(result.lines.includes("EchoClient: received EOF"));
});

Deno.test("client: a refused connection exits 1 naming host and port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  const result = await runProgram("main_client.ts", ["--port", String(port)]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    "main: waiting for client to complete",
    "main: closing event loop",
    `main: cannot connect to localhost port ${port}: connection refused`,
  ]);
});

Deno.test("client: an unknown host exits 1 with one error line", async () => {
  const result = await runProgram("main_client.ts", [
    "--host",
    "no-such-host.invalid",
    "--log-level",
    "error",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    "main: cannot connect to no-such-host.invalid port 10000: host not found",
  ]);
});

Deno.test("client: --timeout ends an exchange the server never answers", async () => {
  // A listener that accepts (in the kernel) but never reads or answers.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const result = await runProgram("main_client.ts", [
      "--port",
      String(listener.addr.port),
      "--host",
      "127.0.0.1",
      "--timeout",
      "0.5",
      "--log-level",
      "error",
    ]);
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: exchange with 127.0.0.1 port ${listener.addr.port} timed out after 0.5 s`,
    ]);
  } finally {
    listener.close();
  }
});

Deno.test("client: no network permission exits 1 with one line", async () => {
  const result = await runProgram("main_client.ts", [
    "--host",
    "127.0.0.1",
    "--log-level",
    "error",
  ], {
    permissions: [],
  });
  assert.equal(result.code, 1);
  assert.equal(result.lines.length, 1, result.stderr);
  assert.match(
    result.lines[0],
    /^main: cannot connect to 127\.0\.0\.1 port 10000: permission denied \(.*--allow-net/,
  );
});

const usageCases: [string[], RegExp][] = [
  [
    ["--timeout", "soon"],
    /--timeout must be a number of seconds >= 0, got 'soon'/,
  ],
  [
    ["--stdin", "--message", "x"],
    /--stdin and --message cannot be used together/,
  ],
  [["--port", "65536"], /--port must be a whole number from 0 to 65535/],
  [["--message"], /argument missing/],
  [["--stdin=yes"], /does not take an argument/],
];
for (const [args, message] of usageCases) {
  Deno.test(`client: usage error ${JSON.stringify(args)} exits 2 with one line`, async () => {
    const result = await runProgram("main_client.ts", args);
    assert.equal(result.code, 2);
    assert.equal(result.lines.length, 1, result.stderr);
    assert.match(result.lines[0], message);
    assert.match(
      result.lines[0],
      /^echo-client: .*\(see 'echo-client --help'\)$/,
    );
  });
}

Deno.test("client: --help lists its flags", async () => {
  const help = await runProgram("main_client.ts", ["--help"]);
  assert.equal(help.code, 0);
  const text = new TextDecoder().decode(help.stdout);
  for (
    const flag of ["--message", "--stdin", "--timeout", "--host", "--port"]
  ) {
    assert.ok(text.includes(flag), flag);
  }
});
