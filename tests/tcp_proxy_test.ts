// examples/tcp_proxy.ts run as a program, in front of the real echo server:
// bytes through it intact with a client that reads late (so every write
// buffer on the way fills and the proxy's released chunks wait in another
// connection's queue), EOF passed on, a dead target, bad arguments.

import assert from "node:assert/strict";
import {
  assertSameBytes,
  randomBytes,
  readAll,
  within10s,
  writeAll,
} from "./_helpers.ts";
import { projectFile, runClient, ServerProcess } from "./_process.ts";

/** The proxy as a child process, once it says where it listens. */
async function startProxy(targetPort: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      projectFile("examples/tcp_proxy.ts"),
      "0",
      "127.0.0.1",
      String(targetPort),
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const decoded = child.stdout.pipeThrough(new TextDecoderStream());
  const lines = decoded.getReader();
  let said = "";
  while (!/listening on \d+/.test(said)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`the proxy ended before listening: ${said}`);
    said += value;
  }
  lines.releaseLock();
  const errors = new Response(child.stderr).text();
  return {
    port: Number(said.match(/listening on (\d+)/)![1]),
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
      await decoded.cancel();
    },
    /** What the proxy wrote to standard error, once it has ended. */
    errors,
  };
}

Deno.test("tcp_proxy: 8 MiB to the echo server and back, read late, arrives intact; EOF passes through", async () => {
  const server = await ServerProcess.start(["--log-level", "warning"]);
  await using _stop = { [Symbol.asyncDispose]: () => server.stop() };
  await using proxy = await startProxy(server.port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
  const data = randomBytes(8 << 20);
  // Reading starts once 2 MiB are written: by then the echo has filled the
  // socket buffers and write queues on the way back.
  const started = Promise.withResolvers<void>();
  const writing = (async () => {
    const step = 256 << 10;
    for (let offset = 0; offset < data.byteLength; offset += step) {
      await writeAll(conn, data.subarray(offset, offset + step));
      if (offset >= 2 << 20) started.resolve();
    }
    started.resolve();
    await conn.closeWrite(); // EOF: through the proxy to the server
  })();
  await started.promise;
  const echoed = await within10s(readAll(conn)); // ends at the server's EOF
  await writing;
  conn.close();
  assertSameBytes(echoed, data);
});

Deno.test("tcp_proxy: the echo client through it logs the seed's exchange and exits 0", async () => {
  const server = await ServerProcess.start(["--log-level", "warning"]);
  await using _stop = { [Symbol.asyncDispose]: () => server.stop() };
  await using proxy = await startProxy(server.port);
  const client = await runClient(proxy.port);
  assert.equal(client.code, 0, client.stderr);
  assert.ok(
    client.lines.some((l) => l.includes("received EOF")),
    client.stderr,
  );
});

Deno.test("tcp_proxy: a target that refuses ends that connection only, with one line", async () => {
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = closed.addr.port;
  closed.close();
  const proxy = await startProxy(port);
  try {
    for (let i = 0; i < 2; i++) { // the proxy lives on after the first
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: proxy.port,
      });
      const got = await within10s(readAll(conn).catch(() => new Uint8Array()));
      assert.equal(got.byteLength, 0);
      conn.close();
    }
  } finally {
    await proxy[Symbol.asyncDispose]();
  }
  const errors = await proxy.errors;
  assert.match(
    errors,
    /^tcp_proxy: cannot connect to 127\.0\.0\.1 port \d+: /m,
  );
  assert.doesNotMatch(errors, /\n\s+at /, "no stack trace");
});

Deno.test("tcp_proxy: bad arguments are one usage line and exit 2", async () => {
  for (
    const args of [[], ["x", "h", "1"], ["0", "h", "70000"], [
      "0",
      "h",
      "1",
      "2",
    ]]
  ) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        projectFile("examples/tcp_proxy.ts"),
        ...args,
      ],
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
    const said = new TextDecoder().decode(out.stderr).trim();
    assert.equal(out.code, 2, said);
    assert.match(
      said,
      /^usage: tcp_proxy\.ts LISTEN_PORT TARGET_HOST TARGET_PORT/,
    );
    assert.equal(said.split("\n").length, 1);
  }
});
