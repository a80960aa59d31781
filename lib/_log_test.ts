// The library's log records go through LogTape only in a process that uses
// LogTape, and loads it only then. Each test runs a fresh Deno: in this
// process LogTape is loaded already.

import assert from "node:assert/strict";
import { loadProbe, runScript } from "./_test_helpers.ts";

const LIB = new URL("./mod.ts", import.meta.url).href;
const LOG = new URL("./_log.ts", import.meta.url).href;
const REPORT = new URL("./_report.ts", import.meta.url).href;
const LOGTAPE = "npm:@logtape/logtape@^2.4.2";

/** Runs `script` in a new Deno; its standard output and error. */
function run(
  script: string,
  probe?: string,
): Promise<{ out: string; err: string }> {
  return runScript(script, { probe });
}

// A server with traffic, a lost connection (a debug record) and a
// protocol's exception (an error report).
const SERVE = `
  import { createServer } from "${LIB}";
  const lost = Promise.withResolvers();
  const server = await createServer(() => ({
    dataReceived(data) {
      if (data[0] === 0) throw new Error("protocol bug");
    },
    connectionLost: () => lost.resolve(),
  }), { hostname: "127.0.0.1" });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  await conn.write(new Uint8Array([0]));
  await lost.promise;
  conn.close();
  await server.close();
  await server.waitClosed();
`;

Deno.test("a process that does not use LogTape does not load it", async () => {
  // The module graph says: an import map turns LogTape into a stub that
  // announces itself when anything loads it.
  const probe = await loadProbe(LOGTAPE, "npm:@logtape/logtape@2.4.2");
  const loaded = `MODULE LOADED: ${LOGTAPE}`;
  const without = await run(SERVE, probe);
  assert.ok(!without.err.includes(loaded), without.err);
  // The error still reaches standard error, without LogTape.
  assert.match(
    without.err,
    /^protocols: Fatal error: protocol\.dataReceived\(\) call failed for .*: protocol bug\nError: protocol bug\n/,
  );
  // The probe does see a process that uses LogTape.
  const used = await run(`import "${LOGTAPE}";\n${SERVE}`, probe);
  assert.ok(used.err.includes(loaded), used.err);
  await Deno.remove(probe, { recursive: true });
});

Deno.test("records that come while LogTape loads go out in order", async () => {
  const { err } = await run(`
    import { configureSync, getConsoleSink, getTextFormatter } from "${LOGTAPE}";
    import { log } from "${LOG}";
    import { reportError } from "${REPORT}";
    configureSync({
      sinks: {
        err: (record) => console.error(
          record.level + " " + record.message.join("").split("\\n")[0],
        ),
      },
      loggers: [
        { category: ["protocols"], sinks: ["err"], lowestLevel: "debug" },
        { category: ["logtape", "meta"], sinks: [], lowestLevel: "fatal" },
      ],
    });
    log.info("first {n}", { n: 1 });
    reportError("second {n}", { n: 2 }, new Error("boom"));
    log.debug("third", {});
    console.error("synchronous code ends");
  `);
  assert.equal(
    err,
    "synchronous code ends\ninfo first 1\nerror second 2\ndebug third\n",
  );
});

Deno.test("without LogTape, an error report is written at once and other records are dropped", async () => {
  const { err } = await run(`
    import { log } from "${LOG}";
    import { reportError } from "${REPORT}";
    log.warning("nowhere to go: nothing uses LogTape", {});
    reportError("it failed: {why}", { why: new Error("boom") }, new Error("boom"));
    console.error("after");
  `);
  assert.match(err, /^protocols: it failed: boom\nError: boom\n[^]*\nafter\n$/);
});
