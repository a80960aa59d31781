/**
 * {@linkcode ConnectionLimits}: how many connections a server may hold, in
 * all and from one address, counted once for every thread that serves the
 * same port.
 *
 * @module
 */

import { canonicalIp, ipBytes } from "./_ip.ts";

/** Addresses the shared table can count at once (see {@linkcode ConnectionLimits.shared}). */
const SLOTS = 65536;
/** Where the counts sit in the shared memory. */
const TOTAL = 0;
const MAX = 1;
const PER_ADDRESS = 2;
const LOCK = 3; // 1 while a thread changes the table
const USED = 4; // addresses in the table
const SECRET = 5; // four random words that key the slot hash
const FIRST_SLOT = 9;
/** Each slot: the address's 16 bytes as four words, then its count. */
const SLOT_WORDS = 5;

/** One step of MurmurHash3's 32-bit mixing. */
function mix(hash: number, word: number): number {
  word = Math.imul(word, 0xcc9e2d51);
  word = (word << 15) | (word >>> 17);
  hash ^= Math.imul(word, 0x1b873593);
  hash = (hash << 13) | (hash >>> 19);
  return (Math.imul(hash, 5) + 0xe6546b64) | 0;
}

/** The address `text` as four words, or null when it is no IP address. */
function keyOf(text: string): Int32Array | null {
  const bytes = ipBytes(text);
  if (bytes === null) return null;
  const view = new DataView(bytes.buffer);
  return Int32Array.of(
    view.getInt32(0),
    view.getInt32(4),
    view.getInt32(8),
    view.getInt32(12),
  );
}

/**
 * Why a connection was refused: `total` (at `maxConnections`) or
 * `per_address` (at `maxConnectionsPerIp`). (Before 0.4, `per_address` was
 * spelled `per-address`.)
 */
export type Refusal = "total" | "per_address";

/** The limits, as numbers (0 or absent: no limit). */
export interface ConnectionLimitOptions {
  /** The most connections at once, in all. */
  maxConnections?: number;
  /** The most connections at once from one IP address. */
  maxConnectionsPerIp?: number;
}

/**
 * Counts open connections against a total limit and a per-address limit.
 *
 * Addresses are counted as addresses, not as text: every spelling of one
 * (`192.0.2.7`, `::ffff:192.0.2.7`, `::FFFF:C000:207`) is one address,
 * with one budget.
 *
 * In one thread ({@linkcode ConnectionLimits.local}) the counts live in a
 * map. Shared between threads ({@linkcode ConnectionLimits.shared}, then
 * {@linkcode ConnectionLimits.attach} in each worker) they live in a
 * `SharedArrayBuffer`: a table of up to 65,535 addresses, each stored in
 * full beside its count, placed by a hash keyed with a secret drawn when
 * the limits are made. Counts are exact either way: no address shares a
 * budget with another, so no peer can shut another out by choosing its
 * own address. Past 65,535 addresses open at once, a new address is served
 * without a per-address count (never refused for want of room).
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
    const buffer = new SharedArrayBuffer(
      (FIRST_SLOT + SLOTS * SLOT_WORDS) * 4,
    );
    const counts = new Int32Array(buffer);
    crypto.getRandomValues(counts.subarray(SECRET, SECRET + 4));
    const limits = new ConnectionLimits(counts, true);
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
      const key = canonicalIp(address);
      const open = this.#perAddress.get(key) ?? 0;
      if (open < perAddress) {
        this.#perAddress.set(key, open + 1);
        return null;
      }
    } else if (this.#sharedAcquire(address, perAddress)) {
      return null;
    }
    if (total) Atomics.sub(counts, TOTAL, 1);
    return "per_address";
  }

  /** Uncounts a connection that {@linkcode ConnectionLimits.acquire} counted. */
  release(address: string | undefined, total = true): void {
    const counts = this.#counts;
    if (total) Atomics.sub(counts, TOTAL, 1);
    if (address === undefined || counts[PER_ADDRESS] === 0) return;
    if (this.#perAddress) {
      const key = canonicalIp(address);
      const open = (this.#perAddress.get(key) ?? 1) - 1;
      if (open > 0) this.#perAddress.set(key, open);
      else this.#perAddress.delete(key);
    } else {
      this.#sharedRelease(address);
    }
  }

  /** Where `key` belongs in the shared table: a hash keyed by the secret. */
  #home(key: Int32Array): number {
    const counts = this.#counts;
    let hash = counts[SECRET];
    for (let i = 0; i < 4; i++) hash = mix(hash, key[i] ^ counts[SECRET + i]);
    hash ^= hash >>> 16;
    hash = Math.imul(hash, 0x85ebca6b);
    hash ^= hash >>> 13;
    return (hash >>> 0) % SLOTS;
  }

  /** The word offset of slot `i`. */
  #at(i: number): number {
    return FIRST_SLOT + i * SLOT_WORDS;
  }

  /** Whether slot `i` holds `key` (a slot with no count is empty). */
  #holds(i: number, key: Int32Array): boolean {
    const counts = this.#counts;
    const at = this.#at(i);
    return counts[at + 4] > 0 && counts[at] === key[0] &&
      counts[at + 1] === key[1] && counts[at + 2] === key[2] &&
      counts[at + 3] === key[3];
  }

  /**
   * Runs `change` with the shared table to itself. The critical sections
   * are a few dozen operations that cannot throw, so a spin lock serves.
   */
  #locked<T>(change: () => T): T {
    const counts = this.#counts;
    while (Atomics.compareExchange(counts, LOCK, 0, 1) !== 0) {
      // Another thread is in the table for a moment.
    }
    try {
      return change();
    } finally {
      Atomics.store(counts, LOCK, 0);
    }
  }

  /** Counts `address` in the shared table: false at its limit. */
  #sharedAcquire(address: string, perAddress: number): boolean {
    const key = keyOf(address);
    if (key === null) return true;
    return this.#locked(() => {
      const counts = this.#counts;
      let i = this.#home(key);
      while (counts[this.#at(i) + 4] > 0) {
        if (this.#holds(i, key)) {
          const at = this.#at(i) + 4;
          if (counts[at] >= perAddress) return false;
          counts[at]++;
          return true;
        }
        i = (i + 1) % SLOTS;
      }
      // Not there: a new address, in the empty slot the probe ended on,
      // unless the table is full (one slot stays empty to end probes).
      if (counts[USED] >= SLOTS - 1) return true;
      counts.set(key, this.#at(i));
      counts[this.#at(i) + 4] = 1;
      counts[USED]++;
      return true;
    });
  }

  /** Uncounts `address` in the shared table; its slot empties at 0. */
  #sharedRelease(address: string): void {
    const key = keyOf(address);
    if (key === null) return;
    this.#locked(() => {
      const counts = this.#counts;
      let i = this.#home(key);
      while (!this.#holds(i, key)) {
        if (counts[this.#at(i) + 4] === 0) return; // never counted
        i = (i + 1) % SLOTS;
      }
      if (--counts[this.#at(i) + 4] > 0) return;
      counts[USED]--;
      // Linear probing's deletion: move back each later entry of the run
      // whose home is not between the hole and it, so probes still find it.
      for (let j = (i + 1) % SLOTS; counts[this.#at(j) + 4] > 0;) {
        const home = this.#home(counts.subarray(this.#at(j), this.#at(j) + 4));
        const stays = i <= j ? i < home && home <= j : i < home || home <= j;
        if (!stays) {
          counts.copyWithin(this.#at(i), this.#at(j), this.#at(j) + SLOT_WORDS);
          counts[this.#at(j) + 4] = 0;
          i = j;
        }
        j = (j + 1) % SLOTS;
      }
    });
  }
}
