/**
 * Address ranges in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`, or a
 * single address), for `proxyProtocolFrom`.
 *
 * @module
 */

import { ipBytes, isIPv4 } from "./_ip.ts";

/** One range: the first `bits` bits of `prefix`. */
interface Range {
  prefix: Uint8Array;
  bits: number;
}

function parseRange(text: string): Range {
  const [address, length, extra] = text.split("/");
  const prefix = ipBytes(address);
  const v4 = isIPv4(address);
  const max = v4 ? 32 : 128;
  const bits = length === undefined ? max : Number(length);
  if (
    prefix === null || extra !== undefined ||
    (length !== undefined && !/^\d{1,3}$/.test(length)) || bits > max
  ) {
    throw new RangeError(
      `not an address range (CIDR such as 10.0.0.0/8 or 2001:db8::/32): '${text}'`,
    );
  }
  return { prefix, bits: v4 ? bits + 96 : bits };
}

function inRange(bytes: Uint8Array, range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i] & mask) !== (range.prefix[i] & mask)) return false;
  }
  return true;
}

/**
 * A set of address ranges, as `proxyProtocolFrom` takes them. IPv4
 * addresses and IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) are the same
 * address.
 *
 * @example
 * ```ts
 * import { AddressRanges } from "@protocols/core";
 *
 * const ranges = new AddressRanges(["10.0.0.0/8", "::1"]);
 * ranges.has("10.1.2.3"); // true
 * ranges.has("192.0.2.1"); // false
 * ```
 */
export class AddressRanges {
  #ranges: Range[];

  /**
   * Parses `ranges`: CIDR ranges or single addresses, IPv4 or IPv6.
   *
   * @throws {RangeError} for a range that does not parse, naming it.
   */
  constructor(ranges: Iterable<string>) {
    this.#ranges = [...ranges].map(parseRange);
  }

  /** Whether `address` (an IP literal) is in one of the ranges. */
  has(address: string): boolean {
    const bytes = ipBytes(address);
    if (bytes === null) return false;
    return this.#ranges.some((range) => inRange(bytes, range));
  }
}
