// The echo server as a real process against peers and surroundings that
// misbehave: stalled TLS handshakes, a log reader that stopped reading,
// floods of bytes, forged PROXY headers, and peers that take every slot.

import assert from "node:assert/strict";
import { issue, makeCa, testCerts } from "./_certs.ts";
import {
  assertSameBytes,
  echoThrough,
  randomBytes,
  readAll,
  waitFor,
  writeAll,
} from "./_helpers.ts";
import {
  openFds,
  projectFile,
  ServerProcess,
  startWithStalledLog,
} from "./_process.ts";

const HOST = "127.0.0.1";

async function connect(port: number, hostname = HOST): Promise<Deno.TcpConn> {
  return await Deno.connect({ hostname, port });
}

/** Whether the server closed `conn`: a read ends (EOF or reset). */
async function closedByServer(conn: Deno.Conn): Promise<boolean> {
  try {
    return (await conn.read(new Uint8Array(1))) === null;
  } catch {
    return true; // reset
  }
}

/** Echoes a few bytes over a new connection; true when they came back. */
async function echoes(port: number, hostname = HOST): Promise<boolean> {
  const conn = await connect(port, hostname);
  try {
    const data = randomBytes(100);
    assertSameBytes(await echoThrough(conn, data, 100), data);
    return true;
  } catch {
    return false;
  } finally {
    conn.close();
  }
}

Deno.test({
  name:
    "hardening: TLS handshakes never finished are closed at --handshake-timeout and their descriptors released",
  // Descriptors are counted in /proc, which is Linux's.
  ignore: Deno.build.os !== "linux",
}, async () => {
  const server = await ServerProcess.startTls([
    "--host",
    HOST,
    "--handshake-timeout",
    "1",
    "--max-connections",
    "20",
    "--log-level",
    "info",
  ]);
  try {
    const baseline = await openFds(server.pid);
    // Twenty clients connect and never say a word: every slot is taken.
    const silent = await Promise.all(
      Array.from({ length: 20 }, () => connect(server.port)),
    );
    await waitFor(
      async () => (await openFds(server.pid)) >= baseline + 20,
      "the server holds the twenty",
    );
    // While pending they count against --max-connections.
    const extra = await connect(server.port);
    assert.ok(await closedByServer(extra), "the 21st is refused");
    extra.close();
    await server.waitForLine((l) => l.includes("open (the limit)"));
    // Each is closed by the server at the deadline...
    const closed = await Promise.all(silent.map(closedByServer));
    assert.deepEqual(closed, Array(20).fill(true));
    for (const conn of silent) conn.close();
    // ...and its descriptor released.
    await waitFor(
      async () => (await openFds(server.pid)) <= baseline,
      "descriptors back to the baseline",
    );
    const timeouts = () =>
      server.lines.filter((l) =>
        /TLS handshake with 127\.0\.0\.1 port \d+ failed: not done within 1 s/
          .test(l)
      ).length;
    // Logged at most once a second, then how many were held back.
    const heldBack = () =>
      server.lines.map((l) =>
        l.match(
          /^protocols: (\d+) more line\(s\) like the last held back in the last second: TLS handshake failed$/,
        )
      ).reduce((sum, m) => sum + (m ? Number(m[1]) : 0), 0);
    await waitFor(
      () => timeouts() + heldBack() >= 20,
      "twenty timeouts logged or counted",
    );
    assert.equal(timeouts() + heldBack(), 20);
    assert.ok(timeouts() < 20, "rate-limited");
    // Real TLS clients are served again.
    const { ca } = await testCerts();
    const tls = await Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      caCerts: [ca],
    });
    const data = randomBytes(1000);
    assertSameBytes(await echoThrough(tls, data, 1000), data);
    tls.close();
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("hardening: a TLS client that closes without close_notify is no ERROR line", async () => {
  const { ca } = await testCerts();
  const server = await ServerProcess.startTls([
    "--host",
    HOST,
  ]);
  try {
    const tls = await import("node:tls");
    // node:tls's destroy() drops the TCP connection without close_notify.
    const socket = tls.connect({
      host: HOST,
      port: server.port,
      servername: "localhost",
      ca,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once("secureConnect", resolve);
      socket.once("error", reject);
    });
    const echoed = new Promise<void>((resolve) =>
      socket.once("data", () => resolve())
    );
    socket.write("hello");
    await echoed;
    socket.destroy();
    await server.waitForLine((l) => /^EchoServer_.*: closing$/.test(l));
    assert.deepEqual(server.lines.filter((l) => l.includes("ERROR")), []);
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("hardening: a forged TLS record ends its connection with an ERROR line, not as a clean end", async () => {
  const { ca, caFile } = await testCerts();
  const server = await ServerProcess.startTls(["--host", HOST]);
  try {
    // Python's ssl does the handshake and one echo, then a record that is
    // no ciphertext goes out under the TLS layer (a man in the middle).
    const script = `
import os, socket, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("${HOST}", int(sys.argv[1]))),
                    server_hostname="localhost")
s.settimeout(10)
s.sendall(b"hello")
assert s.recv(5) == b"hello"
raw = socket.socket(fileno=os.dup(s.fileno()))
raw.sendall(bytes([0x17, 0x03, 0x03, 0x00, 0x20]) + os.urandom(32))
raw.settimeout(10)
while raw.recv(4096):
    pass
`;
    const { success, stderr } = await new Deno.Command("python3", {
      args: ["-c", script, String(server.port), caFile],
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    await server.waitForLine((l) => /^EchoServer_.*: ERROR: .*decrypt/.test(l));
    // Other clients are served.
    const tls = await Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      caCerts: [ca],
    });
    const data = randomBytes(1000);
    assertSameBytes(await echoThrough(tls, data), data);
    tls.close();
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("hardening: a log reader that stopped reading does not stop the server", async () => {
  // Chunks logged whole: 2 MiB make far more log than the pipe (64 KiB)
  // and the server's queue (1 MiB) hold.
  const { child, port } = await startWithStalledLog(["--log-bytes", "65536"]);
  try {
    const data = randomBytes(2 * 1024 * 1024);
    const conn = await connect(port);
    assertSameBytes(await echoThrough(conn, data, 1024), data);
    conn.close();
    // Later clients are served while the log stays unread.
    for (let i = 0; i < 5; i++) assert.ok(await echoes(port));
    // Once the log is read again, it says how many lines were dropped.
    const reader = child.stderr.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    const giveUp = setTimeout(() => reader.cancel(), 20_000);
    while (!/dropped \d+ log line\(s\)/.test(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    clearTimeout(giveUp);
    assert.match(
      text,
      /logging: dropped \d+ log line\(s\): standard error was not being read/,
    );
    reader.releaseLock();
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
});

Deno.test("hardening: streaming 32 MiB at the default log level writes under 2 MiB of log", async () => {
  const server = await ServerProcess.start(["--host", HOST]);
  try {
    const data = randomBytes(32 * 1024 * 1024);
    const conn = await connect(server.port);
    assertSameBytes(await echoThrough(conn, data, 256 * 1024), data);
    conn.close();
    await server.waitForLine((l) => /^EchoServer_.*: closing$/.test(l));
    const logBytes = server.lines.reduce((n, l) => n + l.length + 1, 0);
    assert.ok(logBytes < 2 * 1024 * 1024, `${logBytes} bytes of log`);
    // Long chunks show their first 64 bytes and their length.
    assert.ok(
      server.lines.some((l) => /: received b'.*'\.\.\. \(\d+ bytes\)$/.test(l)),
    );
  } finally {
    await server.stop("SIGTERM");
  }
});

/** A PROXY v1 header line. */
function proxyLine(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

Deno.test("hardening: no byte of a forged PROXY header reaches the log raw", async () => {
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--proxy-protocol",
  ]);
  try {
    const forged = [
      "PROXY TCP6 ::1\x1b[31m 127.0.0.1 1 2\r\n", // ESC in the address
      "PROXY TCP6 \x07::\x00 ::1 1 2\r\n", // BEL and NUL
      "PROXY TCP4 1.2.3.4\rfake 5.6.7.8 1 2\r\n", // CR faking a line
      "PROXY TCP4 999.1.1.1 5.6.7.8 1 2\r\n", // not an address
      "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", // a zone
      "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", // a port out of range
    ];
    for (const header of forged) {
      const conn = await connect(server.port);
      await writeAll(conn, proxyLine(header)).catch(() => {});
      assert.ok(await closedByServer(conn), JSON.stringify(header));
      conn.close();
    }
    await waitFor(
      () =>
        server.lines.filter((l) => l.includes("malformed PROXY")).length +
              server.lines.filter((l) => l.includes("warning(s) like the last"))
                .length > 0 &&
        server.lines.some((l) => l.includes("PROXY header rejected")),
      "the rejections are logged",
    );
    for (const line of server.lines) {
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(line, /[\x00-\x1f\x7f]/, JSON.stringify(line));
    }
    assert.ok(
      !server.lines.some((l) => l.includes("fake 5.6.7.8")),
      "the CR was escaped, not split",
    );
    assert.ok(!server.lines.some((l) => l.includes("connection accepted")));
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("hardening: --proxy-protocol-from believes only the named proxies", async () => {
  const header = proxyLine("PROXY TCP4 203.0.113.9 192.0.2.1 4000 10000\r\n");
  // Without it, the server says every peer is trusted.
  const open = await ServerProcess.start(["--host", HOST, "--proxy-protocol"]);
  try {
    await open.waitForLine((l) =>
      l.includes("PROXY protocol headers are accepted from any peer")
    );
  } finally {
    await open.stop("SIGTERM");
  }
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--proxy-protocol",
    "--proxy-protocol-from",
    "10.0.0.0/8",
    "--proxy-protocol-from",
    "192.168.0.0/16",
  ]);
  try {
    await server.waitForLine((l) =>
      l.includes("accepted from 10.0.0.0/8, 192.168.0.0/16 only")
    );
    const conn = await connect(server.port);
    await writeAll(conn, header).catch(() => {});
    assert.ok(await closedByServer(conn));
    conn.close();
    await server.waitForLine((l) =>
      l.includes("not a trusted PROXY protocol sender")
    );
    assert.ok(
      !server.lines.some((l) => l.includes("203.0.113.9")),
      "the claimed client is never logged",
    );
  } finally {
    await server.stop("SIGTERM");
  }
  // From a trusted range (loopback here), the header is believed.
  const trusted = await ServerProcess.start([
    "--host",
    HOST,
    "--proxy-protocol",
    "--proxy-protocol-from",
    "127.0.0.0/8",
  ]);
  try {
    const conn = await connect(trusted.port);
    await writeAll(conn, header);
    await writeAll(conn, proxyLine("hi"));
    await conn.closeWrite();
    assert.equal(new TextDecoder().decode(await readAll(conn)), "hi");
    conn.close();
    await trusted.waitForLine((l) =>
      l.startsWith("EchoServer_203.0.113.9_4000: connection accepted")
    );
  } finally {
    await trusted.stop("SIGTERM");
  }
});

/** Echoes a byte over a connection from `source` (Python binds it). */
async function echoesFrom(source: string, port: number): Promise<boolean> {
  const script = `
import socket, sys
s = socket.socket()
s.settimeout(10)
s.bind((sys.argv[1], 0))
s.connect(("${HOST}", int(sys.argv[2])))
s.sendall(b"x")
sys.exit(0 if s.recv(1) == b"x" else 1)
`;
  const { success } = await new Deno.Command("python3", {
    args: ["-c", script, source, String(port)],
    stderr: "null",
  }).output();
  return success;
}

Deno.test("hardening: --max-connections-per-ip keeps slots for other addresses", async () => {
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--max-connections-per-ip",
    "3",
    "--log-level",
    "info",
  ]);
  try {
    const held = await Promise.all(
      Array.from({ length: 3 }, () => connect(server.port, HOST)),
    );
    // Each of the three is served (a round trip proves it is counted).
    for (const conn of held) {
      await writeAll(conn, new Uint8Array([1]));
      assert.equal(await conn.read(new Uint8Array(1)), 1);
    }
    const fourth = await connect(server.port, HOST);
    assert.ok(await closedByServer(fourth), "a fourth from 127.0.0.1");
    fourth.close();
    await server.waitForLine((l) =>
      l.includes(
        "3 connections open from 127.0.0.1 (the per-address limit)",
      )
    );
    assert.ok(await echoesFrom("127.0.0.2", server.port), "others are served");
    held[0].close();
    await waitFor(() => echoes(server.port, HOST), "a slot frees up");
    for (const conn of held.slice(1)) conn.close();
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("hardening: --max-connections with --workers 2 is one limit for the server", async () => {
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--workers",
    "2",
    "--max-connections",
    "10",
    "--log-level",
    "info",
  ], ["--allow-net", "--unstable-net", `--allow-read=${projectFile("")}`]);
  try {
    const conns = await Promise.all(
      Array.from({ length: 20 }, () => connect(server.port)),
    );
    const served = await Promise.all(conns.map(async (conn, i) => {
      await writeAll(conn, new Uint8Array([i])).catch(() => {});
      const byte = new Uint8Array(1);
      const n = await conn.read(byte).catch(() => null);
      return n === 1 && byte[0] === i;
    }));
    assert.equal(served.filter(Boolean).length, 10);
    for (const conn of conns) conn.close();
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test({
  name:
    "hardening: refused TLS clients (no certificate, another CA's, expired, garbage, silent) leave no descriptor behind",
  // Descriptors are counted in /proc, which is Linux's.
  ignore: Deno.build.os !== "linux",
}, async () => {
  const ca = await makeCa("Echo Test CA");
  const otherCa = await makeCa("Another CA");
  const serverCert = await issue(ca, { cn: "localhost", san: "DNS:localhost" });
  const mallory = await issue(otherCa, { cn: "mallory", client: true });
  const expired = await issue(ca, { cn: "old", client: true, days: -1 });
  const alice = await issue(ca, { cn: "alice", client: true });
  const server = await ServerProcess.start([
    "--host",
    HOST,
    "--tls-cert",
    serverCert.certFile,
    "--tls-key",
    serverCert.keyFile,
    "--tls-client-ca",
    ca.certFile,
    "--handshake-timeout",
    "1",
    "--log-level",
    "info",
  ], ["--allow-net", "--allow-read"]);
  const sClient = (args: string[]) =>
    new Deno.Command("openssl", {
      args: ["s_client", "-connect", `${HOST}:${server.port}`, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  try {
    const baseline = await openFds(server.pid);
    for (let i = 0; i < 3; i++) {
      await sClient([]); // no certificate
      await sClient(["-cert", mallory.certFile, "-key", mallory.keyFile]);
      await sClient(["-cert", expired.certFile, "-key", expired.keyFile]);
      const garbage = await connect(server.port);
      await writeAll(
        garbage,
        new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"),
      )
        .catch(() => {});
      assert.ok(await closedByServer(garbage), "garbage is closed");
      garbage.close();
    }
    const silent = await connect(server.port);
    assert.ok(await closedByServer(silent), "silence ends at the timeout");
    silent.close();
    await waitFor(
      async () => (await openFds(server.pid)) <= baseline,
      "descriptors back to the baseline",
    );
    // And a client with a good certificate is served.
    const out = await new Deno.Command("openssl", {
      args: [
        "s_client",
        "-connect",
        `${HOST}:${server.port}`,
        "-brief",
        "-cert",
        alice.certFile,
        "-key",
        alice.keyFile,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.match(
      new TextDecoder().decode(out.stderr),
      /CONNECTION ESTABLISHED/,
    );
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});
