// The echo server behind a PROXY protocol header, as a real process.

import assert from "node:assert/strict";
import { readAll, writeAll } from "./_helpers.ts";
import { runProgram, ServerProcess } from "./_process.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("program: --proxy-protocol logs the real client's address", async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--proxy-protocol",
  ]);
  try {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await writeAll(
      conn,
      encode("PROXY TCP4 198.51.100.9 127.0.0.1 40001 10000\r\nping"),
    );
    await conn.closeWrite();
    assert.equal(new TextDecoder().decode(await readAll(conn)), "ping");
    conn.close();
    await server.waitForLine((l) =>
      l === "EchoServer_198.51.100.9_40001: closing"
    );
    assert.ok(
      server.lines.includes("EchoServer_198.51.100.9_40001: received b'ping'"),
    );
    const junk = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    await writeAll(junk, encode("junk\r\n"));
    assert.equal((await readAll(junk)).byteLength, 0);
    junk.close();
    await server.waitForLine((l) =>
      /^protocols: Closing connection from 127\.0\.0\.1 port \d+: malformed PROXY protocol header: /
        .test(l)
    );
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
  const usage = await runProgram("main_server.ts", [
    "--proxy-protocol",
    "--udp",
  ]);
  assert.equal(usage.code, 2);
  assert.match(usage.lines[0], /--proxy-protocol cannot be used with --udp/);
});
