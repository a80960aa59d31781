/**
 * The client's TLS handshake with a deadline: what `createConnection` and
 * `SocketTransport.startTls` share.
 *
 * @module
 */

import { CLIENT_HANDSHAKE_TIMEOUT } from "./_defaults.ts";

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
 * A deadline `seconds` from now that also ends when `signal` aborts:
 * `expired` rejects with `Deno.errors.TimedOut` (saying `what` was not
 * done in time) or with the signal's reason. Dispose of it to stop the
 * timer. `expired` never rejects unhandled.
 */
export function deadline(
  seconds: number,
  what: string,
  signal?: AbortSignal,
): { expired: Promise<never> } & Disposable {
  const stop = Promise.withResolvers<never>();
  stop.promise.catch(() => {}); // raced by the caller, perhaps never
  const onAbort = () => stop.reject(signal!.reason);
  const timer = setTimeout(
    () =>
      stop.reject(
        new Deno.errors.TimedOut(`${what} not done within ${seconds} s`),
      ),
    seconds * 1000,
  );
  if (signal?.aborted) onAbort();
  else signal?.addEventListener("abort", onAbort, { once: true });
  return {
    expired: stop.promise,
    [Symbol.dispose]() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    },
  };
}

/**
 * Runs the handshake of `tls` until `expired` rejects (see
 * {@linkcode deadline}); closes `tls` when it does not succeed. (Deno
 * cannot cancel a handshake in progress: the socket itself is released
 * once the peer sends anything or closes.)
 *
 * @throws what `expired` rejects with; the handshake's own error when it
 * fails.
 */
export async function handshakeBefore(
  tls: Deno.TlsConn,
  expired: Promise<never>,
): Promise<Deno.TlsHandshakeInfo> {
  try {
    return await Promise.race([tls.handshake(), expired]);
  } catch (error) {
    tls.close();
    throw error;
  }
}

/**
 * Runs the handshake of `tls` within `seconds`, and until `signal` aborts;
 * closes `tls` when it does not succeed.
 *
 * @throws {Deno.errors.TimedOut} past the deadline; the signal's reason
 * when it aborts; the handshake's own error when it fails.
 */
export async function handshakeWithin(
  tls: Deno.TlsConn,
  seconds: number,
  signal?: AbortSignal,
): Promise<Deno.TlsHandshakeInfo> {
  using limit = deadline(seconds, "TLS handshake", signal);
  return await handshakeBefore(tls, limit.expired);
}
