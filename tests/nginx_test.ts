// The echo servers behind a real L4 load balancer: nginx's stream module,
// configured by examples/nginx/echo-stream.conf (ports rewritten), on
// loopback. .ci/run installs nginx and libnginx-mod-stream when missing.

import assert from "node:assert/strict";
import { projectFile, runClient, ServerProcess } from "./_process.ts";
import {
  assertSameBytes,
  echoThrough,
  randomBytes,
  readAll,
  waitFor,
  writeAll,
} from "./_helpers.ts";

const MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

async function nginxMissing(): Promise<string | undefined> {
  try {
    const out = await new Deno.Command("nginx", {
      args: ["-v"],
      stderr: "null",
    }).output();
    if (!out.success) return "nginx -v failed";
  } catch {
    return "nginx is not installed (apt-get install nginx-light libnginx-mod-stream)";
  }
  try {
    await Deno.stat(MODULE);
  } catch {
    return `${MODULE} is missing (apt-get install libnginx-mod-stream)`;
  }
  return undefined;
}

const missing = await nginxMissing();
if (missing) console.log(`nginx test skipped: ${missing}`);

Deno.test({
  name:
    "nginx stream: seed exchange, 16 MiB byte-exact, PROXY header, both servers share 20 connections",
  ignore: missing !== undefined,
  async fn() {
    const servers = [
      await ServerProcess.start(["--host", "127.0.0.1", "--proxy-protocol"]),
      await ServerProcess.start(["--host", "127.0.0.1", "--proxy-protocol"]),
    ];
    const dir = await Deno.makeTempDir({ prefix: "echo-nginx-" });
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    const template = await Deno.readTextFile(
      projectFile("examples/nginx/echo-stream.conf"),
    );
    const conf = template
      .replace("127.0.0.1:10000", `127.0.0.1:${port}`)
      .replace("127.0.0.1:10001", `127.0.0.1:${servers[0].port}`)
      .replace("127.0.0.1:10002", `127.0.0.1:${servers[1].port}`);
    assert.notEqual(conf, template);
    await Deno.writeTextFile(`${dir}/nginx.conf`, conf);
    const nginx = new Deno.Command("nginx", {
      args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", "stderr"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      await waitFor(async () => {
        try {
          (await Deno.connect({ hostname: "127.0.0.1", port })).close();
          return true;
        } catch {
          return false;
        }
      }, "nginx listening");

      // The seed's exchange, half-close included, through nginx.
      const client = await runClient(port);
      assert.equal(client.code, 0, client.stderr);
      assert.ok(
        client.lines.includes("EchoClient: received EOF"),
        client.stderr,
      );
      const echoed = client.lines
        .map((l) => l.match(/^EchoClient: received b'(.*)'$/)?.[1])
        .filter((d) => d !== undefined).join("");
      assert.equal(echoed, "This is the message. It will be sent in parts.");

      // 16 MiB byte-exact; the server logs this client's own address.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const mine = (conn.localAddr as Deno.NetAddr).port;
      const data = randomBytes(16 << 20);
      const back = await echoThrough(conn, data);
      conn.close();
      assertSameBytes(back, data);
      await waitFor(
        () =>
          servers.some((s) =>
            s.lines.includes(`EchoServer_127.0.0.1_${mine}: closing`)
          ),
        "a server logged the real client",
      );

      // 20 connections: round robin gives both servers a share.
      const before = servers.map((s) =>
        s.lines.filter((l) => l.endsWith(": connection accepted")).length
      );
      for (let i = 0; i < 20; i++) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        await writeAll(c, new TextEncoder().encode(`message ${i}`));
        await c.closeWrite();
        assert.equal(
          new TextDecoder().decode(await readAll(c)),
          `message ${i}`,
        );
        c.close();
      }
      await waitFor(() => {
        const now = servers.map((s) =>
          s.lines.filter((l) => l.endsWith(": connection accepted")).length
        );
        return now[0] - before[0] + now[1] - before[1] === 20;
      }, "both servers logged their connections");
      const shares = servers.map((s, i) =>
        s.lines.filter((l) => l.endsWith(": connection accepted")).length -
        before[i]
      );
      console.log(`  nginx shares of 20 connections: ${shares.join(" / ")}`);
      assert.ok(shares.every((n) => n >= 6 && n <= 14), `shares ${shares}`);
    } finally {
      nginx.kill("SIGTERM");
      await nginx.status;
      await nginx.stderr.cancel().catch(() => {});
      for (const server of servers) {
        server.kill("SIGTERM");
        await server.status();
      }
    }
  },
});
