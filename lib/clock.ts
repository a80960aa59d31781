/**
 * {@linkcode Clock}: where the library's timers come from. Every timer of
 * the library (idle and handshake timeouts, Happy Eyeballs delays, retry
 * delays, the idle sweeper, a server's accept backoff) is set on the clock
 * given as the `clock` option, {@linkcode systemClock} by default; a test
 * gives a `FakeClock` (from `@protocols/core/testing`) and moves time itself.
 * Two waits stay on the system's time: the second a closing TLS connection
 * gives its close_notify to be written, and the once-a-second throttle of
 * repeated log lines.
 *
 * @module
 */

/** A timer set with {@linkcode Clock.setTimeout}. */
export interface ClockTimer {
  /** Stops the timer; nothing happens if it has fired already. */
  cancel(): void;
  /**
   * Lets the process exit while the timer is pending (Deno's
   * `Deno.unrefTimer`). A clock that is not the system's may ignore it.
   */
  unref(): void;
}

/** A source of time and timers, in seconds. */
export interface Clock {
  /** Seconds since a fixed moment of the clock's own; never goes back. */
  now(): number;
  /**
   * Calls `callback` once, `seconds` (0 or more) from now, unless the
   * returned timer is cancelled first. The callback runs on its own, never
   * from inside this call.
   */
  setTimeout(callback: () => void, seconds: number): ClockTimer;
}

/**
 * The real clock: `performance.now()` and the runtime's `setTimeout`.
 *
 * @example
 * ```ts
 * import { systemClock } from "@protocols/core";
 *
 * const start = systemClock.now();
 * const timer = systemClock.setTimeout(() => console.log("later"), 0.5);
 * timer.cancel();
 * console.log(systemClock.now() - start < 1);
 * ```
 */
export const systemClock: Clock = {
  now: () => performance.now() / 1000,
  setTimeout(callback: () => void, seconds: number): ClockTimer {
    const id = setTimeout(callback, seconds * 1000);
    return {
      cancel: () => clearTimeout(id),
      unref: () => Deno.unrefTimer(id),
    };
  },
};
