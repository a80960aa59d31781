/**
 * Shutting a server down on signals: what the echo server program does at
 * SIGINT/SIGTERM, in the main thread and in each worker.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Server } from "@protocols/core";

/**
 * The signals that stop the server.
 *
 * @example
 * ```ts ignore
 * SIGNALS; // ["SIGINT", "SIGTERM"] (Windows: ["SIGINT", "SIGBREAK"])
 * ```
 */
export const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM"];

/**
 * Resolves on the first SIGINT/SIGTERM; `onRepeat` is called on each later
 * one. Returns the promise and a function that removes the listeners.
 *
 * @example
 * ```ts ignore
 * const signals = onSignals(() => console.log("again: hurrying"));
 * await signals.first;
 * signals.remove();
 * ```
 */
export function onSignals(onRepeat: () => void): {
  first: Promise<Deno.Signal>;
  remove: () => void;
} {
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  let seen = false;
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      if (seen) onRepeat();
      seen = true;
      resolve(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  const remove = () => {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
  return { first: promise, remove };
}

/**
 * Closes the server, gives open connections `grace` seconds to finish, then
 * aborts the rest (at once on `hurry`). Resolves to how many were aborted.
 *
 * @example
 * ```ts ignore
 * const aborted = await shutDown(server, 5, secondSignal);
 * ```
 */
export async function shutDown(
  server: Server,
  grace: number,
  hurry: Promise<void>,
): Promise<number> {
  await server.close();
  const finished = server.waitClosed().then(() => "finished" as const);
  if (server.connectionCount === 0) {
    await finished;
    return 0;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<"expired">((resolve) => {
    timer = setTimeout(() => resolve("expired"), grace * 1000);
  });
  const outcome = await Promise.race([
    finished,
    expired,
    hurry.then(() => "expired" as const),
  ]);
  clearTimeout(timer);
  if (outcome === "finished") return 0;
  const aborted = server.abortClients();
  await finished;
  return aborted;
}

/**
 * The echo server program's life once it listens, the same for TCP, UDP
 * and workers: `announce` logs where it listens; at SIGINT/SIGTERM it logs
 * the seed's `closing server`, runs `stop` (its `hurry` resolves at a second
 * signal) and reports the connections `stop` aborted, then logs the seed's
 * `closing event loop`.
 *
 * @example
 * ```ts ignore
 * await runUntilSignal(
 *   () => log.info("starting up on {host} port {port}", { host, port }),
 *   (hurry) => shutDown(server, 5, hurry),
 *   5,
 * );
 * ```
 */
export async function runUntilSignal(
  announce: () => void,
  stop: (hurry: Promise<void>) => Promise<number>,
  grace: number,
): Promise<void> {
  const log = getLogger(["main"]);
  const hurry = Promise.withResolvers<void>();
  let hurried = false;
  const signals = onSignals(() => {
    hurried = true;
    hurry.resolve();
  });
  try {
    announce();
    await signals.first;
    log.info("closing server");
    const aborted = await stop(hurry.promise);
    if (aborted > 0) {
      log.warning(
        hurried
          ? "aborted {count} connection(s) still open at the second signal"
          : "aborted {count} connection(s) still open after {grace} s",
        { count: aborted, grace },
      );
    }
    log.info("closing event loop");
  } finally {
    signals.remove();
  }
}
