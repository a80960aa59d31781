/**
 * {@linkcode LineReceiver}: a protocol that receives lines (Twisted's
 * `LineReceiver`).
 *
 * @module
 */

import { ByteQueue, indexOfBytes } from "./_byte_queue.ts";
import { LINE_MAX_LENGTH } from "./_defaults.ts";
import type { Protocol } from "./protocol.ts";
import type { Transport } from "./transport.ts";

const encoder = new TextEncoder();

/**
 * A protocol that cuts its input into lines: subclass it and override
 * {@linkcode LineReceiver.lineReceived}. Lines split across reads and
 * several lines in one read both work; the delimiter is not part of the
 * line. A line longer than {@linkcode LineReceiver.maxLength} goes to
 * {@linkcode LineReceiver.lineLengthExceeded}, which closes the connection
 * unless overridden, so a peer cannot make it buffer without bound. Nor can
 * a peer that sends lines and never reads the answers: while the write
 * buffer is over its high-water mark, reading pauses (see
 * {@linkcode LineReceiver.pauseReadingWhileWritingPaused}).
 *
 * Each line is the protocol's to keep: a view of a received chunk when the
 * whole line arrived in it (no copy), a copy otherwise.
 *
 * @example A line echo for `nc` (lines end in `"\n"`)
 * ```ts
 * import { createServer, LineReceiver } from "@protocols/core";
 *
 * class LineEcho extends LineReceiver {
 *   override delimiter = "\n";
 *   override lineReceived(line: Uint8Array) {
 *     this.sendLine(line);
 *   }
 * }
 * await createServer(() => new LineEcho(), { port: 10000 });
 * ```
 */
export class LineReceiver implements Protocol {
  /**
   * What ends a line: a string (sent and matched as UTF-8) or bytes.
   * Default `"\r\n"`, as Twisted's and most text protocols' (SMTP, HTTP,
   * IRC); set `"\n"` for lines from `nc` or a Unix tool.
   */
  delimiter: Uint8Array | string = "\r\n";
  #delimiterText = "\r\n";
  #delimiterBytes = encoder.encode("\r\n");
  /** The longest line accepted, delimiter not counted (default 16,384). */
  maxLength: number = LINE_MAX_LENGTH;
  /** The connection's transport, from `connectionMade` on. */
  transport!: Transport;
  #buffer = new ByteQueue();
  #searched = 0; // bytes of #buffer already searched for a delimiter

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
   * {@linkcode LineReceiver.pauseReadingWhileWritingPaused}). Call it from an
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

  /** Cuts the input into lines. */
  dataReceived(data: Uint8Array): void {
    const delimiter = this.#delimiter();
    let start = 0;
    if (this.#buffer.length > 0) {
      // A line is already begun: join, then look past what was searched.
      this.#buffer.append(data);
      const at = this.#buffer.indexOf(delimiter, this.#searched);
      if (at < 0) {
        this.#searched = Math.max(
          0,
          this.#buffer.length - delimiter.length + 1,
        );
        if (this.#buffer.length >= this.maxLength + delimiter.length) {
          this.#exceeded(this.#buffer.take(this.#buffer.length));
        }
        return;
      }
      const line = this.#buffer.take(at);
      this.#buffer.skip(delimiter.length);
      this.#searched = 0;
      // What is left of this read starts after that line's delimiter.
      start = data.length - this.#buffer.length;
      this.#buffer.skip(this.#buffer.length);
      if (!this.#deliver(line)) return;
    }
    // Lines wholly inside this read are views of it: no copy.
    while (start < data.length) {
      const at = indexOfBytes(data, delimiter, start);
      if (at < 0) break;
      if (!this.#deliver(data.subarray(start, at))) return;
      start = at + delimiter.length;
    }
    if (start < data.length) {
      const rest = data.subarray(start);
      if (rest.length >= this.maxLength + delimiter.length) {
        this.#exceeded(rest);
        return;
      }
      this.#buffer.append(rest);
      this.#searched = Math.max(0, rest.length - delimiter.length + 1);
    }
  }

  /** The delimiter as bytes (a string one encoded once, on change). */
  #delimiter(): Uint8Array {
    const delimiter = this.delimiter;
    if (typeof delimiter !== "string") return delimiter;
    if (delimiter !== this.#delimiterText) {
      this.#delimiterText = delimiter;
      this.#delimiterBytes = encoder.encode(delimiter);
    }
    return this.#delimiterBytes;
  }

  /** Hands over one line; false once the protocol is done reading. */
  #deliver(line: Uint8Array): boolean {
    if (line.length > this.maxLength) {
      this.#exceeded(line);
      return false;
    }
    this.lineReceived(line);
    return !this.transport.isClosing();
  }

  #exceeded(line: Uint8Array): void {
    this.#buffer = new ByteQueue();
    this.#searched = 0;
    this.lineLengthExceeded(line);
  }

  /**
   * Called with each line, without its delimiter, in order. Override it.
   * Once the transport is closing, no further line is delivered.
   */
  lineReceived(_line: Uint8Array): void {}

  /**
   * Sends `line` (strings as UTF-8) followed by the delimiter, in one write:
   * a line received in one read is followed by its delimiter in the same
   * memory, so echoing it sends that memory as it is; other lines are
   * copied once with the delimiter.
   */
  sendLine(line: Uint8Array | string): void {
    const delimiter = this.#delimiter();
    if (typeof line === "string") line = encoder.encode(line);
    const end = line.byteOffset + line.length;
    if (end + delimiter.length <= line.buffer.byteLength) {
      const extended = new Uint8Array(
        line.buffer,
        line.byteOffset,
        line.length + delimiter.length,
      );
      let i = 0;
      while (
        i < delimiter.length && extended[line.length + i] === delimiter[i]
      ) {
        i++;
      }
      if (i === delimiter.length) {
        this.transport.write(extended);
        return;
      }
    }
    const joined = new Uint8Array(line.length + delimiter.length);
    joined.set(line);
    joined.set(delimiter, line.length);
    this.transport.write(joined);
  }

  /**
   * Called with a line (or what has arrived of it) longer than
   * {@linkcode LineReceiver.maxLength}; buffered input is dropped. By
   * default, closes the connection.
   */
  lineLengthExceeded(_line: Uint8Array): void {
    this.transport.close();
  }
}
