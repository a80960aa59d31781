import assert from "node:assert/strict";
import { getLogger } from "@logtape/logtape";
import { configureLogging } from "../echo/logging.ts";

const LOGGING = new URL("../echo/logging.ts", import.meta.url).href;

/** Runs `code` in a new Deno with `log` set up; returns its standard error. */
async function stderrOf(code: string): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { configureLogging } from "${LOGGING}";
       import { getLogger } from "@logtape/logtape";
       configureLogging({ level: "info" });
       const log = getLogger(["main"]);
       ${code}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stderr);
}

Deno.test("log lines reach standard error whole, short, long and not ASCII", async () => {
  const long = "x".repeat(200_000) + "é";
  const text = await stderrOf(`
    log.info("short ✓");
    log.info("{long}", { long: "x".repeat(200_000) + "é" });
    log.debug("not written");
    log.info("after");`);
  assert.equal(text, `main: short ✓\nmain: ${long}\nmain: after\n`);
});

Deno.test("configureLogging sends lines at the level and above to write()", () => {
  const lines: string[] = [];
  configureLogging({ level: "warning", write: (line) => lines.push(line) });
  try {
    const log = getLogger(["main"]);
    log.info("dropped");
    log.warn("kept {n}", { n: 1 });
  } finally {
    configureLogging({ level: "error", write: () => {} });
  }
  assert.deepEqual(lines, ["main: kept 1\n"]);
});
