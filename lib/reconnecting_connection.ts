/**
 * {@linkcode createReconnectingConnection}: a client that stays connected,
 * reconnecting with backoff and jitter (Twisted's
 * `ReconnectingClientFactory`).
 *
 * @module
 */

import type {
  BufferedProtocol,
  Protocol,
  ProtocolFactory,
} from "./protocol.ts";
import type { Transport } from "./transport.ts";
import { type Clock, type ClockTimer, systemClock } from "./clock.ts";
import {
  checkConnectionOptions,
  type ConnectionOptions,
  createConnection,
} from "./connection.ts";
import {
  RETRY_FACTOR,
  RETRY_INITIAL_DELAY,
  RETRY_JITTER,
  RETRY_MAX_DELAY,
} from "./_defaults.ts";
import { reportError } from "./_report.ts";

/**
 * How {@linkcode createReconnectingConnection} waits between attempts, in
 * seconds. The delay after the first failure is `initialDelay`; each
 * further failure multiplies it by `factor`, up to `maxDelay`. Each wait is
 * the delay spread at random by `jitter` (0.2: anywhere from 0.8 to 1.2
 * times it, never past `maxDelay`), so clients that lost the same server do
 * not come back in step. A connection that was made resets the delay.
 */
export interface RetryOptions {
  /** The first delay, in seconds (default 1). */
  initialDelay?: number;
  /** What each failure multiplies the delay by, 1 or more (default 1.6). */
  factor?: number;
  /** The longest delay, in seconds (default 3600). */
  maxDelay?: number;
  /** How far, from 0 to 1, each wait is spread around the delay (default 0.2). */
  jitter?: number;
  /**
   * How many attempts may fail in a row after the first one before giving
   * up (default: no limit); 0 tries once. A connection that was made
   * starts the count again.
   */
  maxRetries?: number;
}

/** A connection attempt that {@linkcode ReconnectingOptions.connect} makes. */
export type Connector<P extends Protocol | BufferedProtocol> = (
  factory: ProtocolFactory<P>,
  options: ConnectionOptions,
) => Promise<{ transport: Transport; protocol: P }>;

/** Options of {@linkcode createReconnectingConnection}. */
export interface ReconnectingOptions<P extends Protocol | BufferedProtocol>
  extends ConnectionOptions {
  /** The waits between attempts (see {@linkcode RetryOptions}). */
  retry?: RetryOptions;
  /**
   * Stops reconnecting when it aborts, as
   * {@linkcode ReconnectingConnection.stop} does.
   */
  signal?: AbortSignal;
  /**
   * Called each time an attempt failed or a connection ended and another
   * attempt is coming: with why (`null`: the connection ended cleanly),
   * the seconds until that attempt, and how many attempts have been made.
   * Not called when giving up or after `stop()`.
   */
  onRetry?: (error: Error | null, delay: number, attempts: number) => void;
  /**
   * Makes each attempt (default {@linkcode createConnection}, given these
   * options with a signal of its own and the clock); a test may connect in
   * memory instead.
   */
  connect?: Connector<P>;
}

/** What {@linkcode createReconnectingConnection} returns. */
export interface ReconnectingConnection<P extends Protocol | BufferedProtocol>
  extends AsyncDisposable {
  /** The current connection's transport; `undefined` between connections. */
  readonly transport: Transport | undefined;
  /** The current connection's protocol; `undefined` between connections. */
  readonly protocol: P | undefined;
  /** Connection attempts made so far, the first included. */
  readonly attempts: number;
  /**
   * Resolves once reconnecting is over: with `null` after
   * {@linkcode ReconnectingConnection.stop} (or the signal), with the last
   * attempt's error when `maxRetries` ran out. Never rejects.
   */
  readonly closed: Promise<Error | null>;
  /**
   * Stops: no attempt after this call (one in progress is abandoned), and
   * the live connection, if any, is closed; resolves once it has been lost
   * and {@linkcode ReconnectingConnection.closed} has resolved.
   */
  stop(): Promise<void>;
}

/** Throws a `RangeError` naming the first retry option that is out of range. */
function checkRetry(retry: RetryOptions): Required<RetryOptions> {
  const {
    initialDelay = RETRY_INITIAL_DELAY,
    factor = RETRY_FACTOR,
    maxDelay = RETRY_MAX_DELAY,
    jitter = RETRY_JITTER,
    maxRetries = Infinity,
  } = retry;
  const seconds = (name: string, value: number) => {
    if (!(value >= 0 && isFinite(value))) {
      throw new RangeError(
        `retry.${name} must be a number of seconds >= 0, got ${value}`,
      );
    }
  };
  seconds("initialDelay", initialDelay);
  seconds("maxDelay", maxDelay);
  if (!(factor >= 1 && isFinite(factor))) {
    throw new RangeError(`retry.factor must be a number >= 1, got ${factor}`);
  }
  if (!(jitter >= 0 && jitter <= 1)) {
    throw new RangeError(
      `retry.jitter must be a number from 0 to 1, got ${jitter}`,
    );
  }
  if (
    !(maxRetries === Infinity ||
      (Number.isInteger(maxRetries) && maxRetries >= 0))
  ) {
    throw new RangeError(
      `retry.maxRetries must be a whole number >= 0, got ${maxRetries}`,
    );
  }
  return { initialDelay, factor, maxDelay, jitter, maxRetries };
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/**
 * Connects as {@linkcode createConnection} does and stays connected: when
 * an attempt fails or the connection ends (for whatever reason, cleanly
 * too), it tries again after a delay that grows with each failure in a
 * row and is spread by jitter (see {@linkcode RetryOptions}). Each
 * connection gets a new protocol from `factory`. The first attempt starts
 * at once; the call itself only checks the options.
 *
 * @example Staying connected to a server that comes and goes
 * ```ts
 * import { createReconnectingConnection, type Transport } from "@protocols/core";
 *
 * const client = createReconnectingConnection(() => ({
 *   connectionMade(transport: Transport) { transport.write("hello\n"); },
 *   dataReceived(data: Uint8Array) { console.log(data.byteLength); },
 * }), {
 *   hostname: "localhost",
 *   port: 10000,
 *   retry: { initialDelay: 0.5, maxDelay: 30 },
 *   onRetry: (error, delay) =>
 *     console.log(`${error?.message ?? "closed"}; again in ${delay.toFixed(1)} s`),
 * });
 * // ... later:
 * await client.stop();
 * ```
 *
 * @throws {RangeError} at once, naming the option, for a retry option out
 * of range (negative or non-finite seconds, a factor below 1, jitter
 * outside 0 to 1, `maxRetries` below 0) or a bad `port`,
 * `handshakeTimeout`, `idleTimeout` or `happyEyeballsDelay`. An attempt that fails with a
 * `RangeError` (an option only the attempt checks) ends reconnecting with
 * it: no wait cures it.
 */
export function createReconnectingConnection<
  P extends Protocol | BufferedProtocol,
>(
  factory: ProtocolFactory<P>,
  options: ReconnectingOptions<P>,
): ReconnectingConnection<P> {
  const retry = checkRetry(options.retry ?? {});
  checkConnectionOptions(options);
  const clock: Clock = options.clock ?? systemClock;
  const connect: Connector<P> = options.connect ??
    ((f, o) => createConnection(f, o));
  const closed = Promise.withResolvers<Error | null>();
  let transport: Transport | undefined;
  let protocol: P | undefined;
  let attempts = 0;
  let failures = 0; // in a row, since the last connection made
  let delay = retry.initialDelay;
  let stopped = false;
  let timer: ClockTimer | undefined;
  let attempt: AbortController | undefined;

  /** No attempt after this; `closed` resolves with `error` once `ended` has. */
  const finish = (error: Error | null, ended?: Promise<unknown>) => {
    stopped = true;
    timer?.cancel();
    options.signal?.removeEventListener("abort", onAbort);
    if (ended) ended.then(() => closed.resolve(error));
    else closed.resolve(error);
  };

  /** Waits, then tries again; or gives up, past maxRetries. */
  const again = (error: Error | null, failed: boolean) => {
    if (stopped) return;
    if (failed) {
      failures++;
      if (failures > retry.maxRetries) return finish(error);
    }
    const spread = 1 + retry.jitter * (2 * Math.random() - 1);
    const wait = Math.min(retry.maxDelay, delay * spread);
    if (failed) delay = Math.min(retry.maxDelay, delay * retry.factor);
    try {
      options.onRetry?.(error, wait, attempts);
    } catch (thrown) {
      reportError(
        "Error in onRetry(): {error}",
        { error: thrown },
        asError(thrown),
      );
    }
    timer = clock.setTimeout(start, wait);
  };

  const start = () => {
    timer = undefined;
    if (stopped) return;
    attempts++;
    const controller = new AbortController();
    attempt = controller;
    connect(factory, { ...options, signal: controller.signal, clock }).then(
      (connection) => {
        attempt = undefined;
        if (stopped) {
          connection.transport.close();
          return;
        }
        transport = connection.transport;
        protocol = connection.protocol;
        failures = 0;
        delay = retry.initialDelay;
        connection.transport.closed.then((error) => {
          transport = undefined;
          protocol = undefined;
          again(error, false);
        });
      },
      (error) => {
        attempt = undefined;
        if (stopped) return;
        // Options no attempt can cure: given up at once.
        if (error instanceof RangeError) return finish(error);
        again(asError(error), true);
      },
    );
  };

  const stop = async (): Promise<void> => {
    if (!stopped) {
      const live = transport;
      finish(null, live?.closed);
      attempt?.abort(new Error("reconnecting stopped"));
      live?.close();
    }
    await closed.promise;
  };
  const onAbort = () => void stop();
  if (options.signal?.aborted) {
    finish(null);
  } else {
    options.signal?.addEventListener("abort", onAbort, { once: true });
    start();
  }
  return {
    get transport() {
      return transport;
    },
    get protocol() {
      return protocol;
    },
    get attempts() {
      return attempts;
    },
    closed: closed.promise,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
