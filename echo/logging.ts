/**
 * Logging set-up for the programs, on LogTape: Python's
 * `%(name)s: %(message)s` text lines, or JSON lines, queued in order for
 * standard error and written without ever blocking the program (see
 * {@linkcode flushLogs} for the end of a program).
 *
 * @module
 */

import { metrics } from "@opentelemetry/api";
import {
  configureSync,
  getLogger,
  type Logger,
  type LogLevel as LogTapeLevel,
  type LogRecord,
  resetSync,
} from "@logtape/logtape";

/** The levels the programs accept, as Python names them. */
export const LOG_LEVELS = ["debug", "info", "warning", "error"] as const;
/** A level the programs accept. */
export type LogLevel = typeof LOG_LEVELS[number];

/** The output formats the programs accept. */
export const LOG_FORMATS = ["text", "json"] as const;
/** An output format the programs accept. */
export type LogFormat = typeof LOG_FORMATS[number];

/**
 * The property that overrides a record's logger name (see
 * {@linkcode namedLogger}).
 */
const NAME = "loggerName";

/** A record's logger name: its override, or its category joined by dots. */
function loggerName(record: LogRecord): string {
  const name = record.properties[NAME];
  return typeof name === "string" ? name : record.category.join(".");
}

/** Renders an interpolated value: strings bare, errors by their message. */
function renderValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  return Deno.inspect(value);
}

/** Renders a record's message with its values filled in. */
function renderMessage(record: LogRecord): string {
  let out = "";
  const parts = record.message;
  for (let i = 0; i < parts.length; i++) {
    out += i % 2 === 0 ? parts[i] as string : renderValue(parts[i]);
  }
  return out;
}

/**
 * Formats a record as Python's `%(name)s: %(message)s`.
 *
 * @example
 * ```ts ignore
 * formatText(record); // "main: starting up on localhost port 10000"
 * ```
 */
export function formatText(record: LogRecord): string {
  return `${loggerName(record)}: ${renderMessage(record)}`;
}

/**
 * Formats a record as one JSON object: time, level, logger, message and the
 * record's structured fields.
 *
 * @example
 * ```ts ignore
 * formatJson(record);
 * // {"time":"2026-11-25T17:19:51.000Z","level":"debug","logger":"main",...}
 * ```
 */
export function formatJson(record: LogRecord): string {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record.properties)) {
    if (key === NAME) continue;
    fields[key] = value instanceof Error ? value.message : value;
  }
  return JSON.stringify({
    time: new Date(record.timestamp).toISOString(),
    level: record.level,
    logger: loggerName(record),
    message: renderMessage(record),
    ...fields,
  });
}

const encoder = new TextEncoder();

/** Characters of log text that may wait for standard error: about 1 MiB. */
const QUEUE_LIMIT = 1024 * 1024;

/**
 * Lines on their way to standard error. Writing never blocks the program:
 * lines wait here while one asynchronous write at a time sends what has
 * gathered. When standard error is not read (a stuck terminal, a log
 * shipper that stalled) and the queue is full, new lines are dropped and
 * counted; once the queue has drained, a line says how many were lost.
 */
class StderrQueue {
  #lines: string[] = [];
  #size = 0;
  #dropped = 0;
  #writing: Promise<void> | null = null;
  #onDropped: (count: number) => void;

  constructor(onDropped: (count: number) => void) {
    this.#onDropped = onDropped;
  }

  /** Queues a line (with its newline); drops it when the queue is full. */
  push(line: string): void {
    if (this.#size + line.length > QUEUE_LIMIT && this.#size > 0) {
      this.#dropped++;
      return;
    }
    this.#lines.push(line);
    this.#size += line.length;
    this.#writing ??= this.#write();
  }

  async #write(): Promise<void> {
    try {
      while (this.#lines.length > 0) {
        const bytes = encoder.encode(this.#lines.join(""));
        this.#lines = [];
        this.#size = 0;
        let offset = 0;
        while (offset < bytes.length) {
          offset += await Deno.stderr.write(bytes.subarray(offset));
        }
        if (this.#dropped > 0 && this.#lines.length === 0) {
          const count = this.#dropped;
          this.#dropped = 0;
          this.#onDropped(count);
        }
      }
    } catch {
      // Standard error is gone (closed pipe): nothing can be logged.
      this.#lines = [];
      this.#size = 0;
    } finally {
      this.#writing = null;
    }
  }

  /** Resolves once every queued line is written. */
  async drain(): Promise<void> {
    while (this.#writing) await this.#writing;
  }
}

let queue: StderrQueue | null = null;

/** Lines the queue dropped, as an OpenTelemetry metric (a no-op without a provider). */
const droppedMetric = metrics.getMeter("echo").createCounter(
  "echo.log.dropped_lines",
  {
    unit: "{line}",
    description: "Log lines dropped because standard error was not being read.",
  },
);

function stderrQueue(): StderrQueue {
  return queue ??= new StderrQueue((count) => {
    droppedMetric.add(count);
    getLogger(["logging"]).warning(
      "dropped {count} log line(s): standard error was not being read",
      { count },
    );
  });
}

/** Queues `line` for standard error (see {@linkcode StderrQueue}). */
function writeStderr(line: string): void {
  stderrQueue().push(line);
}

/**
 * Waits until every log line written so far has reached standard error, or
 * `timeoutMs` has passed (standard error may not be read at all): call it
 * before the program exits.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await flushLogs().then(() => code));
 * ```
 */
export async function flushLogs(timeoutMs = 2000): Promise<void> {
  if (!queue) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    queue.drain(),
    new Promise<void>((resolve) => timer = setTimeout(resolve, timeoutMs)),
  ]);
  clearTimeout(timer);
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** The lowest level written (default `"debug"`). */
  level?: LogLevel;
  /** Text lines or JSON lines (default `"text"`). */
  format?: LogFormat;
  /**
   * Where lines go (default: standard error, through a bounded queue that
   * never blocks).
   */
  write?: (line: string) => void;
}

/**
 * Sends every logger's records at `level` and above to standard error.
 * Call once, at program start; calling again replaces the set-up.
 *
 * @example
 * ```ts ignore
 * import { configureLogging } from "./logging.ts";
 *
 * configureLogging({ level: "info", format: "json" });
 * ```
 */
export function configureLogging(options: LoggingOptions = {}): void {
  const format = options.format === "json" ? formatJson : formatText;
  const write = options.write ?? writeStderr;
  resetSync();
  configureSync({
    reset: true,
    sinks: { out: (record: LogRecord) => write(format(record) + "\n") },
    loggers: [
      {
        category: [],
        sinks: ["out"],
        lowestLevel: (options.level ?? "debug") as LogTapeLevel,
      },
      // The line that says a server is up is written at every level: at
      // --log-level warning it is the one line of a quiet, healthy server.
      {
        category: STARTUP,
        sinks: ["out"],
        parentSinks: "override",
        lowestLevel: "info",
      },
      // LogTape's own diagnostics: only its warnings and errors.
      {
        category: ["logtape", "meta"],
        sinks: ["out"],
        parentSinks: "override",
        lowestLevel: "warning",
      },
    ],
  });
}

/** The category of the start-up line (see {@linkcode startupLogger}). */
const STARTUP = ["main", "startup"];

/**
 * The logger of the line that says a server is up (`main: starting up on
 * …`): named `main`, and written whatever the level.
 *
 * @example
 * ```ts
 * import { startupLogger } from "./logging.ts";
 *
 * startupLogger().info("starting up on {host} port {port}", {
 *   host: "localhost",
 *   port: 10000,
 * });
 * ```
 */
export function startupLogger(): Logger {
  return getLogger(STARTUP).with({ [NAME]: "main" });
}

/**
 * A logger of `category` whose records carry the name `name`: for names made
 * per connection (`EchoServer_127.0.0.1_35952`), which would otherwise each
 * add a node to LogTape's logger tree.
 *
 * @example
 * ```ts ignore
 * const log = namedLogger("EchoServer", "EchoServer_::1_63347");
 * log.debug("connection accepted"); // EchoServer_::1_63347: connection accepted
 * ```
 */
export function namedLogger(category: string, name: string): Logger {
  return getLogger([category]).with({ [NAME]: name });
}
