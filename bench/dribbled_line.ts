/**
 * The CPU a `readline()` costs when its line arrives in many small pieces:
 * a Python peer sends a 1 MB line in 64-byte writes, 50 µs apart (so that
 * most reads get one write), to a `startServer` handler with a 1 MiB limit;
 * the server's CPU time from the connection to the line is printed.
 *
 * `deno run -A bench/dribbled_line.ts [RUNS]`
 *
 * @module
 */

import process from "node:process";
import { startServer } from "@protocols/core";

const LINE_BYTES = 1_000_000;
const PIECE_BYTES = 64;
const runs = Number(Deno.args[0] ?? 3);

async function once(): Promise<number> {
  const done = Promise.withResolvers<number>();
  await using server = await startServer(async (reader, writer) => {
    const start = process.cpuUsage();
    const line = await reader.readline();
    if (line.length !== LINE_BYTES) throw new Error(`${line.length} bytes`);
    const cpu = process.cpuUsage(start);
    done.resolve((cpu.user + cpu.system) / 1e6);
    writer.close();
  }, { hostname: "127.0.0.1", port: 0, limit: 1 << 20 });
  const peer = new Deno.Command("python3", {
    args: [
      "-c",
      `
import socket, time
s = socket.create_connection(("127.0.0.1", ${server.addrs[0].port}))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
line = b"a" * ${LINE_BYTES - 1} + b"\\n"
for at in range(0, len(line), ${PIECE_BYTES}):
    s.sendall(line[at:at + ${PIECE_BYTES}])
    time.sleep(0.00005)
s.recv(1)
`,
    ],
  }).spawn();
  const seconds = await done.promise;
  await peer.status;
  return seconds;
}

const cpu = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/model name\s*:\s*(.*)/)?.[1] ?? "unknown CPU";
const results: number[] = [];
for (let i = 0; i < runs; i++) results.push(await once());
console.log(
  `${cpu}: a ${LINE_BYTES}-byte line in ${PIECE_BYTES}-byte writes, ` +
    `server CPU per line: ${results.map((s) => s.toFixed(2)).join(" / ")} s`,
);
