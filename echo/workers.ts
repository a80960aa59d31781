/**
 * `main_server.ts --workers N`: N echo servers on one address, each in its
 * own Deno Worker (a thread with its own event loop), with Linux's
 * `SO_REUSEPORT` spreading new connections between them.
 *
 * Deno Workers rather than worker processes. Measured on a 2-core machine
 * (1 KiB × 100 ping-pong connections, two runs each): two reusePort
 * processes 178,609 and 162,850 round trips/s, two Workers 168,886 and
 * 160,583: the same within this machine's noise. Workers win on the rest:
 * they share the permissions and the module graph of the main program, so
 * the same code runs from source and from a compiled binary without
 * re-executing itself (which would also need --allow-run), and signals stay
 * with the main thread. `reusePort` is unstable in Deno 2.9: it needs
 * `--unstable-net`; and a worker loads its module files at run time, which
 * needs `--allow-read` for them (`--allow-read=.` from the project).
 *
 * @module
 */

import type { Need } from "./permissions.ts";
import { getLogger } from "@logtape/logtape";
import { ConnectionLimits } from "@protocols/core";
import { EXIT_OK, ProgramError } from "./errors.ts";
import { startupLogger } from "./logging.ts";
import { announceTrust, type ServerConfig } from "./server_config.ts";
import { runUntilSignal } from "./shutdown.ts";

interface Started {
  worker: Worker;
  port: number;
}

/**
 * The worker's module: server_worker.ts beside this one when run from
 * source or a compiled binary, server_worker.js beside a bundle
 * (`deno task bundle` builds both). Undefined when neither is there.
 */
async function workerModule(): Promise<URL | undefined> {
  const candidates = ["./server_worker.ts", "./server_worker.js"].map((name) =>
    new URL(name, import.meta.url)
  );
  if (candidates[0].protocol !== "file:") return candidates[0];
  for (const candidate of candidates) {
    try {
      await Deno.stat(candidate);
      return candidate;
    } catch (error) {
      // No read permission: the caller says what to grant.
      if (!(error instanceof Deno.errors.NotFound)) return candidate;
    }
  }
  return undefined;
}

/**
 * Read access to the program's own files, which each worker loads (from a
 * checkout: `--allow-read=.`; a compiled binary has them inside).
 */
export function workerFiles(): Need {
  const here = new URL(".", import.meta.url);
  return {
    flag: "--allow-read=.",
    who: "--workers",
    what: "to read the program's own files",
    granted: () =>
      here.protocol !== "file:" ||
      Deno.permissions.querySync({ name: "read", path: here }).state ===
        "granted",
  };
}

/** Starts one worker and resolves once it listens. */
function startWorker(
  module: URL,
  config: ServerConfig,
  port: number,
  limits: SharedArrayBuffer,
): Promise<Started> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(module, { type: "module" });
    worker.onmessage = (event) => {
      const message = event.data;
      if (message.type === "started") resolve({ worker, port: message.port });
      if (message.type === "failed") {
        worker.terminate();
        reject(new Error(message.message));
      }
    };
    worker.onerror = (event) => {
      event.preventDefault();
      worker.terminate();
      reject(new Error(event.message));
    };
    worker.postMessage({ type: "start", config, port, limits });
  });
}

/** Asks a worker to shut down; resolves to what it reports. */
function stopWorker(
  worker: Worker,
): Promise<{ aborted: number; served: number }> {
  return new Promise((resolve) => {
    worker.onmessage = (event) => {
      if (event.data.type === "stopped") resolve(event.data);
    };
    worker.postMessage({ type: "stop" });
  });
}

/**
 * Runs `count` workers on the configured address until a stopping signal, then
 * shuts them all down gracefully (a second signal hurries them). Logs the
 * seed's lines once, and each worker's share of the connections.
 *
 * @example
 * ```ts ignore
 * const code = await runWorkers(config, 2);
 * ```
 *
 * @throws {ProgramError} when a worker cannot listen (naming why: a taken
 * port, or the missing `--unstable-net` flag).
 */
export async function runWorkers(
  config: ServerConfig,
  count: number,
): Promise<number> {
  const log = getLogger(["main"]);
  // Checked here, not left to the workers: an unstable API used without its
  // flag ends the whole process, and a worker's failed module load prints
  // Deno's own error line.
  if (
    typeof (Deno as { listenDatagram?: unknown }).listenDatagram !== "function"
  ) {
    throw new ProgramError(
      "--workers needs Deno's --unstable-net flag (reusePort is unstable): deno run --allow-net --unstable-net main_server.ts --workers N",
    );
  }
  const here = new URL(".", import.meta.url);
  if (
    here.protocol === "file:" &&
    Deno.permissions.querySync({ name: "read", path: here }).state !==
      "granted"
  ) {
    throw new ProgramError(
      "--workers needs read access to the program's own files to start its workers: add --allow-read=. (see the README)",
    );
  }
  const module = await workerModule();
  if (!module) {
    throw new ProgramError(
      "--workers is not available in this build (its worker module is missing): run main_server.ts, a compiled binary, or a bundle built with its server_worker.js",
    );
  }
  // One count of open connections for every worker: --max-connections is
  // the whole server's limit, not each worker's.
  const limits = ConnectionLimits.shared({
    maxConnections: config.maxConnections,
    maxConnectionsPerIp: config.maxConnectionsPerIp,
  }).buffer!;
  const started: Started[] = [];
  try {
    started.push(await startWorker(module, config, config.port, limits));
    const port = started[0].port;
    const rest = await Promise.allSettled(
      Array.from(
        { length: count - 1 },
        () => startWorker(module, config, port, limits),
      ),
    );
    for (const result of rest) {
      if (result.status === "fulfilled") started.push(result.value);
      else throw result.reason;
    }
  } catch (error) {
    for (const { worker } of started) worker.terminate();
    const why = error instanceof Error ? error.message : String(error);
    if (/Module not found|Cannot load module/i.test(why)) {
      throw new ProgramError(
        "--workers is not available in this build (the worker module is not in it): run main_server.ts or a compiled binary",
      );
    }
    throw new ProgramError(
      `cannot listen on ${config.host} port ${config.port}: ${why}`,
    );
  }
  await runUntilSignal(
    () => {
      announceTrust(config);
      startupLogger().info("starting up on {host} port {port}", {
        host: config.host,
        port: started[0].port,
      });
      log.info("{count} workers share the port", { count });
    },
    async (hurry) => {
      hurry.then(() => {
        for (const { worker } of started) worker.postMessage({ type: "hurry" });
      });
      const reports = await Promise.all(
        started.map(({ worker }) => stopWorker(worker)),
      );
      reports.forEach((report, i) =>
        log.info("worker {worker} served {served} connection(s)", {
          worker: i + 1,
          served: report.served,
        })
      );
      for (const { worker } of started) worker.terminate();
      return reports.reduce((sum, r) => sum + r.aborted, 0);
    },
    config.grace,
  );
  return EXIT_OK;
}
