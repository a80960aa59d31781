/**
 * The client's TLS handshake with a deadline: what `createConnection` and
 * `SocketTransport.startTls` share.
 *
 * @module
 */

/** The default handshake deadline of clients, in seconds (asyncio's). */
export const DEFAULT_HANDSHAKE_TIMEOUT = 60;

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
  return handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT;
}

/**
 * Runs the handshake of `tls` within `seconds`, and until `signal` aborts;
 * closes `tls` when it does not succeed. (Deno cannot cancel a handshake in
 * progress: the socket itself is released once the peer sends anything or
 * closes.)
 *
 * @throws {Deno.errors.TimedOut} past the deadline; the signal's reason
 * when it aborts; the handshake's own error when it fails.
 */
export async function handshakeWithin(
  tls: Deno.TlsConn,
  seconds: number,
  signal?: AbortSignal,
): Promise<Deno.TlsHandshakeInfo> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stop = Promise.withResolvers<never>();
  const onAbort = () => stop.reject(signal!.reason);
  try {
    signal?.throwIfAborted();
    signal?.addEventListener("abort", onAbort, { once: true });
    timer = setTimeout(() =>
      stop.reject(
        new Deno.errors.TimedOut(`TLS handshake not done within ${seconds} s`),
      ), seconds * 1000);
    return await Promise.race([tls.handshake(), stop.promise]);
  } catch (error) {
    tls.close();
    throw error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}
