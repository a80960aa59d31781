/**
 * Opening a server's listening sockets: TCP on every address a name
 * resolves to (one shared port), TLS over the same, or a Unix socket with
 * stale-socket clean-up.
 *
 * @module
 */

import type { TlsContext } from "./_tls_stream.ts";
import { resolveHost } from "./_resolve.ts";
import type { TlsServerOptions } from "./tls_server_options.ts";

/** Where and how to listen. */
export interface ListenOptions {
  /** Host name or address (see `createServer`). */
  hostname?: string;
  /** TCP port (0: any free one). */
  port?: number;
  /** Linux `SO_REUSEPORT`. */
  reusePort?: boolean;
  /** Serve TLS with this certificate. */
  tls?: TlsServerOptions;
  /** Listen on this Unix socket path instead of TCP. */
  path?: string;
}

/** Listeners that are open, and how to clean up after them. */
export interface Listening {
  /** One listener per address (plain TCP for TLS too: see `tls`). */
  listeners: Deno.Listener[];
  /** The TLS each accepted connection starts with, for a TLS server. */
  tls?: TlsContext;
  /** Removes what the listeners left behind (a Unix socket file). */
  cleanUp(): Promise<void>;
}

/**
 * Opens one TCP (or TLS) listener per address, all on the same port: the
 * given one, or the one the kernel picked for the first address when `port`
 * is 0.
 */
function listenAll(
  addresses: string[],
  port: number,
  reusePort: boolean,
): Deno.Listener[] {
  for (let attempt = 0;; attempt++) {
    const listeners: Deno.Listener[] = [];
    let chosen = port;
    try {
      for (const hostname of addresses) {
        const listener = Deno.listen({
          hostname,
          port: chosen,
          ...(reusePort ? { reusePort: true } : {}),
        });
        listeners.push(listener);
        chosen = (listener.addr as Deno.NetAddr).port;
      }
      return listeners;
    } catch (error) {
      for (const listener of listeners) listener.close();
      // With port 0, the port the first address got may be taken on the
      // next one: pick again a few times.
      const retry = port === 0 && listeners.length > 0 &&
        error instanceof Deno.errors.AddrInUse && attempt < 8;
      if (!retry) throw error;
    }
  }
}

/**
 * Takes the lock file beside a Unix socket (`PATH.lock`), held while the
 * server listens: how servers of this library tell a live socket from one a
 * dead server left without connecting to it (a connection would show up in
 * the live server's log). Resolves to the open, locked file and whether it
 * was there before (so the socket beside it is one of ours); null when a
 * running server holds it.
 */
async function lockSocket(
  path: string,
): Promise<{ file: Deno.FsFile; existed: boolean } | null> {
  const lockPath = `${path}.lock`;
  let existed = true;
  try {
    await Deno.lstat(lockPath);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    existed = false;
  }
  const file = await Deno.open(lockPath, {
    read: true,
    write: true,
    create: true,
  });
  if (await file.tryLock(true)) return { file, existed };
  file.close();
  return null;
}

/** Whether something accepts connections on the Unix socket at `path`. */
async function answers(path: string): Promise<boolean> {
  try {
    (await Deno.connect({ transport: "unix", path })).close();
    return true;
  } catch {
    return false;
  }
}

/**
 * Listens on a Unix socket at `path`. A socket file already there is
 * removed if no server holds it (a server that died left it); one that a
 * live server answers on is an error, and so is any other kind of file,
 * which is never removed. A server of this library is known to be live by
 * its lock file (`PATH.lock`), so it is never sent a probing connection; a
 * socket of another program is probed by connecting to it.
 */
async function listenUnix(path: string): Promise<Listening> {
  let existing: Deno.FileInfo | null = null;
  try {
    existing = await Deno.lstat(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (existing && !existing.isSocket) {
    throw new Deno.errors.AlreadyExists(
      `${path} exists and is not a socket; not removing it`,
    );
  }
  const lock = await lockSocket(path);
  if (!lock) {
    throw new Deno.errors.AddrInUse(`${path} is in use by a running server`);
  }
  try {
    if (existing) {
      // Ours and unlocked: left by a dead server. Otherwise, ask it.
      if (!lock.existed && await answers(path)) {
        throw new Deno.errors.AddrInUse(
          `${path} is in use by a running server`,
        );
      }
      await Deno.remove(path);
    }
    const listener = Deno.listen({ transport: "unix", path });
    const ino = (await Deno.lstat(path)).ino;
    return {
      listeners: [listener],
      async cleanUp() {
        try {
          const now = await Deno.lstat(path);
          if (now.isSocket && now.ino === ino) await Deno.remove(path);
        } catch {
          // Already gone.
        }
        try {
          await Deno.remove(`${path}.lock`);
        } catch {
          // Already gone.
        }
        lock.file.close();
      },
    };
  } catch (error) {
    lock.file.close();
    if (!lock.existed) await Deno.remove(`${path}.lock`).catch(() => {});
    throw error;
  }
}

/**
 * Opens the listeners `options` ask for.
 *
 * @example
 * ```ts
 * import { openListeners } from "./_listen.ts";
 *
 * const { listeners, cleanUp } = await openListeners({ port: 0 });
 * for (const listener of listeners) listener.close();
 * await cleanUp();
 * ```
 *
 * @throws {Deno.errors.AddrInUse} when the port or socket path is taken.
 * @throws {Deno.errors.AlreadyExists} when the path is some other file.
 * @throws {Deno.errors.NotFound} when the host name does not resolve.
 */
export async function openListeners(
  options: ListenOptions,
): Promise<Listening> {
  if (options.path !== undefined) return await listenUnix(options.path);
  const { hostname = "localhost", port = 0, reusePort = false } = options;
  // Parsed first: a bad certificate is an error before anything listens.
  // node:tls is loaded by TLS servers only: it is a large part of the heap.
  const tls = options.tls &&
    (await import("./_tls_stream.ts")).tlsContext(options.tls);
  const addresses = hostname === "" ? ["0.0.0.0"] : await resolveHost(hostname);
  return {
    listeners: listenAll(addresses, port, reusePort),
    ...(tls ? { tls } : {}),
    cleanUp: () => Promise.resolve(),
  };
}
