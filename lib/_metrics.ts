/**
 * The server's OpenTelemetry metrics, through `@opentelemetry/api`. Without
 * a meter provider (Deno exports one with `OTEL_DENO=true`) every
 * instrument is the API's no-op. Nothing is recorded per read or write:
 * transports count in plain fields and a connection is recorded once, when
 * it ends; the number open is read by an observable counter at export time.
 *
 * Names follow OpenTelemetry's conventions for a server of connections
 * (modelled on the semantic conventions' `kestrel.*` metrics, which are the
 * conventions' one set for a connection-level server): `{connection}` and
 * `By` units, seconds for durations, `network.transport`,
 * `network.io.direction`, `server.port` and `error.type` attributes.
 *
 * @module
 */

import { metrics } from "./_deps.ts";
import type { ConnectionRecord } from "./connection_record.ts";

const meter = metrics.getMeter("@protocols/core", "0.3.0");

const duration = meter.createHistogram(
  "protocols.server.connection.duration",
  {
    unit: "s",
    description: "How long connections lived, from accept to end.",
    advice: {
      explicitBucketBoundaries: [
        0.01,
        0.05,
        0.1,
        0.5,
        1,
        5,
        10,
        30,
        60,
        300,
        1800,
        3600,
      ],
    },
  },
);
const ended = meter.createCounter("protocols.server.connections", {
  unit: "{connection}",
  description: "Connections ended, by outcome.",
});
const io = meter.createCounter("protocols.server.io", {
  unit: "By",
  description: "Bytes received and sent.",
});
const acceptErrors = meter.createCounter("protocols.server.accept_errors", {
  unit: "{error}",
  description: "Failed accepts.",
});
const active = meter.createObservableUpDownCounter(
  "protocols.server.active_connections",
  { unit: "{connection}", description: "Connections open now." },
);

/** What a server tells the metrics about itself. */
export interface MeteredServer {
  /** Connections open now. */
  readonly connectionCount: number;
  /** Attributes shared by its records. */
  readonly attributes: Record<string, string | number>;
}

const servers = new Set<MeteredServer>();
active.addCallback((result) => {
  for (const server of servers) {
    result.observe(server.connectionCount, server.attributes);
  }
});

/** Starts observing a server's open connections. */
export function watchServer(server: MeteredServer): void {
  servers.add(server);
}

/** Stops observing a server (it closed). */
export function unwatchServer(server: MeteredServer): void {
  servers.delete(server);
}

/** Records one ended connection. */
export function recordConnection(
  server: MeteredServer,
  record: ConnectionRecord,
): void {
  const attributes = server.attributes;
  const outcome = {
    ...attributes,
    "protocols.connection.outcome": record.outcome,
    ...(record.error ? { "error.type": record.error.name } : {}),
  };
  ended.add(1, outcome);
  duration.record(record.durationMs / 1000, outcome);
  if (record.bytesReceived > 0) {
    io.add(record.bytesReceived, {
      ...attributes,
      "network.io.direction": "receive",
    });
  }
  if (record.bytesSent > 0) {
    io.add(record.bytesSent, {
      ...attributes,
      "network.io.direction": "transmit",
    });
  }
}

/** Records a failed accept. */
export function recordAcceptError(
  server: MeteredServer,
  error: unknown,
): void {
  acceptErrors.add(1, {
    ...server.attributes,
    "error.type": error instanceof Error ? error.name : "Error",
  });
}
