/**
 * {@linkcode IdleSweeper}: closes connections that have had no traffic for
 * a while, with one timer for all of them and no work per read or write.
 *
 * @module
 */

interface Entry {
  seen: number;
  since: number;
}

/**
 * Watches connections' I/O counters with one timer. A connection whose
 * counter has not moved for `timeoutMs` is dropped from the watch and handed
 * to `onIdle` (which closes it). The timer only runs while something is
 * watched, and never keeps the process alive on its own.
 *
 * A connection is reported between `timeoutMs` and `timeoutMs` plus one
 * sweep interval (a quarter of the timeout, at most a second) after its last
 * completed read or write.
 *
 * @example
 * ```ts
 * import { IdleSweeper } from "./_idle_sweeper.ts";
 *
 * const connection = { io: 0, close() {} };
 * type Connection = typeof connection;
 * const sweeper = new IdleSweeper<Connection>(
 *   300_000,
 *   (c) => c.close(),
 *   (c) => c.io,
 * );
 * sweeper.add(connection);
 * connection.io++; // traffic: not idle
 * sweeper.delete(connection);
 * ```
 */
export class IdleSweeper<T> {
  readonly timeoutMs: number;
  #onIdle: (item: T) => void;
  #entries = new Map<T, Entry>();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Calls `onIdle` for items idle for `timeoutMs` milliseconds. */
  #count: (item: T) => number;

  /**
   * @param timeoutMs how long a connection may go without I/O.
   * @param onIdle called with each connection found idle.
   * @param count a connection's counter of completed reads and writes.
   */
  constructor(
    timeoutMs: number,
    onIdle: (item: T) => void,
    count: (item: T) => number,
  ) {
    this.#count = count;
    this.timeoutMs = timeoutMs;
    this.#onIdle = onIdle;
  }

  /** Starts watching `item`; its idle time starts now. */
  add(item: T): void {
    this.#entries.set(item, { seen: this.#count(item), since: Date.now() });
    if (this.#timer === undefined) {
      const interval = Math.min(1000, Math.max(10, this.timeoutMs / 4));
      this.#timer = setInterval(this.#sweep, interval);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Stops watching `item`. */
  delete(item: T): void {
    this.#entries.delete(item);
    if (this.#entries.size === 0) this.stop();
  }

  /** Stops the timer (watching resumes with the next `add`). */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep = (): void => {
    const now = Date.now();
    for (const [item, entry] of this.#entries) {
      const count = this.#count(item);
      if (count !== entry.seen) {
        entry.seen = count;
        entry.since = now;
      } else if (now - entry.since >= this.timeoutMs) {
        this.#entries.delete(item);
        this.#onIdle(item);
      }
    }
    if (this.#entries.size === 0) this.stop();
  };
}
