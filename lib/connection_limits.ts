/**
 * {@linkcode ConnectionLimits}: how many connections a server may hold, in
 * all and from one address, counted once for every thread that serves the
 * same port.
 *
 * @module
 */

/** Slots of the shared per-address table (see {@linkcode ConnectionLimits.shared}). */
const SLOTS = 65536;
/** Where the counts sit in the shared memory. */
const TOTAL = 0;
const MAX = 1;
const PER_ADDRESS = 2;
const FIRST_SLOT = 3;

/** Why a connection was refused. */
export type Refusal = "total" | "per-address";

/** The limits, as numbers (0 or absent: no limit). */
export interface ConnectionLimitOptions {
  /** The most connections at once, in all. */
  maxConnections?: number;
  /** The most connections at once from one IP address. */
  maxConnectionsPerIp?: number;
}

/** FNV-1a of a string, as a slot number. */
function slotOf(address: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < address.length; i++) {
    hash ^= address.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return FIRST_SLOT + ((hash >>> 0) % SLOTS);
}

/**
 * Counts open connections against a total limit and a per-address limit.
 *
 * In one thread ({@linkcode ConnectionLimits.local}) the per-address counts
 * are exact. Shared between threads ({@linkcode ConnectionLimits.shared},
 * then {@linkcode ConnectionLimits.attach} in each worker) the counts live
 * in a `SharedArrayBuffer` updated with `Atomics`, and addresses are
 * counted in 65,536 hashed slots: two addresses that share a slot share a
 * budget (with n busy addresses, a given one shares with about n / 65,536
 * others).
 *
 * @example One limit for two servers
 * ```ts
 * import { ConnectionLimits } from "@protocols/core";
 *
 * const limits = ConnectionLimits.local({ maxConnections: 2 });
 * limits.acquire("10.0.0.1"); // null: accepted
 * limits.acquire("10.0.0.2"); // null
 * limits.acquire("10.0.0.3"); // "total": refused
 * limits.release("10.0.0.1");
 * ```
 */
export class ConnectionLimits {
  #counts: Int32Array;
  #perAddress: Map<string, number> | null;

  private constructor(counts: Int32Array, shared: boolean) {
    this.#counts = counts;
    this.#perAddress = shared ? null : new Map();
  }

  /** Limits for one thread's servers. */
  static local(options: ConnectionLimitOptions = {}): ConnectionLimits {
    const limits = new ConnectionLimits(new Int32Array(FIRST_SLOT), false);
    limits.#set(options);
    return limits;
  }

  /**
   * Limits shared by threads: pass {@linkcode ConnectionLimits.buffer} to
   * each worker and {@linkcode ConnectionLimits.attach} it there.
   */
  static shared(options: ConnectionLimitOptions = {}): ConnectionLimits {
    const buffer = new SharedArrayBuffer((FIRST_SLOT + SLOTS) * 4);
    const limits = new ConnectionLimits(new Int32Array(buffer), true);
    limits.#set(options);
    return limits;
  }

  /** The limits another thread made with {@linkcode ConnectionLimits.shared}. */
  static attach(buffer: SharedArrayBuffer): ConnectionLimits {
    return new ConnectionLimits(new Int32Array(buffer), true);
  }

  #set(options: ConnectionLimitOptions): void {
    for (
      const [name, value] of [
        ["maxConnections", options.maxConnections],
        ["maxConnectionsPerIp", options.maxConnectionsPerIp],
      ] as const
    ) {
      if (
        value !== undefined &&
        (!Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1)
      ) {
        throw new RangeError(
          `${name} must be a whole number >= 0 (0: no limit), got ${value}`,
        );
      }
    }
    this.#counts[MAX] = options.maxConnections ?? 0;
    this.#counts[PER_ADDRESS] = options.maxConnectionsPerIp ?? 0;
  }

  /** The memory shared limits live in, for another thread (else undefined). */
  get buffer(): SharedArrayBuffer | undefined {
    const buffer = this.#counts.buffer;
    return buffer instanceof SharedArrayBuffer ? buffer : undefined;
  }

  /** The total limit (0: none). */
  get maxConnections(): number {
    return this.#counts[MAX];
  }

  /** The per-address limit (0: none). */
  get maxConnectionsPerIp(): number {
    return this.#counts[PER_ADDRESS];
  }

  /** Connections counted now, in all. */
  get open(): number {
    return Atomics.load(this.#counts, TOTAL);
  }

  /**
   * Counts a new connection from `address` (none: a Unix socket peer, or one
   * counted per address later), in all unless `total` is false. Resolves to
   * `null` when it is within the limits, or to which limit refuses it (it is
   * then not counted).
   */
  acquire(address: string | undefined, total = true): Refusal | null {
    const counts = this.#counts;
    if (total) {
      const max = counts[MAX];
      if (Atomics.add(counts, TOTAL, 1) >= max && max > 0) {
        Atomics.sub(counts, TOTAL, 1);
        return "total";
      }
    }
    const perAddress = counts[PER_ADDRESS];
    if (address === undefined || perAddress === 0) return null;
    if (this.#perAddress) {
      const open = this.#perAddress.get(address) ?? 0;
      if (open < perAddress) {
        this.#perAddress.set(address, open + 1);
        return null;
      }
    } else {
      const slot = slotOf(address);
      if (Atomics.add(counts, slot, 1) < perAddress) return null;
      Atomics.sub(counts, slot, 1);
    }
    if (total) Atomics.sub(counts, TOTAL, 1);
    return "per-address";
  }

  /** Uncounts a connection that {@linkcode ConnectionLimits.acquire} counted. */
  release(address: string | undefined, total = true): void {
    const counts = this.#counts;
    if (total) Atomics.sub(counts, TOTAL, 1);
    if (address === undefined || counts[PER_ADDRESS] === 0) return;
    if (this.#perAddress) {
      const open = (this.#perAddress.get(address) ?? 1) - 1;
      if (open > 0) this.#perAddress.set(address, open);
      else this.#perAddress.delete(address);
    } else {
      Atomics.sub(counts, slotOf(address), 1);
    }
  }
}
