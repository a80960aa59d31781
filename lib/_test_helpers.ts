/**
 * Helpers for the library's own tests (not published): random data,
 * hashing, raw peers, an echo protocol, captured log lines, and bounded
 * waits on observable events.
 *
 * @module
 */

import { createHash } from "node:crypto";
import {
  configureSync,
  type LogLevel,
  type LogRecord,
  resetSync,
  // Named in full, as the library names it: lib/ resolves without an
  // import map.
  // deno-lint-ignore no-import-prefix
} from "npm:@logtape/logtape@^2.4.2";
import type { Protocol } from "./protocol.ts";
import { createServer } from "./server.ts";
import { RecordingProtocol } from "./testing.ts";
import type { Transport } from "./transport.ts";

/**
 * A protocol factory for a server that keeps every RecordingProtocol it
 * makes, in order of connection; with `echo`, each writes back what it
 * receives.
 */
export function recording(
  { echo = false } = {},
): { factory: () => RecordingProtocol; recorders: RecordingProtocol[] } {
  const recorders: RecordingProtocol[] = [];
  const factory = () => {
    const recorder = new RecordingProtocol();
    if (echo) recorder.onData = (data, self) => self.transport.write(data);
    recorders.push(recorder);
    return recorder;
  };
  return { factory, recorders };
}

/** Joins byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** `size` random bytes. */
export function randomBytes(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) {
    crypto.getRandomValues(out.subarray(i, Math.min(size, i + 65536)));
  }
  return out;
}

/** Splits `data` into chunks of random sizes from 1 to `max` bytes. */
export function randomChunks(data: Uint8Array, max: number): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < data.byteLength;) {
    const size = 1 + Math.floor(Math.random() * max);
    chunks.push(data.subarray(i, i + size));
    i += size;
  }
  return chunks;
}

/** An incremental SHA-256, hex. */
export function sha256(): { update(data: Uint8Array): void; hex(): string } {
  const hash = createHash("sha256");
  return {
    update: (data) => void hash.update(data),
    hex: () => hash.digest("hex"),
  };
}

/** Writes all of `data` to `conn`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array) {
  let offset = 0;
  while (offset < data.byteLength) {
    offset += await conn.write(data.subarray(offset));
  }
}

/**
 * Sends `data` over `conn` (in chunks of at most `maxChunk` random sizes,
 * or in one write) while reading, half-closes, and returns everything that
 * came back up to the peer's EOF. A failed write rejects with its error.
 */
export async function echoThrough(
  conn: Deno.Conn,
  data: Uint8Array,
  maxChunk?: number,
): Promise<Uint8Array> {
  const reading = readAll(conn);
  try {
    for (const chunk of maxChunk ? randomChunks(data, maxChunk) : [data]) {
      await writeAll(conn, chunk);
    }
    await conn.closeWrite();
  } catch (error) {
    // The write failed (the peer reset or closed): the caller gets that
    // error, and the read still pending is cancelled when the caller closes
    // `conn`; that rejection must not surface as an uncaught error.
    reading.catch(() => {});
    throw error;
  }
  return await reading;
}

/** Fails unless `actual` has the bytes of `expected` (length, then SHA-256). */
export function assertSameBytes(actual: Uint8Array, expected: Uint8Array) {
  if (actual.byteLength !== expected.byteLength) {
    throw new Error(
      `got ${actual.byteLength} bytes, expected ${expected.byteLength}: bytes lost`,
    );
  }
  const [a, b] = [sha256(), sha256()];
  a.update(actual);
  b.update(expected);
  if (a.hex() !== b.hex()) throw new Error("the bytes differ: data corrupted");
}

/**
 * `promise`'s outcome, or an error when it takes more than 10 s: a test of
 * a deadline fails instead of hanging when the deadline is not kept.
 */
export async function within10s<T>(promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error("still waiting after 10 s")),
      10_000,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A server on 127.0.0.1 that accepts connections and holds them without a
 * word: `first` is its first connection; `close()` (or disposing it) closes
 * the listener and every connection.
 */
export function silentServer():
  & { port: number; first: Promise<Deno.Conn>; close(): void }
  & Disposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const first = Promise.withResolvers<Deno.Conn>();
  (async () => {
    for await (const conn of listener) {
      held.push(conn);
      first.resolve(conn);
    }
  })().catch(() => {});
  const close = () => {
    listener.close();
    for (const conn of held) conn.close();
  };
  return {
    port: listener.addr.port,
    first: first.promise,
    close,
    [Symbol.dispose]: close,
  };
}

/** Reads `conn` to EOF (or an error) and returns everything read. */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    parts.push(buffer.slice(0, n));
  }
  return concat(parts);
}

/**
 * Waits until `check()` is true, looking every 5 ms, for at most
 * `timeoutMs`; throws naming `what` if it never is.
 */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Bytes waiting in the kernel's receive queue of the loopback TCP socket
 * bound to `localPort` and connected to `remotePort` (from /proc/net/tcp*).
 */
export async function receiveQueue(
  localPort: number,
  remotePort: number,
): Promise<number> {
  const hex = (port: number) =>
    port.toString(16).toUpperCase().padStart(4, "0");
  // Deno asks for --allow-all to read /proc/net directly: ask cat.
  const { stdout } = await new Deno.Command("cat", {
    args: ["/proc/net/tcp", "/proc/net/tcp6"],
    stderr: "null",
  }).output();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    if (
      fields[1].endsWith(`:${hex(localPort)}`) &&
      fields[2].endsWith(`:${hex(remotePort)}`)
    ) {
      return parseInt(fields[4].split(":")[1], 16);
    }
  }
  return 0;
}

/** Lets every pending timer, I/O callback and microtask run a few times. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** A raw listener on 127.0.0.1 and a way to take its next connection. */
export function rawListener(hostname = "127.0.0.1"): {
  listener: Deno.TcpListener;
  port: number;
} {
  const listener = Deno.listen({ hostname, port: 0 });
  return { listener, port: listener.addr.port };
}

/**
 * Serves protocols from `factory` on 127.0.0.1 and plays a peer that sends
 * `message` over and over, up to `limit` bytes, and never reads a byte.
 * Resolves once the server's transport paused reading, or the peer sent it
 * all (a server that never pauses), to whether it paused and how many bytes
 * its write buffer held then.
 */
export async function floodWithoutReading(
  factory: () => Protocol,
  message: Uint8Array,
  limit = 32 << 20,
): Promise<{ paused: boolean; buffered: number }> {
  const served = Promise.withResolvers<Transport>();
  const paused = Promise.withResolvers<true>();
  const server = await createServer(() => {
    const protocol = factory();
    const made = protocol.connectionMade?.bind(protocol);
    protocol.connectionMade = (transport: Transport) => {
      const pauseReading = transport.pauseReading.bind(transport);
      transport.pauseReading = () => {
        pauseReading();
        paused.resolve(true);
      };
      made?.(transport);
      served.resolve(transport);
    };
    return protocol;
  }, { hostname: "127.0.0.1", port: 0 });
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.addrs[0].port,
  });
  const sending = (async () => {
    for (let sent = 0; sent < limit; sent += message.length) {
      await writeAll(conn, message);
    }
    return false as const;
  })().catch(() => false as const);
  try {
    const outcome = await Promise.race([paused.promise, sending]);
    const transport = await served.promise;
    return { paused: outcome, buffered: transport.getWriteBufferSize() };
  } finally {
    conn.close();
    await sending;
    await server.close();
  }
}

/**
 * A host name that is no host, and that the system's resolver refuses
 * without asking a DNS server (a label longer than 63 bytes cannot go into
 * a query): a test of an unknown host sends no packet off the machine.
 */
export const UNRESOLVABLE_HOST = `no-such-host-${"x".repeat(51)}.invalid`;

/** An echo: writes back each chunk, then releases it. */
export class EchoProtocol implements Protocol {
  #transport!: Transport;
  connectionMade(transport: Transport): void {
    this.#transport = transport;
  }
  dataReceived(data: Uint8Array): void {
    this.#transport.write(data);
    this.#transport.release(data);
  }
}

/** Renders a LogTape record as `category: message`, values as text. */
function logLine(record: LogRecord): string {
  let out = `${record.category.join(".")}: `;
  record.message.forEach((part, i) => {
    out += i % 2 === 0
      ? part as string
      : typeof part === "string"
      ? part
      : part instanceof Error
      ? part.message
      : Deno.inspect(part);
  });
  return out;
}

/**
 * Sends the library's log records at `level` and above to an array, as
 * `category: message` lines (and nowhere else), until the next call.
 */
export function captureLogs(level: LogLevel = "debug"): string[] {
  const lines: string[] = [];
  resetSync();
  configureSync({
    sinks: { capture: (record) => void lines.push(logLine(record)) },
    loggers: [
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: [] },
      { category: [], lowestLevel: level, sinks: ["capture"] },
    ],
  });
  return lines;
}

/**
 * A client that writes each of `messages`, half-closes, and records what
 * comes back (a RecordingProtocol: `chunks`, `text()`, `lost`), each chunk
 * also pushed to `received` when given.
 */
export function sender(
  messages: string[] = [],
  received?: Uint8Array[],
): RecordingProtocol {
  const protocol = new RecordingProtocol();
  if (received) protocol.onData = (data) => void received.push(data);
  protocol.onMade = (self) => {
    for (const message of messages) self.transport.write(message);
    self.transport.writeEof();
  };
  return protocol;
}

/** The three messages of the asyncio example the project started from. */
export const EXAMPLE_MESSAGES = [
  "This is the message. ",
  "It will be sent ",
  "in parts.",
];

/**
 * A folder with an import map that makes `specifier` a stub saying
 * `MODULE LOADED: <specifier>` on standard error, then exporting what
 * `exact` (the same package by another specifier) exports: run a script
 * with `--import-map=DIR/map.json` and read whether the module was loaded,
 * from the module graph itself.
 */
export async function loadProbe(
  specifier: string,
  exact: string,
): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "load-probe-" });
  await Deno.writeTextFile(
    `${dir}/stub.ts`,
    `console.error(${JSON.stringify(`MODULE LOADED: ${specifier}`)});\n` +
      `export * from ${JSON.stringify(exact)};\n`,
  );
  await Deno.writeTextFile(
    `${dir}/map.json`,
    JSON.stringify({ imports: { [specifier]: "./stub.ts" } }),
  );
  return dir;
}

/**
 * Runs `script` in a new Deno (`deno eval`), with `env` added, through the
 * import map of a {@linkcode loadProbe} folder when given; its standard
 * output and error. Fails the test when it does not succeed.
 */
export async function runScript(
  script: string,
  options: { probe?: string; env?: Record<string, string> } = {},
): Promise<{ out: string; err: string }> {
  const { probe, env = {} } = options;
  const result = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      ...(probe ? [`--import-map=${probe}/map.json`] : []),
      script,
    ],
    cwd: probe,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).output();
  const decoder = new TextDecoder();
  const err = decoder.decode(result.stderr);
  if (!result.success) throw new Error(`the script failed:\n${err}`);
  return { out: decoder.decode(result.stdout), err };
}
