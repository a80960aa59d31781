/**
 * {@linkcode Throttle}: at most one log line a second for a warning that a
 * peer can trigger at will, with a count of those held back.
 *
 * @module
 */

/**
 * Lets one event through per interval and counts the rest; once the
 * interval ends, `summary` is called with how many were held back (if any).
 */
export class Throttle {
  #intervalMs: number;
  #summary: (suppressed: number) => void;
  #last = -Infinity;
  #suppressed = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  /**
   * @param summary reports how many events were held back in an interval.
   * @param intervalMs the interval (default one second).
   */
  constructor(summary: (suppressed: number) => void, intervalMs = 1000) {
    this.#summary = summary;
    this.#intervalMs = intervalMs;
  }

  /** Whether this event may be logged now; counts it otherwise. */
  attempt(): boolean {
    const now = performance.now();
    if (now - this.#last >= this.#intervalMs) {
      this.#last = now;
      return true;
    }
    this.#suppressed++;
    if (this.#timer === null) {
      const timer = setTimeout(
        this.#flush,
        Math.max(0, this.#last + this.#intervalMs - now),
      );
      // A pending summary never keeps the process alive.
      Deno.unrefTimer(timer);
      this.#timer = timer;
    }
    return false;
  }

  #flush = (): void => {
    this.#timer = null;
    const suppressed = this.#suppressed;
    if (suppressed === 0) return;
    this.#suppressed = 0;
    this.#last = performance.now();
    this.#summary(suppressed);
  };

  /** Reports what is held back now and stops the timer. */
  close(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#flush();
  }
}

/**
 * Log lines that peers can cause at will (warnings, failed handshakes),
 * logged through `log` at most once a second for each kind, then one line
 * with how many were held back.
 */
export class ThrottledWarnings {
  #throttles = new Map<string, Throttle>();
  #log: (message: string, properties: Record<string, unknown>) => void;

  /** Logs through `log` (a logger's `warning`). */
  constructor(
    log: (message: string, properties: Record<string, unknown>) => void,
  ) {
    this.#log = log;
  }

  /** Logs `message` unless a warning of this `kind` went out this second. */
  warn(kind: string, message: string, properties: Record<string, unknown>) {
    let throttle = this.#throttles.get(kind);
    if (!throttle) {
      throttle = new Throttle((count) =>
        this.#log(
          "{count} more line(s) like the last held back in the last second: {kind}",
          { count, kind },
        )
      );
      this.#throttles.set(kind, throttle);
    }
    if (throttle.attempt()) this.#log(message, properties);
  }

  /** Reports what each kind holds back now, and stops their timers. */
  close(): void {
    for (const throttle of this.#throttles.values()) throttle.close();
  }
}
