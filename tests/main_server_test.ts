import assert from "node:assert/strict";
import {
  projectFile,
  runClient,
  runProgram,
  ServerProcess,
} from "./_process.ts";
import {
  randomBytes,
  readAll,
  UNRESOLVABLE_HOST,
  waitFor,
  writeAll,
} from "./_helpers.ts";

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
  assert.match(text, /^Usage: deno run main_server\.ts \[OPTIONS\]/);
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
      /^echo-server: .*\(see 'deno run main_server\.ts --help'\)$/,
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
    UNRESOLVABLE_HOST,
    "--port",
    "0",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: cannot listen on ${UNRESOLVABLE_HOST} port 0: host not found`,
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

/** Opens a connection to the server process. */
function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Sends `data` and reads exactly as many bytes back. */
async function roundTrip(
  conn: Deno.Conn,
  data: Uint8Array,
): Promise<Uint8Array> {
  const [, back] = await Promise.all([
    writeAll(conn, data),
    readExactly(conn, data.byteLength),
  ]);
  return back;
}

async function readExactly(conn: Deno.Conn, size: number): Promise<Uint8Array> {
  const out = new Uint8Array(size);
  let offset = 0;
  while (offset < size) {
    const n = await conn.read(out.subarray(offset));
    if (n === null) throw new Error(`EOF after ${offset} of ${size} bytes`);
    offset += n;
  }
  return out;
}

Deno.test("server: SIGTERM lets 100 in-flight exchanges finish byte-exact, then exits 0", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--log-level",
    "info",
  ]);
  try {
    const conns = await Promise.all(
      Array.from({ length: 100 }, () => connect(server.port)),
    );
    const payloads = conns.map(() => randomBytes(64 * 1024));
    // First halves go through before the signal: every exchange is in flight.
    await Promise.all(conns.map(async (conn, i) => {
      const back = await roundTrip(conn, payloads[i].subarray(0, 32 * 1024));
      assert.deepEqual(back, payloads[i].subarray(0, 32 * 1024));
    }));
    server.kill("SIGTERM");
    await server.waitForLine((l) => /waiting up to 5 s for 100 open/.test(l));
    await assert.rejects(connect(server.port), "no longer accepting");
    await Promise.all(conns.map(async (conn, i) => {
      await writeAll(conn, payloads[i].subarray(32 * 1024));
      await conn.closeWrite();
      assert.deepEqual(await readAll(conn), payloads[i].subarray(32 * 1024));
      conn.close();
    }));
    const status = await server.status();
    assert.equal(status.code, 0);
    assert.ok(
      server.lines.some((l) =>
        /waiting up to 5 s for 100 open connection/.test(l)
      ),
    );
    assert.ok(
      !server.lines.some((l) => l.includes("aborted")),
      server.lines.join("\n"),
    );
    assert.equal(server.lines.at(-1), "main: closing event loop");
  } finally {
    await server.stop();
  }
});

Deno.test("server: a peer that never finishes is aborted after --grace", async () => {
  const server = await ServerProcess.start(["--grace", "0.5"]);
  try {
    const conn = await Deno.connect({
      hostname: "localhost",
      port: server.port,
    });
    await roundTrip(conn, new Uint8Array([1, 2, 3]));
    const signalled = Date.now();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    const elapsed = Date.now() - signalled;
    assert.ok(elapsed >= 450, `exited after ${elapsed} ms`);
    assert.ok(
      server.lines.includes(
        "main: aborted 1 connection(s) still open after 0.5 s",
      ),
      server.lines.join("\n"),
    );
    assert.equal((await readAll(conn)).byteLength, 0);
    conn.close();
  } finally {
    await server.stop();
  }
});

Deno.test("server: a second signal aborts at once", async () => {
  const server = await ServerProcess.start(["--grace", "60"]);
  try {
    const conn = await Deno.connect({
      hostname: "localhost",
      port: server.port,
    });
    await roundTrip(conn, new Uint8Array([7]));
    server.kill("SIGTERM");
    await server.waitForLine((l) => l.startsWith("main: waiting up to 60 s"));
    server.kill("SIGINT");
    assert.equal((await server.status()).code, 0);
    assert.ok(
      server.lines.includes(
        "main: aborted 1 connection(s) still open at the second signal",
      ),
    );
    conn.close();
  } finally {
    await server.stop();
  }
});

Deno.test("server: --max-connections 10 with 20 clients; refusals logged once a second", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--max-connections",
    "10",
    "--log-level",
    "info",
  ]);
  try {
    const conns: Deno.TcpConn[] = [];
    const served: boolean[] = [];
    for (let i = 0; i < 20; i++) {
      const conn = await connect(server.port);
      conns.push(conn);
      // Served connections echo; refused ones are closed at once.
      await writeAll(conn, new Uint8Array([i])).catch(() => {});
      const byte = new Uint8Array(1);
      const n = await conn.read(byte).catch(() => null);
      served.push(n === 1 && byte[0] === i);
    }
    assert.equal(served.filter(Boolean).length, 10);
    assert.deepEqual(served.slice(0, 10), Array(10).fill(true));
    const refusals = server.lines.filter((l) =>
      /Refusing connection from 127\.0\.0\.1 port \d+: 10 connections open/
        .test(l)
    );
    // One line, then one line counting the rest: a peer cannot flood the log.
    assert.equal(refusals.length, 1);
    const summary = await server.waitForLine((l) =>
      l.includes(
        "held back in the last second: refused at the connection limit",
      )
    );
    assert.match(summary, /^protocols: 9 more line\(s\) like the last/);
    // Closing one of the ten makes room again.
    conns[0].close();
    await waitFor(async () => {
      const conn = await connect(server.port);
      try {
        await writeAll(conn, new Uint8Array([42]));
        const byte = new Uint8Array(1);
        return (await conn.read(byte).catch(() => null)) === 1;
      } finally {
        conn.close();
      }
    }, "a slot frees up");
    for (const conn of conns.slice(1)) conn.close();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("server: --idle-timeout 1 closes an idle client", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--idle-timeout",
    "1",
  ]);
  try {
    const conn = await connect(server.port);
    const started = Date.now();
    assert.equal((await readAll(conn)).byteLength, 0, "the server closed it");
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 900, `closed after ${elapsed} ms`);
    await server.waitForLine((l) => l.endsWith(": closing"));
    await server.waitForLine((l) =>
      /^protocols: Closed idle connection from 127\.0\.0\.1 port \d+: no traffic for 1 s$/
        .test(l)
    );
    conn.close();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("server: at --log-level warning the start-up line is all a healthy server says", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--log-level",
    "warning",
  ]);
  try {
    const client = await runClient(server.port, [
      "--log-level",
      "warning",
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.deepEqual(client.lines, []);
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    assert.deepEqual(server.lines, [
      `main: starting up on 127.0.0.1 port ${server.port}`,
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("server: deno task server, run by the deno binary itself, shuts down gracefully at SIGTERM", async () => {
  // The README's advice for a supervisor: the binary, not npm's wrapper
  // (a Node script that does not pass signals on).
  const server = await ServerProcess.spawn(
    [Deno.execPath(), "task", "server"],
    ["--port", "0"],
    {},
    projectFile(""),
  );
  try {
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    assert.deepEqual(server.lines.slice(-2), [
      "main: closing server",
      "main: closing event loop",
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("server: a usage error inside deno task names the task in its hint", async () => {
  const result = await new Deno.Command(Deno.execPath(), {
    args: ["task", "-q", "server", "--bogus"],
    cwd: projectFile(""),
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(result.code, 2);
  const lines = new TextDecoder().decode(result.stderr).split("\n")
    .filter((l) => l.startsWith("echo-server:"));
  assert.deepEqual(lines, [
    "echo-server: unknown option '--bogus' (see 'deno task server --help')",
  ]);
});
