/**
 * {@linkcode WriteFlowControl}: when a transport tells its protocol to pause
 * and resume writing. One home for the rule every transport follows
 * (asyncio keeps it in `_FlowControlMixin`).
 *
 * @module
 */

import {
  resolveWriteBufferLimits,
  type WriteBufferLimits,
} from "./transport.ts";

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
 * ```ts ignore
 * if (this.#flow.grew(this.#queued)) this.#protocol.pauseWriting?.();
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
