/**
 * {@linkcode EchoCheck}: compares an echo with what was sent, as it comes.
 *
 * @module
 */

import { Buffer } from "node:buffer";

/** The most bytes kept while they wait to come back (64 MiB). */
const DEFAULT_LIMIT = 64 * 1024 * 1024;

/**
 * Compares the bytes that come back with the bytes sent, chunk by chunk as
 * they arrive, keeping only what was sent and has not come back yet. Once
 * more than `limit` bytes wait at once (a peer that swallows what it is
 * sent), it stops comparing and lets them go: {@linkcode EchoCheck.gaveUp}.
 *
 * It keeps the chunks given to {@linkcode EchoCheck.sent} (not copies) until
 * they come back: do not change them meanwhile.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EchoCheck } from "./echo_check.ts";
 *
 * const check = new EchoCheck();
 * check.sent(new TextEncoder().encode("hello"));
 * check.received(new TextEncoder().encode("help"));
 * assert.equal(check.firstDifference, 3);
 * ```
 */
export class EchoCheck {
  /**
   * Where the first byte that came back differs from the byte sent there
   * (counting from 0), or where bytes came back past the end of what was
   * sent; `null` while every byte back matched.
   */
  firstDifference: number | null = null;
  /** Whether comparing stopped because more than the limit waited at once. */
  gaveUp = false;

  #waiting: Uint8Array[] = [];
  #waitingBytes = 0;
  #matched = 0;
  #limit: number;

  /** Makes a check that keeps at most `limit` bytes waiting (64 MiB). */
  constructor(limit: number = DEFAULT_LIMIT) {
    this.#limit = limit;
  }

  /** Notes `bytes` as sent: they are expected back after those before. */
  sent(bytes: Uint8Array): void {
    if (this.#done() || bytes.byteLength === 0) return;
    if (this.#waitingBytes + bytes.byteLength > this.#limit) {
      this.gaveUp = true;
      this.#forget();
      return;
    }
    this.#waiting.push(bytes);
    this.#waitingBytes += bytes.byteLength;
  }

  /** Compares `bytes`, the next that came back, with what was sent. */
  received(bytes: Uint8Array): void {
    let offset = 0;
    while (!this.#done() && offset < bytes.byteLength) {
      const head = this.#waiting[0];
      if (head === undefined) { // more came back than was sent
        this.#differsAt(this.#matched);
        return;
      }
      const n = Math.min(head.byteLength, bytes.byteLength - offset);
      const expected = head.subarray(0, n);
      const got = bytes.subarray(offset, offset + n);
      if (!bufferOf(expected).equals(got)) {
        let i = 0;
        while (expected[i] === got[i]) i++;
        this.#differsAt(this.#matched + i);
        return;
      }
      this.#matched += n;
      offset += n;
      this.#waitingBytes -= n;
      if (n === head.byteLength) this.#waiting.shift();
      else this.#waiting[0] = head.subarray(n);
    }
  }

  #done(): boolean {
    return this.firstDifference !== null || this.gaveUp;
  }

  #differsAt(offset: number): void {
    this.firstDifference = offset;
    this.#forget();
  }

  #forget(): void {
    this.#waiting = [];
    this.#waitingBytes = 0;
  }
}

function bufferOf(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
