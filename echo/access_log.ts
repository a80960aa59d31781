/**
 * The server's access log (`--access-log`): one info line per connection
 * when it ends, as nginx's stream access log writes one per session.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { ConnectionRecord } from "@protocols/core";
import { addrText } from "./addr.ts";

const log = getLogger(["access"]);

/**
 * Logs one ended connection: its client (the PROXY header's, with the
 * proxy after it), how it ended, how long it lived and the bytes each way.
 *
 * @example
 * ```ts ignore
 * createServer(factory, { onConnectionEnd: logAccess });
 * // access: 127.0.0.1 port 41234: closed after 0.004 s, 46 bytes in, 46 bytes out
 * ```
 */
export function logAccess(record: ConnectionRecord): void {
  log.info(
    "{peer}{via}{client}: {outcome} after {seconds} s, {in} bytes in, {out} bytes out{why}",
    {
      peer: addrText(record.peer),
      via: record.proxy ? ` via ${addrText(record.proxy)}` : "",
      // The certificate's subject is the client's to choose: escaped.
      client: record.peercert
        ? ` (certificate ${JSON.stringify(record.peercert.subject)})`
        : "",
      outcome: record.outcome.replace("_", " "),
      seconds: record.duration.toFixed(3),
      in: record.bytesReceived,
      out: record.bytesSent,
      why: record.error ? ` (${record.error.message})` : "",
    },
  );
}
