/**
 * A LineReceiver echo for the benchmark: each line ("\n"-delimited, as the
 * load generator's `lines` mode sends them) is sent back with `sendLine`.
 *
 * `deno run --allow-net bench/line_echo.ts` prints `listening on PORT`.
 *
 * @module
 */

import { createServer, LineReceiver } from "@protocols/core";
import { configureLogging } from "../echo/logging.ts";

class LineEcho extends LineReceiver {
  override delimiter = new TextEncoder().encode("\n");
  override maxLength = 1024 * 1024;
  override lineReceived(line: Uint8Array): void {
    this.sendLine(line);
  }
}

configureLogging({ level: "warning" });
const server = await createServer(() => new LineEcho(), {
  hostname: "127.0.0.1",
  port: 0,
});
console.log(`listening on ${server.addrs[0].port}`);
