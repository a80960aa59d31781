/**
 * Test helpers: drive a protocol with no socket, as Twisted's
 * `StringTransport` does. {@linkcode MemoryTransport} records what the
 * protocol writes and lets a test feed it data, EOF and errors;
 * {@linkcode connectPair} joins two protocols back to back.
 *
 * @module
 */

import {
  type BufferedProtocol,
  isBufferedProtocol,
  type Protocol,
} from "./protocol.ts";
import { WriteFlowControl } from "./_flow_control.ts";
import {
  isEmptyWrite,
  ReadSlabs,
  writeQueued,
  writeSent,
} from "./_read_slabs.ts";
import type { ExtraInfo, Transport, WriteBufferLimits } from "./transport.ts";
import { idleTimedOut, IdleTimeout } from "./_idle_timeout.ts";
import { type Clock, systemClock } from "./clock.ts";

export { FakeClock } from "./fake_clock.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Options of {@linkcode MemoryTransport}. */
export interface MemoryTransportOptions {
  /** What `getExtraInfo` knows (default: a loopback `peername`/`sockname`). */
  extra?: Record<string, unknown>;
  /** Called with each chunk once it leaves the write buffer. */
  onWrite?: (data: Uint8Array) => void;
  /** Called once the protocol's half-close leaves the write buffer. */
  onWriteEof?: () => void;
  /** Initial write buffer limits, as for a socket transport. */
  writeBufferLimits?: Partial<WriteBufferLimits>;
  /**
   * Where the idle timeout's timer comes from (default
   * {@linkcode systemClock}); a `FakeClock` in tests.
   */
  clock?: Clock;
}

/**
 * An in-memory transport for one protocol. Writes are kept (see
 * {@linkcode MemoryTransport.written}); the test plays the peer with
 * {@linkcode MemoryTransport.receive}, {@linkcode MemoryTransport.receiveEof}
 * and {@linkcode MemoryTransport.loseConnection}. It keeps the same contract
 * as the socket transport: callback order, EOF closing, flow control,
 * `connectionLost` exactly once and after the current callback.
 *
 * @example Testing an echo protocol without a socket
 * ```ts
 * import { MemoryTransport } from "@protocols/core/testing";
 * import type { Protocol, Transport } from "@protocols/core";
 *
 * class Echo implements Protocol {
 *   #t!: Transport;
 *   connectionMade(t: Transport) { this.#t = t; }
 *   dataReceived(data: Uint8Array) { this.#t.write(data); }
 * }
 * const transport = MemoryTransport.connect(new Echo());
 * transport.receive("ping");
 * transport.writtenText(); // "ping"
 * transport.receiveEof();
 * await transport.closed; // the protocol returned nothing from eofReceived
 * ```
 */
export class MemoryTransport implements Transport {
  #protocol: Protocol | BufferedProtocol;
  #extra: Record<string, unknown>;
  #options: MemoryTransportOptions;
  #written: Uint8Array[] = [];
  #pending: Uint8Array[] = [];
  #pendingSize = 0;
  #blocked = false;
  #flow: WriteFlowControl;
  // Each chunk in memory of its own: a released one is taken back
  // (detached) as soon as its writes are sent, so misuse shows at once.
  #slabs = new ReadSlabs({ slabPerRead: true });
  #reading = true;
  #held: (Uint8Array | null)[] = [];
  #eofRequested = false;
  #eofWritten = false;
  #eofReceived = false;
  #closeRequested = false;
  #endedBy: "close()" | "abort()" | null = null;
  #lost = false;
  #closed = Promise.withResolvers<Error | null>();
  #ioCount = 0; // data delivered and written, for the idle timeout
  #idle: IdleTimeout;

  private constructor(
    protocol: Protocol | BufferedProtocol,
    options: MemoryTransportOptions = {},
  ) {
    this.#protocol = protocol;
    this.#options = options;
    this.#flow = new WriteFlowControl(options.writeBufferLimits);
    this.#idle = new IdleTimeout(
      options.clock ?? systemClock,
      () => this.#ioCount,
      (seconds) => this.#timedOut(seconds),
    );
    this.#extra = options.extra ?? {
      peername: { transport: "tcp", hostname: "127.0.0.1", port: 54321 },
      sockname: { transport: "tcp", hostname: "127.0.0.1", port: 10000 },
    };
  }

  /**
   * Makes a transport for `protocol` and calls its `connectionMade`.
   *
   * @example
   * ```ts
   * import { MemoryTransport } from "@protocols/core/testing";
   *
   * const transport = MemoryTransport.connect({});
   * ```
   */
  static connect(
    protocol: Protocol | BufferedProtocol,
    options?: MemoryTransportOptions,
  ): MemoryTransport {
    const transport = new MemoryTransport(protocol, options);
    transport.#call(() => protocol.connectionMade?.(transport));
    return transport;
  }

  /** Resolves to `connectionLost`'s argument once it has been called. */
  get closed(): Promise<Error | null> {
    return this.#closed.promise;
  }

  /** Runs a protocol callback; an exception aborts, as on a socket. */
  #call(callback: () => unknown): unknown {
    try {
      return callback();
    } catch (error) {
      this.#finish(error instanceof Error ? error : new Error(String(error)));
      return undefined;
    }
  }

  // --- The peer's side: what a test does. ---

  /**
   * Delivers bytes from the peer, as `dataReceived` (or `getBuffer` and
   * `bufferUpdated`). Held while reading is paused.
   *
   * @throws {Error} after EOF or once the connection is closing.
   */
  receive(data: Uint8Array | string): void {
    if (this.#eofReceived || this.#lost) {
      throw new Error("receive() after EOF or close");
    }
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (bytes.byteLength === 0) return;
    if (!this.#reading || this.#held.length > 0) {
      this.#held.push(bytes.slice());
      return;
    }
    this.#deliver(bytes);
  }

  #deliver(bytes: Uint8Array): void {
    if (this.#closeRequested || this.#lost) return;
    this.#ioCount++;
    const protocol = this.#protocol;
    if (!isBufferedProtocol(protocol)) {
      const slabs = this.#slabs;
      const target = slabs.target(bytes.byteLength);
      target.set(bytes);
      const chunk = slabs.take(target, bytes.byteLength);
      this.#call(() => protocol.dataReceived?.(chunk));
      slabs.delivered();
      return;
    }
    let offset = 0;
    while (offset < bytes.byteLength && !this.#lost) {
      const buffer = this.#call(() =>
        protocol.getBuffer(bytes.byteLength - offset)
      ) as Uint8Array | undefined;
      if (!buffer) return;
      const n = Math.min(buffer.byteLength, bytes.byteLength - offset);
      buffer.set(bytes.subarray(offset, offset + n));
      offset += n;
      this.#call(() => protocol.bufferUpdated(n));
    }
  }

  /** Delivers the peer's EOF (held while reading is paused). */
  receiveEof(): void {
    if (this.#eofReceived || this.#lost) return;
    this.#eofReceived = true;
    if (!this.#reading || this.#held.length > 0) {
      this.#held.push(null);
      return;
    }
    this.#deliverEof();
  }

  #deliverEof(): void {
    if (this.#closeRequested || this.#lost) return;
    const keepOpen = this.#call(() => this.#protocol.eofReceived?.());
    if (!keepOpen && !this.#lost) this.close();
  }

  /** Ends the connection from the peer's side, as a reset would. */
  loseConnection(error: Error | null = new Error("Connection reset by peer")) {
    this.#finish(error);
  }

  /**
   * Makes the peer stop reading: writes stay in the buffer, and the
   * protocol is paused once it passes the high-water mark.
   */
  blockWrites(): void {
    this.#blocked = true;
  }

  /** Lets the peer read again: the whole write buffer is sent. */
  unblockWrites(): void {
    this.#blocked = false;
    this.#drain();
  }

  /** Every byte the protocol has sent so far, joined. */
  written(): Uint8Array {
    const size = this.#written.reduce((sum, part) => sum + part.byteLength, 0);
    const out = new Uint8Array(size);
    let offset = 0;
    for (const part of this.#written) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }

  /** {@linkcode MemoryTransport.written} as UTF-8 text. */
  writtenText(): string {
    return decoder.decode(this.written());
  }

  /** Whether the protocol's half-close has been sent. */
  get eofWritten(): boolean {
    return this.#eofWritten;
  }

  /** Whether the connection ended by `abort()`. */
  get aborted(): boolean {
    return this.#endedBy === "abort()";
  }

  // --- The protocol's side: the Transport interface. ---

  write(data: Uint8Array | string): void {
    if (this.#endedBy) throw new Error(`write() after ${this.#endedBy}`);
    if (this.#eofRequested) throw new Error("write() after writeEof()");
    if (this.#lost) return;
    const bytes = typeof data === "string" ? encoder.encode(data) : data;
    if (isEmptyWrite(bytes)) return;
    writeQueued(bytes);
    this.#pending.push(bytes);
    this.#pendingSize += bytes.byteLength;
    if (this.#blocked) {
      if (this.#flow.grew(this.#pendingSize)) {
        this.#call(() => this.#protocol.pauseWriting?.());
      }
    } else {
      this.#drain();
    }
  }

  /** Sends the write buffer to the peer, then any half-close or close. */
  #drain(): void {
    while (this.#pending.length > 0 && !this.#lost) {
      // Copied, as a socket copies into the kernel: the protocol may reuse
      // the array once it has been sent.
      const original = this.#pending.shift()!;
      const chunk = original.slice();
      writeSent(original);
      this.#pendingSize -= chunk.byteLength;
      this.#ioCount++;
      this.#written.push(chunk);
      this.#options.onWrite?.(chunk);
    }
    if (this.#flow.shrank(this.#pendingSize)) {
      this.#call(() => this.#protocol.resumeWriting?.());
    }
    if (this.#pending.length > 0 || this.#lost) return;
    if (this.#eofRequested && !this.#eofWritten) {
      this.#eofWritten = true;
      this.#options.onWriteEof?.();
    }
    if (this.#closeRequested) this.#finish(null);
  }

  writelines(chunks: Iterable<Uint8Array | string>): void {
    for (const chunk of chunks) this.write(chunk);
  }

  release(data: Uint8Array): void {
    this.#slabs.release(data);
  }

  writeEof(): void {
    if (this.#endedBy) throw new Error(`writeEof() after ${this.#endedBy}`);
    if (this.#eofRequested || this.#lost) return;
    this.#eofRequested = true;
    if (!this.#blocked) this.#drain();
  }

  canWriteEof(): boolean {
    return true;
  }

  close(): void {
    if (this.#endedBy || this.#lost) return;
    this.#endedBy = "close()";
    this.#closeRequested = true;
    if (!this.#blocked) this.#drain();
  }

  abort(): void {
    if (this.#lost) return;
    this.#endedBy ??= "abort()";
    this.#finish(null);
  }

  #finish(error: Error | null): void {
    if (this.#lost) return;
    this.#lost = true;
    this.#idle.end();
    for (const dropped of this.#pending) writeSent(dropped);
    this.#pending = [];
    this.#pendingSize = 0;
    this.#held = [];
    queueMicrotask(() => {
      try {
        this.#protocol.connectionLost?.(error);
      } finally {
        this.#closed.resolve(error);
      }
    });
  }

  isClosing(): boolean {
    return this.#endedBy !== null || this.#lost;
  }

  getExtraInfo<K extends keyof ExtraInfo>(
    name: K,
    fallback?: ExtraInfo[K],
  ): ExtraInfo[K] | undefined;
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined;
  getExtraInfo(name: string, fallback?: unknown): unknown {
    return name in this.#extra ? this.#extra[name] : fallback;
  }

  pauseReading(): void {
    this.#reading = false;
  }

  resumeReading(): void {
    if (this.#reading) return;
    this.#reading = true;
    while (this.#reading && this.#held.length > 0 && !this.#lost) {
      const next = this.#held.shift()!;
      if (next === null) this.#deliverEof();
      else this.#deliver(next);
    }
  }

  isReading(): boolean {
    return this.#reading && !this.isClosing();
  }

  setWriteBufferLimits(limits?: Partial<WriteBufferLimits>): void {
    if (this.#flow.setLimits(limits, this.#pendingSize)) {
      this.#call(() => this.#protocol.pauseWriting?.());
    }
  }

  getWriteBufferLimits(): WriteBufferLimits {
    return { ...this.#flow.limits };
  }

  getWriteBufferSize(): number {
    return this.#pendingSize;
  }

  setIdleTimeout(seconds: number | null): void {
    this.#idle.set(seconds);
  }

  getIdleTimeout(): number | null {
    return this.#idle.seconds;
  }

  /** The idle timeout expired: the protocol's say, or an abort. */
  #timedOut(seconds: number): void {
    const protocol = this.#protocol;
    if (protocol.timeoutConnection) {
      this.#call(() => protocol.timeoutConnection!());
      return;
    }
    this.#finish(idleTimedOut(seconds));
  }
}

/** Options of {@linkcode connectPair}. */
export interface ConnectPairOptions {
  /** Both transports' clock (default {@linkcode systemClock}). */
  clock?: Clock;
}

/**
 * Joins two protocols back to back in memory: what one writes, the other
 * receives, and a half-close reaches the other as EOF. Delivery happens in
 * microtasks, so neither protocol is re-entered from its own callback.
 *
 * @example A client and a server protocol talking without a socket
 * ```ts
 * import { connectPair } from "@protocols/core/testing";
 * import type { Protocol, Transport } from "@protocols/core";
 *
 * class Echo implements Protocol {
 *   #t!: Transport;
 *   connectionMade(t: Transport) { this.#t = t; }
 *   dataReceived(data: Uint8Array) { this.#t.write(data); }
 * }
 * class Ping implements Protocol {
 *   answer = "";
 *   connectionMade(t: Transport) { t.write("ping"); t.writeEof(); }
 *   dataReceived(data: Uint8Array) { this.answer += new TextDecoder().decode(data); }
 * }
 * const ping = new Ping();
 * const [transport] = connectPair(ping, new Echo());
 * await transport.closed;
 * ping.answer; // "ping"
 * ```
 */
export function connectPair(
  a: Protocol | BufferedProtocol,
  b: Protocol | BufferedProtocol,
  options: ConnectPairOptions = {},
): [MemoryTransport, MemoryTransport] {
  const transports: MemoryTransport[] = [];
  const other = (index: number) => transports[1 - index];
  const forward = (index: number): MemoryTransportOptions => ({
    onWrite: (data) =>
      queueMicrotask(() => {
        if (!other(index).isClosing()) other(index).receive(data);
      }),
    onWriteEof: () => queueMicrotask(() => other(index).receiveEof()),
    clock: options.clock,
  });
  transports.push(
    MemoryTransport.connect(a, forward(0)),
    MemoryTransport.connect(b, forward(1)),
  );
  transports.forEach((transport, index) =>
    transport.closed.then(() => {
      const peer = other(index);
      if (transport.aborted) peer.loseConnection();
      else peer.receiveEof();
    })
  );
  return [transports[0], transports[1]];
}

/**
 * A protocol that records what happens to it (Twisted's
 * `AccumulatingProtocol`, with every callback): each call as a short event
 * name, in order, the chunks it received, and promises for the moments a
 * test waits on. `onMade` and `onData` let a test act from inside the
 * callbacks (write, pause, close).
 *
 * @example Recording an exchange over the memory transport
 * ```ts
 * import { MemoryTransport, RecordingProtocol } from "@protocols/core/testing";
 *
 * const protocol = new RecordingProtocol();
 * protocol.onData = (data, self) => self.transport.write(data);
 * const transport = MemoryTransport.connect(protocol);
 * transport.receive("ping");
 * transport.receiveEof();
 * await protocol.lost.promise;
 * protocol.events; // ["made", "data", "eof", "lost"]
 * protocol.text(); // "ping"
 * ```
 */
export class RecordingProtocol implements Protocol {
  /** Each callback, in order: made, data, eof, pause, resume, lost. */
  events: string[] = [];
  /** Every chunk received, as given (not copied). */
  chunks: Uint8Array[] = [];
  /** The transport, from `connectionMade` on. */
  transport!: Transport;
  /** `connectionLost`'s argument, once it has been called. */
  lostError: Error | null | undefined = undefined;
  /** Resolves with `connectionLost`'s argument. */
  readonly lost: PromiseWithResolvers<Error | null> = Promise.withResolvers();
  /** Resolves at `connectionMade`. */
  readonly made: PromiseWithResolvers<void> = Promise.withResolvers();
  /** Resolves at `eofReceived`. */
  readonly eof: PromiseWithResolvers<void> = Promise.withResolvers();
  /** What `eofReceived` returns: `true` keeps the connection open. */
  keepOpenOnEof = false;
  /** Called from `dataReceived`, after the chunk is recorded. */
  onData?: (data: Uint8Array, self: RecordingProtocol) => void;
  /** Called from `connectionMade`, after the transport is kept. */
  onMade?: (self: RecordingProtocol) => void;

  /** Keeps the transport; records "made". */
  connectionMade(transport: Transport): void {
    this.transport = transport;
    this.events.push("made");
    this.onMade?.(this);
    this.made.resolve();
  }

  /** Records the chunk ("data"). */
  dataReceived(data: Uint8Array): void {
    this.events.push("data");
    this.chunks.push(data);
    this.onData?.(data, this);
  }

  /** Records "eof"; returns {@linkcode RecordingProtocol.keepOpenOnEof}. */
  eofReceived(): boolean {
    this.events.push("eof");
    this.eof.resolve();
    return this.keepOpenOnEof;
  }

  /** Records "lost" and the error. */
  connectionLost(error: Error | null): void {
    this.events.push("lost");
    this.lostError = error;
    this.lost.resolve(error);
  }

  /** Records "pause". */
  pauseWriting(): void {
    this.events.push("pause");
  }

  /** Records "resume". */
  resumeWriting(): void {
    this.events.push("resume");
  }

  /** The received bytes as UTF-8 text. */
  text(): string {
    const size = this.chunks.reduce((sum, part) => sum + part.byteLength, 0);
    const out = new Uint8Array(size);
    let offset = 0;
    for (const part of this.chunks) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return decoder.decode(out);
  }

  /** The events with each run of "data" folded into one. */
  folded(): string[] {
    return this.events.filter((event, i, all) =>
      !(event === "data" && all[i - 1] === "data")
    );
  }
}
