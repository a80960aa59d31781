import assert from "node:assert/strict";
import {
  connectProcess,
  spawnProcess,
  type SubprocessTransport,
} from "../lib/subprocess.ts";
import { EchoClient, SEED_MESSAGES } from "../echo/echo.ts";
import { configureLogging } from "../echo/logging.ts";

configureLogging({ level: "error", write: () => {} });
const decode = (parts: Uint8Array[]) =>
  parts.map((p) => new TextDecoder().decode(p)).join("");

Deno.test("the seed's EchoClient talks to `cat` through pipes, unchanged", async () => {
  const echoed: Uint8Array[] = [];
  const { protocol, child } = await connectProcess(
    () => new EchoClient(SEED_MESSAGES, { onData: (d) => void echoed.push(d) }),
    "cat",
    [],
  );
  assert.equal(await protocol.done, null, "ended by cat's end of output");
  assert.equal(decode(echoed), SEED_MESSAGES.join(""));
  assert.equal(
    (await child.status).code,
    0,
    "cat saw the half-close and exited",
  );
});

Deno.test("spawnProcess: output by fd, exit code, pipes closed, connectionLost last", async () => {
  const events: string[] = [];
  const output: Record<number, Uint8Array[]> = { 1: [], 2: [] };
  const lost = Promise.withResolvers<void>();
  let transport!: SubprocessTransport;
  await spawnProcess(
    () => ({
      connectionMade: (t: SubprocessTransport) => {
        transport = t;
        events.push("made");
      },
      pipeDataReceived: (fd: 1 | 2, data: Uint8Array) =>
        void output[fd].push(data),
      pipeConnectionLost: (fd: number) => void events.push(`pipe ${fd} closed`),
      processExited: () => void events.push("exited"),
      connectionLost: () => {
        events.push("lost");
        lost.resolve();
      },
    }),
    "sh",
    ["-c", "echo out; echo err >&2; exit 3"],
  );
  assert.ok(transport.getPid() > 0);
  await lost.promise;
  assert.equal(decode(output[1]), "out\n");
  assert.equal(decode(output[2]), "err\n");
  assert.equal(transport.getReturncode(), 3);
  assert.equal(events[0], "made");
  assert.equal(events.at(-1), "lost");
  assert.deepEqual(
    events.filter((e) => e.startsWith("pipe")).sort(),
    ["pipe 0 closed", "pipe 1 closed", "pipe 2 closed"],
  );
  assert.ok(events.includes("exited"));
});

Deno.test("spawnProcess: stdin's writeEof closes the child's standard input", async () => {
  const out: Uint8Array[] = [];
  const exited = Promise.withResolvers<void>();
  const { transport } = await spawnProcess(
    () => ({
      pipeDataReceived: (_fd: 1 | 2, data: Uint8Array) => void out.push(data),
      connectionLost: () => exited.resolve(),
    }),
    "cat",
    [],
  );
  const stdin = transport.getPipeTransport(0)!;
  stdin.write("through ");
  stdin.write("the pipe");
  stdin.writeEof();
  await exited.promise;
  assert.equal(decode(out), "through the pipe");
  assert.equal(transport.getReturncode(), 0);
});

Deno.test("spawnProcess: kill() stops the child", async () => {
  const exited = Promise.withResolvers<void>();
  const { transport } = await spawnProcess(
    () => ({
      connectionLost: () => exited.resolve(),
    }),
    "sleep",
    ["30"],
  );
  assert.equal(transport.getReturncode(), null);
  transport.kill("SIGKILL");
  await exited.promise;
  assert.notEqual(transport.getReturncode(), 0);
});

Deno.test("an unknown command is refused with NotFound", async () => {
  await assert.rejects(
    spawnProcess(() => ({}), "no-such-command-here", []),
    Deno.errors.NotFound,
  );
  await assert.rejects(
    connectProcess(() => new EchoClient(), "no-such-command-here", []),
    Deno.errors.NotFound,
  );
});
