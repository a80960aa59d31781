// Our programs against the seed's own asyncio peers (tests/peers/), run by
// python3: our client with their server, their client with our server.

import assert from "node:assert/strict";
import { projectFile, runProgram, ServerProcess } from "./_process.ts";

/**
 * The lines without the `received`/`sent` data lines, whose split varies,
 * and without asyncio's own `Using selector` line.
 */
function events(lines: string[]): string[] {
  return lines.filter((line) =>
    !/: (received|sent) b['"]/.test(line) && !line.startsWith("asyncio:")
  );
}

/** The data of the `received b'…'` lines of `logger`, joined. */
function receivedData(lines: string[], logger: RegExp): string {
  return lines.filter((line) => logger.test(line.split(":")[0]))
    .map((line) => line.match(/: received b'(.*)'$/)?.[1])
    .filter((data) => data !== undefined).join("");
}

Deno.test("our client against the seed's asyncio server", async () => {
  const python = new Deno.Command("python3", {
    args: [projectFile("tests/peers/asyncio_echo_server.py"), "127.0.0.1", "0"],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = python.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  try {
    while (!/starting up on .* port (\d+)\n/.test(text)) {
      const { value, done } = await reader.read();
      assert.ok(!done, `the asyncio server ended: ${text}`);
      text += value;
    }
    const port = text.match(/port (\d+)\n/)![1];
    const client = await runProgram("main_client.ts", [
      "--host",
      "127.0.0.1",
      "--port",
      port,
    ]);
    assert.equal(client.code, 0, client.stderr);
    assert.deepEqual(events(client.lines), [
      "main: waiting for client to complete",
      `EchoClient: connecting to 127.0.0.1 port ${port}`,
      "EchoClient: sending b'This is the message. '",
      "EchoClient: sending b'It will be sent '",
      "EchoClient: sending b'in parts.'",
      "EchoClient: received EOF",
      "EchoClient: server closed connection",
      "main: closing event loop",
    ]);
    assert.equal(
      receivedData(client.lines, /^EchoClient$/),
      "This is the message. It will be sent in parts.",
    );
    python.kill("SIGTERM");
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    assert.equal((await python.status).code, 0);
    const server = text.split("\n").filter((l) => l.startsWith("EchoServer_"));
    assert.match(
      server[0],
      /^EchoServer_127\.0\.0\.1_\d+: connection accepted$/,
    );
    assert.match(server.at(-2)!, /: received EOF$/);
    assert.match(server.at(-1)!, /: closing$/);
  } finally {
    try {
      python.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await python.status;
  }
});

Deno.test("the seed's asyncio client against our server", async () => {
  const server = await ServerProcess.start(["--host", "127.0.0.1"]);
  try {
    const result = await new Deno.Command("python3", {
      args: [
        projectFile("tests/peers/asyncio_echo_client.py"),
        "127.0.0.1",
        String(server.port),
      ],
      stdin: "null",
    }).output();
    const lines = new TextDecoder().decode(result.stderr).split("\n").filter(
      Boolean,
    );
    assert.equal(result.code, 0, lines.join("\n"));
    assert.deepEqual(
      events(lines),
      [
        "main: waiting for client to complete",
        `EchoClient: connecting to 127.0.0.1 port ${server.port}`,
        "EchoClient: sending b'This is the message. '",
        "EchoClient: sending b'It will be sent '",
        "EchoClient: sending b'in parts.'",
        "EchoClient: received EOF",
        "EchoClient: server closed connection",
        "main: closing event loop",
      ].filter((line) => !/: (received|sent) b'/.test(line)),
    );
    assert.equal(
      receivedData(lines, /^EchoClient$/),
      "This is the message. It will be sent in parts.",
    );
    await server.waitForLine((line) => line.endsWith(": closing"));
    assert.equal(
      receivedData(server.lines, /^EchoServer_/),
      "This is the message. It will be sent in parts.",
    );
    server.kill("SIGINT");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});
