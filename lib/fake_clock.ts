/**
 * {@linkcode FakeClock}: time that moves only when a test says so
 * (Twisted's `task.Clock`).
 *
 * @module
 */

import type { Clock, ClockTimer } from "./clock.ts";

interface Pending {
  at: number;
  order: number;
  callback: () => void;
  cancelled: boolean;
}

/**
 * A {@linkcode Clock} for tests: `now()` starts at 0 and moves only with
 * {@linkcode FakeClock.advance}, which runs the timers that fall due, in
 * the order of their times (and of their setting, for equal times). Give it
 * as the `clock` option of `createServer`, `createConnection`,
 * `createReconnectingConnection`, `MemoryTransport.connect` or
 * `connectPair`, and idle timeouts, handshake timeouts, Happy Eyeballs and
 * retry delays happen when the test advances it, not in real time.
 *
 * @example An idle timeout without waiting for it
 * ```ts
 * import { FakeClock, MemoryTransport } from "@protocols/core/testing";
 *
 * const clock = new FakeClock();
 * const transport = MemoryTransport.connect({}, { clock });
 * transport.setIdleTimeout(30);
 * clock.advance(29);
 * console.log(transport.isClosing()); // false
 * clock.advance(2);
 * console.log(await transport.closed); // TimedOut: no traffic for 30 s
 * ```
 */
export class FakeClock implements Clock {
  #now = 0;
  #order = 0;
  #timers: Pending[] = [];

  /** Seconds advanced so far. */
  now(): number {
    return this.#now;
  }

  /**
   * Sets a timer that {@linkcode FakeClock.advance} runs once `seconds`
   * have passed on this clock.
   *
   * @throws {RangeError} when `seconds` is negative or not finite.
   */
  setTimeout(callback: () => void, seconds: number): ClockTimer {
    if (!(seconds >= 0 && isFinite(seconds))) {
      throw new RangeError(
        `a timer needs a number of seconds >= 0, got ${seconds}`,
      );
    }
    const timer: Pending = {
      at: this.#now + seconds,
      order: this.#order++,
      callback,
      cancelled: false,
    };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
        this.#timers = this.#timers.filter((t) => t !== timer);
      },
      unref: () => {},
    };
  }

  /** How many timers are set and have neither fired nor been cancelled. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Seconds from now until the next timer falls due, or `undefined` when
   * none is set: `clock.advance(clock.untilNext()!)` runs the next one.
   */
  untilNext(): number | undefined {
    if (this.#timers.length === 0) return undefined;
    return Math.max(0, Math.min(...this.#timers.map((t) => t.at)) - this.#now);
  }

  /**
   * Moves time forward by `seconds` and runs every timer that falls due on
   * the way, each with `now()` at its own time; a timer set by one of them
   * runs too if it falls due before the end. An exception from a timer's
   * callback is thrown once the others have run.
   *
   * @throws {RangeError} when `seconds` is negative or not finite.
   */
  advance(seconds: number): void {
    if (!(seconds >= 0 && isFinite(seconds))) {
      throw new RangeError(
        `advance() needs a number of seconds >= 0, got ${seconds}`,
      );
    }
    const end = this.#now + seconds;
    const errors: unknown[] = [];
    while (true) {
      let next: Pending | undefined;
      for (const timer of this.#timers) {
        if (
          timer.at <= end &&
          (next === undefined || timer.at < next.at ||
            (timer.at === next.at && timer.order < next.order))
        ) next = timer;
      }
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      try {
        next.callback();
      } catch (error) {
        errors.push(error);
      }
    }
    this.#now = end;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new AggregateError(errors, "timer callbacks threw");
    }
  }
}
