/**
 * Shutting a server down on signals: what the echo server program does at
 * SIGINT, SIGTERM, SIGQUIT and SIGHUP, in the main thread and in each worker.
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import type { Server } from "@protocols/core";

/**
 * The signals that stop the server gracefully (SIGHUP too, unless the
 * server has something to reload on it).
 *
 * @example
 * ```ts ignore
 * SIGNALS; // ["SIGINT", "SIGTERM", "SIGQUIT"] (Windows: ["SIGINT", "SIGBREAK"])
 * ```
 */
export const SIGNALS: Deno.Signal[] = Deno.build.os === "windows"
  ? ["SIGINT", "SIGBREAK"]
  : ["SIGINT", "SIGTERM", "SIGQUIT"];

/** The signal that reloads what can be reloaded (nginx's convention). */
const RELOAD: Deno.Signal | null = Deno.build.os === "windows"
  ? null
  : "SIGHUP";

/** Removes the listeners of the last {@linkcode onSignals}, if any. */
let removeHeld: (() => void) | null = null;

/**
 * Resolves on the first stopping signal; `onRepeat` is called on each
 * later one. With `onReload`, SIGHUP calls it instead of stopping (until
 * the first stopping signal; it is ignored after). Returns the promise.
 *
 * The listeners stay until {@linkcode releaseSignals}, called once the
 * program's last log line is out: a signal during the final flush (stderr
 * not read, say) is ignored instead of killing the program mid-exit.
 *
 * @example
 * ```ts ignore
 * const first = onSignals(() => console.log("again: hurrying"));
 * await first;
 * ```
 */
export function onSignals(
  onRepeat: () => void,
  onReload?: () => void,
): Promise<Deno.Signal> {
  releaseSignals();
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  let seen = false;
  const stopping = [...SIGNALS];
  if (RELOAD && !onReload) stopping.push(RELOAD);
  const handlers: [Deno.Signal, () => void][] = stopping.map((signal) => [
    signal,
    () => {
      if (seen) onRepeat();
      seen = true;
      resolve(signal);
    },
  ]);
  if (RELOAD && onReload) {
    handlers.push([RELOAD, () => {
      if (!seen) onReload();
    }]);
  }
  for (const [signal, handler] of handlers) {
    Deno.addSignalListener(signal, handler);
  }
  removeHeld = () => {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
  return promise;
}

/**
 * Removes the signal listeners {@linkcode onSignals} installed: the
 * program's last step before it exits.
 *
 * @example
 * ```ts ignore
 * await flushLogs();
 * releaseSignals();
 * ```
 */
export function releaseSignals(): void {
  removeHeld?.();
  removeHeld = null;
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
 * and workers: `announce` logs where it listens; at SIGINT, SIGTERM or
 * SIGQUIT (and SIGHUP without `reload`) it logs the seed's `closing
 * server`, runs `stop` (its `hurry` resolves at a second signal) and
 * reports the connections `stop` aborted, then logs the seed's `closing
 * event loop`. `reload` runs at each SIGHUP while it serves.
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
  reload?: () => Promise<void>,
): Promise<void> {
  const log = getLogger(["main"]);
  const hurry = Promise.withResolvers<void>();
  let hurried = false;
  let reloading = Promise.resolve();
  const first = onSignals(
    () => {
      hurried = true;
      hurry.resolve();
    },
    reload && (() => {
      // One reload at a time, in the order the signals came.
      reloading = reloading.then(reload).catch((error) =>
        log.error("reload failed: {error}", { error })
      );
    }),
  );
  announce();
  await first;
  await reloading;
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
}
