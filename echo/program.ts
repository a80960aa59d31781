/**
 * A small program framework for the two echo programs: flags parsed with
 * `node:util` parseArgs in strict mode, `--help` and `--version`, logging
 * set up, and what goes wrong mapped to one line and an exit code.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { getLogger } from "@logtape/logtape";
import { VERSION } from "@protocols/core";
import {
  describeError,
  EXIT_FAILURE,
  EXIT_OK,
  EXIT_USAGE,
  ProgramError,
  UsageError,
} from "./errors.ts";
import {
  COMMON_FLAGS,
  type CommonConfig,
  type Flag,
  type FlagValues,
  readCommonConfig,
} from "./flags.ts";
import { configureLogging, flushLogs } from "./logging.ts";
import {
  commandName,
  missingLine,
  type Need,
  scriptName,
} from "./permissions.ts";
import { releaseSignals } from "./shutdown.ts";

/** The project's version: the library's, which the programs ship with. */
export { VERSION };

/** A program: its flags, how it reads them, and what it does. */
export interface Program<C extends CommonConfig> {
  /** The program's name, as in error lines (and its compiled binary's). */
  name: string;
  /** Its deno task (`server`: `deno task server`, `main_server.ts`). */
  task: "server" | "client";
  /** One line on what the program does. */
  summary: string;
  /** Its flags beyond {@linkcode COMMON_FLAGS}. */
  flags: Record<string, Flag>;
  /** Turns parsed flags into settings; throws {@linkcode UsageError}. */
  configure(values: FlagValues, common: CommonConfig): C;
  /** Runs with the settings and resolves to the exit code. */
  run(config: C): Promise<number>;
  /** What the settings need beyond `--allow-net`, checked before `run`. */
  needs?(config: C): Need[];
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
    `Usage: ${commandName(program.name, program.task)} [OPTIONS]`,
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
  const common = readCommonConfig(values);
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
      `${program.name}: ${error.message} (see '${
        commandName(program.name, program.task)
      } --help')`,
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
    const missing = program.needs?.(config).filter((need) => !need.granted());
    if (missing?.length) {
      const line = missingLine(missing, scriptName(), args);
      getLogger(["main"]).error("{line}", { line });
      return EXIT_FAILURE;
    }
    return await program.run(config);
  } catch (error) {
    const message = error instanceof ProgramError
      ? error.message
      : describeError(error);
    getLogger(["main"]).error("{message}", { message });
    return EXIT_FAILURE;
  } finally {
    await flushLogs();
    releaseSignals();
  }
}
