/**
 * {@linkcode IdleSweeper}: finds connections that have had no traffic for
 * a while, with one timer for all of them and no work per read or write.
 *
 * @module
 */

import type { Clock, ClockTimer } from "./clock.ts";

interface Entry {
  seen: number;
  since: number;
}

/**
 * Watches items' I/O counters with one timer on `clock`. An item whose
 * counter has not moved for `seconds` is dropped from the watch and handed
 * to `onIdle`. The timer only runs while something is watched, and never
 * keeps the process alive on its own.
 *
 * An item is reported between `seconds` and `seconds` plus one sweep
 * interval (a quarter of the timeout, at most a second) after its counter
 * last moved.
 *
 * @example
 * ```ts
 * import { IdleSweeper } from "./_idle_sweeper.ts";
 * import { systemClock } from "./clock.ts";
 *
 * const connection = { io: 0, close() {} };
 * type Connection = typeof connection;
 * const sweeper = new IdleSweeper<Connection>(
 *   systemClock,
 *   300,
 *   (c) => c.close(),
 *   (c) => c.io,
 * );
 * sweeper.add(connection);
 * connection.io++; // traffic: not idle
 * sweeper.delete(connection);
 * ```
 */
export class IdleSweeper<T> {
  /** How long an item may go without I/O, in seconds. */
  readonly seconds: number;
  #clock: Clock;
  #onIdle: (item: T) => void;
  #count: (item: T) => number;
  #interval: number;
  #entries = new Map<T, Entry>();
  #timer: ClockTimer | undefined;

  /**
   * @param clock where the time and the timer come from.
   * @param seconds how long an item may go without I/O.
   * @param onIdle called with each item found idle.
   * @param count an item's counter of completed reads and writes.
   */
  constructor(
    clock: Clock,
    seconds: number,
    onIdle: (item: T) => void,
    count: (item: T) => number,
  ) {
    this.#clock = clock;
    this.seconds = seconds;
    this.#onIdle = onIdle;
    this.#count = count;
    this.#interval = Math.min(1, Math.max(0.01, seconds / 4));
  }

  /** How many items are watched. */
  get size(): number {
    return this.#entries.size;
  }

  /** Starts watching `item`; its idle time starts now. */
  add(item: T): void {
    this.#entries.set(item, {
      seen: this.#count(item),
      since: this.#clock.now(),
    });
    if (this.#timer === undefined) this.#arm();
  }

  /** Stops watching `item`. */
  delete(item: T): void {
    this.#entries.delete(item);
    if (this.#entries.size === 0) this.stop();
  }

  /** Stops the timer (watching resumes with the next `add`). */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  #arm(): void {
    this.#timer = this.#clock.setTimeout(this.#sweep, this.#interval);
    this.#timer.unref();
  }

  #sweep = (): void => {
    this.#timer = undefined;
    const now = this.#clock.now();
    for (const [item, entry] of this.#entries) {
      const count = this.#count(item);
      if (count !== entry.seen) {
        entry.seen = count;
        entry.since = now;
      } else if (now - entry.since >= this.seconds) {
        this.#entries.delete(item);
        this.#onIdle(item);
      }
    }
    if (this.#entries.size > 0 && this.#timer === undefined) this.#arm();
  };
}
