/**
 * The TLS handshake's deadline and the check of `handshakeTimeout`: what
 * `createConnection`, `SocketTransport.startTls` and the server share.
 *
 * @module
 */

import { CLIENT_HANDSHAKE_TIMEOUT } from "./_defaults.ts";
import { type Clock, systemClock } from "./clock.ts";

/**
 * Throws a `RangeError` unless `handshakeTimeout` is unset or a number of
 * seconds above 0: the check of every `handshakeTimeout` option, the
 * server's included.
 */
export function checkHandshakeTimeout(
  handshakeTimeout: number | undefined,
): void {
  if (
    handshakeTimeout !== undefined &&
    !(handshakeTimeout > 0 && isFinite(handshakeTimeout))
  ) {
    throw new RangeError(
      `handshakeTimeout must be a number of seconds > 0, got ${handshakeTimeout}`,
    );
  }
}

/**
 * A client's `handshakeTimeout` as given, or the default; a `RangeError`
 * when it is not a number of seconds above 0.
 */
export function handshakeSeconds(handshakeTimeout: number | undefined): number {
  checkHandshakeTimeout(handshakeTimeout);
  return handshakeTimeout ?? CLIENT_HANDSHAKE_TIMEOUT;
}

/**
 * A deadline `seconds` from now on `clock` that also ends when `signal` aborts:
 * `expired` rejects with `Deno.errors.TimedOut` (saying `what` was not
 * done in time) or with the signal's reason. Dispose of it to stop the
 * timer. `expired` never rejects unhandled.
 */
export function deadline(
  seconds: number,
  what: string,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): { expired: Promise<never> } & Disposable {
  const stop = Promise.withResolvers<never>();
  stop.promise.catch(() => {}); // raced by the caller, perhaps never
  const onAbort = () => stop.reject(signal!.reason);
  const timer = clock.setTimeout(
    () =>
      stop.reject(
        new Deno.errors.TimedOut(`${what} not done within ${seconds} s`),
      ),
    seconds,
  );
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    expired: stop.promise,
    [Symbol.dispose]() {
      timer.cancel();
      signal?.removeEventListener("abort", onAbort);
    },
  };
}
