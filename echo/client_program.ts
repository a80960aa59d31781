/**
 * The echo client program behind main_client.ts: send the seed's messages
 * (or standard input), log what comes back, exit.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type ConnectionOptions,
  createConnection,
  createReconnectingConnection,
  type Transport,
} from "@protocols/core";
import { EchoClient, type EchoSource, SEED_MESSAGES } from "./echo.ts";
import {
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  ProgramError,
  UsageError,
} from "./errors.ts";
import {
  type CommonConfig,
  type FlagValues,
  parseUnixPath,
  UNIX_FLAG,
} from "./flags.ts";
import { formatProgress, formatSummary, runLoad } from "./load.ts";
import { runUdpClient } from "./udp_client.ts";
import { parseCount, parseSeconds } from "./parse.ts";
import { readPemFile } from "./pem.ts";
import {
  type Need,
  readAccess,
  socketAccess,
  unstableNet,
} from "./permissions.ts";
import type { Program } from "./program.ts";

/** The echo client's settings. */
export interface ClientConfig extends CommonConfig {
  /** The messages to send, one write each. */
  messages: string[];
  /** Send standard input and write the echo to standard output. */
  stdin: boolean;
  /** Seconds the whole exchange may take (0: no limit). */
  timeout: number;
  /** Seconds to keep trying to connect, with backoff (0: one attempt). */
  retry: number;
  /** Seconds the server may stay silent (0: for ever). */
  idleTimeout: number;
  /** Speak TLS, trusting this PEM CA file too (empty: system roots only). */
  tls?: { caFile?: string; certFile?: string; keyFile?: string };
  /** Connect to this Unix socket instead of TCP. */
  unix?: string;
  /** Send datagrams instead of a TCP stream. */
  udp: boolean;
  /** Turn TCP keepalive on. */
  keepAlive: boolean;
  /** Load mode's settings, when it was asked for. */
  load?: {
    connections: number;
    size: number;
    duration: number;
    requests: number;
    json: boolean;
  };
}

const LOAD_FLAGS = ["connections", "duration", "requests", "size"];

/** Writes all of `data` to standard output. */
async function writeStdout(data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.byteLength) {
    offset += await Deno.stdout.write(data.subarray(offset));
  }
}

/**
 * Whether bytes start like a TLS record (handshake or alert, TLS 1.0-1.3):
 * what a TLS server sends a client that does not speak TLS.
 */
function looksLikeTls(head: Uint8Array): boolean {
  return head.length >= 3 && (head[0] === 0x15 || head[0] === 0x16) &&
    head[1] === 0x03 && head[2] <= 0x04;
}

/** Resolves when `signal` aborts; never when there is none. */
function aborted(signal: AbortSignal | undefined): Promise<"timeout"> {
  return new Promise((resolve) => {
    signal?.addEventListener("abort", () => resolve("timeout"), {
      once: true,
    });
  });
}

/** Where the client connects, for messages: the socket path or host and port. */
function where(config: ClientConfig): string {
  return config.unix ?? `${config.host} port ${config.port}`;
}

/** The connection options the flags ask for (reads the CA file). */
async function connectionOptions(
  config: ClientConfig,
): Promise<ConnectionOptions> {
  return {
    hostname: config.host,
    port: config.port,
    path: config.unix,
    keepAlive: config.keepAlive,
    tls: config.tls && {
      caCerts: config.tls.caFile
        ? [await readPemFile("--ca", config.tls.caFile, "certificate")]
        : undefined,
      ...(config.tls.certFile !== undefined
        ? {
          cert: await readPemFile(
            "--tls-cert",
            config.tls.certFile,
            "certificate",
          ),
          key: await readPemFile(
            "--tls-key",
            config.tls.keyFile!,
            "private key",
          ),
        }
        : {}),
    },
  };
}

/**
 * Connects as `createConnection` does, but keeps trying (with backoff, from
 * a tenth of a second up to two) for `config.retry` seconds; each failed
 * attempt is logged at info level. Rejects with the last attempt's error
 * when the time is up; no attempt follows the connection that is made.
 */
async function connectRetrying(
  factory: () => EchoClient,
  options: ConnectionOptions,
  config: ClientConfig,
  signal: AbortSignal | undefined,
): Promise<{ transport: Transport; protocol: EchoClient }> {
  const log = getLogger(["main"]);
  const made = Promise.withResolvers<
    { transport: Transport; protocol: EchoClient }
  >();
  let lastError: Error | null = null;
  let connected = false;
  const client = createReconnectingConnection(() => {
    const protocol = factory();
    const connectionMade = protocol.connectionMade.bind(protocol);
    protocol.connectionMade = (transport: Transport) => {
      connected = true;
      connectionMade(transport);
      made.resolve({ transport, protocol });
    };
    return protocol;
  }, {
    ...options,
    signal,
    retry: { initialDelay: 0.1, maxDelay: 2 },
    onRetry(error, delay) {
      if (connected) return; // the exchange is over: stopped below
      lastError = error;
      log.info(
        "cannot connect to {where}: {error}; trying again in {delay} s",
        {
          where: where(config),
          error: describeError(error, config.unix ? "path" : "host"),
          delay: delay.toFixed(1),
        },
      );
    },
  });
  const giveUp = setTimeout(() => client.stop(), config.retry * 1000);
  const outcome = await Promise.race([made.promise, client.closed]);
  clearTimeout(giveUp);
  if (outcome !== null && "transport" in outcome) {
    // The one connection: nothing after it ends.
    outcome.transport.closed.then(() => client.stop());
    return outcome;
  }
  throw outcome ?? lastError ??
    new Error(`no connection within ${config.retry} s`);
}

/** Reads the load-mode flags. */
function loadSettings(values: FlagValues): NonNullable<ClientConfig["load"]> {
  const connections = values.connections === undefined
    ? 1
    : parseCount("--connections", String(values.connections), 1);
  const size = values.size === undefined
    ? 1024
    : parseCount("--size", String(values.size), 1);
  if (size > 64 * 1024 * 1024) {
    throw new UsageError(`--size must be at most 67108864 bytes, got ${size}`);
  }
  const requests = values.requests === undefined
    ? 0
    : parseCount("--requests", String(values.requests), 1);
  let duration = values.duration === undefined
    ? (requests > 0 ? 0 : 10)
    : parseSeconds("--duration", String(values.duration));
  if (values.duration !== undefined && duration === 0) {
    throw new UsageError("--duration must be more than 0 seconds");
  }
  if (connections > 10000) {
    throw new UsageError(
      `--connections must be at most 10000, got ${connections}`,
    );
  }
  duration = Math.min(duration, 24 * 3600);
  return { connections, size, duration, requests, json: Boolean(values.json) };
}

/** Load mode: ping-pong, live progress on a terminal, then the summary. */
async function runLoadMode(
  config: ClientConfig,
  load: NonNullable<ClientConfig["load"]>,
): Promise<number> {
  // A progress line only for a person watching: not into a file or a
  // pipe, and not beside --json, which a program reads.
  const live = Deno.stderr.isTerminal() && !load.json;
  const encoder = new TextEncoder();
  const status = (text: string) =>
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));
  let summary;
  try {
    summary = await runLoad({
      ...(await connectionOptions(config)),
      ...load,
      signal: config.timeout > 0
        ? AbortSignal.timeout(config.timeout * 1000)
        : undefined,
      onProgress: live
        ? (progress) => status(formatProgress(progress, load.duration))
        : undefined,
    });
  } catch (error) {
    if (error instanceof ProgramError) throw error;
    throw new ProgramError(
      `cannot connect to ${where(config)}: ${
        describeError(
          error instanceof Error ? error.cause ?? error : error,
          config.unix ? "path" : "host",
        )
      }`,
    );
  } finally {
    if (live) status("");
  }
  console.log(
    load.json ? JSON.stringify(summary) : formatSummary(summary),
  );
  return summary.errors === 0 && summary.unanswered === 0 && summary.byteExact
    ? EXIT_OK
    : EXIT_FAILURE;
}

/**
 * The echo client program.
 *
 * @example
 * ```ts ignore
 * import { main } from "./program.ts";
 * import { clientProgram } from "./client_program.ts";
 *
 * Deno.exit(await main(clientProgram, ["--port", "10000"]));
 * ```
 */
export const clientProgram: Program<ClientConfig> = {
  name: "echo-client",
  task: "client",
  summary:
    "Send messages (or standard input) to an echo server and log what comes back, as asyncio's echo client example does.",
  flags: {
    message: {
      type: "string",
      multiple: true,
      value: "TEXT",
      help: "a message to send, one write each; replaces the example's three",
    },
    stdin: {
      type: "boolean",
      help:
        "send standard input, write the echo to standard output, half-close at end of input",
    },
    timeout: {
      type: "string",
      value: "SECONDS",
      help:
        "give up when the whole exchange takes longer (default: 0, none; with --udp: each echo, default 2)",
    },
    retry: {
      type: "string",
      value: "SECONDS",
      help:
        "keep trying to connect for this long, with backoff (for a server that is still starting)",
    },
    "idle-timeout": {
      type: "string",
      value: "SECONDS",
      help:
        "give up when the server sends nothing and takes nothing for this long (default: 0, never)",
    },
    connections: {
      type: "string",
      value: "N",
      help: "load mode: N connections ping-ponging at once (default: 1)",
    },
    duration: {
      type: "string",
      value: "SECONDS",
      help: "load mode: run this long (default: 10, or until --requests)",
    },
    requests: {
      type: "string",
      value: "N",
      help: "load mode: stop after N round trips in all",
    },
    size: {
      type: "string",
      value: "BYTES",
      help: "load mode: bytes per message (default: 1024)",
    },
    json: {
      type: "boolean",
      help: "load mode: print the summary as JSON",
    },
    tls: { type: "boolean", help: "speak TLS to the server" },
    keepalive: {
      type: "boolean",
      help: "turn TCP keepalive on (load mode: on every connection)",
    },
    ca: {
      type: "string",
      value: "FILE",
      help:
        "with --tls: trust this PEM CA certificate instead of Deno's roots (needs --allow-read)",
    },
    "tls-cert": {
      type: "string",
      value: "FILE",
      help:
        "with --tls: present this PEM client certificate, for a server that asks (needs --tls-key)",
    },
    "tls-key": {
      type: "string",
      value: "FILE",
      help: "the PEM private key of --tls-cert",
    },
    unix: UNIX_FLAG,
    udp: {
      type: "boolean",
      help:
        "send each message as one UDP datagram and wait for its echo (needs Deno's --unstable-net)",
    },
  },
  configure(values: FlagValues, common: CommonConfig): ClientConfig {
    const messages = values.message as string[] | undefined;
    if (values.stdin && messages) {
      throw new UsageError("--stdin and --message cannot be used together");
    }
    const load = LOAD_FLAGS.some((flag) => values[flag] !== undefined);
    if (values.json && !load) {
      throw new UsageError(
        "--json is for load mode (--connections, --duration, --requests, --size)",
      );
    }
    if (load && (values.stdin || messages)) {
      throw new UsageError(
        `load mode (--${
          LOAD_FLAGS.find((flag) => values[flag] !== undefined)
        }) cannot be used with ${values.stdin ? "--stdin" : "--message"}`,
      );
    }
    for (const flag of ["ca", "tls-cert", "tls-key"]) {
      if (values[flag] !== undefined && !values.tls) {
        throw new UsageError(`--${flag} needs --tls`);
      }
    }
    if (
      (values["tls-cert"] === undefined) !== (values["tls-key"] === undefined)
    ) {
      throw new UsageError(
        values["tls-cert"] === undefined
          ? "--tls-key needs --tls-cert"
          : "--tls-cert needs --tls-key",
      );
    }
    const unix = parseUnixPath(values);
    if (unix !== undefined && values.tls) {
      throw new UsageError("--tls cannot be used with --unix");
    }
    for (const flag of ["retry", "idle-timeout"]) {
      if (values[flag] === undefined) continue;
      if (load) {
        throw new UsageError(`--${flag} is not for load mode`);
      }
      if (values.udp) {
        throw new UsageError(`--udp cannot be used with --${flag}`);
      }
    }
    if (values.udp) {
      const other = ["tls", "unix", "stdin", ...LOAD_FLAGS].find((flag) =>
        values[flag] !== undefined && values[flag] !== false
      );
      if (other) throw new UsageError(`--udp cannot be used with --${other}`);
    }
    if (unix === undefined && common.port === 0) {
      throw new UsageError(
        "--port must be from 1 to 65535 for the client (0 means a free port only when listening)",
      );
    }
    return {
      ...common,
      ...(values.tls
        ? {
          tls: {
            ...(values.ca !== undefined ? { caFile: String(values.ca) } : {}),
            ...(values["tls-cert"] !== undefined
              ? {
                certFile: String(values["tls-cert"]),
                keyFile: String(values["tls-key"]),
              }
              : {}),
          },
        }
        : {}),
      ...(unix !== undefined ? { unix } : {}),
      messages: messages ?? [...SEED_MESSAGES],
      udp: Boolean(values.udp),
      keepAlive: Boolean(values.keepalive),
      stdin: Boolean(values.stdin),
      timeout: values.timeout === undefined
        ? 0
        : parseSeconds("--timeout", String(values.timeout)),
      retry: values.retry === undefined
        ? 0
        : parseSeconds("--retry", String(values.retry)),
      idleTimeout: values["idle-timeout"] === undefined
        ? 0
        : parseSeconds("--idle-timeout", String(values["idle-timeout"])),
      ...(load ? { load: loadSettings(values) } : {}),
    };
  },
  needs(config: ClientConfig): Need[] {
    const needs: Need[] = [];
    if (config.tls?.certFile !== undefined) {
      needs.push(
        readAccess("--tls-cert", "to read its files", [
          config.tls.certFile,
          config.tls.keyFile!,
        ]),
      );
    }
    if (config.tls?.caFile !== undefined) {
      needs.push(
        readAccess("--ca", "to read its file", [config.tls.caFile]),
      );
    }
    if (config.unix !== undefined) needs.push(...socketAccess(config.unix));
    if (config.udp) {
      needs.push(unstableNet("--udp"));
    }
    return needs;
  },
  async run(config: ClientConfig): Promise<number> {
    if (config.load) return await runLoadMode(config, config.load);
    const log = getLogger(["main"]);
    if (config.udp) {
      log.debug("waiting for client to complete");
      try {
        await runUdpClient({
          host: config.host,
          port: config.port,
          messages: config.messages,
          timeout: config.timeout > 0 ? config.timeout : 2,
          logBytes: config.logBytes,
        });
      } finally {
        log.debug("closing event loop");
      }
      return EXIT_OK;
    }
    const signal = config.timeout > 0
      ? AbortSignal.timeout(config.timeout * 1000)
      : undefined;
    const source: EchoSource = config.stdin
      ? Deno.stdin.readable
      : config.messages;
    const onData = config.stdin ? writeStdout : undefined;
    log.debug("waiting for client to complete");
    let transport: Transport | undefined;
    try {
      const options: ConnectionOptions = {
        ...(await connectionOptions(config)),
        idleTimeout: config.idleTimeout || null,
      };
      const factory = () =>
        new EchoClient(source, { onData, logBytes: config.logBytes });
      const connecting = config.retry > 0
        ? connectRetrying(factory, options, config, signal)
        : createConnection(factory, { ...options, signal });
      // The deadline holds while connecting too (a TLS handshake that a
      // server never answers): a connection made after it is closed.
      connecting.then((made) => {
        if (signal?.aborted) made.transport.abort();
      }, () => {});
      const connection = await Promise.race([
        connecting,
        aborted(signal),
      ]).catch((error) => {
        if (signal?.aborted) return "timeout" as const;
        // createConnection's error names the target; say it the CLI way.
        const cause = error instanceof Error && error.cause !== undefined
          ? error.cause
          : error;
        throw new ProgramError(
          `cannot connect to ${where(config)}: ${
            describeError(cause, config.unix ? "path" : "host")
          }`,
        );
      });
      if (connection === "timeout") {
        throw new ProgramError(
          `cannot connect to ${
            where(config)
          }: timed out after ${config.timeout} s`,
        );
      }
      transport = connection.transport;
      const outcome = await Promise.race([
        connection.protocol.done,
        aborted(signal),
      ]);
      if (outcome === "timeout") {
        transport.abort();
        throw new ProgramError(
          `exchange with ${where(config)} timed out after ${config.timeout} s`,
        );
      }
      if (connection.protocol.idleTimedOut) {
        throw new ProgramError(
          `${
            where(config)
          } sent and took nothing for ${config.idleTimeout} s (--idle-timeout)`,
        );
      }
      if (outcome !== null) return EXIT_FAILURE;
      const { sentBytes, receivedBytes, firstDifference, head } =
        connection.protocol;
      if (firstDifference === null && receivedBytes === sentBytes) {
        return EXIT_OK;
      }
      const count = (n: number) => n.toLocaleString("en-US");
      const hint = config.tls
        ? ""
        : looksLikeTls(head)
        ? " (the server answered with TLS: try --tls)"
        : receivedBytes === 0
        ? " (if the server speaks TLS, try --tls)"
        : "";
      throw new ProgramError(
        firstDifference === null
          ? `the echo from ${where(config)} is incomplete: ${
            count(receivedBytes)
          } of ${count(sentBytes)} bytes came back${hint}`
          : `the echo from ${
            where(config)
          } differs from what was sent at byte ${count(firstDifference)}: ${
            count(receivedBytes)
          } bytes came back for ${count(sentBytes)} sent${hint}`,
      );
    } finally {
      log.debug("closing event loop");
    }
  },
};
