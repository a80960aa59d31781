/**
 * {@linkcode WriteFlowControl}: when a transport tells its protocol to pause
 * and resume writing. One home for the rule every transport follows
 * (asyncio keeps it in `_FlowControlMixin`).
 *
 * @module
 */

import type { WriteBufferLimits } from "./transport.ts";

import { HIGH_WATER } from "./_defaults.ts";

/**
 * Works out both water marks from what the caller gave, as asyncio does: a
 * missing low mark is a quarter of the high one, a missing high mark is four
 * times the low one (or {@linkcode HIGH_WATER}).
 *
 * @example
 * ```ts
 * import { resolveWriteBufferLimits } from "./_flow_control.ts";
 *
 * resolveWriteBufferLimits({ high: 1024 }); // { high: 1024, low: 256 }
 * ```
 *
 * @throws {RangeError} when a mark is negative or not an integer, or low > high.
 */
export function resolveWriteBufferLimits(
  limits: Partial<WriteBufferLimits> = {},
): WriteBufferLimits {
  let { high, low } = limits;
  if (high === undefined) {
    high = low === undefined ? HIGH_WATER : 4 * low;
  }
  if (low === undefined) low = Math.floor(high / 4);
  for (const [name, value] of [["high", high], ["low", low]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(
        `${name} water mark must be a whole number of bytes >= 0, got ${value}`,
      );
    }
  }
  if (low > high) {
    throw new RangeError(
      `low water mark (${low}) must not exceed high water mark (${high})`,
    );
  }
  return { high, low };
}

/** The limits of a transport given none: one object for them all. */
const DEFAULT_LIMITS: WriteBufferLimits = Object.freeze(
  resolveWriteBufferLimits(),
);

/**
 * Tracks a write buffer's water marks and whether the protocol was paused.
 * The transport reports the buffer's size after it grows or shrinks; a
 * `true` answer means the protocol's `pauseWriting` (or `resumeWriting`) is
 * due now. Pauses and resumes always come in pairs.
 *
 * @example
 * ```ts
 * import { WriteFlowControl } from "./_flow_control.ts";
 *
 * const flow = new WriteFlowControl({ high: 100 });
 * flow.grew(150); // true: call pauseWriting
 * flow.grew(200); // false: already paused
 * flow.shrank(25); // true: call resumeWriting
 * ```
 */
export class WriteFlowControl {
  #limits: WriteBufferLimits;
  #paused = false;

  /** Starts with `limits` (asyncio's defaults for missing marks). */
  constructor(limits?: Partial<WriteBufferLimits>) {
    this.#limits = limits ? resolveWriteBufferLimits(limits) : DEFAULT_LIMITS;
  }

  /** The water marks now in force. */
  get limits(): WriteBufferLimits {
    return this.#limits;
  }

  /** Whether the protocol is paused. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The buffer grew to `size`: true when `pauseWriting` is due. */
  grew(size: number): boolean {
    if (this.#paused || size <= this.#limits.high) return false;
    this.#paused = true;
    return true;
  }

  /** The buffer shrank to `size`: true when `resumeWriting` is due. */
  shrank(size: number): boolean {
    if (!this.#paused || size > this.#limits.low) return false;
    this.#paused = false;
    return true;
  }

  /**
   * New water marks, with the buffer at `size`: true when `pauseWriting` is
   * due at once (the buffer is already past the new high mark).
   *
   * @throws {RangeError} for marks that are not whole, or low > high.
   */
  setLimits(limits: Partial<WriteBufferLimits> | undefined, size: number) {
    this.#limits = resolveWriteBufferLimits(limits);
    return this.grew(size);
  }
}
