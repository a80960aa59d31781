/**
 * A stream echo for the benchmark: `startServer` with a handler that pipes
 * the reader's Web Stream into the writer's (`reader.readable.pipeTo(
 * writer.writable)`), the asyncio-streams way of writing an echo.
 *
 * `deno run --allow-net bench/stream_echo.ts` prints `listening on PORT`.
 *
 * @module
 */

import { startServer } from "@protocols/core";
import { configureLogging } from "../echo/logging.ts";

configureLogging({ level: "warning" });
const server = await startServer(async (reader, writer) => {
  await reader.readable.pipeTo(writer.writable);
  writer.close();
}, { hostname: "127.0.0.1", port: 0 });
console.log(`listening on ${server.addrs[0].port}`);
