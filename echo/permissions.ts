/**
 * What the programs need beyond `--allow-net`, checked before they start,
 * and the one command that has it all: a user told what to add learns it
 * in one round trip, not one missing permission at a time.
 *
 * @module
 */

/** A permission (or an unstable API) a configuration needs. */
export interface Need {
  /** The flag that grants it, as `deno run` takes it. */
  flag: string;
  /** The flag that needs it, for the error line: `--tls-cert`. */
  who: string;
  /** What it needs, for the error line: `to read its files`. */
  what: string;
  /** Whether this process has it (asked without prompting). */
  granted(): boolean;
}

/** Whether `descriptor` is granted now (never prompts). */
function has(descriptor: Deno.PermissionDescriptor): boolean {
  return Deno.permissions.querySync(descriptor).state === "granted";
}

/**
 * Read access to `paths`.
 *
 * @example
 * ```ts ignore
 * readAccess("--tls-cert", "to read its files", ["cert.pem", "key.pem"]);
 * ```
 */
export function readAccess(
  who: string,
  what: string,
  paths: (string | URL)[],
): Need {
  return {
    flag: "--allow-read",
    who,
    what,
    granted: () => paths.every((path) => has({ name: "read", path })),
  };
}

/** Write access to `path`. */
export function writeAccess(who: string, what: string, path: string): Need {
  return {
    flag: "--allow-write",
    who,
    what,
    granted: () => has({ name: "write", path }),
  };
}

/** Read and write access to a Unix socket's `path` (`--unix`). */
export function socketAccess(path: string): Need[] {
  const what = "to read and write its socket";
  return [
    readAccess("--unix", what, [path]),
    writeAccess("--unix", what, path),
  ];
}

/** Deno's unstable networking APIs (`Deno.listenDatagram`, `reusePort`). */
export function unstableNet(who: string): Need {
  return {
    flag: "--unstable-net",
    who,
    what: "Deno's --unstable-net",
    granted: () =>
      typeof (Deno as { listenDatagram?: unknown }).listenDatagram ===
        "function",
  };
}

/** `text` quoted for a POSIX shell, when it needs it. */
function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text)
    ? text
    : `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The one line for what is missing, with a command that grants it all:
 * `deno run --allow-net FLAGS SCRIPT ARGS`.
 *
 * @example
 * ```ts ignore
 * missingLine([unstableNet("--udp")], "main_server.ts", ["--udp"]);
 * // "--udp needs Deno's --unstable-net: deno run --allow-net --unstable-net main_server.ts --udp"
 * ```
 */
export function missingLine(
  missing: Need[],
  script: string,
  args: string[],
): string {
  const whats = new Map<string, Set<string>>();
  for (const need of missing) {
    whats.set(need.who, (whats.get(need.who) ?? new Set()).add(need.what));
  }
  const whys = [...whats].map(([who, what]) =>
    `${who} needs ${[...what].join(" and ")}`
  );
  const flags = [...new Set(missing.map((need) => need.flag))];
  const command = [
    "deno run --allow-net",
    ...flags,
    script,
    ...args.map(shellWord),
  ].join(" ");
  return Deno.build.standalone
    ? `${whys.join("; ")}: this binary was compiled without ${
      flags.join(" ")
    }; compile it with them (see the README's Distribution)`
    : `${whys.join("; ")}: ${command}`;
}

/** The file name of the program's main module (`main_server.ts`). */
export function scriptName(): string {
  return decodeURIComponent(new URL(Deno.mainModule).pathname)
    .split("/").pop()!;
}

/**
 * The command that runs the program the way the user ran it: the compiled
 * binary's name, `deno task TASK` inside a task (which passes INIT_CWD,
 * readable where the task allows it), else `deno run SCRIPT`.
 */
export function commandName(binary: string, task: string): string {
  if (Deno.build.standalone) return binary;
  if (has({ name: "env", variable: "INIT_CWD" })) return `deno task ${task}`;
  return `deno run ${scriptName()}`;
}
