/**
 * What the bench's entrypoints (run.ts, instructions.ts, gc.ts) share:
 * ending on a failure with one line, running a command for its output,
 * pinning it to a core, reading a child's output up to a line, a process's
 * CPU time by thread, building the load generator, and naming the CPU.
 *
 * @module
 */

const HERE = new URL(".", import.meta.url).pathname;
const decoder = new TextDecoder();

/**
 * Makes any failure end the program with one line, `NAME: reason`, and exit
 * code 1: returns the function to call with one, and sends every unhandled
 * rejection and uncaught error to it.
 *
 * @example
 * ```ts ignore
 * import { failingAs } from "./_process.ts";
 *
 * const fail = failingAs("bench");
 * fail("loadgen did not start"); // prints "bench: loadgen did not start"
 * ```
 */
export function failingAs(name: string): (reason: unknown) => never {
  const fail = (reason: unknown): never => {
    console.error(
      `${name}: ${reason instanceof Error ? reason.message : reason}`,
    );
    Deno.exit(1);
  };
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    fail(event.reason);
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    fail(event.error ?? event.message);
  });
  return fail;
}

/**
 * Runs a command to the end; returns its standard output as text.
 *
 * @throws {Error} when it exits non-zero, with the last line it printed.
 *
 * @example
 * ```ts ignore
 * import { run } from "./_process.ts";
 *
 * const version = (await run("node", ["--version"])).trim();
 * ```
 */
export async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stderr: "inherit" })
    .output();
  if (!out.success) {
    const said = decoder.decode(out.stdout).trim().split("\n").at(-1);
    throw new Error(
      `${cmd} ${args.join(" ")} exited ${out.code}${said ? `: ${said}` : ""}`,
    );
  }
  return decoder.decode(out.stdout);
}

/**
 * Whether a command runs and exits 0 (false too when it is not installed).
 *
 * @example
 * ```ts ignore
 * import { works } from "./_process.ts";
 *
 * const hasTaskset = await works("taskset", ["-c", "0", "true"]);
 * ```
 */
export async function works(cmd: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(cmd, {
      args,
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

/**
 * How to pin a command to one core: resolves to a function that prefixes a
 * command with `taskset -c CORE` where `taskset` runs and the machine has two
 * cores or more, and otherwise returns it as it is; `pinned` says which.
 *
 * @example
 * ```ts ignore
 * import { pinning } from "./_process.ts";
 *
 * const { pin, pinned } = await pinning();
 * console.log(pin(0, ["deno", "run", "bench/raw_echo.ts"]), pinned);
 * ```
 */
export async function pinning(): Promise<{
  pin: (core: number, cmd: string[]) => string[];
  pinned: boolean;
}> {
  const pinned = navigator.hardwareConcurrency >= 2 &&
    await works("taskset", ["-c", "0", "true"]);
  return {
    pin: (core, cmd) => pinned ? ["taskset", "-c", String(core), ...cmd] : cmd,
    pinned,
  };
}

/**
 * Reads a child's output until `pattern` shows; resolves to its match.
 *
 * @throws {Error} `ended` (with the output so far) if the output ends first.
 *
 * @example
 * ```ts ignore
 * import { readUntil } from "./_process.ts";
 *
 * const child = new Deno.Command("deno", {
 *   args: ["run", "--allow-net", "bench/raw_echo.ts"],
 *   stdout: "piped",
 * }).spawn();
 * const reader = child.stdout.pipeThrough(new TextDecoderStream())
 *   .getReader();
 * const [, port] = await readUntil(reader, /listening on (\d+)/, "no port");
 * ```
 */
export async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  pattern: RegExp,
  ended: string,
): Promise<RegExpMatchArray> {
  let text = "";
  while (true) {
    const match = text.match(pattern);
    if (match) return match;
    const { value, done } = await reader.read();
    if (done) throw new Error(`${ended}: ${text}`);
    text += value;
  }
}

/** One thread of a process and the CPU time it has had. */
export interface ThreadTime {
  tid: number;
  /** Its name, as /proc/PID/task/TID/comm has it (`V8 DefaultWorke`). */
  name: string;
  /** CPU seconds so far. */
  seconds: number;
}

/**
 * Each thread of process `pid` and its CPU time so far, from
 * /proc/PID/task/TID/schedstat's first field (nanoseconds on a CPU), finer
 * than /proc/PID/stat's 10 ms ticks, which a 256 MiB stream spans only a
 * dozen of. Read through `sh`: Deno reads /proc only with every permission.
 * A thread that ends between the listing and its read is left out (its
 * time goes uncounted: the threads that come and go do next to nothing).
 *
 * @throws {Error} when the process has no thread left: it is gone.
 *
 * @example
 * ```ts ignore
 * import { threadTimes } from "./_process.ts";
 *
 * const threads = await threadTimes(Deno.pid);
 * console.log(threads.reduce((sum, t) => sum + t.seconds, 0));
 * ```
 */
export async function threadTimes(pid: number): Promise<ThreadTime[]> {
  const listed = await run("sh", [
    "-c",
    `for t in /proc/${pid}/task/*; do s=$(cut -d' ' -f1 "$t/schedstat" 2>/dev/null) && n=$(cat "$t/comm" 2>/dev/null) && echo "\${t##*/} $s $n"; done; exit 0`,
  ]);
  const threads: ThreadTime[] = [];
  for (const line of listed.split("\n")) {
    const [tid, ns, ...name] = line.split(" ");
    if (!ns) continue;
    threads.push({
      tid: Number(tid),
      name: name.join(" "),
      seconds: Number(ns) / 1e9,
    });
  }
  if (threads.length === 0) throw new Error(`process ${pid} is gone`);
  return threads;
}

/**
 * Builds the load generator (bench/loadgen.c) with the machine's C compiler
 * into bench/bin/; resolves to its path.
 *
 * @example
 * ```ts ignore
 * import { buildLoadgen } from "./_process.ts";
 *
 * const loadgen = await buildLoadgen();
 * ```
 */
export async function buildLoadgen(): Promise<string> {
  const loadgen = `${HERE}bin/loadgen`;
  await Deno.mkdir(`${HERE}bin`, { recursive: true });
  // With TLS where OpenSSL's headers are installed (libssl-dev), else plain.
  const tls = await works("cc", [
    "-O2",
    "-DWITH_TLS",
    "-o",
    loadgen,
    `${HERE}loadgen.c`,
    "-lssl",
    "-lcrypto",
  ]);
  if (!tls) await run("cc", ["-O2", "-o", loadgen, `${HERE}loadgen.c`]);
  return loadgen;
}

/**
 * Whether the load generator speaks TLS (built with OpenSSL).
 *
 * @example
 * ```ts ignore
 * import { buildLoadgen, loadgenHasTls } from "./_process.ts";
 *
 * console.log(await loadgenHasTls(await buildLoadgen()));
 * ```
 */
export async function loadgenHasTls(loadgen: string): Promise<boolean> {
  const out = await new Deno.Command(loadgen, {
    args: ["pingpong", "127.0.0.1", "1", "0", "1", "0", "tls"],
    stdout: "null",
    stderr: "piped",
  }).output();
  return !new TextDecoder().decode(out.stderr).includes("built without TLS");
}

/**
 * The CPU's model name, from /proc/cpuinfo ("unknown" if it has none).
 *
 * @example
 * ```ts ignore
 * import { cpuModel } from "./_process.ts";
 *
 * console.log(`machine: ${await cpuModel()}`);
 * ```
 */
export async function cpuModel(): Promise<string> {
  return (await run("cat", ["/proc/cpuinfo"])).match(
    /model name\s*:\s*(.*)/,
  )?.[1] ?? "unknown";
}
