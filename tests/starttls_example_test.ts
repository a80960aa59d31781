// examples/starttls_server.ts against openssl s_client -starttls smtp: a
// server that upgrades a connection to TLS in place, tested with a client
// no one here wrote.

import assert from "node:assert/strict";
import { createServer } from "../lib/mod.ts";
import { StartTlsServer } from "../examples/starttls_server.ts";
import { testCerts } from "./_certs.ts";
import { captureLogs } from "./_helpers.ts";

captureLogs("error");

/** Runs openssl s_client -starttls smtp against `port`, typing `lines`. */
async function sClient(port: number, ca: string, lines: string[]) {
  const child = new Deno.Command("openssl", {
    args: [
      "s_client",
      "-starttls",
      "smtp",
      "-crlf",
      "-connect",
      `127.0.0.1:${port}`,
      "-servername",
      "localhost",
      "-verify_return_error",
      "-ign_eof",
      "-CAfile",
      ca,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(lines.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

Deno.test("STARTTLS example: openssl s_client -starttls smtp upgrades, then talks over TLS", async () => {
  const certs = await testCerts();
  const sessions: StartTlsServer[] = [];
  await using server = await createServer(() => {
    const session = new StartTlsServer({ cert: certs.cert, key: certs.key });
    sessions.push(session);
    return session;
  }, { hostname: "127.0.0.1" });
  const result = await sClient(server.addrs[0].port, certs.caFile, [
    "EHLO client.test",
    "NOOP",
    "QUIT",
  ]);
  assert.equal(result.code, 0, result.stderr);
  // Verified the server's certificate, then the secure EHLO, NOOP, QUIT.
  assert.match(result.stdout, /Verification: OK|Verify return code: 0 \(ok\)/);
  assert.match(result.stdout, /250 localhost\r?\n/);
  assert.match(result.stdout, /250 OK\r?\n/);
  assert.match(result.stdout, /221 Bye/);
  assert.equal(sessions.length, 1);
  assert.equal(sessions[0].secure, true);
});
