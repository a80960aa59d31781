/**
 * {@linkcode createConnection}: connect to a server and run a protocol over
 * the connection.
 *
 * @module
 */

import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import { resolveHost, unbracket } from "./resolve.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { WriteBufferLimits } from "./transport.ts";

/** Options of {@linkcode createConnection}. */
export interface ConnectionOptions {
  /** The server's name or address (default `"localhost"`). */
  hostname?: string;
  /** The server's TCP port. */
  port: number;
  /** Turn Nagle's algorithm off (default `true`). */
  noDelay?: boolean;
  /** Initial write buffer limits. */
  writeBufferLimits?: Partial<WriteBufferLimits>;
  /** Gives up connecting when this signal aborts. */
  signal?: AbortSignal;
}

/** What {@linkcode createConnection} resolves to. */
export interface Connection<P extends Protocol | BufferedProtocol> {
  /** The connection's transport. */
  transport: SocketTransport;
  /** The protocol the factory made, already told `connectionMade`. */
  protocol: P;
}

/**
 * Re-throws `error` as an error of the same class whose message names what
 * was being connected to.
 */
function withTarget(error: unknown, target: string): Error {
  if (!(error instanceof Error)) return new Error(`${target}: ${error}`);
  const ErrorClass = error.constructor as new (
    message: string,
    options: ErrorOptions,
  ) => Error;
  return new ErrorClass(`${target}: ${error.message}`, { cause: error });
}

/**
 * Connects to `hostname`:`port` and runs the protocol `factory` makes over
 * the connection. asyncio's `loop.create_connection`. Every address the name
 * resolves to is tried in turn until one accepts.
 *
 * @example
 * ```ts ignore
 * import { createConnection } from "./connection.ts";
 * import { EchoClient } from "./echo.ts";
 *
 * const { protocol } = await createConnection(
 *   () => new EchoClient(["hello"]),
 *   { hostname: "localhost", port: 10000 },
 * );
 * await protocol.done;
 * ```
 *
 * @throws {Deno.errors.ConnectionRefused} (and the like) with a message that
 * names the host and port, when no address accepts.
 */
export async function createConnection<P extends Protocol | BufferedProtocol>(
  factory: ProtocolFactory<P>,
  options: ConnectionOptions,
): Promise<Connection<P>> {
  const hostname = unbracket(options.hostname ?? "localhost");
  const { port, signal } = options;
  const target = `cannot connect to ${hostname} port ${port}`;
  let addresses: string[];
  try {
    addresses = await resolveHost(hostname);
  } catch (error) {
    throw withTarget(error, target);
  }
  let conn: Deno.TcpConn | undefined;
  let lastError: unknown;
  for (const address of addresses) {
    try {
      conn = await Deno.connect({ hostname: address, port, signal });
      break;
    } catch (error) {
      lastError = error;
      if (signal?.aborted) break;
    }
  }
  if (!conn) throw withTarget(lastError, target);
  let protocol: P;
  try {
    protocol = factory();
  } catch (error) {
    conn.close();
    throw error;
  }
  const transport = SocketTransport.start(conn, protocol, options);
  return { transport, protocol };
}
