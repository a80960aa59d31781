// The distributable builds: the bundles (always), the compiled binaries
// (when DENORT_BIN points at Deno's base runtime; otherwise skipped with a
// printed reason).

import assert from "node:assert/strict";
import { projectFile, ServerProcess } from "./_process.ts";

const decoder = new TextDecoder();

/** Runs tools/build.ts COMMAND DIR; resolves to its outcome. */
async function runBuild(command: string, dir: string) {
  return await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-read",
      "--allow-write",
      "--allow-env=DENORT_BIN",
      projectFile("tools/build.ts"),
      command,
      dir,
    ],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
}

async function build(command: string, dir: string): Promise<void> {
  const out = await runBuild(command, dir);
  assert.equal(out.code, 0, decoder.decode(out.stderr));
}

/** Runs a built program to the end. */
async function run(cmd: string[], args: string[]) {
  const out = await new Deno.Command(cmd[0], {
    args: [...cmd.slice(1), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    lines: decoder.decode(out.stderr).split("\n").filter(Boolean),
  };
}

/** The seed's exchange, --help and a bad flag, with built programs. */
async function checkPrograms(server: string[], client: string[]) {
  const process = await ServerProcess.spawn(server, [
    "--host",
    "127.0.0.1",
    "--port",
    "0",
  ]);
  try {
    const exchange = await run(client, [
      "--host",
      "127.0.0.1",
      "--port",
      String(process.port),
    ]);
    assert.equal(exchange.code, 0, exchange.lines.join("\n"));
    assert.ok(exchange.lines.includes("EchoClient: received EOF"));
    assert.equal(exchange.lines.at(-1), "main: closing event loop");
    process.kill("SIGTERM");
    assert.equal((await process.status()).code, 0);
  } finally {
    await process.stop();
  }
  const help = await run(server, ["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: (echo-server|deno run echo-server\.js) /);
  const version = await run(client, ["--version"]);
  assert.match(version.stdout, /^echo-client \d+\.\d+\.\d+\n$/);
  const bad = await run(server, ["--bogus"]);
  assert.equal(bad.code, 2);
  assert.equal(bad.lines.length, 1, bad.lines.join("\n"));
  assert.match(
    bad.lines[0],
    /^echo-server: unknown option '--bogus' \(see '(echo-server|deno run echo-server\.js) --help'\)$/,
  );
}

Deno.test("bundle: one self-contained file per program, run with --allow-net only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-bundle-" });
  await build("bundle", dir);
  const files = [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
  assert.deepEqual(files, [
    "echo-client.js",
    "echo-server.js",
    "server_worker.js",
  ]);
  // Self-contained: no import of a project file is left.
  const source = await Deno.readTextFile(`${dir}/echo-server.js`);
  assert.ok(!/from ["']\.\.?\//.test(source), "no relative imports left");
  const deno = [Deno.execPath(), "run", "--allow-net"];
  await checkPrograms([...deno, `${dir}/echo-server.js`], [
    ...deno,
    `${dir}/echo-client.js`,
  ]);
  // --workers loads server_worker.js beside the bundle.
  const workers = await ServerProcess.spawn([
    Deno.execPath(),
    "run",
    "--allow-net",
    "--unstable-net",
    `--allow-read=${dir}`,
    `${dir}/echo-server.js`,
  ], ["--host", "127.0.0.1", "--port", "0", "--workers", "2"]);
  try {
    await workers.waitForLine((l) => l === "main: 2 workers share the port");
    const exchange = await run([...deno, `${dir}/echo-client.js`], [
      "--host",
      "127.0.0.1",
      "--port",
      String(workers.port),
    ]);
    assert.equal(exchange.code, 0, exchange.lines.join("\n"));
    workers.kill("SIGTERM");
    assert.equal((await workers.status()).code, 0);
    assert.ok(
      !workers.lines.some((l) => l.includes("error")),
      workers.lines.join("\n"),
    );
  } finally {
    await workers.stop();
  }
});

const denort = Deno.env.get("DENORT_BIN");
if (denort) {
  console.log(
    "compile:all failure test ignored: DENORT_BIN is set, so compile:all builds",
  );
} else {
  console.log(
    "compile test ignored: deno compile needs Deno's base runtime (denort), which these machines cannot download; set DENORT_BIN to run it",
  );
}
Deno.test({
  name:
    "compile:all builds every binary, or says once why not and leaves no folders",
  ignore: denort !== undefined,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "echo-compile-all-" });
  const out = await runBuild("compile:all", dir);
  const lines = decoder.decode(out.stderr).split("\n").filter(Boolean);
  if (out.code === 0) {
    // This machine could download the base runtimes: every target built.
    const built = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
    assert.ok(built.length > 1, `built: ${built.join(", ")}`);
    return;
  }
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0], /^compile: deno compile needs Deno's base runtime/);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test({
  name: "compile: single binaries with --allow-net baked in",
  ignore: !denort,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "echo-compile-" });
    await build("compile", dir);
    await checkPrograms([`${dir}/echo-server`], [`${dir}/echo-client`]);
  },
});
