/**
 * Happy Eyeballs (RFC 8305): connecting to a name with several addresses by
 * racing them, a new attempt every `delay` without waiting for the last to
 * fail, address families interleaved (asyncio's `happy_eyeballs_delay`,
 * Node's `autoSelectFamily`).
 *
 * @module
 */

import { type Clock, type ClockTimer, systemClock } from "./clock.ts";
import { isIPv6 } from "./_ip.ts";

/** Opens one connection; aborted through `signal` when it lost the race. */
export type ConnectFunction = (
  options: { hostname: string; port: number; signal: AbortSignal },
) => Promise<Deno.TcpConn>;

/**
 * Orders addresses as RFC 8305 section 4 does: families alternate, starting
 * with the resolver's first, each family in the resolver's order.
 *
 * @example
 * ```ts
 * import { interleave } from "./_happy_eyeballs.ts";
 *
 * interleave(["::1", "::2", "127.0.0.1"]); // ["::1", "127.0.0.1", "::2"]
 * ```
 */
export function interleave(addresses: string[]): string[] {
  if (addresses.length === 0) return [];
  const firstIsV6 = isIPv6(addresses[0]);
  const first = addresses.filter((a) => isIPv6(a) === firstIsV6);
  const second = addresses.filter((a) => isIPv6(a) !== firstIsV6);
  const out: string[] = [];
  for (let i = 0; i < Math.max(first.length, second.length); i++) {
    if (i < first.length) out.push(first[i]);
    if (i < second.length) out.push(second[i]);
  }
  return out;
}

/** Every attempt failed: one error naming each address and why. */
export class AllAttemptsFailedError extends Error {
  override name = "AllAttemptsFailedError";

  /** @param errors each address tried and what it failed with. */
  constructor(readonly errors: { address: string; error: unknown }[]) {
    super(
      errors.map(({ address, error }) =>
        `${address}: ${error instanceof Error ? error.message : error}`
      ).join("; "),
      { cause: errors.at(-1)?.error },
    );
  }
}

/**
 * Connects to the first of `addresses` to accept, starting attempt k+1
 * `delay` seconds on `clock` after attempt k started (or at once when it fails; only then
 * with `delay` null: one at a time). The first
 * connection wins; attempts still running are aborted and connections that
 * complete after the winner are closed.
 *
 * @throws {AllAttemptsFailedError} when every attempt fails (its `cause` is
 * the last error); the signal's reason when `signal` aborts first.
 */
export function staggeredConnect(
  addresses: string[],
  port: number,
  delay: number | null,
  connect: ConnectFunction,
  signal?: AbortSignal,
  clock: Clock = systemClock,
): Promise<Deno.TcpConn> {
  return new Promise((resolve, reject) => {
    const order = interleave(addresses);
    const attempts: AbortController[] = [];
    const errors: { address: string; error: unknown }[] = [];
    let next = 0;
    let running = 0;
    let done = false;
    let timer: ClockTimer | undefined;

    const finish = () => {
      done = true;
      timer?.cancel();
      signal?.removeEventListener("abort", onAbort);
      for (const attempt of attempts) attempt.abort();
    };
    const onAbort = () => {
      if (done) return;
      finish();
      reject(signal!.reason);
    };
    const start = () => {
      timer?.cancel();
      if (done || next >= order.length) return;
      const address = order[next++];
      const controller = new AbortController();
      attempts.push(controller);
      running++;
      connect({ hostname: address, port, signal: controller.signal }).then(
        (conn) => {
          running--;
          if (done) {
            conn.close(); // a loser that connected after the winner
            return;
          }
          attempts.splice(attempts.indexOf(controller), 1);
          finish();
          resolve(conn);
        },
        (error) => {
          running--;
          if (done) return;
          errors.push({ address, error });
          if (next < order.length) start();
          else if (running === 0) {
            finish();
            reject(new AllAttemptsFailedError(errors));
          }
        },
      );
      if (next < order.length && delay !== null) {
        timer = clock.setTimeout(start, delay);
      }
    };

    if (signal?.aborted) return reject(signal.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    start();
  });
}
