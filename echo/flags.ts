/**
 * The flags both echo programs share: where to connect or listen, how to
 * log, `--help` and `--version`, and `--unix`.
 *
 * @module
 */

import { DEFAULT_LOG_BYTES } from "./echo.ts";
import { UsageError } from "./errors.ts";
import {
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "./logging.ts";
import { parseChoice, parseCount, parsePort } from "./parse.ts";

/** One flag of a program. */
export interface Flag {
  /** `string` flags take a value; `boolean` flags do not. */
  type: "string" | "boolean";
  /** May be given more than once (values collect into an array). */
  multiple?: boolean;
  /** The value's name in `--help` (e.g. `PORT`). */
  value?: string;
  /** One line for `--help`. */
  help: string;
}

/** The flags every program has: connection, logging, help and version. */
export const COMMON_FLAGS: Record<string, Flag> = {
  host: {
    type: "string",
    value: "HOST",
    help: "host name or address (default: localhost)",
  },
  port: {
    type: "string",
    value: "PORT",
    help: "TCP port, 0-65535 (default: 10000)",
  },
  "log-level": {
    type: "string",
    value: "LEVEL",
    help: `lowest level logged: ${LOG_LEVELS.join("|")} (default: debug)`,
  },
  "log-format": {
    type: "string",
    value: "FORMAT",
    help: `log line format: ${LOG_FORMATS.join("|")} (default: text)`,
  },
  "log-bytes": {
    type: "string",
    value: "N",
    help:
      `show at most N bytes of each chunk in the log, then its length (default: ${DEFAULT_LOG_BYTES})`,
  },
  help: { type: "boolean", help: "show this help and exit" },
  version: { type: "boolean", help: "show the version and exit" },
};

/** Parsed flag values, by flag name. */
export type FlagValues = Record<
  string,
  string | boolean | (string | boolean)[] | undefined
>;

/** The settings every program has. */
export interface CommonConfig {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
  /** Lowest level logged. */
  logLevel: LogLevel;
  /** Log line format. */
  logFormat: LogFormat;
  /** Bytes of each chunk shown in the log. */
  logBytes: number;
}

/**
 * Reads the settings every program has from parsed flags.
 *
 * @example
 * ```ts
 * import { readCommonConfig } from "./flags.ts";
 *
 * readCommonConfig({ port: "0" }).port; // 0
 * ```
 *
 * @throws {UsageError} for a bad value.
 */
export function readCommonConfig(values: FlagValues): CommonConfig {
  const common: CommonConfig = {
    host: values.host === undefined ? "localhost" : String(values.host),
    port: values.port === undefined ? 10000 : parsePort(String(values.port)),
    logLevel: values["log-level"] === undefined
      ? "debug"
      : parseChoice("--log-level", String(values["log-level"]), LOG_LEVELS),
    logFormat: values["log-format"] === undefined
      ? "text"
      : parseChoice("--log-format", String(values["log-format"]), LOG_FORMATS),
    logBytes: values["log-bytes"] === undefined
      ? DEFAULT_LOG_BYTES
      : parseCount("--log-bytes", String(values["log-bytes"]), 0),
  };
  if (common.host.trim() === "") {
    throw new UsageError("--host must not be empty");
  }
  return common;
}

/**
 * The `--unix PATH` flag shared by both programs; `--host` and `--port`
 * cannot go with it.
 */
export const UNIX_FLAG: Flag = {
  type: "string",
  value: "PATH",
  help:
    "use the Unix socket at PATH instead of TCP (needs --allow-read/--allow-write)",
};

/**
 * Reads `--unix`, refusing it next to `--host` or `--port`.
 *
 * @example
 * ```ts
 * import { parseUnixPath } from "./flags.ts";
 *
 * parseUnixPath({ unix: "/run/echo.sock" }); // "/run/echo.sock"
 * ```
 *
 * @throws {UsageError} for an empty path or a conflicting flag.
 */
export function parseUnixPath(values: FlagValues): string | undefined {
  if (values.unix === undefined) return undefined;
  const path = String(values.unix);
  if (path === "") throw new UsageError("--unix must not be empty");
  for (const flag of ["host", "port"]) {
    if (values[flag] !== undefined) {
      throw new UsageError(`--unix cannot be used with --${flag}`);
    }
  }
  return path;
}
