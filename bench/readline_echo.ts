/**
 * The `readline()` echo for the benchmark: each line written back, then
 * `await drain()`, until EOF. Prints `listening on PORT`.
 *
 * @module
 */

import { startServer } from "@protocols/core";
import { configureLogging } from "../echo/logging.ts";

configureLogging({ level: "warning" });
const server = await startServer(async (reader, writer) => {
  while (true) {
    const line = await reader.readline();
    if (line.byteLength === 0) break;
    writer.write(line);
    await writer.drain();
  }
  writer.close();
}, { hostname: "127.0.0.1", port: 0, limit: 1024 * 1024 });
console.log(`listening on ${server.addrs[0].port}`);
