import assert from "node:assert/strict";
import { describeError, UsageError } from "../echo/errors.ts";
import { helpText, parseCommandLine, VERSION } from "../echo/program.ts";
import { parseCount, parsePort, parseSeconds } from "../echo/parse.ts";
import { serverProgram } from "../echo/server_program.ts";
import { clientProgram } from "../echo/client_program.ts";
import libConfig from "../lib/deno.json" with { type: "json" };

Deno.test("defaults are the example's: localhost, port 10000, debug, text", () => {
  const parsed = parseCommandLine(serverProgram, []);
  assert.ok(parsed.kind === "run");
  assert.deepEqual(parsed.config, {
    host: "localhost",
    port: 10000,
    logLevel: "debug",
    logFormat: "text",
    logBytes: 64,
    grace: 5,
    maxConnections: 10000,
    maxConnectionsPerIp: 0,
    idleTimeout: 300,
    handshakeTimeout: 10,
    udp: false,
    proxyProtocol: false,
    proxyProtocolFrom: [],
    workers: 1,
    accessLog: false,
    keepAlive: false,
  });
  const client = parseCommandLine(clientProgram, []);
  assert.ok(client.kind === "run");
  assert.deepEqual(client.config.messages, [
    "This is the message. ",
    "It will be sent ",
    "in parts.",
  ]);
  assert.equal(client.config.timeout, 0);
  assert.equal(client.config.stdin, false);
});

Deno.test("flags are read, --flag=value too", () => {
  const parsed = parseCommandLine(clientProgram, [
    "--host=::1",
    "--port",
    "1",
    "--log-level",
    "warning",
    "--log-format=json",
    "--message",
    "a",
    "--message=b",
    "--timeout",
    "1.5",
  ]);
  assert.ok(parsed.kind === "run");
  assert.equal(parsed.config.host, "::1");
  assert.equal(parsed.config.port, 1);
  assert.equal(parsed.config.logLevel, "warning");
  assert.equal(parsed.config.logFormat, "json");
  assert.deepEqual(parsed.config.messages, ["a", "b"]);
  assert.equal(parsed.config.timeout, 1.5);
});

Deno.test("--help and --version win over other flags", () => {
  assert.deepEqual(parseCommandLine(serverProgram, ["--port", "1", "--help"]), {
    kind: "help",
  });
  assert.deepEqual(parseCommandLine(serverProgram, ["--version"]), {
    kind: "version",
  });
  assert.equal(VERSION, libConfig.version);
  assert.match(helpText(serverProgram), /--grace SECONDS/);
});

Deno.test("number parsers accept their range and reject the rest", () => {
  assert.equal(parsePort("0"), 0);
  assert.equal(parsePort("65535"), 65535);
  for (const bad of ["65536", "-1", "1.5", "", " 80", "0x50", "1e3"]) {
    assert.throws(() => parsePort(bad), UsageError, bad);
  }
  assert.equal(parseSeconds("--t", "0"), 0);
  assert.equal(parseSeconds("--t", "2.5"), 2.5);
  for (const bad of ["-1", "", "abc", "Infinity", "NaN"]) {
    assert.throws(() => parseSeconds("--t", bad), UsageError, bad);
  }
  assert.equal(parseCount("--n", "3", 1), 3);
  for (const bad of ["0", "-2", "1.5", "x"]) {
    assert.throws(() => parseCount("--n", bad, 1), UsageError, bad);
  }
});

Deno.test("describeError gives one short line per expected error", () => {
  assert.equal(
    describeError(new Deno.errors.AddrInUse("Address in use (os error 98)")),
    "address already in use",
  );
  assert.equal(
    describeError(new Deno.errors.ConnectionRefused("x")),
    "connection refused",
  );
  assert.equal(describeError(new Deno.errors.NotFound("x")), "host not found");
  assert.equal(
    describeError(
      new Deno.errors.TimedOut("Connection timed out (os error 110)"),
    ),
    "timed out",
  );
  assert.equal(
    describeError(
      new Deno.errors.TimedOut("TLS handshake not done within 60 s"),
    ),
    "TLS handshake not done within 60 s",
  );
  assert.match(
    describeError(new Deno.errors.NotCapable("Requires net access.")),
    /^permission denied \(Requires net access\)$/,
  );
  assert.equal(describeError(new Error("first\nsecond")), "first");
});
