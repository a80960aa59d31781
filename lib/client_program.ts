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
  parseSeconds,
  type Program,
  ProgramError,
  UsageError,
} from "./cli.ts";
import { createConnection } from "./connection.ts";
import { EchoClient, type EchoSource, SEED_MESSAGES } from "./echo.ts";
import type { Transport } from "./transport.ts";

/** The echo client's settings. */
export interface ClientConfig extends CommonConfig {
  /** The messages to send, one write each. */
  messages: string[];
  /** Send standard input and write the echo to standard output. */
  stdin: boolean;
  /** Seconds the whole exchange may take (0: no limit). */
  timeout: number;
}

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
  },
  configure(values: FlagValues, common: CommonConfig): ClientConfig {
    const messages = values.message as string[] | undefined;
    if (values.stdin && messages) {
      throw new UsageError("--stdin and --message cannot be used together");
    }
    return {
      ...common,
      messages: messages ?? [...SEED_MESSAGES],
      stdin: Boolean(values.stdin),
      timeout: values.timeout === undefined
        ? 0
        : parseSeconds("--timeout", String(values.timeout)),
    };
  },
  async run(config: ClientConfig): Promise<number> {
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
