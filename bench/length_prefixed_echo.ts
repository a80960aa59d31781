/**
 * The `LengthPrefixedReceiver` echo for the benchmark: each message (a
 * 4-byte big-endian length, then that many bytes) sent back with
 * `sendString`. Prints `listening on PORT`.
 *
 * @module
 */

import { createServer, LengthPrefixedReceiver } from "@protocols/core";
import { configureLogging } from "../echo/logging.ts";

class MessageEcho extends LengthPrefixedReceiver {
  override maxLength = 1024 * 1024;
  override stringReceived(message: Uint8Array): void {
    this.sendString(message);
  }
}

configureLogging({ level: "warning" });
const server = await createServer(() => new MessageEcho(), {
  hostname: "127.0.0.1",
  port: 0,
});
console.log(`listening on ${server.addrs[0].port}`);
