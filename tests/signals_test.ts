// The echo server program and signals: SIGQUIT and SIGHUP stop it
// gracefully (SIGHUP reloads the TLS certificate where it serves TLS), and
// signals during its last log flush do not kill it.

import assert from "node:assert/strict";
import { projectFile, ServerProcess, startWithStalledLog } from "./_process.ts";
import { makeCerts, testCerts } from "./_certs.ts";
import { echoThrough, randomBytes } from "./_helpers.ts";

const UNIX = ["--allow-net", "--allow-read", "--allow-write"];

for (const signal of ["SIGQUIT", "SIGHUP"] as const) {
  Deno.test(`signals: ${signal} stops a server without TLS gracefully, leaving no socket or lock file`, async () => {
    const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
    const path = `${dir}/echo.sock`;
    const server = await ServerProcess.spawn(
      [Deno.execPath(), "run", ...UNIX, projectFile("main_server.ts")],
      ["--unix", path],
    );
    try {
      await Deno.lstat(`${path}.lock`);
      server.kill(signal);
      assert.equal((await server.status()).code, 0);
      assert.deepEqual(server.lines.slice(-2), [
        "main: closing server",
        "main: closing event loop",
      ]);
    } finally {
      await server.stop();
    }
    await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
    await assert.rejects(Deno.lstat(`${path}.lock`), Deno.errors.NotFound);
  });
}

Deno.test("signals: SIGTERMs during the last log flush do not kill the server", async () => {
  // Chunks logged whole: far more log than the pipe and the queue hold, so
  // the final flush waits (up to its limit) on a reader that never reads.
  const { child, port } = await startWithStalledLog(["--log-bytes", "65536"]);
  try {
    const data = randomBytes(2 * 1024 * 1024);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await echoThrough(conn, data, 1024);
    conn.close();
    // Signals every 20 ms for a second, so that they land in every phase of
    // the shutdown and well into the final flush (which waits up to 2 s for
    // a reader that never comes); none near the exit itself, where the
    // runtime is being torn down.
    let exited = false;
    const status = child.status.finally(() => exited = true);
    for (let i = 0; i < 50 && !exited; i++) {
      try {
        child.kill("SIGTERM");
      } catch {
        break; // gone
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const { code, signal } = await status;
    assert.equal(signal, null, `killed by ${signal}`);
    assert.equal(code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.status;
    await child.stderr.cancel().catch(() => {});
  }
});

/** Opens a TLS connection trusting `ca`; resolves to it once handshaken. */
async function connectTls(port: number, ca: string): Promise<Deno.TlsConn> {
  const conn = await Deno.connectTls({
    hostname: "localhost",
    port,
    caCerts: [ca],
  });
  await conn.handshake();
  return conn;
}

Deno.test("signals: SIGHUP reloads the TLS certificate for new connections; a bad one is refused and the old kept", async () => {
  const first = await testCerts();
  const second = await makeCerts("Echo Renewed CA");
  const dir = await Deno.makeTempDir({ prefix: "echo-reload-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  await Deno.writeTextFile(certFile, first.cert);
  await Deno.writeTextFile(keyFile, first.key);
  const server = await ServerProcess.start(
    ["--tls-cert", certFile, "--tls-key", keyFile, "--log-level", "info"],
    ["--allow-net", "--allow-read"],
  );
  try {
    const old = await connectTls(server.port, first.ca);
    // The renewed certificate, from another CA.
    await Deno.writeTextFile(certFile, second.cert);
    await Deno.writeTextFile(keyFile, second.key);
    server.kill("SIGHUP");
    const reloaded = await server.waitForLine((l) => l.includes("SIGHUP"));
    assert.match(
      reloaded,
      /^main: SIGHUP: now serving CN=localhost \(DNS:localhost, IP Address:127\.0\.0\.1, IP Address:::1\), valid until \d{4}-\d\d-\d\dT[\d:]+Z from .*cert\.pem$/,
    );
    (await connectTls(server.port, second.ca)).close();
    await assert.rejects(connectTls(server.port, first.ca), /certificate/i);
    // The connection made before keeps its session.
    const data = randomBytes(1000);
    assert.deepEqual(await echoThrough(old, data), data);
    old.close();
    // A key that is not the certificate's: refused, the renewed one kept.
    await Deno.writeTextFile(keyFile, first.key);
    server.kill("SIGHUP");
    const kept = await server.waitForLine((l) => l.includes("kept"));
    assert.equal(
      kept,
      "main: SIGHUP: kept the certificate in use: the private key is not the certificate's (CN=localhost)",
    );
    (await connectTls(server.port, second.ca)).close();
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});
