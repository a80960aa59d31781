/**
 * The project's EchoServer for the benchmark: `deno run --allow-net
 * bench/lib_echo.ts [LEVEL] [--tls CERT KEY]` listens on a free loopback
 * port (serving TLS with the PEM files CERT and KEY, which needs
 * --allow-read), logs at LEVEL (default warning) to standard error, and
 * prints `listening on PORT`.
 *
 * @module
 */

import { createServer } from "@protocols/core";
import { EchoServer } from "../echo/echo.ts";
import { configureLogging, type LogLevel } from "../echo/logging.ts";

const tlsAt = Deno.args.indexOf("--tls");
const level = Deno.args.find((_arg, i) =>
  tlsAt < 0 || (i !== tlsAt && i !== tlsAt + 1 && i !== tlsAt + 2)
);
configureLogging({ level: (level ?? "warning") as LogLevel });
const server = await createServer(() => new EchoServer(), {
  hostname: "127.0.0.1",
  port: 0,
  ...(tlsAt >= 0
    ? {
      tls: {
        cert: await Deno.readTextFile(Deno.args[tlsAt + 1]),
        key: await Deno.readTextFile(Deno.args[tlsAt + 2]),
      },
    }
    : {}),
});
console.log(`listening on ${server.addrs[0].port}`);
