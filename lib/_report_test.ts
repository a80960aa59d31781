// A protocol's exception is never silent: with LogTape unconfigured it goes
// to standard error with its stack, as Python's logging prints a traceback.

import assert from "node:assert/strict";
import { createServer } from "./server.ts";
import { captureLogs, writeAll } from "./_test_helpers.ts";

const SERVER = new URL("./server.ts", import.meta.url).href;

Deno.test("a callback's exception reaches stderr with its stack when nothing is configured", async () => {
  const script = `
    import { createServer } from "${SERVER}";
    class Buggy {
      dataReceived() { throw new Error("protocol bug"); }
      connectionLost() { server.close(); }
    }
    const server = await createServer(() => new Buggy(), { hostname: "127.0.0.1" });
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addrs[0].port });
    await conn.write(new Uint8Array([1]));
    await server.waitClosed();
    conn.close();`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stderr);
  assert.ok(out.success, text);
  assert.match(
    text,
    /^protocols: Fatal error: protocol\.dataReceived\(\) call failed for 127\.0\.0\.1 port \d+: protocol bug\nError: protocol bug\n\s+at Buggy\.dataReceived /,
  );
});

Deno.test("with logging configured, the error goes through it, stack included", async () => {
  const lines = captureLogs("debug");
  const lost = Promise.withResolvers<Error | null>();
  const server = await createServer(() => ({
    dataReceived() {
      throw new TypeError("bad state");
    },
    connectionLost: (error: Error | null) => lost.resolve(error),
  }), { hostname: "127.0.0.1" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  try {
    await writeAll(conn, new Uint8Array([1]));
    const error = await lost.promise;
    assert.ok(error instanceof TypeError);
    const line = lines.find((l) => l.includes("Fatal error"));
    assert.ok(line, lines.join(""));
    assert.match(line, /call failed for 127\.0\.0\.1 port \d+: bad state\n/);
    assert.match(line, /TypeError: bad state\n\s+at /);
  } finally {
    conn.close();
    await server.close();
    await server.waitClosed();
    captureLogs("error");
  }
});
