/**
 * The server's OpenTelemetry metrics, through `@opentelemetry/api`. Without
 * a meter provider (Deno exports one with `OTEL_DENO=true`) every
 * instrument is the API's no-op. Nothing is recorded per read or write:
 * transports count in plain fields and a connection is recorded once, when
 * it ends; the number open is read by an observable counter at export time.
 *
 * The API is loaded when a server starts in a process where something has
 * registered with OpenTelemetry (Deno does at startup with `OTEL_DENO=true`;
 * an SDK does when the application sets one up), and the instruments are
 * made then: an SDK registered before the first server counts. Elsewhere
 * every instrument would be a no-op, and the API is not loaded. Records
 * that come while it loads wait for it.
 *
 * Names follow OpenTelemetry's conventions for a server of connections
 * (modelled on the semantic conventions' `kestrel.*` metrics, which are the
 * conventions' one set for a connection-level server): `{connection}` and
 * `By` units, seconds for durations, `network.transport`,
 * `network.io.direction`, `server.port` and `error.type` attributes.
 *
 * @module
 */

// Named in full: the library resolves without an import map.
// deno-lint-ignore no-import-prefix
import type { Meter } from "npm:@opentelemetry/api@^1.9.0";
import type { ConnectionRecord } from "./connection_record.ts";
import { VERSION } from "./version.ts";

/** Where the OpenTelemetry API keeps what was registered with it. */
const OTEL_API = Symbol.for("opentelemetry.js.api.1");

/** The servers whose open connections are observed. */
const servers = new Set<MeteredServer>();

/** The server's instruments, made from the meter `meter`. */
function instrumentsOf(meter: Meter) {
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
  active.addCallback((result) => {
    for (const server of servers) {
      result.observe(server.connectionCount, server.attributes);
    }
  });
  return { duration, ended, io, acceptErrors };
}

type Instruments = ReturnType<typeof instrumentsOf>;

let instruments: Instruments | null = null;
let waiting: Array<(instruments: Instruments) => void> | null = null;

/**
 * Calls `use` with the instruments: at once when made, once made while the
 * API loads; not at all where nothing registered with OpenTelemetry.
 */
function withInstruments(use: (instruments: Instruments) => void): void {
  if (instruments !== null) use(instruments);
  else if (waiting !== null) waiting.push(use);
}

/** Loads the API and makes the instruments, if anything would take them. */
function load(): void {
  if (instruments !== null || waiting !== null || !(OTEL_API in globalThis)) {
    return;
  }
  waiting = [];
  // deno-lint-ignore no-import-prefix
  import("npm:@opentelemetry/api@^1.9.0").then(({ metrics }) => {
    instruments = instrumentsOf(metrics.getMeter("@protocols/core", VERSION));
    for (const use of waiting!) use(instruments);
  }, (error) => {
    console.error(`protocols: the OpenTelemetry API failed to load: ${error}`);
  }).finally(() => waiting = null);
}

/** What a server tells the metrics about itself. */
export interface MeteredServer {
  /** Connections open now. */
  readonly connectionCount: number;
  /** Attributes shared by its records. */
  readonly attributes: Record<string, string | number>;
}

/** Starts observing a server's open connections. */
export function watchServer(server: MeteredServer): void {
  load();
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
  withInstruments(({ ended, duration, io }) => {
    const attributes = server.attributes;
    const outcome = {
      ...attributes,
      "protocols.connection.outcome": record.outcome,
      ...(record.error ? { "error.type": record.error.name } : {}),
    };
    ended.add(1, outcome);
    duration.record(record.duration, outcome);
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
  });
}

/** Records a failed accept. */
export function recordAcceptError(
  server: MeteredServer,
  error: unknown,
): void {
  withInstruments(({ acceptErrors }) =>
    acceptErrors.add(1, {
      ...server.attributes,
      "error.type": error instanceof Error ? error.name : "Error",
    })
  );
}
