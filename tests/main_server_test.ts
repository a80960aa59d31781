import assert from "node:assert/strict";
import { runProgram, ServerProcess } from "./_process.ts";

/** The seed's server lines for one connection, with the given chunks. */
function checkConnectionLines(lines: string[], message: string): void {
  const name = lines.find((l) => l.endsWith(": connection accepted"))
    ?.split(":")[0];
  assert.ok(name && /^EchoServer_127\.0\.0\.1_\d+$/.test(name), `${name}`);
  const mine = lines.filter((l) => l.startsWith(`${name}: `))
    .map((l) => l.slice(name.length + 2));
  assert.equal(mine[0], "connection accepted");
  const middle = mine.slice(1, -2);
  assert.ok(middle.length >= 2 && middle.length % 2 === 0);
  let received = "";
  for (let i = 0; i < middle.length; i += 2) {
    const chunk = middle[i].match(/^received b'(.*)'$/)?.[1];
    assert.ok(chunk !== undefined, middle[i]);
    assert.equal(middle[i + 1], `sent b'${chunk}'`);
    received += chunk;
  }
  assert.equal(received, message);
  assert.deepEqual(mine.slice(-2), ["received EOF", "closing"]);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`server: seed transcript, and ${signal} ends it with exit 0`, async () => {
    const server = await ServerProcess.start();
    try {
      assert.equal(
        server.lines[0],
        `main: starting up on localhost port ${server.port}`,
      );
      const client = await runProgram("main_client.ts", [
        "--port",
        String(server.port),
      ]);
      assert.equal(client.code, 0, client.stderr);
      await server.waitForLine((l) => l.endsWith(": closing"));
      server.kill(signal);
      const status = await server.status();
      assert.equal(status.code, 0);
      checkConnectionLines(
        server.lines,
        "This is the message. It will be sent in parts.",
      );
      assert.deepEqual(server.lines.slice(-2), [
        "main: closing server",
        "main: closing event loop",
      ]);
    } finally {
      await server.stop();
    }
  });
}

Deno.test("server: --help, --version", async () => {
  const help = await runProgram("main_server.ts", ["--help"]);
  assert.equal(help.code, 0);
  const text = new TextDecoder().decode(help.stdout);
  assert.match(text, /^Usage: echo-server \[OPTIONS\]/);
  for (
    const flag of [
      "--host",
      "--port",
      "--log-level",
      "--log-format",
      "--grace",
      "--max-connections",
    ]
  ) {
    assert.ok(text.includes(flag), flag);
  }
  const version = await runProgram("main_server.ts", ["--version"]);
  assert.equal(version.code, 0);
  assert.match(
    new TextDecoder().decode(version.stdout),
    /^echo-server \d+\.\d+\.\d+\n$/,
  );
});

const usageCases: [string[], RegExp][] = [
  [
    ["--port", "70000"],
    /--port must be a whole number from 0 to 65535, got '70000'/,
  ],
  [["--port", "abc"], /--port must be a whole number/],
  [["--port", "-1"], /--port/],
  [["--port"], /option '--port <value>' argument missing/i],
  [["--bogus"], /unknown option '--bogus'/],
  [["stray"], /unexpected argument 'stray'/],
  [
    ["--log-level", "loud"],
    /--log-level must be one of debug, info, warning, error, got 'loud'/,
  ],
  [["--log-format", "xml"], /--log-format must be one of text, json/],
  [["--grace=-3"], /--grace must be a number of seconds >= 0/],
  [["--grace", "-3"], /write --grace=VALUE/],
  [["--max-connections", "0"], /--max-connections must be a whole number >= 1/],
  [["--host", ""], /--host must not be empty/],
];
for (const [args, message] of usageCases) {
  Deno.test(`server: usage error ${JSON.stringify(args)} exits 2 with one line`, async () => {
    const result = await runProgram("main_server.ts", args);
    assert.equal(result.code, 2);
    assert.equal(result.lines.length, 1, result.stderr);
    assert.match(result.lines[0], message);
    assert.match(
      result.lines[0],
      /^echo-server: .*\(see 'echo-server --help'\)$/,
    );
  });
}

Deno.test("server: a port in use exits 1 naming host and port", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = listener.addr.port;
    const result = await runProgram("main_server.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
    ]);
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: cannot listen on 127.0.0.1 port ${port}: address already in use`,
    ]);
  } finally {
    listener.close();
  }
});

Deno.test("server: an unknown host exits 1 with one line", async () => {
  const result = await runProgram("main_server.ts", [
    "--host",
    "no-such-host.invalid",
    "--port",
    "0",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    "main: cannot listen on no-such-host.invalid port 0: host not found",
  ]);
});

Deno.test("server: no network permission exits 1 with one line", async () => {
  const result = await runProgram("main_server.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ], {
    permissions: [],
  });
  assert.equal(result.code, 1);
  assert.equal(result.lines.length, 1, result.stderr);
  assert.match(
    result.lines[0],
    /^main: cannot listen on 127\.0\.0\.1 port 0: permission denied \(.*--allow-net/,
  );
});

Deno.test("server: --log-format json writes one JSON object per line", async () => {
  const server = await ServerProcess.start(["--log-format", "json"]).catch(() =>
    null
  );
  // The start-up helper looks for the text line; JSON carries it in "message".
  assert.ok(server);
  try {
    const client = await runProgram("main_client.ts", [
      "--port",
      String(server.port),
      "--log-level",
      "error",
    ]);
    assert.equal(client.code, 0);
    await server.waitForLine((l) => l.includes('"message":"closing"'));
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    const records = server.lines.map((line) => JSON.parse(line));
    for (const record of records) {
      assert.equal(typeof record.time, "string");
      assert.ok(!Number.isNaN(Date.parse(record.time)));
      assert.ok(["debug", "info", "warning", "error"].includes(record.level));
      assert.equal(typeof record.logger, "string");
      assert.equal(typeof record.message, "string");
    }
    assert.deepEqual(records[0].logger, "main");
    assert.equal(records[0].port, server.port);
    const received = records.find((r) => r.message.startsWith("received b'"));
    assert.match(received.logger, /^EchoServer_127\.0\.0\.1_\d+$/);
    assert.equal(received.data, received.message.slice("received ".length));
  } finally {
    await server.stop();
  }
});
