/**
 * Logging set-up for the programs, on LogTape: Python's
 * `%(name)s: %(message)s` text lines, or JSON lines, written synchronously to
 * standard error so that no line is lost at exit and lines keep their order.
 *
 * @module
 */

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

/** Memory each line is encoded into, reused while lines fit in it. */
const lineBuffer = new Uint8Array(64 * 1024);

/** Writes `line` to standard error, synchronously and whole. */
function writeStderr(line: string): void {
  let bytes: Uint8Array;
  // A line that fits (the usual case) makes no garbage; `read` falls short
  // only when it does not.
  const { read, written } = encoder.encodeInto(line, lineBuffer);
  if (read === line.length) bytes = lineBuffer.subarray(0, written);
  else bytes = encoder.encode(line);
  let offset = 0;
  while (offset < bytes.length) {
    offset += Deno.stderr.writeSync(bytes.subarray(offset));
  }
}

/** Options of {@linkcode configureLogging}. */
export interface LoggingOptions {
  /** The lowest level written (default `"debug"`). */
  level?: LogLevel;
  /** Text lines or JSON lines (default `"text"`). */
  format?: LogFormat;
  /** Where lines go (default: standard error, synchronously). */
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
