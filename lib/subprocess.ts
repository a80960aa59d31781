/**
 * Child processes under the protocol model: asyncio's
 * `SubprocessProtocol` and `loop.subprocess_exec` ({@linkcode spawnProcess}),
 * and a stream {@linkcode Protocol} run over a child's standard input and
 * output as if they were a socket ({@linkcode connectProcess}).
 *
 * Needs `--allow-run` for the command.
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import type { Protocol } from "./protocol.ts";
import { SocketTransport } from "./socket_transport.ts";
import type { ByteStream } from "./transport.ts";

/**
 * A child process's standard input, or its output, as the byte stream a
 * {@linkcode SocketTransport} runs over. Reads copy from the stream's chunks;
 * writes go to the pipe.
 */
class PipeStream implements ByteStream {
  #reader: ReadableStreamDefaultReader<Uint8Array> | null;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null;
  #pending: Uint8Array | null = null;
  #onClose: () => void;
  #closed = Promise.withResolvers<null>();

  constructor(
    readable: ReadableStream<Uint8Array> | null,
    writable: WritableStream<Uint8Array> | null,
    onClose: () => void = () => {},
  ) {
    this.#reader = readable?.getReader() ?? null;
    this.#writer = writable?.getWriter() ?? null;
    this.#onClose = onClose;
    // A never-read stream's read() waits here until close().
    this.#closed.promise.catch(() => {});
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (!this.#reader) return await this.#closed.promise;
    let chunk = this.#pending;
    if (!chunk) {
      const { value, done } = await this.#reader.read();
      if (done) return null;
      chunk = value;
    }
    const n = Math.min(chunk.byteLength, p.byteLength);
    p.set(chunk.subarray(0, n));
    this.#pending = n < chunk.byteLength ? chunk.subarray(n) : null;
    return n;
  }

  async write(p: Uint8Array): Promise<number> {
    if (!this.#writer) throw new Deno.errors.NotSupported("a read-only pipe");
    // The pipe may hold on to the array: hand it a copy.
    await this.#writer.write(p.slice());
    return p.byteLength;
  }

  async closeWrite(): Promise<void> {
    await this.#writer?.close();
  }

  close(): void {
    this.#closed.reject(new Deno.errors.Interrupted("pipe closed"));
    this.#reader?.cancel().catch(() => {});
    this.#writer?.abort().catch(() => {});
    this.#onClose();
  }
}

/** Options of {@linkcode spawnProcess} and {@linkcode connectProcess}. */
export interface ProcessOptions {
  /** The child's working directory. */
  cwd?: string;
  /** Extra environment variables for the child. */
  env?: Record<string, string>;
  /**
   * Where the pipes' transports take their timers from (their idle
   * timeouts; default `systemClock`). A `FakeClock` in tests.
   */
  clock?: Clock;
}

/** Starts `command` with piped input and output; `stderr` as asked. */
function spawn(
  command: string,
  args: string[],
  options: ProcessOptions,
  stderr: "piped" | "inherit",
): Deno.ChildProcess {
  return new Deno.Command(command, {
    args,
    cwd: options.cwd,
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr,
  }).spawn();
}

/**
 * Runs a stream protocol over a child process's standard input and output,
 * exactly as over a socket: what the protocol writes goes to the child's
 * standard input, `writeEof()` closes it, the child's output arrives as
 * `dataReceived`, and the end of that output as `eofReceived`. Closing the
 * transport stops the child (SIGTERM) if it is still running. The child's
 * standard error is passed through to ours.
 *
 * @example A client talking to `cat`
 * ```ts
 * import { connectProcess, type Protocol, type Transport } from "@protocols/core";
 *
 * // `cat` as the peer: what is written comes back.
 * class Ping implements Protocol {
 *   connectionMade(transport: Transport) {
 *     transport.write("ping");
 *     transport.writeEof();
 *   }
 *   dataReceived(data: Uint8Array) {
 *     console.log(new TextDecoder().decode(data)); // "ping"
 *   }
 * }
 * await connectProcess(() => new Ping(), "cat", []);
 * ```
 *
 * @throws {Deno.errors.NotFound} when the command does not exist.
 */
export async function connectProcess<P extends Protocol>(
  factory: () => P,
  command: string,
  args: string[],
  options: ProcessOptions = {},
): Promise<
  { transport: SocketTransport; protocol: P; child: Deno.ChildProcess }
> {
  // Made before the child, as asyncio does: a factory that throws leaves
  // no process behind.
  const protocol = factory();
  const child = spawn(command, args, options, "inherit");
  let exited = false;
  child.status.then(() => exited = true);
  const stream = new PipeStream(child.stdout, child.stdin, () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch {
        // Exited meanwhile.
      }
    }
  });
  const transport = SocketTransport.start(stream, protocol, {
    extra: { pid: child.pid, child },
    clock: options.clock,
  });
  return await Promise.resolve({ transport, protocol, child });
}

/**
 * What a child's exit status says, as asyncio's `returncode`: the exit
 * code, or minus the signal's number for a child a signal ended.
 */
function returncodeOf(status: Deno.CommandStatus): number {
  const number = status.signal === null
    ? undefined
    : SIGNAL_NUMBERS[status.signal];
  return number === undefined ? status.code : -number;
}

/** Signal numbers as Linux (and, for these, macOS) numbers them. */
const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

/** The callbacks of a protocol that drives a child process. */
export interface SubprocessProtocol {
  /** Called once, first, with the process's transport. */
  connectionMade?(transport: SubprocessTransport): void;
  /**
   * Called when the child's standard input (pipe 0) has more buffered than
   * its high-water mark: the child is not reading. Stop writing until
   * {@linkcode SubprocessProtocol.resumeWriting}; writes made meanwhile are
   * still buffered, never dropped.
   */
  pauseWriting?(): void;
  /** Called once after `pauseWriting`, when pipe 0 has drained. */
  resumeWriting?(): void;
  /** Called with output from the child's standard output (1) or error (2). */
  pipeDataReceived?(fd: 1 | 2, data: Uint8Array): void;
  /** Called once per pipe (0, 1, 2) when it closes. */
  pipeConnectionLost?(fd: 0 | 1 | 2, error: Error | null): void;
  /** Called once, when the child has exited (see `getReturncode`). */
  processExited?(): void;
  /** Called once, last, when the child has exited and every pipe is closed. */
  connectionLost?(error: Error | null): void;
}

/** Makes a SubprocessTransport and records its exit: module-private. */
let makeTransport: (
  child: Deno.ChildProcess,
  pipes: Map<number, SocketTransport>,
) => SubprocessTransport;
let setReturncode: (transport: SubprocessTransport, code: number) => void;

/**
 * A running child process: its pid, its exit code, a transport for each
 * pipe, and a way to signal it. asyncio's `SubprocessTransport`.
 *
 * @example
 * ```ts
 * import { spawnProcess } from "@protocols/core";
 *
 * const { transport } = await spawnProcess(() => ({}), "cat", []);
 * const stdin = transport.getPipeTransport(0)!;
 * stdin.write("hello");
 * stdin.writeEof(); // closes the child's standard input
 * ```
 */
export class SubprocessTransport {
  #child: Deno.ChildProcess;
  #pipes: Map<number, SocketTransport>;
  #returncode: number | null = null;
  #closing = false;

  static {
    makeTransport = (child, pipes) => new SubprocessTransport(child, pipes);
    setReturncode = (transport, code) => transport.#returncode = code;
  }

  private constructor(
    child: Deno.ChildProcess,
    pipes: Map<number, SocketTransport>,
  ) {
    this.#child = child;
    this.#pipes = pipes;
  }

  /** The child's process id. */
  getPid(): number {
    return this.#child.pid;
  }

  /**
   * The exit code, `null` while the child runs, or minus the signal's
   * number when a signal ended it (-9 after SIGKILL), as asyncio reports.
   */
  getReturncode(): number | null {
    return this.#returncode;
  }

  /**
   * The transport of a pipe: 0 (standard input: `write`, `writeEof`), 1 or
   * 2 (output: `pauseReading`, `resumeReading`). `undefined` once closed.
   */
  getPipeTransport(fd: 0 | 1 | 2): SocketTransport | undefined {
    const pipe = this.#pipes.get(fd);
    return pipe && !pipe.isClosing() ? pipe : undefined;
  }

  /**
   * `"pid"` (the child's process id) and `"child"` (its
   * {@linkcode Deno.ChildProcess}), or `fallback`.
   */
  getExtraInfo<T = unknown>(name: string, fallback?: T): T | undefined {
    if (name === "pid") return this.#child.pid as T;
    if (name === "child") return this.#child as T;
    return fallback;
  }

  /** Sends the child a signal (default SIGTERM). */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (this.#returncode === null) this.#child.kill(signal);
  }

  /** Whether {@linkcode SubprocessTransport.close} was called. */
  isClosing(): boolean {
    return this.#closing;
  }

  /** Closes the pipes and stops the child if it still runs. */
  close(): void {
    if (this.#closing) return;
    this.#closing = true;
    for (const pipe of this.#pipes.values()) pipe.close();
    try {
      this.kill();
    } catch {
      // Exited meanwhile.
    }
  }
}

/**
 * Starts `command` with piped standard input, output and error, and drives
 * it with the protocol `factory` makes. asyncio's `loop.subprocess_exec`.
 *
 * @example
 * ```ts
 * import { spawnProcess } from "@protocols/core";
 *
 * await spawnProcess(() => ({
 *   pipeDataReceived: (fd: number, data: Uint8Array) => console.log(fd, data),
 *   processExited: () => console.log("exited"),
 * }), "echo", ["hello"]);
 * ```
 *
 * @throws {Deno.errors.NotFound} when the command does not exist;
 * {@linkcode Deno.errors.PermissionDenied} when it is not executable; what
 * the factory or `connectionMade` throws (the child, if started, is then
 * killed and reaped first).
 */
export async function spawnProcess<P extends SubprocessProtocol>(
  factory: () => P,
  command: string,
  args: string[],
  options: ProcessOptions = {},
): Promise<{ transport: SubprocessTransport; protocol: P }> {
  // Made before the child, as asyncio does: a factory that throws leaves
  // no process behind.
  const protocol = factory();
  const child = spawn(command, args, options, "piped");
  const pipes = new Map<number, SocketTransport>();
  const transport = makeTransport(child, pipes);
  let open = 3;
  let exited = false;
  let lost = false;
  const finish = () => {
    if (lost || open > 0 || !exited) return;
    lost = true;
    protocol.connectionLost?.(null);
  };
  let abandoned = false; // connectionMade threw: no more callbacks
  const pipeLost = (fd: 0 | 1 | 2) => (error: Error | null) => {
    if (abandoned) return;
    protocol.pipeConnectionLost?.(fd, error);
    open--;
    finish();
  };
  pipes.set(
    0,
    SocketTransport.start(new PipeStream(null, child.stdin), {
      pauseWriting: () => protocol.pauseWriting?.(),
      resumeWriting: () => protocol.resumeWriting?.(),
      connectionLost: pipeLost(0),
    }, { clock: options.clock }),
  );
  for (const fd of [1, 2] as const) {
    const readable = fd === 1 ? child.stdout : child.stderr;
    pipes.set(
      fd,
      SocketTransport.start(new PipeStream(readable, null), {
        dataReceived: (data) => protocol.pipeDataReceived?.(fd, data),
        connectionLost: pipeLost(fd),
      }, { canWriteEof: false, clock: options.clock }),
    );
  }
  try {
    protocol.connectionMade?.(transport);
  } catch (error) {
    // No handle reaches the caller: stop the child and reap it here.
    abandoned = true;
    for (const pipe of pipes.values()) pipe.abort();
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
    await child.status;
    throw error;
  }
  child.status.then((status) => {
    setReturncode(transport, returncodeOf(status));
    exited = true;
    protocol.processExited?.();
    // The child is gone: nothing more will be read from its input.
    pipes.get(0)!.close();
    finish();
  });
  return await Promise.resolve({ transport, protocol });
}
