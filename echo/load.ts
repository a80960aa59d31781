/**
 * The echo client's load mode: N connections ping-ponging messages of a
 * given size, every echo checked byte for byte, with live progress and a
 * summary (round trips/s, MB/s, latency percentiles, errors).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  type BufferedProtocol,
  type ConnectionOptions,
  createConnection,
  type Transport,
} from "@protocols/core";
import { LatencyHistogram } from "./latency_histogram.ts";

/** The most bytes one read of an echo takes. */
const INBOX_SIZE = 256 * 1024;

/** How long after `duration` echoes still in flight are waited for. */
const GRACE_MS = 1000;

/**
 * What a load run does: where to connect (as for `createConnection`: host
 * and port, a Unix socket path, TLS) and how hard to push.
 */
export interface LoadOptions extends ConnectionOptions {
  /** Connections ping-ponging at once. */
  connections: number;
  /** Bytes per message. */
  size: number;
  /** Stop after this many seconds (0: no time limit). */
  duration: number;
  /** Stop after this many round trips in all (0: no count limit). */
  requests: number;
  /** Called about once a second with the progress so far. */
  onProgress?: (progress: LoadProgress) => void;
  /**
   * Ends the run when it aborts, as the end of `duration` does: echoes
   * still awaited count as unanswered. (Without it, a run with no
   * `duration` against a server that never answers would not end.)
   */
  signal?: AbortSignal;
}

/** Progress of a load run. */
export interface LoadProgress {
  /** Round trips completed. */
  roundTrips: number;
  /** Seconds since the start. */
  elapsed: number;
  /** Round trips per second over the last interval. */
  currentRate: number;
  /** The 99th percentile of the round trips so far, in microseconds. */
  p99Us: number;
}

/** The outcome of a load run. */
export interface LoadSummary {
  /** Connections used. */
  connections: number;
  /** Bytes per message. */
  size: number;
  /** How long the run took. */
  seconds: number;
  /** Round trips completed, every one checked byte for byte. */
  roundTrips: number;
  /** Round trips per second. */
  roundTripsPerSecond: number;
  /** Megabytes per second, both directions counted. */
  megabytesPerSecond: number;
  /**
   * Round-trip latency percentiles, in microseconds (exact below 1,024 µs,
   * within 0.2% above).
   */
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  /** Connections that failed (refused, reset, closed mid-echo). */
  errors: number;
  /**
   * Connections still connecting or waiting for an echo when the run ended
   * (`duration` plus a second's grace, or the signal): a server that
   * accepts but does not answer.
   */
  unanswered: number;
  /** Echoes that differed from what was sent. */
  mismatches: number;
  /** Whether every byte that came back was the byte sent. */
  byteExact: boolean;
  /** The first error seen, if any. */
  firstError?: string;
}

/** Shared state of a run: counters and the stop condition. */
class Run {
  roundTrips = 0;
  started = 0;
  errors = 0;
  unanswered = 0;
  mismatches = 0;
  firstError?: string;
  readonly latencies = new LatencyHistogram();
  #deadline: number;
  #limit: number;
  #inFlight = 0;

  constructor(options: LoadOptions) {
    this.#deadline = options.duration > 0
      ? performance.now() + options.duration * 1000
      : Infinity;
    this.#limit = options.requests > 0 ? options.requests : Infinity;
  }

  /** Whether another round trip may start (and claims it). */
  next(): boolean {
    return this.roundTrips + this.#inFlight < this.#limit &&
      performance.now() < this.#deadline && (++this.#inFlight, true);
  }

  done(latencyMs: number): void {
    this.#inFlight--;
    this.roundTrips++;
    this.latencies.record(latencyMs * 1000);
  }

  failed(error: Error): void {
    this.errors++;
    this.firstError ??= error.message;
  }
}

/**
 * One ping-pong connection: send, check the echo, repeat. The echo is read
 * into one buffer of its own and compared with what was sent by a native
 * compare: no memory per read, and checking costs little next to the I/O.
 */
class PingPong implements BufferedProtocol {
  readonly lost = Promise.withResolvers<void>();
  #run: Run;
  #message: Buffer;
  #inbox: Buffer;
  #transport!: Transport;
  #received = 0;
  #round = 0;
  #sentAt = 0;
  #clean = true;
  #waiting = false; // an echo is awaited

  constructor(run: Run, size: number, id: number) {
    this.#run = run;
    this.#message = Buffer.alloc(size);
    crypto.getRandomValues(this.#message.subarray(0, Math.min(size, 65536)));
    for (let i = 65536; i < size; i++) {
      this.#message[i] = this.#message[i % 65536];
    }
    this.#message[0] = id & 0xff;
    this.#inbox = Buffer.alloc(Math.min(size, INBOX_SIZE));
  }

  connectionMade(transport: Transport): void {
    this.#transport = transport;
    this.#sendNext();
  }

  #sendNext(): void {
    if (!this.#run.next()) {
      this.#transport.close();
      return;
    }
    // Stamp the round at the end, so a stale echo fails the check.
    const m = this.#message;
    const round = ++this.#round;
    if (m.length >= 4) {
      m[m.length - 1] = round;
      m[m.length - 2] = round >> 8;
      m[m.length - 3] = round >> 16;
      m[m.length - 4] = round >> 24;
    }
    this.#received = 0;
    this.#sentAt = performance.now();
    this.#waiting = true;
    this.#transport.write(m);
  }

  /** Ends the connection at the end of the run; counts an awaited echo. */
  stop(): void {
    if (!this.#waiting || this.#transport.isClosing()) return;
    this.#waiting = false;
    this.#clean = false;
    this.#run.unanswered++;
    this.#transport.abort();
  }

  getBuffer(): Uint8Array {
    return this.#inbox;
  }

  bufferUpdated(nbytes: number): void {
    const m = this.#message;
    const start = this.#received;
    const end = start + nbytes;
    if (end > m.byteLength) {
      this.#mismatch("more bytes came back than were sent");
      return;
    }
    if (this.#inbox.compare(m, start, end, 0, nbytes) !== 0) {
      let at = 0;
      while (this.#inbox[at] === m[start + at]) at++;
      this.#mismatch(`byte ${start + at} of a message differs`);
      return;
    }
    this.#received = end;
    if (end === m.byteLength) {
      this.#waiting = false;
      this.#run.done(performance.now() - this.#sentAt);
      this.#sendNext();
    }
  }

  #mismatch(why: string): void {
    this.#run.mismatches++;
    this.#run.firstError ??= `echo not byte-exact: ${why}`;
    this.#clean = false;
    this.#transport.abort();
  }

  eofReceived(): void {
    if (this.#waiting) {
      this.#waiting = false;
      this.#run.failed(
        new Error(
          this.#received === 0
            ? "the server closed the connection without echoing"
            : "the server closed in the middle of an echo",
        ),
      );
    }
  }

  connectionLost(error: Error | null): void {
    if (error && this.#clean) this.#run.failed(error);
    this.lost.resolve();
  }
}

/**
 * Runs a load test against an echo server and resolves to its summary.
 * Connection failures count as errors; if no connection can be made at all,
 * the first connection error is thrown.
 *
 * @example
 * ```ts ignore
 * import { runLoad } from "./load.ts";
 *
 * const summary = await runLoad({
 *   hostname: "localhost", port: 10000,
 *   connections: 10, size: 1024, duration: 5, requests: 0,
 * });
 * console.log(summary.roundTripsPerSecond, summary.byteExact);
 * ```
 */
export async function runLoad(options: LoadOptions): Promise<LoadSummary> {
  const {
    connections: _connections,
    size: _size,
    duration: _duration,
    requests: _requests,
    onProgress: _onProgress,
    signal,
    ...connection
  } = options;
  const run = new Run(options);
  // The end of the run: connections still connecting are given up and
  // those waiting for an echo aborted.
  const protocols: PingPong[] = [];
  const connecting = new AbortController();
  let stopped = false;
  const stop = () => {
    stopped = true;
    connecting.abort();
    for (const protocol of protocols) protocol.stop();
  };
  const deadline = options.duration > 0
    ? setTimeout(stop, options.duration * 1000 + GRACE_MS)
    : undefined;
  signal?.addEventListener("abort", stop, { once: true });
  if (signal?.aborted) stop();
  run.started = performance.now();
  let last = { at: run.started, roundTrips: 0 };
  const ticker = options.onProgress
    ? setInterval(() => {
      const now = performance.now();
      options.onProgress!({
        roundTrips: run.roundTrips,
        elapsed: (now - run.started) / 1000,
        currentRate: (run.roundTrips - last.roundTrips) /
          ((now - last.at) / 1000),
        p99Us: run.latencies.percentile(0.99),
      });
      last = { at: now, roundTrips: run.roundTrips };
    }, 1000)
    : undefined;
  try {
    const connections = await Promise.allSettled(
      Array.from(
        { length: options.connections },
        (_, id) =>
          createConnection(
            () => {
              const protocol = new PingPong(run, options.size, id);
              protocols.push(protocol);
              if (stopped) queueMicrotask(() => protocol.stop());
              return protocol;
            },
            { ...connection, signal: connecting.signal },
          ),
      ),
    );
    const made = connections.filter((c) => c.status === "fulfilled");
    if (made.length === 0 && !stopped) {
      throw (connections[0] as PromiseRejectedResult).reason;
    }
    for (const c of connections) {
      if (c.status !== "rejected") continue;
      if (stopped) run.unanswered++;
      else run.failed(c.reason);
    }
    await Promise.all(made.map((c) => c.value.protocol.lost.promise));
  } finally {
    clearInterval(ticker);
    clearTimeout(deadline);
    signal?.removeEventListener("abort", stop);
  }
  const seconds = (performance.now() - run.started) / 1000;
  const latencies = run.latencies;
  return {
    connections: options.connections,
    size: options.size,
    seconds,
    roundTrips: run.roundTrips,
    roundTripsPerSecond: run.roundTrips / seconds,
    megabytesPerSecond: (2 * run.roundTrips * options.size) / seconds / 1e6,
    latencyUs: {
      p50: latencies.percentile(0.5),
      p90: latencies.percentile(0.9),
      p99: latencies.percentile(0.99),
      max: latencies.max,
    },
    errors: run.errors,
    unanswered: run.unanswered,
    mismatches: run.mismatches,
    byteExact: run.mismatches === 0,
    ...(run.firstError ? { firstError: run.firstError } : {}),
  };
}

const num = (n: number, digits = 0) =>
  n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });

/**
 * The summary as a few lines of text.
 *
 * @example
 * ```ts ignore
 * console.log(formatSummary(summary));
 * ```
 */
export function formatSummary(s: LoadSummary): string {
  return [
    `connections: ${s.connections}  message: ${num(s.size)} bytes  time: ${
      s.seconds.toFixed(2)
    } s`,
    `round trips: ${num(s.roundTrips)}  (${num(s.roundTripsPerSecond)}/s)  ` +
    `throughput: ${num(s.megabytesPerSecond, 1)} MB/s (both ways)`,
    `latency µs: p50 ${num(s.latencyUs.p50)}  p90 ${
      num(s.latencyUs.p90)
    }  p99 ${num(s.latencyUs.p99)}  max ${num(s.latencyUs.max)}`,
    `errors: ${s.errors}  unanswered: ${s.unanswered}  byte-exact: ${
      s.byteExact ? "yes" : "NO"
    }${s.firstError ? `  (first: ${s.firstError})` : ""}`,
  ].join("\n");
}

/**
 * One line of live progress, for a terminal.
 *
 * @example
 * ```ts ignore
 * formatProgress(progress, 10);
 * // "3.0 s / 10 s  12,345 round trips  45,678/s  p99 412 µs"
 * ```
 */
export function formatProgress(p: LoadProgress, duration: number): string {
  const total = duration > 0 ? ` s / ${duration} s` : " s";
  return `${p.elapsed.toFixed(1)}${total}  ${num(p.roundTrips)} round trips  ${
    num(p.currentRate)
  }/s  p99 ${num(p.p99Us)} µs`;
}
