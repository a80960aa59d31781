/**
 * What the two programs share: flag parsing (with `node:util` parseArgs in
 * strict mode), `--help` and `--version`, logging set-up, and the mapping of
 * errors to one line and an exit code.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getLogger } from "@logtape/logtape";
import denoConfig from "../deno.json" with { type: "json" };
import {
  configureLogging,
  flushLogs,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
} from "./logging.ts";

/** The project's version, from deno.json. */
export const VERSION: string = denoConfig.version;

/** Exit code: success. */
export const EXIT_OK = 0;
/** Exit code: a runtime error (cannot listen, connect, …). */
export const EXIT_FAILURE = 1;
/** Exit code: bad command-line usage. */
export const EXIT_USAGE = 2;

/**
 * Bad command-line input: the program prints the message and a hint to
 * `--help`, and exits with {@linkcode EXIT_USAGE}.
 *
 * @example
 * ```ts
 * import { UsageError } from "./cli.ts";
 *
 * throw new UsageError("--port must be a whole number from 0 to 65535");
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/**
 * An expected runtime failure: the program logs the message as one line and
 * exits with {@linkcode EXIT_FAILURE}, without a stack trace.
 *
 * @example
 * ```ts
 * import { ProgramError } from "./cli.ts";
 *
 * throw new ProgramError("cannot listen on localhost port 80: permission denied");
 * ```
 */
export class ProgramError extends Error {
  override name = "ProgramError";
}

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
      "show at most N bytes of each chunk in the log, then its length (default: 64)",
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

/** A program: its flags, how it reads them, and what it does. */
export interface Program<C extends CommonConfig> {
  /** The program's name, as in `--help` and error lines. */
  name: string;
  /** One line on what the program does. */
  summary: string;
  /** Its flags beyond {@linkcode COMMON_FLAGS}. */
  flags: Record<string, Flag>;
  /** Turns parsed flags into settings; throws {@linkcode UsageError}. */
  configure(values: FlagValues, common: CommonConfig): C;
  /** Runs with the settings and resolves to the exit code. */
  run(config: C): Promise<number>;
}

/**
 * Reads a port: a whole number from 0 to 65535.
 *
 * @example
 * ```ts
 * import { parsePort } from "./cli.ts";
 *
 * parsePort("10000"); // 10000
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parsePort(text: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(
      `--port must be a whole number from 0 to 65535, got '${text}'`,
    );
  }
  return Number(text);
}

/**
 * Reads a number of seconds: a finite number >= 0.
 *
 * @example
 * ```ts
 * import { parseSeconds } from "./cli.ts";
 *
 * parseSeconds("--timeout", "2.5"); // 2.5
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parseSeconds(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0) {
    throw new UsageError(
      `${flag} must be a number of seconds >= 0, got '${text}'`,
    );
  }
  return value;
}

/**
 * Reads a whole number from `min` up.
 *
 * @example
 * ```ts
 * import { parseCount } from "./cli.ts";
 *
 * parseCount("--max-connections", "10", 1); // 10
 * ```
 *
 * @throws {UsageError} otherwise.
 */
export function parseCount(flag: string, text: string, min = 0): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${flag} must be a whole number >= ${min}, got '${text}'`,
    );
  }
  return value;
}

function parseChoice<T extends string>(
  flag: string,
  text: string,
  choices: readonly T[],
): T {
  if (!(choices as readonly string[]).includes(text)) {
    throw new UsageError(
      `${flag} must be one of ${choices.join(", ")}, got '${text}'`,
    );
  }
  return text as T;
}

/**
 * The `--help` text of a program.
 *
 * @example
 * ```ts ignore
 * console.log(helpText(serverProgram));
 * ```
 */
export function helpText<C extends CommonConfig>(program: Program<C>): string {
  const flags = { ...COMMON_FLAGS, ...program.flags };
  const rows = Object.entries(flags).map(([name, flag]) => [
    `--${name}${flag.value ? ` ${flag.value}` : ""}`,
    flag.help + (flag.multiple ? " (repeatable)" : ""),
  ]);
  const width = Math.max(...rows.map(([left]) => left.length));
  return [
    `Usage: ${program.name} [OPTIONS]`,
    "",
    program.summary,
    "",
    "Options:",
    ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`),
    "",
  ].join("\n");
}

/** What {@linkcode parseCommandLine} found. */
export type CommandLine<C> =
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "run"; config: C };

/**
 * Parses `args` against the program's flags (strict: unknown flags and
 * stray arguments are errors).
 *
 * @example
 * ```ts ignore
 * parseCommandLine(serverProgram, ["--port", "0"]);
 * // { kind: "run", config: { host: "localhost", port: 0, ... } }
 * ```
 *
 * @throws {UsageError} for bad input.
 */
export function parseCommandLine<C extends CommonConfig>(
  program: Program<C>,
  args: string[],
): CommandLine<C> {
  const flags = { ...COMMON_FLAGS, ...program.flags };
  let values: FlagValues;
  try {
    values = parseArgs({
      args,
      options: Object.fromEntries(
        Object.entries(flags).map((
          [name, { type, multiple = false }],
        ) => [name, { type, multiple }]),
      ),
      strict: true,
      allowPositionals: false,
    }).values as FlagValues;
  } catch (error) {
    throw new UsageError(cleanParseError(error));
  }
  if (values.help) return { kind: "help" };
  if (values.version) return { kind: "version" };
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
      ? 64
      : parseCount("--log-bytes", String(values["log-bytes"]), 0),
  };
  if (common.host.trim() === "") {
    throw new UsageError("--host must not be empty");
  }
  return { kind: "run", config: program.configure(values, common) };
}

/** parseArgs' messages, shortened to one line. */
function cleanParseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  let line = message.split("\n")[0].split(". ")[0].replace(/\.$/, "");
  line = line.replace(/^Unknown option/, "unknown option")
    .replace(/^Unexpected argument/, "unexpected argument")
    .replace(/^Option/, "option");
  const ambiguous = line.match(/^option '(--[\w-]+)' argument is ambiguous/);
  if (ambiguous) {
    line += `: write ${ambiguous[1]}=VALUE for a value that starts with '-'`;
  }
  return line;
}

/**
 * One line for an error: its message, without a stack trace. `target`
 * says what a "not found" was about: a host name, or a socket path.
 *
 * @example
 * ```ts
 * import { describeError } from "./cli.ts";
 *
 * describeError(new Deno.errors.AddrInUse("Address already in use (os error 98)"));
 * // "address already in use"
 * ```
 */
export function describeError(
  error: unknown,
  target: "host" | "path" = "host",
): string {
  if (error instanceof Deno.errors.AddrInUse) return "address already in use";
  if (error instanceof Deno.errors.ConnectionRefused) {
    return "connection refused";
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return "address not available";
  }
  if (error instanceof Deno.errors.NotFound) {
    return target === "path" ? "no such file or directory" : "host not found";
  }
  if (error instanceof Deno.errors.TimedOut) return "timed out";
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    const message = (error as Error).message;
    return `permission denied (${message.replace(/\.$/, "")})`;
  }
  const message = error instanceof Error ? error.message : String(error);
  return message.split("\n")[0];
}

/**
 * Runs a program: parses flags, sets up logging, runs it, and maps what
 * goes wrong to one line and an exit code (0 ok, 1 runtime error, 2 usage).
 *
 * @example
 * ```ts ignore
 * Deno.exit(await main(serverProgram, Deno.args));
 * ```
 */
export async function main<C extends CommonConfig>(
  program: Program<C>,
  args: string[],
): Promise<number> {
  let commandLine: CommandLine<C>;
  try {
    commandLine = parseCommandLine(program, args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(
      `${program.name}: ${error.message} (see '${program.name} --help')`,
    );
    return EXIT_USAGE;
  }
  if (commandLine.kind === "help") {
    console.log(helpText(program));
    return EXIT_OK;
  }
  if (commandLine.kind === "version") {
    console.log(`${program.name} ${VERSION}`);
    return EXIT_OK;
  }
  const { config } = commandLine;
  configureLogging({ level: config.logLevel, format: config.logFormat });
  try {
    return await program.run(config);
  } catch (error) {
    const message = error instanceof ProgramError
      ? error.message
      : describeError(error);
    getLogger(["main"]).error("{message}", { message });
    return EXIT_FAILURE;
  } finally {
    await flushLogs();
  }
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
 * import { parseUnixPath } from "./cli.ts";
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

/**
 * Reads a PEM file named by a flag, which must hold what the flag needs: a
 * certificate, or a private key.
 *
 * @example
 * ```ts ignore
 * const cert = await readPemFile("--tls-cert", "cert.pem", "certificate");
 * ```
 *
 * @throws {ProgramError} with one line naming the flag and the file.
 */
export async function readPemFile(
  flag: string,
  path: string,
  kind: "certificate" | "private key",
): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "no such file"
      : describeError(error);
    throw new ProgramError(`cannot read ${flag} ${path}: ${why}`);
  }
  if (!text.includes("-----BEGIN ")) {
    throw new ProgramError(`${flag} ${path} is not a PEM file`);
  }
  const certificate = text.includes("-----BEGIN CERTIFICATE-----");
  const key = /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text);
  if (kind === "certificate" && !certificate) {
    throw new ProgramError(
      `${flag} ${path} holds no certificate${
        key ? " (it is a private key)" : ""
      }`,
    );
  }
  if (kind === "private key" && !key) {
    throw new ProgramError(
      `${flag} ${path} holds no private key${
        certificate ? " (it is a certificate)" : ""
      }`,
    );
  }
  return text;
}
