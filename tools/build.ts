/**
 * Builds the two programs for distribution:
 *
 * - `deno task bundle`: dist/echo-server.js and dist/echo-client.js, one
 *   self-contained file each (`deno bundle`), run with
 *   `deno run --allow-net dist/echo-server.js`.
 * - `deno task compile`: dist/echo-server and dist/echo-client, single
 *   binaries for this machine (`deno compile`), with only `--allow-net`
 *   baked in.
 * - `deno task compile:all`: the same for Linux, macOS (x86_64, aarch64)
 *   and Windows (x86_64), as dist/<target>/echo-server[.exe].
 *
 * `deno compile` needs Deno's base runtime (denort), which it downloads; set
 * DENORT_BIN to a denort binary of the same Deno version where that cannot
 * be done (it only serves this machine's target). Without either, the task
 * exits 1 with one line saying so.
 *
 * @module
 */

const ROOT = new URL("..", import.meta.url).pathname;
const PROGRAMS = [
  { name: "echo-server", entry: "main_server.ts" },
  { name: "echo-client", entry: "main_client.ts" },
];
/** The only permission the programs need by default. */
const PERMISSIONS = ["--allow-net"];
const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
];

async function deno(args: string[]): Promise<{ ok: boolean; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "inherit",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const err = new TextDecoder().decode(out.stderr);
  return { ok: out.success, err };
}

/** The one line to print when no base runtime can be had. */
export const NO_BASE_RUNTIME =
  `deno compile needs Deno's base runtime (denort ${Deno.version.deno}), which it could not download; set DENORT_BIN to a denort binary of that version`;

/** Whether DENORT_BIN names a base runtime (undefined: not set). */
export async function denortBin(): Promise<
  { ok: true; path: string } | { ok: false; why: string } | undefined
> {
  const bin = Deno.env.get("DENORT_BIN");
  if (!bin) return undefined;
  try {
    if ((await Deno.stat(bin)).isFile) return { ok: true, path: bin };
  } catch {
    // Reported below.
  }
  return { ok: false, why: `DENORT_BIN=${bin} is not a file` };
}

/** Whether a compile error is about the base runtime's download. */
function isDownloadError(err: string): boolean {
  return /denort|dns error|download|failed to lookup|error sending request/i
    .test(err);
}

/** What `--workers` loads beside the bundled server. */
const WORKER = { name: "server_worker", entry: "echo/server_worker.ts" };

async function bundle(outDir: string): Promise<boolean> {
  await Deno.mkdir(outDir, { recursive: true });
  for (const { name, entry } of [...PROGRAMS, WORKER]) {
    const { ok, err } = await deno([
      "bundle",
      "--quiet",
      "-o",
      `${outDir}/${name}.js`,
      entry,
    ]);
    if (!ok) {
      console.error(`bundle: ${name}: ${err.trim().split("\n")[0]}`);
      return false;
    }
    console.log(`built ${outDir}/${name}.js`);
  }
  return true;
}

/** How a compile went: built, failed, or no base runtime to build with. */
type Compiled = "built" | "failed" | "no base runtime";

async function compile(outDir: string, target?: string): Promise<Compiled> {
  await Deno.mkdir(outDir, { recursive: true });
  const outcome = await compileInto(outDir, target);
  if (outcome !== "built") {
    // Leave no empty folder behind.
    try {
      await Deno.remove(outDir);
    } catch {
      // Not empty (an earlier build is there), or already gone.
    }
  }
  return outcome;
}

async function compileInto(outDir: string, target?: string): Promise<Compiled> {
  for (const { name, entry } of PROGRAMS) {
    const output = `${outDir}/${name}${
      target?.includes("windows") ? ".exe" : ""
    }`;
    const { ok, err } = await deno([
      "compile",
      "--quiet",
      ...PERMISSIONS,
      // The --workers threads load this module at run time.
      ...(name === "echo-server" ? ["--include", "echo/server_worker.ts"] : []),
      ...(target ? ["--target", target] : []),
      "-o",
      output,
      entry,
    ]);
    if (!ok) {
      const first = err.split("\n").find((line) => line.includes("error")) ??
        err.split("\n")[0];
      if (isDownloadError(err)) return "no base runtime";
      console.error(`compile: ${name}: ${first}`);
      return "failed";
    }
    console.log(`built ${output}`);
  }
  return "built";
}

if (import.meta.main) {
  const [command = "", dir = "dist"] = Deno.args;
  const outDir = dir.startsWith("/") ? dir : `${ROOT}${dir}`;
  let ok: boolean;
  if (command === "bundle") {
    ok = await bundle(outDir);
  } else if (command === "compile" || command === "compile:all") {
    const runtime = await denortBin();
    if (runtime && !runtime.ok) {
      console.error(`${command}: ${runtime.why}`);
      Deno.exit(1);
    }
    let outcome: Compiled = "built";
    if (command === "compile") {
      outcome = await compile(outDir);
    } else {
      for (const target of TARGETS) {
        const result = await compile(`${outDir}/${target}`, target);
        if (result !== "built") outcome = result;
        // Every other target would fail the same way: say it once.
        if (result === "no base runtime") break;
      }
    }
    if (outcome === "no base runtime") {
      console.error(`compile: ${NO_BASE_RUNTIME}`);
    }
    ok = outcome === "built";
  } else {
    console.error("usage: build.ts bundle|compile|compile:all [OUTDIR]");
    Deno.exit(2);
  }
  Deno.exit(ok ? 0 : 1);
}
