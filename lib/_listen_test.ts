import assert from "node:assert/strict";
import { createConnection } from "./connection.ts";
import { createServer } from "./server.ts";
import { captureLogs, EchoProtocol, sender } from "./_test_helpers.ts";

captureLogs("error");

async function tempPath(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "echo-unix-" });
  return `${dir}/echo.sock`;
}

Deno.test("Unix socket: the seed's exchange with the same EchoServer", async () => {
  const path = await tempPath();
  const server = await createServer(() => new EchoProtocol(), { path });
  assert.equal(server.path, path);
  assert.deepEqual(server.addrs, []);
  assert.ok((await Deno.lstat(path)).isSocket);
  const received: Uint8Array[] = [];
  const { transport, protocol } = await createConnection(
    () => sender(["over ", "a Unix socket"], received),
    { path },
  );
  assert.equal(await protocol.lost.promise, null);
  assert.equal(transport.canWriteEof(), true);
  assert.equal(
    received.map((d) => new TextDecoder().decode(d)).join(""),
    "over a Unix socket",
  );
  await server.close();
  await server.waitClosed();
  await assert.rejects(
    Deno.lstat(path),
    Deno.errors.NotFound,
    "socket file removed at close",
  );
});

Deno.test("Unix socket: a stale socket file is replaced", async () => {
  const path = await tempPath();
  // A process that bound the path and died leaves the socket file behind.
  const bind = await new Deno.Command("python3", {
    args: [
      "-c",
      "import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])",
      path,
    ],
  }).output();
  assert.equal(bind.code, 0);
  assert.ok((await Deno.lstat(path)).isSocket);
  await using server = await createServer(() => new EchoProtocol(), { path });
  const { protocol } = await createConnection(() => sender(["x"]), {
    path,
  });
  assert.equal(await protocol.lost.promise, null);
  assert.equal(server.path, path);
});

Deno.test("Unix socket: a path a live server uses is refused, without a connection to it", async () => {
  const path = await tempPath();
  let made = 0;
  await using live = await createServer(() => {
    made++;
    return new EchoProtocol();
  }, { path });
  await assert.rejects(
    createServer(() => new EchoProtocol(), { path }),
    Deno.errors.AddrInUse,
    "is in use by a running server",
  );
  // The live server's lock file told: it was never probed. (A probe would
  // be accepted before this client, which the server takes in order.)
  const { protocol } = await createConnection(() => sender(["x"]), {
    path,
  });
  assert.equal(await protocol.lost.promise, null);
  assert.equal(made, 1);
  assert.equal(live.path, path);
});

Deno.test("Unix socket: a live socket of another program is refused (probed)", async () => {
  const path = await tempPath();
  const listener = Deno.listen({ transport: "unix", path });
  try {
    await assert.rejects(
      createServer(() => new EchoProtocol(), { path }),
      Deno.errors.AddrInUse,
      "is in use by a running server",
    );
    // No lock file is left behind by the refused server.
    await assert.rejects(Deno.lstat(`${path}.lock`), Deno.errors.NotFound);
  } finally {
    listener.close();
  }
});

Deno.test("Unix socket: a socket and lock file left by a killed server are replaced", async () => {
  const path = await tempPath();
  const script = `
    import { createServer } from "${
    new URL("./server.ts", import.meta.url).href
  }";
    await createServer(() => ({}), { path: ${JSON.stringify(path)} });
    Deno.exit(9); // dies without cleaning up`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    stderr: "piped",
  }).output();
  assert.equal(out.code, 9, new TextDecoder().decode(out.stderr));
  assert.ok((await Deno.lstat(path)).isSocket);
  assert.ok((await Deno.lstat(`${path}.lock`)).isFile);
  {
    await using server = await createServer(() => new EchoProtocol(), { path });
    const { protocol } = await createConnection(
      () => sender(["x"]),
      { path },
    );
    assert.equal(await protocol.lost.promise, null);
    assert.equal(server.path, path);
  }
  // Closed cleanly: both files are gone.
  await assert.rejects(Deno.lstat(path), Deno.errors.NotFound);
  await assert.rejects(Deno.lstat(`${path}.lock`), Deno.errors.NotFound);
});

Deno.test("Unix socket: a path that is not a socket is never removed", async () => {
  const path = await tempPath();
  await Deno.writeTextFile(path, "precious");
  await assert.rejects(
    createServer(() => new EchoProtocol(), { path }),
    Deno.errors.AlreadyExists,
    "exists and is not a socket; not removing it",
  );
  assert.equal(await Deno.readTextFile(path), "precious");
});

Deno.test("Unix socket: connecting to a missing path names it", async () => {
  const path = await tempPath();
  const error = await createConnection(() => sender(), { path }).catch((
    e,
  ) => e);
  assert.ok(error instanceof Deno.errors.NotFound, String(error));
  assert.match(error.message, new RegExp(`^cannot connect to ${path}: `));
});
