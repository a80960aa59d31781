// Running the two programs as real processes.

import { testCerts } from "./_certs.ts";
import { waitFor } from "./_helpers.ts";

const ROOT = new URL("../", import.meta.url);

/** The path of a top-level file of the project. */
export function projectFile(name: string): string {
  return new URL(name, ROOT).pathname;
}

/** A program's outcome. */
export interface Outcome {
  code: number;
  stdout: Uint8Array;
  stderr: string;
  lines: string[];
}

/**
 * Runs the echo client against the server at 127.0.0.1:`port`, with more
 * flags after `--host` and `--port`, to the end.
 */
export function runClient(
  port: number,
  args: string[] = [],
  options?: { permissions?: string[]; stdin?: Uint8Array },
): Promise<Outcome> {
  return runProgram("main_client.ts", [
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    ...args,
  ], options);
}

/** Runs `deno run <permissions> <script> <args>` to the end. */
export async function runProgram(
  script: string,
  args: string[],
  options: { permissions?: string[]; stdin?: Uint8Array } = {},
): Promise<Outcome> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...(options.permissions ?? ["--allow-net"]),
      projectFile(script),
      ...args,
    ],
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const text = new TextDecoder().decode(stderr);
  return {
    code,
    stdout,
    stderr: text,
    lines: text.split("\n").filter((line) => line !== ""),
  };
}

/** The echo server running as a child process. */
export class ServerProcess {
  readonly lines: string[] = [];
  #child: Deno.ChildProcess;
  #waiters: {
    test: (line: string) => boolean;
    resolve: (l: string) => void;
  }[] = [];
  #reading: Promise<void>;
  port = 0;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.#reading = this.#read();
  }

  /** Starts main_server.ts on a free port and waits for its start-up line. */
  static start(
    args: string[] = [],
    permissions = ["--allow-net"],
    env: Record<string, string> = {},
  ): Promise<ServerProcess> {
    return ServerProcess.spawn(
      [Deno.execPath(), "run", ...permissions, projectFile("main_server.ts")],
      ["--port", "0", ...args],
      env,
    );
  }

  /**
   * Starts main_server.ts serving TLS with the test certificates (and the
   * read permission they need), then as {@linkcode ServerProcess.start}.
   */
  static async startTls(args: string[] = []): Promise<ServerProcess> {
    const { certFile, keyFile } = await testCerts();
    return await ServerProcess.start(
      ["--tls-cert", certFile, "--tls-key", keyFile, ...args],
      ["--allow-net", "--allow-read"],
    );
  }

  /**
   * Starts a build of the echo server (`command`: the program and what
   * comes before its flags) and waits for its start-up line; `port` is the
   * port it names (0 for a Unix socket).
   */
  static async spawn(
    command: string[],
    args: string[],
    env: Record<string, string> = {},
    cwd?: string,
  ): Promise<ServerProcess> {
    const child = new Deno.Command(command[0], {
      args: [...command.slice(1), ...args],
      cwd,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1", ...env },
    }).spawn();
    const server = new ServerProcess(child);
    const line = await server.waitForLine((l) => l.includes("starting up on "));
    if (line === "") {
      throw new Error(
        `the server ended before starting:\n${server.lines.join("\n")}`,
      );
    }
    server.port = Number(line.match(/ port (\d+)/)?.[1] ?? 0);
    return server;
  }

  async #read(): Promise<void> {
    let pending = "";
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      pending += decoder.decode(chunk, { stream: true });
      const parts = pending.split("\n");
      pending = parts.pop()!;
      for (const line of parts) this.#add(line);
    }
    if (pending) this.#add(pending);
    for (const waiter of this.#waiters) waiter.resolve("");
  }

  #add(line: string): void {
    this.lines.push(line);
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.test(line)) return true;
      waiter.resolve(line);
      return false;
    });
  }

  /**
   * Resolves with the first line (already seen or still to come) that
   * passes `test`; with "" if the process ends first.
   */
  waitForLine(
    test: (line: string) => boolean,
    timeoutMs = 30_000,
  ): Promise<string> {
    const seen = this.lines.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w.test !== test);
        reject(
          new Error(
            `no such line within ${timeoutMs} ms:\n${this.lines.join("\n")}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push({
        test,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Sends a signal. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    this.#child.kill(signal);
  }

  /** Waits for the exit status (and the last log line). */
  async status(): Promise<Deno.CommandStatus> {
    const status = await this.#child.status;
    await this.#reading;
    return status;
  }

  /**
   * Signals (if still running; SIGKILL unless told) and waits: for
   * `finally` blocks.
   */
  async stop(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    try {
      this.#child.kill(signal);
    } catch {
      // Already gone.
    }
    await this.status();
  }
}

/** Open file descriptors of a process (via ls: Deno guards /proc). */
export async function openFds(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ls", {
    args: [`/proc/${pid}/fd`],
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter(Boolean).length;
}

/** Resident set size of a process, in bytes (VmRSS). */
export async function rss(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", {
    args: [`/proc/${pid}/status`],
  }).output();
  const kib = new TextDecoder().decode(stdout).match(/VmRSS:\s+(\d+) kB/);
  return Number(kib![1]) * 1024;
}

/**
 * Starts the server on 127.0.0.1 with standard error piped and not read, as
 * a stuck terminal or a stalled log shipper would leave it (the port is
 * picked here, since the start-up line cannot be read); resolves once it
 * accepts connections.
 */
export async function startWithStalledLog(
  args: string[],
): Promise<{ child: Deno.ChildProcess; port: number }> {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      projectFile("main_server.ts"),
      "--host",
      "127.0.0.1",
      "--port",
      String(port),
      ...args,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  await waitFor(
    async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    },
    `the server accepting on port ${port}`,
    30_000,
  );
  return { child, port };
}
