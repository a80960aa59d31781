/**
 * {@linkcode namedConnectError}: a failed connection's error, with what it
 * tried to reach in its message.
 *
 * @module
 */

import { AllAttemptsFailedError } from "./_happy_eyeballs.ts";

/** The error classes whose constructor takes `(message, options)`. */
const REBUILDABLE = new Set<unknown>([
  Error,
  TypeError,
  RangeError,
  ...Object.values(Deno.errors),
]);

/**
 * `error` as an error whose message starts with `target` ("cannot connect
 * to localhost port 10000"), the original as its `cause`. The class is kept
 * where it can be rebuilt (Deno's errors, so a caller can still tell a
 * refusal from a timeout); when every address tried failed alike (both
 * `::1` and `127.0.0.1` refused), the result is that class too, naming each
 * address; anything else becomes an `Error`.
 *
 * @example
 * ```ts
 * import { namedConnectError } from "./_connect_error.ts";
 *
 * const error = namedConnectError(
 *   new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
 *   "cannot connect to localhost port 9",
 * );
 * error instanceof Deno.errors.ConnectionRefused; // true
 * error.message; // "cannot connect to localhost port 9: Connection refused (os error 111)"
 * ```
 */
export function namedConnectError(error: unknown, target: string): Error {
  if (!(error instanceof Error)) return new Error(`${target}: ${error}`);
  const message = `${target}: ${error.message}`;
  let ErrorClass: unknown = error.constructor;
  if (error instanceof AllAttemptsFailedError) {
    const classes = new Set(
      error.errors.map((failed) => (failed.error as Error)?.constructor),
    );
    ErrorClass = classes.size === 1 ? [...classes][0] : Error;
  }
  if (!REBUILDABLE.has(ErrorClass)) ErrorClass = Error;
  return new (ErrorClass as ErrorConstructor)(message, { cause: error });
}
