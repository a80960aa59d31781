// The layout's rules, read from Deno's own module graph: the library never
// imports the application, the application reaches the library only through
// its public entry, and no module imports itself round a cycle.

import assert from "node:assert/strict";
import { projectFile } from "./_process.ts";

const ROOT = new URL("../", import.meta.url).href;
const ENTRIES = [
  "main_server.ts",
  "main_client.ts",
  "echo/server_worker.ts",
  "lib/mod.ts",
  "lib/testing.ts",
  "lib/proxy_protocol.ts",
];

/** The project's modules and what each imports, by path from the root. */
async function graph(): Promise<Map<string, string[]>> {
  const edges = new Map<string, string[]>();
  for (const entry of ENTRIES) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", projectFile(entry)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout));
    for (const module of info.modules) {
      if (!module.specifier.startsWith(ROOT)) continue;
      const from = module.specifier.slice(ROOT.length);
      const to = (module.dependencies ?? [])
        .map((d: { code?: { specifier?: string } }) => d.code?.specifier)
        .filter((s: string | undefined): s is string =>
          s?.startsWith(ROOT) === true
        )
        .map((s: string) => s.slice(ROOT.length));
      edges.set(from, to);
    }
  }
  return edges;
}

Deno.test("layout: the library imports nothing of the application", async () => {
  for (const [from, to] of await graph()) {
    if (!from.startsWith("lib/")) continue;
    for (const target of to) {
      assert.ok(target.startsWith("lib/"), `${from} imports ${target}`);
    }
  }
});

Deno.test("layout: no file under lib/, its tests included, imports anything outside it", async () => {
  const outside: string[] = [];
  for await (const entry of Deno.readDir(projectFile("lib"))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(projectFile(`lib/${entry.name}`));
    const specifiers = text.matchAll(
      /(?:from|import)\s*\(?\s*"([^"]+)"/g,
    );
    for (const [, specifier] of specifiers) {
      if (specifier.startsWith("../") || specifier.startsWith("/")) {
        outside.push(`lib/${entry.name}: ${specifier}`);
      }
    }
  }
  assert.deepEqual(outside, [], outside.join("\n"));
});

Deno.test("layout: the application reaches the library only through its entry", async () => {
  for (const [from, to] of await graph()) {
    if (from.startsWith("lib/")) continue;
    for (const target of to) {
      if (target.startsWith("lib/")) {
        assert.equal(target, "lib/mod.ts", `${from} imports ${target}`);
      }
    }
  }
});

Deno.test("layout: no import cycles", async () => {
  const edges = await graph();
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (node: string) => {
    if (state.get(node) === "done") return;
    if (state.get(node) === "open") {
      assert.fail(
        `cycle: ${[...path.slice(path.indexOf(node)), node].join(" → ")}`,
      );
    }
    state.set(node, "open");
    path.push(node);
    for (const next of edges.get(node) ?? []) visit(next);
    path.pop();
    state.set(node, "done");
  };
  for (const node of edges.keys()) visit(node);
  assert.ok(edges.size > 30, `${edges.size} modules seen`);
});

Deno.test("layout: the library's source is ASCII", async () => {
  // A module's text stays in V8's heap for the life of the process, and one
  // character beyond Latin-1 in it (a dash, an arrow, an ellipsis) makes V8
  // keep the whole text at two bytes a character: the library's modules took
  // 462 KiB of heap with a few of those in comments, 420 without. At 16 KiB
  // round trips every full collection's pace and cost grows with the heap
  // (see "Garbage collection at 16 KiB" in bench/NOTES.md).
  const found: string[] = [];
  for await (const entry of Deno.readDir(projectFile("lib"))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const lines = (await Deno.readTextFile(projectFile(`lib/${entry.name}`)))
      .split("\n");
    lines.forEach((line, i) => {
      const at = line.search(/[\u0080-\uffff]/);
      if (at >= 0) found.push(`lib/${entry.name}:${i + 1}: "${line[at]}"`);
    });
  }
  assert.deepEqual(found, [], `non-ASCII characters:\n${found.join("\n")}`);
});
