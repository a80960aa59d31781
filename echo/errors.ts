/**
 * The programs' errors: a usage error, an expected runtime failure, and
 * one line for any other error.
 *
 * @module
 */

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
 * import { UsageError } from "./errors.ts";
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
 * import { ProgramError } from "./errors.ts";
 *
 * throw new ProgramError("cannot listen on localhost port 80: permission denied");
 * ```
 */
export class ProgramError extends Error {
  override name = "ProgramError";
}

/**
 * One line for an error: its message, without a stack trace. `target`
 * says what a "not found" was about: a host name, or a socket path.
 *
 * @example
 * ```ts
 * import { describeError } from "./errors.ts";
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
  if (error instanceof Deno.errors.WouldBlock && target === "path") {
    // A Unix socket's queue of connections waiting to be accepted is full.
    return "the server is not accepting connections (its backlog is full)";
  }
  if (error instanceof Deno.errors.TimedOut) {
    // The system's "Connection timed out (os error 110)" is said short; a
    // deadline of ours (a TLS handshake) says which it was.
    return /\(os error \d+\)$/.test(error.message) || !error.message
      ? "timed out"
      : error.message;
  }
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
