import assert from "node:assert/strict";
import { createServer } from "../lib/server.ts";
import { EchoServer } from "../echo/echo.ts";
import { configureLogging } from "../echo/logging.ts";
import {
  projectFile,
  runClient,
  runProgram,
  ServerProcess,
} from "./_process.ts";
import {
  randomBytes,
  readAll,
  silentServer,
  UNRESOLVABLE_HOST,
  writeAll,
} from "./_helpers.ts";
import { testCerts } from "./_certs.ts";

// The in-process servers below log nowhere: only the client's lines count.
configureLogging({ level: "error", write: () => {} });

async function echoServer() {
  return await createServer(() => new EchoServer(), { hostname: "127.0.0.1" });
}

Deno.test("client: the seed's transcript, line for line", async () => {
  await using server = await echoServer();
  const port = server.addrs[0].port;
  const result = await runClient(port);
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
    UNRESOLVABLE_HOST,
    "--log-level",
    "error",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: cannot connect to ${UNRESOLVABLE_HOST} port 10000: host not found`,
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
  [["--port", "0"], /--port must be from 1 to 65535 for the client/],
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
      /^echo-client: .*\(see 'deno run main_client\.ts --help'\)$/,
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

/**
 * A broken echo peer: reads until the client's EOF, sends back the first
 * half (or `reply`, or what `reply` makes of what it read), and closes
 * cleanly.
 */
function halfEcho(
  reply?: Uint8Array | ((received: Uint8Array) => Uint8Array),
): { port: number; done: Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const done = (async () => {
    const conn = await listener.accept();
    listener.close();
    const received = await readAll(conn);
    await writeAll(
      conn,
      typeof reply === "function"
        ? reply(received)
        : reply ?? received.subarray(0, received.length >> 1),
    );
    conn.close();
  })();
  return { port: listener.addr.port, done };
}

Deno.test("client: --stdin against a peer that echoes half exits 1 saying how much came back", async () => {
  const peer = halfEcho();
  const input = randomBytes(200_000);
  const result = await runClient(peer.port, [
    "--stdin",
    "--log-level",
    "error",
  ], { stdin: input });
  await peer.done;
  assert.equal(result.code, 1);
  assert.equal(result.stdout.length, 100_000);
  assert.deepEqual(result.lines, [
    `main: the echo from 127.0.0.1 port ${peer.port} is incomplete: 100,000 of 200,000 bytes came back`,
  ]);
});

Deno.test("client: the seed's messages count the same way", async () => {
  const peer = halfEcho();
  const result = await runClient(peer.port, [
    "--log-level",
    "error",
  ]);
  await peer.done;
  assert.equal(result.code, 1);
  assert.match(
    result.lines.at(-1)!,
    /is incomplete: 23 of 46 bytes came back$/,
  );
});

Deno.test("client: --stdin against a peer that changes one byte exits 1 naming the byte", async () => {
  const peer = halfEcho((received) => {
    const changed = received.slice();
    changed[123_456] ^= 0x20;
    return changed;
  });
  const result = await runClient(peer.port, [
    "--stdin",
    "--log-level",
    "error",
  ], { stdin: randomBytes(200_000) });
  await peer.done;
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: the echo from 127.0.0.1 port ${peer.port} differs from what was sent at byte 123,456: 200,000 bytes came back for 200,000 sent`,
  ]);
});

Deno.test("client: a peer that answers more than it was sent exits 1", async () => {
  const peer = halfEcho((received) =>
    new Uint8Array([...received, ...new TextEncoder().encode("EXTRA")])
  );
  const result = await runClient(peer.port, [
    "--message",
    "hello",
    "--log-level",
    "error",
  ]);
  await peer.done;
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: the echo from 127.0.0.1 port ${peer.port} differs from what was sent at byte 5: 10 bytes came back for 5 sent`,
  ]);
});

Deno.test("client: a peer that keeps sending what it was never sent is cut off at once, exit 1", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const flood = (async () => {
    const conn = await listener.accept();
    listener.close();
    const junk = new Uint8Array(64 * 1024).fill(0x78);
    let sent = 0;
    try {
      // Bounded, so that a client that never stops reading still ends.
      while (sent < 1024 * 1024 * 1024) sent += await conn.write(junk);
    } catch {
      // The client cut the connection: what this test waits for.
    } finally {
      conn.close();
    }
    return sent;
  })();
  const result = await runClient(listener.addr.port, [
    "--log-level",
    "error",
    "--timeout", // a safety net: the client must end long before
    "60",
  ]);
  const sent = await flood;
  assert.equal(result.code, 1);
  assert.match(
    result.lines.at(-1)!,
    /differs from what was sent at byte 0: [\d,]+ bytes came back for 46 sent$/,
  );
  assert.ok(sent < 1024 * 1024 * 1024, "the client stopped reading");
});

Deno.test("client: --log-bytes shortens each logged chunk", async () => {
  await using server = await echoServer();
  const result = await runClient(server.addrs[0].port, [
    "--message",
    "hello",
    "--log-bytes",
    "2",
  ]);
  assert.equal(result.code, 0, result.stderr);
  for (const line of ["sending", "received"]) {
    assert.ok(
      result.lines.includes(`EchoClient: ${line} b'he'... (5 bytes)`),
      result.lines.join("\n"),
    );
  }
});

Deno.test("client: a TLS alert in answer exits 1 saying the server speaks TLS", async () => {
  // A TLS 1.2 fatal alert record, as a TLS server sends a plain client.
  const peer = halfEcho(new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 2, 70]));
  const result = await runClient(peer.port, [
    "--log-level",
    "error",
  ]);
  await peer.done;
  assert.equal(result.code, 1);
  assert.match(
    result.lines.at(-1)!,
    /differs from what was sent at byte 0: 7 bytes came back for 46 sent \(the server answered with TLS: try --tls\)$/,
  );
});

Deno.test("client: a plain client closed by the TLS server exits 1 suggesting --tls", async () => {
  const server = await ServerProcess.startTls([
    "--host",
    "127.0.0.1",
    "--log-level",
    "info",
  ]);
  try {
    const result = await runClient(server.port, [
      "--log-level",
      "error",
    ]);
    assert.equal(result.code, 1);
    assert.match(
      result.lines.at(-1)!,
      /0 of 46 bytes came back \(if the server speaks TLS, try --tls\)$/,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("client: --ca naming a private key is refused in one line", async () => {
  const { keyFile } = await testCerts();
  const result = await runProgram("main_client.ts", [
    "--tls",
    "--ca",
    keyFile,
    "--log-level",
    "error",
  ], { permissions: ["--allow-net", "--allow-read"] });
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: --ca ${keyFile} holds no certificate (it is a private key)`,
  ]);
});

Deno.test("client: a missing Unix socket names the real cause", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const path of [`${dir}/none.sock`, `${dir}/no/such/dir.sock`]) {
      const result = await runProgram("main_client.ts", [
        "--unix",
        path,
        "--log-level",
        "error",
      ], { permissions: ["--allow-net", "--allow-read", "--allow-write"] });
      assert.equal(result.code, 1);
      assert.deepEqual(result.lines, [
        `main: cannot connect to ${path}: no such file or directory`,
      ]);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("client: a Unix socket whose backlog is full is one line, not the system's words", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/full.sock`;
  // A server that listens with no backlog and never accepts, and one
  // connection that fills the backlog.
  const server = new Deno.Command("python3", {
    args: [
      "-c",
      `
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(0)
held = socket.socket(socket.AF_UNIX)
held.connect(sys.argv[1])
print("full", flush=True)
sys.stdin.read()
`,
      path,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const out = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await out.read()).value?.trim(), "full");
    out.releaseLock();
    const result = await runProgram("main_client.ts", [
      "--unix",
      path,
      "--log-level",
      "error",
    ], { permissions: ["--allow-net", "--allow-read", "--allow-write"] });
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: cannot connect to ${path}: the server is not accepting connections (its backlog is full)`,
    ]);
  } finally {
    await server.stdin.close();
    await server.status;
    await server.stdout.cancel().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

for (
  const [what, flags] of [
    ["--duration 1", ["--duration", "1"]],
    ["--requests 5 --timeout 1", ["--requests", "5", "--timeout", "1"]],
  ] as const
) {
  Deno.test(`client: load mode with ${what} ends against a silent server, summary and exit 1`, async () => {
    const server = silentServer();
    try {
      const result = await runClient(server.port, [
        "--connections",
        "3",
        "--json",
        ...flags,
      ]);
      assert.equal(result.code, 1);
      const summary = JSON.parse(new TextDecoder().decode(result.stdout));
      assert.equal(summary.roundTrips, 0);
      assert.equal(summary.unanswered, 3);
    } finally {
      server.close();
    }
  });
}

Deno.test("client: --stdin --timeout ends at the deadline while standard input stays open", async () => {
  const server = silentServer();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      projectFile("main_client.ts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(server.port),
      "--stdin",
      "--timeout",
      "1",
      "--log-level",
      "error",
    ],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new Uint8Array([1, 2, 3]));
  try {
    // Standard input is still open: the deadline alone must end the client.
    const [{ code }, stderr] = await Promise.all([
      child.status,
      new Response(child.stderr).text(),
    ]);
    assert.equal(code, 1);
    assert.match(stderr, /timed out after 1 s/);
  } finally {
    await writer.close().catch(() => {});
    server.close();
  }
});

Deno.test("client: --idle-timeout gives up on a silent server in one line, exit 1", async () => {
  using server = silentServer();
  const result = await runClient(server.port, [
    "--idle-timeout",
    "0.5",
    "--log-level",
    "warning",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: 127.0.0.1 port ${server.port} sent and took nothing for 0.5 s (--idle-timeout)`,
  ]);
});

Deno.test("client: --retry waits for a server that starts later, then exchanges once", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close(); // nothing listens there now
  const client = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      projectFile("main_client.ts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      "--retry",
      "60",
      "--log-level",
      "info",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const reader = client.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  let pending = "";
  // The first refusal, logged with the wait before the next attempt.
  while (!lines.some((l) => l.includes("trying again in"))) {
    const { value, done } = await reader.read();
    if (done) break;
    pending += value;
    const parts = pending.split("\n");
    pending = parts.pop()!;
    lines.push(...parts);
  }
  assert.match(
    lines[0],
    new RegExp(
      `^main: cannot connect to 127\\.0\\.0\\.1 port ${port}: connection refused; trying again in 0\\.\\d s$`,
    ),
  );
  const server = await ServerProcess.spawn(
    [Deno.execPath(), "run", "--allow-net", projectFile("main_server.ts")],
    ["--host", "127.0.0.1", "--port", String(port)],
  );
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      pending += value;
    }
    assert.equal((await client.status).code, 0);
    await server.waitForLine((l) => l.endsWith("received EOF"));
    assert.equal(
      server.lines.filter((l) => l.endsWith("connection accepted")).length,
      1,
      "one connection, no attempt after it",
    );
  } finally {
    await server.stop();
  }
});

Deno.test("client: --retry gives up after its time with the last error, exit 1", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const result = await runClient(port, [
    "--retry",
    "0.5",
    "--log-level",
    "warning",
  ]);
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: cannot connect to 127.0.0.1 port ${port}: connection refused`,
  ]);
});

Deno.test("client: --retry and --idle-timeout are refused in load mode and with --udp", async () => {
  for (
    const [args, message] of [
      [["--retry", "5", "--connections", "2"], "--retry is not for load mode"],
      [
        ["--idle-timeout", "5", "--duration", "1"],
        "--idle-timeout is not for load mode",
      ],
      [["--udp", "--retry", "5"], "--udp cannot be used with --retry"],
      [["--retry=-1"], "--retry must be a number of seconds >= 0, got '-1'"],
    ] as const
  ) {
    const result = await runClient(1, [...args]);
    assert.equal(result.code, 2, args.join(" "));
    assert.equal(
      result.lines[0],
      `echo-client: ${message} (see 'deno run main_client.ts --help')`,
    );
  }
});

Deno.test("client: load mode on a terminal rewrites one progress line on stderr; with --json, none", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--log-level",
    "warning",
  ]);
  try {
    // `script` gives the client a terminal (util-linux).
    const underTerminal = async (extra: string[]) => {
      const command = [
        Deno.execPath(),
        "run",
        "--allow-net",
        projectFile("main_client.ts"),
        "--host",
        "127.0.0.1",
        "--port",
        String(server.port),
        "--connections",
        "2",
        "--duration",
        "2.5",
        ...extra,
      ].map((word) => `'${word}'`).join(" ");
      const { code, stdout } = await new Deno.Command("script", {
        args: ["-qefc", command, "/dev/null"],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { NO_COLOR: "1" },
      }).output();
      return { code, text: new TextDecoder().decode(stdout) };
    };
    const plain = await underTerminal([]);
    assert.equal(plain.code, 0, plain.text);
    const progress = plain.text.split("\r\x1b[K").filter((part) =>
      / round trips /.test(part)
    );
    assert.ok(progress.length >= 2, JSON.stringify(plain.text));
    assert.match(
      progress[0],
      /^1\.\d s \/ 2\.5 s {2}[\d,]+ round trips {2}[\d,]+\/s {2}p99 [\d,]+ µs$/,
    );
    const json = await underTerminal(["--json"]);
    assert.equal(json.code, 0, json.text);
    assert.ok(!json.text.includes("\x1b[K"), JSON.stringify(json.text));
  } finally {
    await server.stop();
  }
});
