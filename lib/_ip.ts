/**
 * Telling IP address literals apart, as `node:net`'s `isIP`, `isIPv4` and
 * `isIPv6` do, without loading Node's networking modules (over a megabyte
 * of heap, which every full garbage collection then walks).
 *
 * @module
 */

/** One decimal part of a dotted quad: 0 to 255, no leading zero. */
function isOctet(part: string): boolean {
  if (part.length === 0 || part.length > 3) return false;
  if (part.length > 1 && part[0] === "0") return false;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return Number(part) <= 255;
}

/** One group of an IPv6 address: one to four hex digits. */
function isHexGroup(part: string): boolean {
  if (part.length === 0 || part.length > 4) return false;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i) | 0x20; // lower case for letters
    if (!((c >= 48 && c <= 57) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

/**
 * Whether `text` is an IPv4 address in dotted-quad form (`127.0.0.1`).
 *
 * @example
 * ```ts
 * import { isIPv4 } from "./_ip.ts";
 *
 * isIPv4("127.0.0.1"); // true
 * isIPv4("127.1"); // false
 * ```
 */
export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 && parts.every(isOctet);
}

/**
 * Whether `text` is an IPv6 address: eight groups of hex digits, `::` for
 * a run of zero groups, a dotted quad for the last two, and an optional
 * zone (`fe80::1%eth0`).
 *
 * @example
 * ```ts
 * import { isIPv6 } from "./_ip.ts";
 *
 * isIPv6("::1"); // true
 * isIPv6("::ffff:127.0.0.1"); // true
 * isIPv6("1::2::3"); // false
 * ```
 */
export function isIPv6(text: string): boolean {
  const zone = text.indexOf("%");
  let address = text;
  if (zone >= 0) {
    if (!/^[0-9a-zA-Z\-.:]+$/.test(text.slice(zone + 1))) return false;
    address = text.slice(0, zone);
  }
  const gap = address.indexOf("::");
  if (gap >= 0 && address.indexOf("::", gap + 1) >= 0) return false;
  const halves = gap >= 0
    ? [address.slice(0, gap), address.slice(gap + 2)]
    : [address];
  let groups = 0;
  for (const [h, half] of halves.entries()) {
    if (half === "") continue;
    const parts = half.split(":");
    for (const [i, part] of parts.entries()) {
      const last = h === halves.length - 1 && i === parts.length - 1;
      if (last && part.includes(".")) {
        if (!isIPv4(part)) return false;
        groups += 2;
      } else if (isHexGroup(part)) {
        groups++;
      } else {
        return false;
      }
    }
  }
  return gap >= 0 ? groups <= 7 : groups === 8;
}

/**
 * 4 for an IPv4 address, 6 for an IPv6 one, 0 for anything else (a host
 * name), as `node:net`'s `isIP`.
 *
 * @example
 * ```ts
 * import { isIP } from "./_ip.ts";
 *
 * isIP("::1"); // 6
 * isIP("localhost"); // 0
 * ```
 */
export function isIP(text: string): 0 | 4 | 6 {
  if (isIPv4(text)) return 4;
  return isIPv6(text) ? 6 : 0;
}
