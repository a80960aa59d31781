// The soak suite (`deno task soak`): the echo server as a real process under
// load, faults and hostile peers, with its figures printed. Loopback only;
// every loop is bounded in count and time.

import assert from "node:assert/strict";
import { testCerts } from "../tests/_certs.ts";
import {
  openFds,
  rss,
  ServerProcess,
  startWithStalledLog,
} from "../tests/_process.ts";
import {
  assertSameBytes,
  echoThrough,
  randomBytes,
  readAll,
  sha256,
  waitFor,
  writeAll,
} from "../tests/_helpers.ts";

const HOST = "127.0.0.1";

const MiB = 1024 * 1024;
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

async function startServer(args: string[] = []): Promise<ServerProcess> {
  return await ServerProcess.start([
    "--host",
    HOST,
    "--log-level",
    "info",
    ...args,
  ]);
}

/** Sends `data` in random chunks while reading the echo; checks it. */
async function echoExact(port: number, data: Uint8Array): Promise<void> {
  const conn = await Deno.connect({ hostname: HOST, port });
  try {
    assertSameBytes(await echoThrough(conn, data, 32 * 1024), data);
  } finally {
    conn.close();
  }
}

Deno.test("soak: 1,000 concurrent connections × 256 KiB, byte-exact", async () => {
  const server = await startServer();
  try {
    const before = await rss(server.pid);
    const started = Date.now();
    const data = randomBytes(256 * 1024);
    const results = await Promise.allSettled(
      Array.from({ length: 1000 }, () => echoExact(server.port, data)),
    );
    const failed = results.filter((r) => r.status === "rejected");
    const seconds = (Date.now() - started) / 1000;
    const peak = await rss(server.pid);
    console.log(
      `  1000 connections, ${mib(1000 * data.byteLength)} MiB each way in ${
        seconds.toFixed(1)
      } s: ${1000 - failed.length} byte-exact, ${failed.length} failed; ` +
        `server RSS ${mib(before)} → ${mib(peak)} MiB`,
    );
    assert.deepEqual(
      failed.map((r) => String((r as PromiseRejectedResult).reason)),
      [],
    );
  } finally {
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  }
});

Deno.test("soak: 5,000 connect/close cycles, a fifth aborted mid-stream; no descriptor leaks", async () => {
  const server = await startServer();
  try {
    // Warm up (logging, buffers) before taking the baseline.
    await echoExact(server.port, randomBytes(1024));
    await waitFor(
      () => server.lines.some((l) => l.endsWith(": closing")),
      "warm-up done",
    ).catch(() => {});
    const baseline = await openFds(server.pid);
    const payload = randomBytes(128 * 1024);
    let aborted = 0;
    let clean = 0;
    for (let round = 0; round < 50; round++) {
      await Promise.all(Array.from({ length: 100 }, async (_, i) => {
        const conn = await Deno.connect({ hostname: HOST, port: server.port });
        if (i % 5 === 0) {
          // Send a lot, read nothing, close: the server sees a reset.
          await writeAll(conn, payload).catch(() => {});
          conn.close();
          aborted++;
        } else if (i % 5 === 1) {
          conn.close(); // connect and go
          clean++;
        } else {
          await writeAll(conn, payload.subarray(0, 100));
          await conn.closeWrite();
          assert.equal((await readAll(conn)).byteLength, 100);
          conn.close();
          clean++;
        }
      }));
    }
    let now = 0;
    await waitFor(
      async () => (now = await openFds(server.pid)) <= baseline,
      `descriptors back to ${baseline}`,
      20_000,
    );
    console.log(
      `  5000 cycles (${aborted} aborted mid-stream, ${clean} clean): server descriptors ${baseline} before, ${now} after`,
    );
    await echoExact(server.port, randomBytes(64 * 1024)); // still serving
  } finally {
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  }
});

/**
 * A peer that writes 256 MiB and reads nothing until its writes stall, then
 * reads it all back: TCP holds the peer back and the server's memory stays
 * flat, over TCP or TLS.
 */
async function slowReader(kind: "tcp" | "tls"): Promise<void> {
  const { ca } = await testCerts();
  const server = kind === "tls"
    ? await ServerProcess.startTls(["--host", HOST, "--log-level", "info"])
    : await startServer();
  const connect = () =>
    kind === "tls"
      ? Deno.connectTls({ hostname: HOST, port: server.port, caCerts: [ca] })
      : Deno.connect({ hostname: HOST, port: server.port });
  const conn = await connect();
  try {
    // Warm up (logging, buffers, TLS) before taking the baseline.
    const warmUp = await connect();
    const data = randomBytes(1024);
    assertSameBytes(await echoThrough(warmUp, data), data);
    warmUp.close();
    const before = await rss(server.pid);
    const total = 256 * MiB;
    const block = randomBytes(MiB);
    const sent = sha256();
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < 256; i++) {
        sent.update(block);
        await writeAll(conn, block);
        written += block.byteLength;
      }
      await conn.closeWrite();
    })();
    // The peer reads nothing: wait until its writes stall (TCP pushes back).
    let last = -1;
    let still = 0;
    const deadline = Date.now() + 20_000;
    while (still < 5 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      still = written === last ? still + 1 : 0;
      last = written;
    }
    const heldAt = written;
    assert.ok(heldAt < total, "the writer was held back");
    const stalled = await rss(server.pid);
    // Now read everything back.
    let peak = stalled;
    const sampler = setInterval(async () => {
      peak = Math.max(peak, await rss(server.pid).catch(() => 0));
    }, 50);
    const got = sha256();
    let received = 0;
    const buffer = new Uint8Array(256 * 1024);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      got.update(buffer.subarray(0, n));
      received += n;
    }
    clearInterval(sampler);
    await writer;
    const growth = peak - before;
    console.log(
      `  slow ${kind} reader: writer held at ${mib(heldAt)} MiB; server RSS ${
        mib(before)
      } MiB before, ` +
        `${mib(stalled)} while stalled, ${mib(peak)} peak (+${mib(growth)}); ${
          mib(received)
        } MiB back byte-exact`,
    );
    assert.equal(received, total);
    assert.equal(got.hex(), sent.hex());
    // What the stalled peer costs the server: a few buffers, not its data
    // (TLS adds its layer's buffers: about 20 MiB measured; unbounded, the
    // peer's writes would have gone on to 256 MiB).
    const held = stalled - before;
    const allowed = (kind === "tls" ? 64 : 32) * MiB;
    assert.ok(held < allowed, `RSS grew by ${mib(held)} MiB while stalled`);
    // Moving data at full speed, TCP stays flat too. TLS (node:tls) leaves
    // about 100 MiB of garbage at full speed whatever the volume, so only
    // the stalled figure says anything there.
    if (kind === "tcp") {
      assert.ok(growth < 32 * MiB, `RSS grew by ${mib(growth)} MiB`);
    }
  } finally {
    conn.close();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  }
}

Deno.test("soak: a slow reader cannot grow the server's memory", async () => {
  await slowReader("tcp");
});

Deno.test("soak: a slow TLS reader cannot grow the server's memory", async () => {
  await slowReader("tls");
});

Deno.test("soak: hostile and odd peers end only their own connection", async () => {
  const server = await startServer(["--idle-timeout", "1"]);
  try {
    const port = server.port;
    // One byte at a time.
    const slow = await Deno.connect({ hostname: HOST, port });
    const text = new TextEncoder().encode("one byte at a time");
    for (const byte of text) {
      await writeAll(slow, new Uint8Array([byte]));
      const back = new Uint8Array(1);
      assert.equal(await slow.read(back), 1);
      assert.equal(back[0], byte);
    }
    slow.close();
    // A huge single write: 64 MiB in one call.
    const huge = randomBytes(64 * MiB);
    await echoExact(port, huge);
    // Half-open (never sends EOF) and silent peers: closed by the idle timer.
    const halfOpen = await Deno.connect({ hostname: HOST, port });
    await writeAll(halfOpen, new Uint8Array([1, 2, 3]));
    const silent = await Deno.connect({ hostname: HOST, port });
    const [a, b] = await Promise.all([readAll(halfOpen), readAll(silent)]);
    assert.deepEqual(a, new Uint8Array([1, 2, 3]));
    assert.equal(b.byteLength, 0);
    halfOpen.close();
    silent.close();
    // Terminal control bytes (their escaping in logs: tests/echo_test.ts).
    await echoExact(port, new TextEncoder().encode("\x1b[2J\x07"));
    // Reset right after connecting (SO_LINGER 0, from Python).
    const reset = await new Deno.Command("python3", {
      args: [
        "-c",
        `import socket, struct
for _ in range(100):
    s = socket.create_connection(("${HOST}", ${port}))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()`,
      ],
    }).output();
    assert.equal(reset.code, 0);
    // Reset mid-stream.
    const midway = await Deno.connect({ hostname: HOST, port });
    await writeAll(midway, randomBytes(4 * MiB)).catch(() => {});
    midway.close();
    // After all that, the seed's exchange still works.
    await echoExact(port, new TextEncoder().encode("still here"));
    const idle = server.lines.filter((l) =>
      l.includes("Closed idle connection")
    );
    console.log(
      `  hostile peers: ${idle.length} idle connections closed; server log has ${server.lines.length} lines`,
    );
    assert.ok(idle.length >= 2);
  } finally {
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  }
});

Deno.test("soak: 300 silent TLS clients against --max-connections 50 --handshake-timeout 2", async () => {
  const { ca } = await testCerts();
  const server = await ServerProcess.startTls([
    "--host",
    HOST,
    "--max-connections",
    "50",
    "--handshake-timeout",
    "2",
    "--log-level",
    "info",
  ]);
  try {
    const baseline = await openFds(server.pid);
    const started = Date.now();
    const silent = await Promise.all(
      Array.from(
        { length: 300 },
        () => Deno.connect({ hostname: HOST, port: server.port }),
      ),
    );
    let peak = 0;
    await waitFor(
      async () => (peak = await openFds(server.pid)) >= baseline + 50,
      "fifty held",
    );
    // Every one is closed by the server: refused at the limit or timed out.
    const ends = await Promise.all(silent.map(async (conn) => {
      try {
        return (await conn.read(new Uint8Array(1))) === null;
      } catch {
        return true;
      } finally {
        conn.close();
      }
    }));
    const seconds = (Date.now() - started) / 1000;
    let after = 0;
    await waitFor(
      async () => (after = await openFds(server.pid)) <= baseline,
      "descriptors released",
    );
    const tls = await Deno.connectTls({
      hostname: "localhost",
      port: server.port,
      caCerts: [ca],
    });
    const data = randomBytes(64 * 1024);
    assertSameBytes(await echoThrough(tls, data, 16 * 1024), data);
    tls.close();
    console.log(
      `  300 silent TLS clients: ${
        ends.filter(Boolean).length
      } closed by the server within ${
        seconds.toFixed(1)
      } s; server descriptors ${baseline} before, ${peak} with the limit's 50 held, ${after} after; a real TLS client is served`,
    );
    assert.ok(ends.every(Boolean));
    // 50 held, plus at most one being refused at that instant and one the
    // TLS layer opens on first use.
    assert.ok(peak - baseline <= 52, `${peak - baseline} held`);
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("soak: a log nobody reads while 16 MiB is echoed, logged whole", async () => {
  const { child, port } = await startWithStalledLog(["--log-bytes", "65536"]);
  try {
    const started = Date.now();
    await echoExact(port, randomBytes(16 * MiB));
    let served = 0;
    for (let i = 0; i < 20; i++) {
      await echoExact(port, randomBytes(1024));
      served++;
    }
    const seconds = (Date.now() - started) / 1000;
    const text = await new Response(
      child.stderr.pipeThrough(
        new TransformStream({
          transform(chunk, controller) {
            controller.enqueue(chunk);
            if (new TextDecoder().decode(chunk).includes("dropped")) {
              controller.terminate();
            }
          },
        }),
      ),
    ).text();
    const dropped = Number(text.match(/dropped (\d+) log line/)?.[1] ?? 0);
    console.log(
      `  stalled log: 16 MiB echoed and ${served} more clients served in ${
        seconds.toFixed(1)
      } s with standard error unread; ${dropped} log lines dropped and counted`,
    );
    assert.ok(dropped > 0);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
});

Deno.test("soak: log volume of 32 MiB streamed at the default level", async () => {
  const server = await ServerProcess.start(["--host", HOST]);
  try {
    await echoExact(server.port, randomBytes(32 * MiB));
    await server.waitForLine((l) => /^EchoServer_.*: closing$/.test(l));
    const bytes = server.lines.reduce((n, l) => n + l.length + 1, 0);
    console.log(
      `  log volume: 32 MiB streamed, ${server.lines.length} log lines, ${
        (bytes / 1024).toFixed(0)
      } KiB of log (${(bytes / (32 * MiB)).toFixed(4)} bytes per byte)`,
    );
    assert.ok(bytes < 2 * MiB);
  } finally {
    await server.stop("SIGTERM");
  }
});

Deno.test("soak: one address holding idle sockets cannot take every slot", async () => {
  const server = await startServer([
    "--max-connections",
    "100",
    "--max-connections-per-ip",
    "10",
  ]);
  try {
    const idle = await Promise.all(
      Array.from(
        { length: 200 },
        () => Deno.connect({ hostname: HOST, port: server.port }),
      ),
    );
    const held = (await Promise.all(idle.map(async (conn) => {
      try {
        await writeAll(conn, new Uint8Array([1]));
        return (await conn.read(new Uint8Array(1))) === 1;
      } catch {
        return false;
      }
    }))).filter(Boolean).length;
    // Others are still served (from another loopback address).
    const other = await new Deno.Command("python3", {
      args: [
        "-c",
        `import socket
ok = 0
for _ in range(20):
    s = socket.socket(); s.settimeout(10); s.bind(("127.0.0.2", 0))
    s.connect(("${HOST}", ${server.port})); s.sendall(b"x")
    ok += s.recv(1) == b"x"; s.close()
print(ok)`,
      ],
      stdout: "piped",
    }).output();
    const served = Number(new TextDecoder().decode(other.stdout));
    console.log(
      `  per-address limit: 200 idle sockets from 127.0.0.1 hold ${held} slots of 100; ${served} of 20 clients from 127.0.0.2 served meanwhile`,
    );
    for (const conn of idle) conn.close();
    assert.equal(held, 10);
    assert.equal(served, 20);
  } finally {
    await server.stop("SIGTERM");
  }
});
