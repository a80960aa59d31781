// The programs over TLS and Unix sockets, as real processes.

import assert from "node:assert/strict";
import { projectFile, runProgram, ServerProcess } from "./_process.ts";
import { issue, makeCa, testCerts } from "./_certs.ts";

const READ_NET = ["--allow-net", "--allow-read"];
// Deno asks for net permission for Unix sockets too.
const UNIX = ["--allow-net", "--allow-read", "--allow-write"];

Deno.test("programs: the seed's exchange over TLS", async () => {
  const certs = await testCerts();
  const server = await ServerProcess.start(
    ["--tls-cert", certs.certFile, "--tls-key", certs.keyFile],
    READ_NET,
  );
  try {
    const client = await runProgram("main_client.ts", [
      "--port",
      String(server.port),
      "--tls",
      "--ca",
      certs.caFile,
    ], { permissions: READ_NET });
    assert.equal(client.code, 0, client.stderr);
    assert.ok(client.lines.includes("EchoClient: received EOF"));
    assert.ok(
      client.lines.some((l) =>
        l.startsWith("EchoClient: received b'This is the message. ")
      ),
    );
    await server.waitForLine((l) => l.endsWith(": closing"));
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("programs: a client without the CA refuses the server, in one line", async () => {
  const certs = await testCerts();
  const server = await ServerProcess.start(
    ["--tls-cert", certs.certFile, "--tls-key", certs.keyFile],
    READ_NET,
  );
  try {
    const client = await runProgram("main_client.ts", [
      "--port",
      String(server.port),
      "--tls",
      "--log-level",
      "error",
    ]);
    assert.equal(client.code, 1);
    assert.deepEqual(client.lines, [
      `main: cannot connect to localhost port ${server.port}: the server's certificate was refused: unable to verify the first certificate`,
    ]);
  } finally {
    await server.stop();
  }
});

Deno.test("programs: a missing certificate file is one line and exit 1", async () => {
  const certs = await testCerts();
  const result = await runProgram("main_server.ts", [
    "--port",
    "0",
    "--tls-cert",
    "/nonexistent/cert.pem",
    "--tls-key",
    certs.keyFile,
  ], { permissions: READ_NET });
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    "main: cannot read --tls-cert /nonexistent/cert.pem: no such file",
  ]);
  const noRead = await runProgram("main_server.ts", [
    "--port",
    "0",
    "--tls-cert",
    certs.certFile,
    "--tls-key",
    certs.keyFile,
  ]);
  assert.equal(noRead.code, 1);
  assert.deepEqual(noRead.lines, [
    `main: --tls-cert needs to read its files: deno run --allow-net --allow-read main_server.ts --port 0 --tls-cert ${certs.certFile} --tls-key ${certs.keyFile}`,
  ]);
});

Deno.test("programs: the seed's exchange over a Unix socket", async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
  const path = `${dir}/echo.sock`;
  const server = await ServerProcess.spawn(
    [Deno.execPath(), "run", ...UNIX, projectFile("main_server.ts")],
    ["--unix", path],
  );
  try {
    assert.ok(
      server.lines.includes(`main: starting up on ${path}`),
      server.lines.join("\n"),
    );
    const client = await runProgram("main_client.ts", ["--unix", path], {
      permissions: UNIX,
    });
    assert.equal(client.code, 0, client.stderr);
    assert.ok(client.lines.includes("EchoClient: received EOF"));
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
});

Deno.test("programs: --unix on a path that is not a socket is refused, file kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
  const path = `${dir}/notes.txt`;
  await Deno.writeTextFile(path, "keep me");
  const result = await runProgram("main_server.ts", ["--unix", path], {
    permissions: UNIX,
  });
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: cannot listen on ${path}: ${path} exists and is not a socket; not removing it`,
  ]);
  assert.equal(await Deno.readTextFile(path), "keep me");
});

Deno.test("programs: --unix in a folder that does not exist says so", async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
  const path = `${dir}/no/such/echo.sock`;
  try {
    const result = await runProgram("main_server.ts", ["--unix", path], {
      permissions: UNIX,
    });
    assert.equal(result.code, 1);
    assert.deepEqual(result.lines, [
      `main: cannot listen on ${path}: no such file or directory`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("programs: --tls-key naming a certificate is refused in one line", async () => {
  const { certFile } = await testCerts();
  const result = await runProgram("main_server.ts", [
    "--tls-cert",
    certFile,
    "--tls-key",
    certFile,
  ], { permissions: ["--allow-net", "--allow-read"] });
  assert.equal(result.code, 1);
  assert.deepEqual(result.lines, [
    `main: --tls-key ${certFile} holds no private key (it is a certificate)`,
  ]);
});

const usageCases: [string, string[], RegExp][] = [
  ["main_server.ts", ["--tls-cert", "a.pem"], /--tls-cert needs --tls-key too/],
  ["main_server.ts", ["--tls-key", "a.pem"], /--tls-key needs --tls-cert too/],
  [
    "main_server.ts",
    ["--unix", "/tmp/x.sock", "--port", "1"],
    /--unix cannot be used with --port/,
  ],
  ["main_client.ts", ["--ca", "a.pem"], /--ca needs --tls/],
  [
    "main_client.ts",
    ["--unix", "/tmp/x.sock", "--tls"],
    /--tls cannot be used with --unix/,
  ],
  ["main_client.ts", ["--unix", ""], /--unix must not be empty/],
];
for (const [program, args, message] of usageCases) {
  Deno.test(`programs: ${program} ${args.join(" ")} is a usage error`, async () => {
    const result = await runProgram(program, args);
    assert.equal(result.code, 2);
    assert.equal(result.lines.length, 1, result.stderr);
    assert.match(result.lines[0], message);
  });
}

Deno.test("programs: a Unix client's socket path cannot forge or colour log lines", async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
  const path = `${dir}/echo.sock`;
  const server = await ServerProcess.spawn(
    [Deno.execPath(), "run", ...UNIX, projectFile("main_server.ts")],
    ["--unix", path, "--access-log"],
  );
  // Deno cannot bind a client socket before connecting: Python can. One
  // client binds a path, the other an abstract name (a leading NUL).
  const hostile = `${dir}/c\nmain: closing server\x1b[31mred\x07\\`;
  const client = await new Deno.Command("python3", {
    args: [
      "-c",
      `
import socket, sys
for name in (sys.argv[1].encode(), b"\\0abstract\\nmain: forged"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(name)
    s.connect(sys.argv[2])
    s.sendall(b"hello")
    s.shutdown(socket.SHUT_WR)
    while s.recv(100): pass
    s.close()
`,
      hostile,
      path,
    ],
  }).output();
  assert.ok(client.success, new TextDecoder().decode(client.stderr));
  try {
    const forged = "main: closing server";
    await server.waitForLine((l) =>
      l.includes("forged") && l.includes("closed")
    );
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    const text = server.lines.join("\n");
    assert.equal(server.lines.filter((l) => l.startsWith(forged)).length, 1);
    assert.ok(
      // deno-lint-ignore no-control-regex
      !/[\x00-\x08\x0b-\x1f\x7f]/.test(text),
      "a control byte in the log",
    );
    assert.ok(
      text.includes(
        `${dir}/c\\x0amain: closing server\\x1b[31mred\\x07\\\\`,
      ),
      text,
    );
    assert.ok(text.includes("\\x00abstract\\x0amain: forged"), text);
  } finally {
    await server.stop();
  }
});

Deno.test("programs: --tls-sni and --tls-client-ca, against openssl s_client; the access log names the client's certificate", async () => {
  const ca = await makeCa("Echo Test CA");
  const server = await issue(ca, { cn: "localhost", san: "DNS:localhost" });
  const named = await issue(ca, { cn: "named.test", san: "DNS:named.test" });
  const alice = await issue(ca, { cn: "alice", client: true });
  const echo = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--tls-cert",
    server.certFile,
    "--tls-key",
    server.keyFile,
    "--tls-sni",
    `named.test=${named.certFile},${named.keyFile}`,
    "--tls-client-ca",
    ca.certFile,
    "--keepalive",
    "--access-log",
    "--log-level",
    "info",
  ], READ_NET);
  const sClient = async (args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args: [
        "s_client",
        "-connect",
        `127.0.0.1:${echo.port}`,
        "-brief",
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    return new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
  };
  try {
    const aliceArgs = ["-cert", alice.certFile, "-key", alice.keyFile];
    assert.match(
      await sClient(["-servername", "named.test", ...aliceArgs]),
      /Peer certificate: CN ?= ?named\.test/,
    );
    assert.match(
      await sClient(["-servername", "other.test", ...aliceArgs]),
      /Peer certificate: CN ?= ?localhost/,
    );
    await echo.waitForLine((l) => l.includes('(certificate "CN=alice")'));
    // No client certificate: refused, one line, and the server goes on.
    await sClient(["-servername", "named.test"]);
    await echo.waitForLine((l) =>
      /TLS handshake with 127\.0\.0\.1 port \d+ failed: (peer sent no certificates|the client's certificate was refused: it sent none)$/
        .test(l)
    );
    assert.match(
      await sClient(["-servername", "named.test", ...aliceArgs]),
      /Peer certificate: CN ?= ?named\.test/,
    );
    echo.kill("SIGTERM");
    assert.equal((await echo.status()).code, 0);
  } finally {
    await echo.stop();
  }
});

for (
  const [args, line] of [
    [
      ["--tls-sni", "x.test=a.pem,b.pem"],
      "echo-server: --tls-sni needs --tls-cert",
    ],
    [
      ["--tls-cert", "a.pem", "--tls-key", "b.pem", "--tls-sni", "x.test"],
      "echo-server: --tls-sni takes NAME=CERT,KEY (a host name, a certificate file, a key file), got 'x.test'",
    ],
    [
      ["--tls-client-ca", "ca.pem"],
      "echo-server: --tls-client-ca needs --tls-cert",
    ],
  ] as const
) {
  Deno.test(`programs: ${args.join(" ")} is a usage error`, async () => {
    const result = await runProgram("main_server.ts", [...args]);
    assert.equal(result.code, 2);
    assert.equal(result.lines.length, 1, result.stderr);
    assert.ok(result.lines[0].startsWith(line), result.lines[0]);
  });
}

Deno.test("programs: the client presents --tls-cert to a server that requires one (--tls-client-ca)", async () => {
  const ca = await makeCa("Echo Test CA");
  const server = await issue(ca, { cn: "localhost", san: "DNS:localhost" });
  const alice = await issue(ca, { cn: "alice", client: true });
  const echo = await ServerProcess.start([
    "--host",
    "localhost",
    "--tls-cert",
    server.certFile,
    "--tls-key",
    server.keyFile,
    "--tls-client-ca",
    ca.certFile,
    "--access-log",
    "--log-level",
    "info",
  ], READ_NET);
  try {
    const client = (extra: string[]) =>
      runProgram("main_client.ts", [
        "--host",
        "localhost",
        "--port",
        String(echo.port),
        "--tls",
        "--ca",
        ca.certFile,
        "--log-level",
        "error",
        ...extra,
      ], { permissions: READ_NET });
    const served = await client([
      "--tls-cert",
      alice.certFile,
      "--tls-key",
      alice.keyFile,
    ]);
    assert.equal(served.code, 0, served.stderr);
    await echo.waitForLine((l) =>
      /^access: .*\(certificate "CN=alice"\): closed after /.test(l)
    );
    const refused = await client([]);
    assert.equal(refused.code, 1);
    assert.equal(refused.lines.length, 1, refused.stderr);
    echo.kill("SIGTERM");
    assert.equal((await echo.status()).code, 0);
  } finally {
    await echo.stop();
  }
});
