/**
 * The library's log records, through LogTape under the category
 * `["protocols"]`, with LogTape loaded only in a process that uses it.
 *
 * A library's records reach a sink only once the application has set
 * LogTape up, and an application that does has called LogTape by then: its
 * root logger is on `globalThis`, under the symbol LogTape shares between
 * copies of itself. Until then the library has nothing to log to, and does
 * not load LogTape: importing it (with the Node modules it brings) would
 * more than double the live heap of a small server, which every garbage
 * collection walks.
 *
 * Once loaded, records go out at once. The records that come while it
 * loads (the first of a process) wait for it, in order.
 *
 * @module
 */

// Named in full: the library resolves without an import map.
// deno-lint-ignore no-import-prefix
import type * as LogTape from "npm:@logtape/logtape@^2.4.2";

/** The LogTape module. */
export type LogTapeModule = typeof LogTape;

/** Where LogTape keeps its root logger, shared by every copy of it. */
const ROOT_LOGGER = Symbol.for("logtape.rootLogger");

let logtape: LogTapeModule | null = null;
let waiting: Array<(logtape: LogTapeModule | null) => void> | null = null;

/** Whether anything in this process has called LogTape. */
function inUse(): boolean {
  return logtape !== null || ROOT_LOGGER in globalThis;
}

/**
 * Calls `use` with LogTape, or with null when nothing in the process uses
 * LogTape (so nothing is set up to take records): at once, or, while
 * LogTape loads, once it has, in the order of the calls.
 *
 * @example
 * ```ts
 * import { withLogTape } from "./_log.ts";
 *
 * withLogTape((logtape) => {
 *   if (logtape === null) console.error("protocols: no logging set up");
 * });
 * ```
 */
export function withLogTape(
  use: (logtape: LogTapeModule | null) => void,
): void {
  if (waiting !== null) {
    waiting.push(use);
    return;
  }
  if (logtape !== null || !inUse()) {
    use(logtape);
    return;
  }
  waiting = [use];
  // deno-lint-ignore no-import-prefix
  import("npm:@logtape/logtape@^2.4.2").then(
    (loaded) => logtape = loaded,
    (error) => console.error(`protocols: LogTape failed to load: ${error}`),
  ).finally(() => {
    const calls = waiting!;
    waiting = null;
    for (const call of calls) {
      try {
        call(logtape);
      } catch (error) {
        console.error("protocols: a log record failed:", error);
      }
    }
  });
}

/**
 * Starts loading LogTape if the process uses it and it is not loaded, so
 * that a server's or a connection's first records need not wait for it.
 *
 * @example
 * ```ts
 * import { preloadLogTape } from "./_log.ts";
 *
 * preloadLogTape(); // does nothing unless the application uses LogTape
 * ```
 */
export function preloadLogTape(): void {
  if (logtape === null && waiting === null && inUse()) withLogTape(() => {});
}

/** A level the library logs at. */
type Level = "debug" | "info" | "warning" | "error";

function record(
  level: Level,
  message: string,
  properties: Record<string, unknown>,
): void {
  // Without LogTape in the process, withLogTape gives null: dropped.
  withLogTape((logtape) =>
    logtape?.getLogger(["protocols"])[level](message, properties)
  );
}

/**
 * The library's logger: LogTape's methods by level, taking a message with
 * `{name}` placeholders and the properties that fill them.
 *
 * @example
 * ```ts
 * import { log } from "./_log.ts";
 *
 * log.info("Listening on port {port}", { port: 8888 });
 * ```
 */
export const log = {
  /** Logs a debug record. */
  debug: (message: string, properties: Record<string, unknown>): void =>
    record("debug", message, properties),
  /** Logs an info record. */
  info: (message: string, properties: Record<string, unknown>): void =>
    record("info", message, properties),
  /** Logs a warning record. */
  warning: (message: string, properties: Record<string, unknown>): void =>
    record("warning", message, properties),
  /** Logs an error record. */
  error: (message: string, properties: Record<string, unknown>): void =>
    record("error", message, properties),
};
