// A TLS server's certificates by name (SNI), client certificates (mutual
// TLS) and what the server learns of its client, against openssl s_client,
// a TLS client no one here wrote.

import assert from "node:assert/strict";
import { createServer } from "./server.ts";
import type { ConnectionRecord } from "./connection_record.ts";
import { RecordingProtocol } from "./testing.ts";
import { captureLogs, waitFor } from "./_test_helpers.ts";
import { issue, makeCa, type TestCa } from "./_test_certs.ts";

captureLogs("error");

/**
 * Runs `openssl s_client` against `port` with `args`, sending `hello` and
 * closing; its output (both streams) and whether it verified the server.
 */
async function sClient(
  port: number,
  args: string[],
): Promise<{ text: string; code: number }> {
  const child = new Deno.Command("openssl", {
    args: ["s_client", "-connect", `127.0.0.1:${port}`, "-brief", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("hello\n")).catch(() => {});
  await writer.close().catch(() => {});
  const out = await child.output();
  const decoder = new TextDecoder();
  return {
    text: decoder.decode(out.stdout) + decoder.decode(out.stderr),
    code: out.code,
  };
}

let certs:
  | Promise<{
    ca: TestCa;
    otherCa: TestCa;
    server: { cert: string; key: string };
    named: { cert: string; key: string };
    wildcard: { cert: string; key: string };
    alice: { certFile: string; keyFile: string };
    mallory: { certFile: string; keyFile: string };
    expired: { certFile: string; keyFile: string };
  }>
  | undefined;

/** The CAs and certificates these tests use (made once). */
function testCerts() {
  return certs ??= (async () => {
    const ca = await makeCa("Echo Test CA");
    const otherCa = await makeCa("Another CA");
    return {
      ca,
      otherCa,
      server: await issue(ca, {
        cn: "localhost",
        san: "DNS:localhost,IP:127.0.0.1",
      }),
      named: await issue(ca, { cn: "named.test", san: "DNS:named.test" }),
      wildcard: await issue(ca, { cn: "*.wild.test", san: "DNS:*.wild.test" }),
      alice: await issue(ca, { cn: "alice", client: true }),
      mallory: await issue(otherCa, { cn: "mallory", client: true }),
      expired: await issue(ca, { cn: "old", client: true, days: -1 }),
    };
  })();
}

Deno.test("TLS sni: each name gets its certificate; no name or an unknown one gets the default", async () => {
  const c = await testCerts();
  const made: RecordingProtocol[] = [];
  await using server = await createServer(() => {
    const protocol = new RecordingProtocol();
    made.push(protocol);
    return protocol;
  }, {
    hostname: "127.0.0.1",
    tls: {
      ...c.server,
      sni: { "named.test": c.named, "*.wild.test": c.wildcard },
    },
  });
  const port = server.addrs[0].port;
  const cases: [string[], RegExp, string | undefined][] = [
    [["-servername", "named.test"], /CN ?= ?named\.test/, "named.test"],
    [["-servername", "NAMED.test"], /CN ?= ?named\.test/, "named.test"],
    [["-servername", "a.wild.test"], /CN ?= ?\*\.wild\.test/, "a.wild.test"],
    [["-servername", "a.b.wild.test"], /CN ?= ?localhost/, "a.b.wild.test"],
    [["-servername", "unknown.test"], /CN ?= ?localhost/, "unknown.test"],
    [["-noservername"], /CN ?= ?localhost/, undefined],
  ];
  for (const [args, subject, name] of cases) {
    const before = made.length;
    const { text } = await sClient(port, args);
    assert.match(text, subject, `${args.join(" ")}:\n${text}`);
    assert.equal(made.length, before + 1);
    const protocol = made.at(-1)!;
    await protocol.made.promise;
    assert.equal(protocol.transport.getExtraInfo("serverName"), name);
  }
});

Deno.test("TLS clientCa: a client certificate that chains to the CA is required; the rest are refused, one connection each", async () => {
  const c = await testCerts();
  const made: RecordingProtocol[] = [];
  const records: ConnectionRecord[] = [];
  await using server = await createServer(() => {
    const protocol = new RecordingProtocol();
    protocol.onData = (data, self) => self.transport.write(data);
    made.push(protocol);
    return protocol;
  }, {
    hostname: "127.0.0.1",
    tls: { ...c.server, clientCa: c.ca.cert },
    onConnectionEnd: (record) => records.push(record),
  });
  const port = server.addrs[0].port;
  // Refused: none, another CA's, an expired one.
  for (
    const args of [
      [],
      ["-cert", c.mallory.certFile, "-key", c.mallory.keyFile],
      ["-cert", c.expired.certFile, "-key", c.expired.keyFile],
    ]
  ) {
    await sClient(port, args);
  }
  assert.equal(made.length, 0, "no protocol for a refused client");
  // Served: alice, whose certificate the CA signed.
  await sClient(port, ["-cert", c.alice.certFile, "-key", c.alice.keyFile]);
  assert.equal(made.length, 1);
  const peer = made[0].transport.getExtraInfo("peercert");
  assert.equal(peer?.subject, "CN=alice");
  assert.equal(peer?.issuer, "CN=Echo Test CA");
  assert.match(peer?.fingerprint256 ?? "", /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.match(peer?.pem ?? "", /^-----BEGIN CERTIFICATE-----/);
  assert.ok(peer!.validTo > new Date());
  await made[0].lost.promise;
  assert.deepEqual(
    records.map((r) => r.outcome),
    ["tls_failed", "tls_failed", "tls_failed", "closed"],
  );
});

Deno.test("TLS clientCert request: a client without a certificate is served; one whose certificate does not verify is not", async () => {
  const c = await testCerts();
  const made: RecordingProtocol[] = [];
  await using server = await createServer(() => {
    const protocol = new RecordingProtocol();
    made.push(protocol);
    return protocol;
  }, {
    hostname: "127.0.0.1",
    tls: { ...c.server, clientCa: [c.ca.cert], clientCert: "request" },
  });
  const port = server.addrs[0].port;
  await sClient(port, []);
  assert.equal(made.length, 1);
  await made[0].made.promise;
  assert.equal(made[0].transport.getExtraInfo("peercert"), undefined);
  await sClient(port, ["-cert", c.mallory.certFile, "-key", c.mallory.keyFile]);
  assert.equal(made.length, 1, "the other CA's client was refused");
  await sClient(port, ["-cert", c.alice.certFile, "-key", c.alice.keyFile]);
  assert.equal(made.length, 2);
  await made[1].made.promise;
  assert.equal(made[1].transport.getExtraInfo("peercert")?.subject, "CN=alice");
});

Deno.test("TLS options that cannot be used are refused with a reason", async () => {
  const c = await testCerts();
  await assert.rejects(
    createServer(() => ({}), {
      tls: {
        ...c.server,
        sni: { "x.test": { cert: c.named.cert, key: c.server.key } },
      },
    }),
    /sni x\.test: the private key is not the certificate's/,
  );
  await assert.rejects(
    createServer(() => ({}), {
      tls: { ...c.server, clientCa: "not a certificate" },
    }),
    /clientCa 1 does not parse/,
  );
  await assert.rejects(
    createServer(() => ({}), { tls: { ...c.server, clientCert: "request" } }),
    /clientCert needs clientCa/,
  );
});

Deno.test({
  name: "keepAlive turns TCP keepalive on, server and client ends",
  // Read off ss(8), Linux's.
  ignore: Deno.build.os !== "linux",
}, async () => {
  const { createConnection } = await import("./connection.ts");
  const server = await createServer(() => new RecordingProtocol(), {
    hostname: "127.0.0.1",
    keepAlive: true,
  });
  const port = server.addrs[0].port;
  const { transport } = await createConnection(() => new RecordingProtocol(), {
    hostname: "127.0.0.1",
    port,
    keepAlive: true,
  });
  const { stdout } = await new Deno.Command("ss", {
    args: [
      "-tno",
      "state",
      "established",
      `( sport = :${port} or dport = :${port} )`,
    ],
  }).output();
  const lines = new TextDecoder().decode(stdout).split("\n").filter((l) =>
    l.includes(`:${port}`)
  );
  assert.equal(lines.length, 2, lines.join("\n"));
  for (const line of lines) assert.match(line, /timer:\(keepalive/, line);
  transport.close();
  await transport.closed;
  await server.close();
  server.closeClients();
  await server.waitClosed();
});

/**
 * `openssl s_server` requiring a client certificate signed by `ca`
 * (`-Verify 1`), answering each line reversed; `port` once it listens.
 */
async function sServer(
  server: { certFile: string; keyFile: string },
  ca: TestCa,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      "0",
      "-cert",
      server.certFile,
      "-key",
      server.keyFile,
      "-Verify",
      "1",
      "-verify_return_error",
      "-CAfile",
      ca.certFile,
      "-rev",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/ACCEPT/.test(text)) {
    const { value, done } = await lines.read();
    if (done) throw new Error(`s_server ended: ${text}`);
    text += value;
  }
  const port = Number(text.match(/ACCEPT \S*:(\d+)/)![1]);
  (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })().catch(() => {});
  return {
    port,
    async stop() {
      try {
        child.kill();
      } catch {
        // Gone.
      }
      await child.status;
      await child.stdin.close().catch(() => {});
    },
  };
}

Deno.test("createConnection with a client certificate, against openssl s_server -Verify: served, and the server's certificate read", async () => {
  const { createConnection } = await import("./connection.ts");
  const c = await testCerts();
  const server = await issue(c.ca, { cn: "localhost", san: "DNS:localhost" });
  const openssl = await sServer(server, c.ca);
  try {
    const client = new RecordingProtocol();
    const got = Promise.withResolvers<void>();
    client.onData = (_data, self) => {
      if (self.text().includes("olleh")) got.resolve();
    };
    const { transport } = await createConnection(() => client, {
      hostname: "localhost",
      port: openssl.port,
      tls: {
        caCerts: [c.ca.cert],
        cert: await Deno.readTextFile(c.alice.certFile),
        key: await Deno.readTextFile(c.alice.keyFile),
      },
    });
    transport.write("hello\n");
    await got.promise;
    const peer = transport.getExtraInfo("peercert");
    assert.equal(peer?.subject, "CN=localhost");
    assert.equal(peer?.issuer, "CN=Echo Test CA");
    transport.abort();
    // Without a certificate, s_server refuses the handshake.
    const refused = await createConnection(() => new RecordingProtocol(), {
      hostname: "localhost",
      port: openssl.port,
      tls: { caCerts: [c.ca.cert] },
    }).then(
      async ({ transport }) => {
        transport.write("hello\n");
        return await transport.closed;
      },
      (error) => error,
    );
    assert.ok(refused instanceof Error, String(refused));
  } finally {
    await openssl.stop();
  }
});

Deno.test("mutual TLS end to end: each side reads the other's certificate", async () => {
  const { createConnection } = await import("./connection.ts");
  const c = await testCerts();
  const made: RecordingProtocol[] = [];
  await using server = await createServer(() => {
    const protocol = new RecordingProtocol();
    made.push(protocol);
    return protocol;
  }, { hostname: "127.0.0.1", tls: { ...c.server, clientCa: c.ca.cert } });
  const { transport } = await createConnection(() => new RecordingProtocol(), {
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
    tls: {
      caCerts: [c.ca.cert],
      cert: await Deno.readTextFile(c.alice.certFile),
      key: await Deno.readTextFile(c.alice.keyFile),
    },
  });
  assert.equal(transport.getExtraInfo("peercert")?.subject, "CN=localhost");
  // The server finishes its side of the handshake a moment after the client.
  await waitFor(() => made.length === 1, "the server's protocol");
  await made[0].made.promise;
  assert.equal(made[0].transport.getExtraInfo("peercert")?.subject, "CN=alice");
  transport.close();
  await transport.closed;
  // A certificate without its key is refused before connecting further.
  await assert.rejects(
    createConnection(() => ({}), {
      hostname: "127.0.0.1",
      port: server.addrs[0].port,
      tls: { caCerts: [c.ca.cert], cert: c.server.cert },
    }),
    /a client certificate needs both cert and key/,
  );
});
