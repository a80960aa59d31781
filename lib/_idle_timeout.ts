/**
 * {@linkcode IdleTimeout}: one transport's idle timeout
 * (`Transport.setIdleTimeout`), what every stream transport shares.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { IdleSweeper } from "./_idle_sweeper.ts";

/**
 * The sweepers, one per clock and timeout: every transport with the same
 * timeout on the same clock shares one timer.
 */
const sweepers = new WeakMap<Clock, Map<number, IdleSweeper<IdleTimeout>>>();

function sweeperFor(clock: Clock, seconds: number): IdleSweeper<IdleTimeout> {
  let bySeconds = sweepers.get(clock);
  if (bySeconds === undefined) {
    bySeconds = new Map();
    sweepers.set(clock, bySeconds);
  }
  let sweeper = bySeconds.get(seconds);
  if (sweeper === undefined) {
    sweeper = new IdleSweeper<IdleTimeout>(
      clock,
      seconds,
      (watch) => watch.expire(),
      (watch) => watch.ioCount(),
    );
    bySeconds.set(seconds, sweeper);
  }
  return sweeper;
}

/**
 * Throws a `RangeError` naming `option` unless `seconds` is `null`,
 * `undefined` or a number of seconds >= 0 (0 and `null`: no timeout).
 */
export function checkIdleSeconds(
  seconds: number | null | undefined,
  option = "idleTimeout",
): void {
  if (seconds === null || seconds === undefined) return;
  if (!(typeof seconds === "number" && seconds >= 0 && isFinite(seconds))) {
    throw new RangeError(
      `${option} must be a number of seconds >= 0 or null, got ${seconds}`,
    );
  }
}

/**
 * A transport's idle timeout: while set, the transport's I/O counter is
 * watched by the sweeper shared by every transport with the same clock and
 * timeout, and `expired` is called once when the counter has not moved for
 * that long (then the watch ends, until the next `set`).
 */
export class IdleTimeout {
  #clock: Clock;
  #sweeper: IdleSweeper<IdleTimeout> | null = null;
  /** The transport's counter of completed reads and writes. */
  readonly ioCount: () => number;
  #expired: (seconds: number) => void;
  #ended = false;

  constructor(
    clock: Clock,
    ioCount: () => number,
    expired: (seconds: number) => void,
  ) {
    this.#clock = clock;
    this.ioCount = ioCount;
    this.#expired = expired;
  }

  /** The clock the transport's timers use. */
  get clock(): Clock {
    return this.#clock;
  }

  /** The timeout in seconds, or `null` for none. */
  get seconds(): number | null {
    return this.#sweeper?.seconds ?? null;
  }

  /**
   * Starts (or restarts, from now) the timeout; `null` or 0 stops it. Once
   * {@linkcode IdleTimeout.end} has been called, only checks `seconds`.
   *
   * @param option what a `RangeError` names (default `setIdleTimeout()`).
   * @throws {RangeError} when `seconds` is negative or not finite.
   */
  set(seconds: number | null, option = "setIdleTimeout()"): void {
    checkIdleSeconds(seconds, option);
    this.#sweeper?.delete(this);
    this.#sweeper = null;
    if (this.#ended || seconds === null || seconds === 0) return;
    this.#sweeper = sweeperFor(this.#clock, seconds);
    this.#sweeper.add(this);
  }

  /**
   * Stops the timeout for good: the connection is over or handed to
   * another transport. `expired` is not called after this.
   */
  end(): void {
    this.#ended = true;
    this.set(null);
  }

  /** Called by the sweeper: the watch is over; the transport acts. */
  expire(): void {
    const seconds = this.#sweeper!.seconds;
    this.#sweeper = null;
    this.#expired(seconds);
  }
}

/**
 * What a connection without `timeoutConnection` is lost to when its idle
 * timeout of `seconds` expires.
 */
export function idleTimedOut(seconds: number): Deno.errors.TimedOut {
  return new Deno.errors.TimedOut(`no traffic for ${seconds} s`);
}
