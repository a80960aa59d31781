// main_server.ts --workers: Deno Workers sharing the port with reusePort.

import assert from "node:assert/strict";
import {
  projectFile,
  runClient,
  runProgram,
  ServerProcess,
} from "./_process.ts";
import { readAll, writeAll } from "./_helpers.ts";

const ROOT = projectFile("");
const WORKER_PERMISSIONS = [
  "--allow-net",
  "--unstable-net",
  `--allow-read=${ROOT}`,
];

Deno.test("workers: 2 workers share 40 connections and shut down together", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const server = await ServerProcess.start(
    ["--host", "127.0.0.1", "--workers", "2", "--log-level", "info"],
    WORKER_PERMISSIONS,
  );
  try {
    assert.ok(
      server.lines.includes(
        `main: starting up on 127.0.0.1 port ${server.port}`,
      ),
    );
    for (let i = 0; i < 40; i++) {
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      await writeAll(conn, new TextEncoder().encode(`exchange ${i}`));
      await conn.closeWrite();
      assert.equal(
        new TextDecoder().decode(await readAll(conn)),
        `exchange ${i}`,
      );
      conn.close();
    }
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
    const served = server.lines
      .map((l) => l.match(/^main: worker (\d) served (\d+) connection/))
      .filter((m) => m !== null)
      .map((m) => Number(m![2]));
    assert.equal(served.length, 2, server.lines.join("\n"));
    assert.equal(served[0] + served[1], 40);
    assert.ok(served.every((n) => n > 0), `shares ${served}`);
    assert.deepEqual(server.lines.slice(-1), ["main: closing event loop"]);
  } finally {
    await server.stop();
  }
});

Deno.test("workers: the seed's transcript is the same with workers", {
  ignore: Deno.build.os !== "linux",
}, async () => {
  const server = await ServerProcess.start([
    "--host",
    "127.0.0.1",
    "--workers",
    "2",
  ], WORKER_PERMISSIONS);
  try {
    const client = await runClient(server.port);
    assert.equal(client.code, 0, client.stderr);
    await server.waitForLine((l) =>
      /^EchoServer_127\.0\.0\.1_\d+: closing$/.test(l)
    );
    assert.ok(
      server.lines.some((l) =>
        /^EchoServer_127\.0\.0\.1_\d+: received EOF$/.test(l)
      ),
    );
    server.kill("SIGINT");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
});

Deno.test("workers: missing --unstable-net or read access is one line; other transports are usage errors", async () => {
  // Neither permission: one line names both, in a command that works.
  const none = await runProgram("main_server.ts", [
    "--port",
    "0",
    "--workers",
    "2",
  ]);
  assert.equal(none.code, 1);
  const command =
    "deno run --allow-net --unstable-net --allow-read=. main_server.ts --port 0 --workers 2";
  assert.deepEqual(none.lines, [
    `main: --workers needs Deno's --unstable-net and to read the program's own files: ${command}`,
  ]);
  const [, ...rest] = command.split(" ");
  const server = await ServerProcess.spawn(
    [Deno.execPath(), ...rest.slice(0, -4)],
    rest.slice(-4),
    {},
    ROOT,
  );
  try {
    server.kill("SIGTERM");
    assert.equal((await server.status()).code, 0);
  } finally {
    await server.stop();
  }
  // One of the two: only that one is named.
  const noRead = await runProgram("main_server.ts", [
    "--port",
    "0",
    "--workers",
    "2",
  ], {
    permissions: ["--allow-net", "--unstable-net"],
  });
  assert.equal(noRead.code, 1);
  assert.deepEqual(noRead.lines, [
    "main: --workers needs to read the program's own files: deno run --allow-net --allow-read=. main_server.ts --port 0 --workers 2",
  ]);
  const usage = await runProgram("main_server.ts", ["--workers", "2", "--udp"]);
  assert.equal(usage.code, 2);
  assert.match(usage.lines[0], /--workers is for TCP/);
  const bad = await runProgram("main_server.ts", ["--workers", "-1"]);
  assert.equal(bad.code, 2);
});

Deno.test(
  "workers: a peer whose address hashes with another's cannot shut it out of the per-IP limit",
  {
    ignore: Deno.build.os !== "linux",
  },
  async () => {
    // An address that shared 127.0.0.1's slot when workers placed addresses
    // with an unkeyed FNV-1a hash.
    const fnv = (text: string) => {
      let hash = 0x811c9dc5;
      for (let i = 0; i < text.length; i++) {
        hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
      }
      return (hash >>> 0) % 65536;
    };
    let attacker = "";
    for (let n = 2; attacker === "" && n < 1 << 24; n++) {
      const candidate = `127.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
      if (fnv(candidate) === fnv("127.0.0.1")) attacker = candidate;
    }
    const server = await ServerProcess.start([
      "--host",
      "127.0.0.1",
      "--workers",
      "2",
      "--max-connections-per-ip",
      "3",
      "--log-level",
      "info",
    ], WORKER_PERMISSIONS);
    // Three idle connections from the attacker's address (Deno cannot choose
    // a source address: Python can), held until told on stdin.
    const holder = new Deno.Command("python3", {
      args: [
        "-c",
        `
import socket, sys
held = []
for _ in range(3):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), source_address=(sys.argv[1], 0))
    s.sendall(b"x")
    assert s.recv(1) == b"x"
    held.append(s)
print("held", flush=True)
sys.stdin.read()
`,
        attacker,
        String(server.port),
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    try {
      const out = holder.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      assert.equal((await out.read()).value?.trim(), "held");
      out.releaseLock();
      const victims: Deno.Conn[] = [];
      for (let i = 0; i < 3; i++) {
        const conn = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        });
        victims.push(conn);
        await writeAll(conn, new TextEncoder().encode("v"));
        const answer = new Uint8Array(1);
        assert.equal(
          await conn.read(answer).catch(() => null),
          1,
          `victim ${i}`,
        );
      }
      for (const conn of victims) conn.close();
    } finally {
      await holder.stdin.close();
      await holder.status;
      await holder.stdout.cancel().catch(() => {});
      server.kill("SIGTERM");
      await server.status();
      await server.stop();
    }
  },
);
