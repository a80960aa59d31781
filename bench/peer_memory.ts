/**
 * Memory per connection of the echo server as users run it, against peers
 * that never read (they send until their socket blocks, then hold) and
 * against idle peers (connected, TLS handshake done, nothing sent), plain
 * and TLS: the server's resident memory with N such peers open, minus
 * before, over N. The peers are one Python process, so that the server's
 * process holds nothing of theirs.
 *
 * `deno run -A bench/peer_memory.ts [N] [RUNS]` (default 200 peers, 3 runs)
 *
 * @module
 */

import { testCerts } from "../lib/_test_certs.ts";

const peers = Number(Deno.args[0] ?? 200);
const runs = Number(Deno.args[1] ?? 3);
const root = new URL("../", import.meta.url).pathname;

async function rss(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+) kB/)![1]) * 1024;
}

const PEERS = `
import socket, ssl, sys, time
port, count, tls, mode = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "tls", sys.argv[4]
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
held = []
chunk = b"x" * 65536
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    if tls:
        s = context.wrap_socket(s, server_hostname="localhost")
    if mode == "flood":
        s.setblocking(False)
        # Send until the socket blocks: the server echoes into a peer that
        # never reads, so everything it holds stays held.
        stalls = 0
        while stalls < 20:
            try:
                s.send(chunk)
                stalls = 0
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                stalls += 1
                time.sleep(0.005)
    held.append(s)
print("ready", flush=True)
sys.stdin.read()
`;

async function once(tls: boolean, mode: "flood" | "idle"): Promise<number> {
  const args = ["--host", "127.0.0.1", "--port", "0", "--log-level", "warning"];
  if (tls) {
    const { certFile, keyFile } = await testCerts();
    args.push("--tls-cert", certFile, "--tls-key", keyFile);
  }
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      `${root}main_server.ts`,
      ...args,
      "--log-level",
      "info",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const lines = server.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!/port (\d+)/.test(text)) text += (await lines.read()).value ?? "";
  const port = Number(text.match(/port (\d+)/)![1]);
  (async () => {
    while (!(await lines.read()).done) { /* drain */ }
  })();
  const before = await rss(server.pid);
  const client = new Deno.Command("python3", {
    args: [
      "-c",
      PEERS,
      String(port),
      String(peers),
      tls ? "tls" : "plain",
      mode,
    ],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const out = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await out.read();
  // Let the last writes settle: take the highest of a few readings.
  let after = 0;
  for (let i = 0; i < 5; i++) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    after = Math.max(after, await rss(server.pid));
  }
  await client.stdin.close();
  await client.status;
  out.releaseLock();
  server.kill("SIGKILL");
  await server.status;
  return (after - before) / peers;
}

const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
console.log(`${cpu}, ${peers} peers, KiB per connection (runs):`);
const only = Deno.env.get("ONLY"); // e.g. "TLS idle"
for (const tls of [false, true]) {
  for (const mode of ["flood", "idle"] as const) {
    if (only && only !== `${tls ? "TLS" : "plain"} ${mode}`) continue;
    const results: number[] = [];
    for (let i = 0; i < runs; i++) results.push(await once(tls, mode));
    console.log(
      `  ${tls ? "TLS  " : "plain"} ${
        mode === "flood" ? "never reads" : "idle       "
      }: ${results.map((b) => (b / 1024).toFixed(0)).join(" / ")}`,
    );
  }
}
