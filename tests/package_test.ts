// The library as other projects use it: from temporary folders outside this
// checkout, with no configuration of theirs (by path and by URL), with an
// import-map entry, and as the package `deno publish` would ship.

import assert from "node:assert/strict";
import { projectFile } from "./_process.ts";

const LIB = new URL("../lib/", import.meta.url);

/** A small program that uses the package: an echo round trip over TCP. */
function program(core: string, testing: string): string {
  return `
import { createConnection, createServer, type Protocol, type Transport } from "${core}";
import { MemoryTransport } from "${testing}";

class Echo implements Protocol {
  #t!: Transport;
  connectionMade(t: Transport) { this.#t = t; }
  dataReceived(data: Uint8Array) { this.#t.write(data); }
}
const memory = MemoryTransport.connect(new Echo());
memory.receive("in memory");
if (memory.writtenText() !== "in memory") throw new Error("memory echo failed");

const server = await createServer(() => new Echo(), { hostname: "127.0.0.1" });
let answer = "";
const done = Promise.withResolvers<void>();
await createConnection(() => ({
  connectionMade(t: Transport) { t.write("over TCP"); t.writeEof(); },
  dataReceived(data: Uint8Array) { answer += new TextDecoder().decode(data); },
  connectionLost() { done.resolve(); },
}), { hostname: "127.0.0.1", port: server.addrs[0].port });
await done.promise;
await server.close();
await server.waitClosed();
console.log(answer);
`;
}

/** Runs `deno <args>` in `cwd`; returns its output. */
async function deno(cwd: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** A temporary project folder outside the checkout. */
async function project(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "protocols-user-" });
  assert.ok(!dir.startsWith(projectFile("")), "outside the checkout");
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  return dir;
}

Deno.test("package: imported by path, with no configuration of the importer", async () => {
  const dir = await project({
    "main.ts": program(
      new URL("mod.ts", LIB).href,
      new URL("testing.ts", LIB).href,
    ),
  });
  try {
    const run = await deno(dir, ["run", "--allow-net", "main.ts"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "over TCP\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: imported from a URL, with no configuration of the importer", async () => {
  // The library's folder served over HTTP on loopback, as a raw URL would be.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    async (request) => {
      const name = new URL(request.url).pathname.slice(1);
      if (!/^[\w.]+\.(ts|json)$/.test(name)) {
        return new Response(null, { status: 404 });
      }
      try {
        return new Response(await Deno.readFile(new URL(name, LIB)), {
          headers: {
            "content-type": name.endsWith(".json")
              ? "application/json"
              : "application/typescript",
          },
        });
      } catch {
        return new Response(null, { status: 404 });
      }
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}/`;
  const dir = await project({
    "main.ts": program(`${base}mod.ts`, `${base}testing.ts`),
  });
  try {
    const run = await deno(dir, [
      "run",
      "--allow-net",
      `--allow-import=127.0.0.1:${server.addr.port}`,
      "--reload",
      "main.ts",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "over TCP\n");
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: imported by name through an import map, as lib/README.md says", async () => {
  const dir = await project({
    "deno.json": JSON.stringify({
      imports: {
        "@protocols/core": new URL("mod.ts", LIB).href,
        "@protocols/core/testing": new URL("testing.ts", LIB).href,
      },
    }),
    "main.ts": program("@protocols/core", "@protocols/core/testing"),
  });
  try {
    const check = await deno(dir, ["check", "main.ts"]);
    assert.equal(check.code, 0, check.stderr);
    const run = await deno(dir, ["run", "--allow-net", "main.ts"]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, "over TCP\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: deno publish --dry-run ships the library's files only", async () => {
  // A copy outside the checkout: the package needs nothing beside it.
  const dir = await Deno.makeTempDir({ prefix: "protocols-package-" });
  try {
    for await (const entry of Deno.readDir(LIB)) {
      if (entry.isFile) {
        await Deno.copyFile(new URL(entry.name, LIB), `${dir}/${entry.name}`);
      }
    }
    const run = await deno(dir, ["publish", "--dry-run", "--allow-dirty"]);
    assert.equal(run.code, 0, run.stderr);
    const shipped = [...run.stderr.matchAll(/file:\/\/\S+\/([^/\s]+) \(/g)]
      .map((m) => m[1]);
    assert.ok(shipped.includes("mod.ts") && shipped.includes("LICENSE"));
    for (const name of shipped) {
      assert.match(name, /^(_?[a-z_]+\.ts|deno\.json|README\.md|LICENSE)$/);
      assert.doesNotMatch(name, /_test\.ts$/);
    }
    assert.match(run.stderr, /Success/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("package: the version is written once, and what shows it agrees", async () => {
  const { VERSION } = await import("../lib/mod.ts");
  const lib = JSON.parse(await Deno.readTextFile(projectFile("lib/deno.json")));
  assert.equal(VERSION, lib.version);
  const root = JSON.parse(await Deno.readTextFile(projectFile("deno.json")));
  assert.equal(root.version, undefined, "the root deno.json has no version");
  const changelog = await Deno.readTextFile(projectFile("CHANGELOG.md"));
  assert.equal(changelog.match(/^## \[(\d+\.\d+\.\d+)\]/m)?.[1], VERSION);
  for (const file of ["README.md", "lib/README.md"]) {
    const text = await Deno.readTextFile(projectFile(file));
    for (const [, shown] of text.matchAll(/"version": "(\d+\.\d+\.\d+)"/g)) {
      assert.equal(shown, VERSION, `${file} shows ${shown}`);
    }
  }
});
