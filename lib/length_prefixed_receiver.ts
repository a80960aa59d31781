/**
 * {@linkcode LengthPrefixedReceiver}: a protocol that receives messages each
 * preceded by its length (Twisted's `Int8StringReceiver`,
 * `Int16StringReceiver` and `Int32StringReceiver`).
 *
 * @module
 */

import { ByteQueue } from "./_byte_queue.ts";
import { MESSAGE_MAX_LENGTH } from "./_defaults.ts";
import type { Protocol } from "./protocol.ts";
import type { Transport } from "./transport.ts";

const encoder = new TextEncoder();

/**
 * A protocol whose messages are each preceded by their length, big-endian,
 * in {@linkcode LengthPrefixedReceiver.prefixLength} bytes (1, 2 or 4):
 * subclass it and override {@linkcode LengthPrefixedReceiver.stringReceived}.
 * Messages split across reads and several in one read both work. A length
 * over {@linkcode LengthPrefixedReceiver.maxLength} goes to
 * {@linkcode LengthPrefixedReceiver.lengthLimitExceeded}, which closes the
 * connection unless overridden: nothing of such a message is buffered.
 * While the write buffer is over its high-water mark, reading pauses (see
 * {@linkcode LengthPrefixedReceiver.pauseReadingWhileWritingPaused}), so a
 * peer that never reads the answers cannot grow memory without bound.
 *
 * Each message is the protocol's to keep: a view of a received chunk when
 * the whole message arrived in it (no copy), a copy otherwise.
 *
 * @example A message echo with 2-byte lengths
 * ```ts
 * import { createServer, LengthPrefixedReceiver } from "@protocols/core";
 *
 * class MessageEcho extends LengthPrefixedReceiver {
 *   override prefixLength = 2 as const;
 *   override stringReceived(data: Uint8Array) {
 *     this.sendString(data);
 *   }
 * }
 * await createServer(() => new MessageEcho(), { port: 10000 });
 * ```
 */
export class LengthPrefixedReceiver implements Protocol {
  /** Bytes of each length prefix: 1, 2 or 4 (default 4). */
  prefixLength: 1 | 2 | 4 = 4;
  /** The longest message accepted (default 99,999, as Twisted's). */
  maxLength: number = MESSAGE_MAX_LENGTH;
  /** The connection's transport, from `connectionMade` on. */
  transport!: Transport;
  #buffer = new ByteQueue();

  /**
   * Whether reading pauses while the transport's write buffer is over its
   * high-water mark (default `true`): a peer that sends requests and never
   * reads the answers is then held back by TCP instead of growing this
   * process's memory. Set it to `false` in a protocol that does not answer
   * on its own connection, or that pauses reading itself.
   */
  pauseReadingWhileWritingPaused = true;
  #pausedReading = false; // paused by pauseWriting, resumed by resumeWriting

  /** Keeps the transport. Call it from an override. */
  connectionMade(transport: Transport): void {
    this.transport = transport;
  }

  /**
   * Pauses reading (see
   * {@linkcode LengthPrefixedReceiver.pauseReadingWhileWritingPaused}). Call it from an
   * override.
   */
  pauseWriting(): void {
    if (!this.pauseReadingWhileWritingPaused) return;
    this.#pausedReading = true;
    this.transport.pauseReading();
  }

  /** Resumes the reading that pauseWriting paused. Call it from an override. */
  resumeWriting(): void {
    if (!this.#pausedReading) return;
    this.#pausedReading = false;
    this.transport.resumeReading();
  }

  /** Reads a big-endian length of `prefixLength` bytes at `at`. */
  #length(bytes: Uint8Array, at: number): number {
    switch (this.prefixLength) {
      case 1:
        return bytes[at];
      case 2:
        return (bytes[at] << 8) | bytes[at + 1];
      default:
        return ((bytes[at] << 24) >>> 0) + (bytes[at + 1] << 16) +
          (bytes[at + 2] << 8) + bytes[at + 3];
    }
  }

  /** Cuts the input into messages. */
  dataReceived(data: Uint8Array): void {
    let bytes = data;
    let copied = false;
    if (this.#buffer.length > 0) {
      this.#buffer.append(data);
      bytes = this.#buffer.view();
      copied = true;
    }
    const prefix = this.prefixLength;
    let start = 0;
    while (bytes.length - start >= prefix) {
      const length = this.#length(bytes, start);
      if (length > this.maxLength) {
        this.#buffer = new ByteQueue();
        this.lengthLimitExceeded(length);
        return;
      }
      const end = start + prefix + length;
      if (end > bytes.length) break;
      const message = bytes.subarray(start + prefix, end);
      start = end;
      // A view of the buffer would change under the protocol: copy it.
      this.stringReceived(copied ? message.slice() : message);
      if (this.transport.isClosing()) return;
    }
    if (copied) {
      this.#buffer.skip(start);
    } else if (start < bytes.length) {
      this.#buffer.append(bytes.subarray(start));
    }
  }

  /**
   * Called with each message, without its prefix, in order. Override it.
   * Once the transport is closing, no further message is delivered.
   */
  stringReceived(_data: Uint8Array): void {}

  /**
   * Sends `data` (strings as UTF-8) preceded by its length.
   *
   * @throws {RangeError} when it is too long for the prefix.
   */
  sendString(data: Uint8Array | string): void {
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    const prefix = this.prefixLength;
    if (bytes.length >= 2 ** (8 * prefix)) {
      throw new RangeError(
        `a message of ${bytes.length} bytes does not fit a ${prefix}-byte length prefix`,
      );
    }
    const head = new Uint8Array(prefix);
    for (let i = 0, n = bytes.length; i < prefix; i++) {
      head[prefix - 1 - i] = n & 0xff;
      n = Math.floor(n / 256);
    }
    this.transport.writelines([head, bytes]);
  }

  /**
   * Called with the length a peer announced over
   * {@linkcode LengthPrefixedReceiver.maxLength}; buffered input is dropped.
   * By default, closes the connection.
   */
  lengthLimitExceeded(_length: number): void {
    this.transport.close();
  }
}
