/**
 * The echo client program behind main_client.ts: send the seed's messages
 * (or standard input), log what comes back, exit.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import {
  type CommonConfig,
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  type FlagValues,
  parseCount,
  parseSeconds,
  type Program,
  ProgramError,
  UsageError,
} from "./cli.ts";
import { createConnection } from "./connection.ts";
import { EchoClient, type EchoSource, SEED_MESSAGES } from "./echo.ts";
import { formatProgress, formatSummary, runLoad } from "./load.ts";
import type { Transport } from "./transport.ts";

/** The echo client's settings. */
export interface ClientConfig extends CommonConfig {
  /** The messages to send, one write each. */
  messages: string[];
  /** Send standard input and write the echo to standard output. */
  stdin: boolean;
  /** Seconds the whole exchange may take (0: no limit). */
  timeout: number;
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

/** Resolves when `signal` aborts; never when there is none. */
function aborted(signal: AbortSignal | undefined): Promise<"timeout"> {
  return new Promise((resolve) => {
    signal?.addEventListener("abort", () => resolve("timeout"), {
      once: true,
    });
  });
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
  const live = Deno.stderr.isTerminal();
  const encoder = new TextEncoder();
  const status = (text: string) =>
    Deno.stderr.writeSync(encoder.encode(`\r\x1b[K${text}`));
  let summary;
  try {
    summary = await runLoad({
      hostname: config.host,
      port: config.port,
      ...load,
      onProgress: live
        ? (progress) => status(formatProgress(progress, load.duration))
        : undefined,
    });
  } catch (error) {
    throw new ProgramError(
      `cannot connect to ${config.host} port ${config.port}: ${
        describeError(error instanceof Error ? error.cause ?? error : error)
      }`,
    );
  } finally {
    if (live) status("");
  }
  console.log(
    load.json ? JSON.stringify(summary) : formatSummary(summary),
  );
  return summary.errors === 0 && summary.byteExact ? EXIT_OK : EXIT_FAILURE;
}

/**
 * The echo client program.
 *
 * @example
 * ```ts ignore
 * import { main } from "./cli.ts";
 * import { clientProgram } from "./client_program.ts";
 *
 * Deno.exit(await main(clientProgram, ["--port", "10000"]));
 * ```
 */
export const clientProgram: Program<ClientConfig> = {
  name: "echo-client",
  summary:
    "Send messages (or standard input) to an echo server and log what comes back, as the asyncio seed does.",
  flags: {
    message: {
      type: "string",
      multiple: true,
      value: "TEXT",
      help: "a message to send, one write each; replaces the seed's three",
    },
    stdin: {
      type: "boolean",
      help:
        "send standard input, write the echo to standard output, half-close at end of input",
    },
    timeout: {
      type: "string",
      value: "SECONDS",
      help: "give up when the whole exchange takes longer (default: 0, none)",
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
    return {
      ...common,
      messages: messages ?? [...SEED_MESSAGES],
      stdin: Boolean(values.stdin),
      timeout: values.timeout === undefined
        ? 0
        : parseSeconds("--timeout", String(values.timeout)),
      ...(load ? { load: loadSettings(values) } : {}),
    };
  },
  async run(config: ClientConfig): Promise<number> {
    if (config.load) return await runLoadMode(config, config.load);
    const log = getLogger(["main"]);
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
      const connecting = createConnection(
        () => new EchoClient(source, { onData }),
        { hostname: config.host, port: config.port, signal },
      );
      const connection = await connecting.catch((error) => {
        if (signal?.aborted) return "timeout" as const;
        // createConnection's error names the target; say it the CLI way.
        const cause = error instanceof Error && error.cause !== undefined
          ? error.cause
          : error;
        throw new ProgramError(
          `cannot connect to ${config.host} port ${config.port}: ${
            describeError(cause)
          }`,
        );
      });
      if (connection === "timeout") {
        throw new ProgramError(
          `cannot connect to ${config.host} port ${config.port}: timed out after ${config.timeout} s`,
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
          `exchange with ${config.host} port ${config.port} timed out after ${config.timeout} s`,
        );
      }
      return outcome === null ? EXIT_OK : EXIT_FAILURE;
    } finally {
      log.debug("closing event loop");
    }
  },
};
