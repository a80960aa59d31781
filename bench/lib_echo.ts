/**
 * The project's EchoServer for the benchmark: `deno run --allow-net
 * bench/lib_echo.ts [LEVEL]` listens on a free loopback port, logs at LEVEL
 * (default warning) to standard error, and prints `listening on PORT`.
 *
 * @module
 */

import { createServer } from "@protocols/core";
import { EchoServer } from "../echo/echo.ts";
import { configureLogging, type LogLevel } from "../echo/logging.ts";

configureLogging({ level: (Deno.args[0] ?? "warning") as LogLevel });
const server = await createServer(() => new EchoServer(), {
  hostname: "127.0.0.1",
  port: 0,
});
console.log(`listening on ${server.addrs[0].port}`);
