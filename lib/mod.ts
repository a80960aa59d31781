/**
 * asyncio's protocol model on Deno: write a network protocol as a class
 * whose methods are called as the connection makes progress
 * (`connectionMade`, `dataReceived`, `eofReceived`, `connectionLost`), over a
 * transport that buffers writes, half-closes and applies flow control.
 *
 * @example An echo server in six lines
 * ```ts
 * import { createServer, type Protocol, type Transport } from "@protocols/core";
 *
 * class Echo implements Protocol {
 *   #transport!: Transport;
 *   connectionMade(transport: Transport) { this.#transport = transport; }
 *   dataReceived(data: Uint8Array) { this.#transport.write(data); }
 * }
 * const server = await createServer(() => new Echo(), { port: 10000 });
 * await server.serveForever();
 * ```
 *
 * @module
 */

export type {
  BaseProtocol,
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
export { isBufferedProtocol } from "./protocol.ts";
export { addrText } from "./addr.ts";
export { type Clock, type ClockTimer, systemClock } from "./clock.ts";
export { VERSION } from "./version.ts";
export type {
  ByteStream,
  ExtraInfo,
  Transport,
  WriteBufferLimits,
} from "./transport.ts";
export {
  type ServerStartTlsOptions,
  SocketTransport,
  type SocketTransportOptions,
  type StartTlsOptions,
} from "./socket_transport.ts";
export type { TlsServerOptions } from "./tls_server_options.ts";
export type { PeerCertificate } from "./peer_certificate.ts";
export { createServer, Server } from "./server.ts";
export type { ServerOptions } from "./server_options.ts";
export type {
  ConnectionOutcome,
  ConnectionRecord,
} from "./connection_record.ts";
export { AddressRanges } from "./address_ranges.ts";
export {
  type ConnectionLimitOptions,
  ConnectionLimits,
  type Refusal,
} from "./connection_limits.ts";
export {
  type Connection,
  type ConnectionOptions,
  createConnection,
} from "./connection.ts";
export {
  type Connector,
  createReconnectingConnection,
  type ReconnectingConnection,
  type ReconnectingOptions,
  type RetryOptions,
} from "./reconnecting_connection.ts";
export {
  createDatagramEndpoint,
  type DatagramEndpointOptions,
  type DatagramProtocol,
  DatagramTransport,
  type UdpAddress,
} from "./datagram.ts";
export {
  connectProcess,
  type ProcessOptions,
  spawnProcess,
  type SubprocessProtocol,
  SubprocessTransport,
} from "./subprocess.ts";
export {
  IncompleteReadError,
  LimitOverrunError,
  StreamReader,
} from "./stream_reader.ts";
export { StreamWriter, type WriterFlow } from "./stream_writer.ts";
export {
  openConnection,
  type OpenConnectionOptions,
  startServer,
  type StreamHandler,
  type StreamServerOptions,
} from "./streams.ts";
export { LineReceiver } from "./line_receiver.ts";
export { LengthPrefixedReceiver } from "./length_prefixed_receiver.ts";
