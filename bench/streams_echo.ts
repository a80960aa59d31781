/**
 * The asyncio-style streams echo for the benchmark, as users write it on the
 * library's public entry: `read(65536)`, `write`, `await drain()` until EOF.
 * Prints `listening on PORT`.
 *
 * @module
 */

import { startServer } from "@protocols/core";
import { configureLogging } from "../echo/logging.ts";

configureLogging({ level: "warning" });
const server = await startServer(async (reader, writer) => {
  while (true) {
    const data = await reader.read(65536);
    if (data.byteLength === 0) break;
    writer.write(data);
    await writer.drain();
  }
  writer.close();
}, { hostname: "127.0.0.1", port: 0 });
console.log(`listening on ${server.addrs[0].port}`);
