import assert from "node:assert/strict";
import {
  connectProcess,
  spawnProcess,
  type SubprocessTransport,
} from "./subprocess.ts";
import { captureLogs, EXAMPLE_MESSAGES, sender } from "./_test_helpers.ts";

captureLogs("error");
const decode = (parts: Uint8Array[]) =>
  parts.map((p) => new TextDecoder().decode(p)).join("");

Deno.test("the seed's EchoClient talks to `cat` through pipes, unchanged", async () => {
  const echoed: Uint8Array[] = [];
  const { protocol, child } = await connectProcess(
    () => sender(EXAMPLE_MESSAGES, echoed),
    "cat",
    [],
  );
  assert.equal(
    await protocol.lost.promise,
    null,
    "ended by cat's end of output",
  );
  assert.equal(decode(echoed), EXAMPLE_MESSAGES.join(""));
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
    connectProcess(() => sender(), "no-such-command-here", []),
    Deno.errors.NotFound,
  );
});

Deno.test("spawnProcess: pauseWriting and resumeWriting follow the child's standard input", async () => {
  // A child that reads nothing until SIGUSR1, then copies its input out.
  const script = `
import shutil, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR1])
sys.stdout.write("ready\\n"); sys.stdout.flush()
signal.sigwait([signal.SIGUSR1])
shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)
`;
  const events: string[] = [];
  const ready = Promise.withResolvers<void>();
  const resumed = Promise.withResolvers<void>();
  const lost = Promise.withResolvers<void>();
  let echoed = 0;
  const { transport } = await spawnProcess(
    () => ({
      pauseWriting: () => void events.push("pause"),
      resumeWriting: () => {
        events.push("resume");
        resumed.resolve();
      },
      pipeDataReceived: (fd: 1 | 2, data: Uint8Array) => {
        if (fd !== 1) return;
        if (echoed === 0 && new TextDecoder().decode(data) === "ready\n") {
          ready.resolve();
        } else {
          echoed += data.length;
        }
      },
      connectionLost: () => lost.resolve(),
    }),
    "python3",
    ["-c", script],
  );
  await ready.promise;
  const stdin = transport.getPipeTransport(0)!;
  const chunk = new Uint8Array(64 * 1024).fill(0x61);
  // Writing until pauseWriting (a bound keeps a regression from filling
  // memory): the child reads nothing, so the pause must come.
  let written = 0;
  while (events.length === 0 && written < 64 * 1024 * 1024) {
    stdin.write(chunk);
    written += chunk.length;
    await Promise.resolve();
  }
  assert.deepEqual(events, ["pause"], `no pause after ${written} bytes`);
  assert.ok(written < 4 * 1024 * 1024, `${written} bytes before the pause`);
  transport.kill("SIGUSR1"); // the child reads now
  await resumed.promise;
  stdin.writeEof();
  await lost.promise;
  assert.deepEqual(events, ["pause", "resume"]);
  assert.equal(echoed, written, "every byte written reached the child");
  assert.equal(transport.getReturncode(), 0);
});

Deno.test("spawnProcess, connectProcess: a factory that throws starts no child", async () => {
  const dir = await Deno.makeTempDir({ prefix: "subprocess-" });
  const marker = `${dir}/started`;
  const boom = () => {
    throw new Error("no protocol");
  };
  await assert.rejects(
    spawnProcess(boom, "sh", ["-c", `touch ${marker}; sleep 30`]),
    /no protocol/,
  );
  await assert.rejects(
    connectProcess(boom, "sh", ["-c", `touch ${marker}; sleep 30`]),
    /no protocol/,
  );
  await assert.rejects(Deno.lstat(marker), Deno.errors.NotFound);
});

Deno.test({
  name: "spawnProcess: a connectionMade that throws leaves no child running",
  // The process is looked for in /proc, which is Linux's.
  ignore: Deno.build.os !== "linux",
}, async () => {
  let pid = 0;
  await assert.rejects(
    spawnProcess(
      () => ({
        connectionMade(transport: SubprocessTransport) {
          pid = transport.getPid();
          throw new Error("refused");
        },
      }),
      "sleep",
      ["30"],
    ),
    /refused/,
  );
  assert.ok(pid > 0);
  // Killed and reaped before the call rejected: no such process now.
  const status = await Deno.readTextFile(`/proc/${pid}/status`).catch(() => "");
  assert.equal(status, "", `process ${pid} still there:\n${status}`);
});

Deno.test("spawnProcess: a child a signal ended has minus the signal's number as its returncode", async () => {
  const exited = Promise.withResolvers<void>();
  const { transport } = await spawnProcess(
    () => ({ processExited: () => exited.resolve() }),
    "sleep",
    ["30"],
  );
  transport.kill("SIGKILL");
  await exited.promise;
  assert.equal(transport.getReturncode(), -9);
});

Deno.test("spawnProcess: a file that is not executable is refused with PermissionDenied", async () => {
  const dir = await Deno.makeTempDir({ prefix: "subprocess-" });
  const script = `${dir}/script.sh`;
  await Deno.writeTextFile(script, "#!/bin/sh\necho hi\n");
  await Deno.chmod(script, 0o644);
  await assert.rejects(
    spawnProcess(() => ({}), script, []),
    Deno.errors.PermissionDenied,
  );
});

Deno.test("SubprocessTransport.getExtraInfo knows the pid and the child", async () => {
  const exited = Promise.withResolvers<void>();
  const { transport } = await spawnProcess(
    () => ({ connectionLost: () => exited.resolve() }),
    "true",
    [],
  );
  assert.equal(transport.getExtraInfo("pid"), transport.getPid());
  assert.ok(transport.getExtraInfo("child") !== undefined);
  assert.equal(transport.getExtraInfo("other", "none"), "none");
  await exited.promise;
});
