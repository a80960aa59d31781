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

/**
 * The 16 bytes of an IP address, an IPv4 address as IPv4-mapped IPv6
 * (`::ffff:a.b.c.d`), a zone dropped; `null` for anything else. Every
 * spelling of one address gives the same bytes.
 *
 * @example
 * ```ts
 * import { ipBytes } from "./_ip.ts";
 *
 * ipBytes("192.0.2.7"); // the same bytes as for "::ffff:c000:207"
 * ipBytes("localhost"); // null
 * ```
 */
export function ipBytes(text: string): Uint8Array | null {
  const bytes = new Uint8Array(16);
  if (isIPv4(text)) {
    bytes[10] = bytes[11] = 0xff;
    text.split(".").forEach((part, i) => bytes[12 + i] = Number(part));
    return bytes;
  }
  if (!isIPv6(text)) return null;
  const zone = text.indexOf("%");
  const address = zone >= 0 ? text.slice(0, zone) : text;
  const gap = address.indexOf("::");
  const groupsOf = (half: string): number[] => {
    if (half === "") return [];
    const groups: number[] = [];
    for (const part of half.split(":")) {
      if (part.includes(".")) {
        const [a, b, c, d] = part.split(".").map(Number);
        groups.push((a << 8) | b, (c << 8) | d);
      } else {
        groups.push(parseInt(part, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(gap >= 0 ? address.slice(0, gap) : address);
  const tail = gap >= 0 ? groupsOf(address.slice(gap + 2)) : [];
  const groups = [
    ...head,
    ...new Array(8 - head.length - tail.length).fill(0),
    ...tail,
  ];
  groups.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

/** Whether 16 address bytes are an IPv4-mapped IPv6 address. */
function isMapped(bytes: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * The text of 16 address bytes, as {@linkcode canonicalIp} writes it.
 *
 * @example
 * ```ts
 * import { ipText } from "./_ip.ts";
 *
 * ipText(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7])); // "192.0.2.7"
 * ```
 */
export function ipText(bytes: Uint8Array): string {
  if (isMapped(bytes)) return bytes.subarray(12, 16).join(".");
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i] << 8) | bytes[i + 1]);
  let best = -1, bestLength = 1; // a lone zero group stays "0"
  for (let i = 0; i < 8;) {
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) [best, bestLength] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const hex = (part: number[]) => part.map((g) => g.toString(16)).join(":");
  if (best < 0) return hex(groups);
  return `${hex(groups.slice(0, best))}::${
    hex(groups.slice(best + bestLength))
  }`;
}

/**
 * One text for each IP address: an IPv4 address (or an IPv4-mapped IPv6
 * one, `::ffff:192.0.2.7`) as a dotted quad; an IPv6 address in RFC 5952's
 * form (lower case, no leading zeros, the longest run of zero groups as
 * `::`), a zone dropped. Anything else comes back as it is.
 *
 * @example
 * ```ts
 * import { canonicalIp } from "./_ip.ts";
 *
 * canonicalIp("::FFFF:C000:207"); // "192.0.2.7"
 * canonicalIp("2001:DB8:0:0:0:0:0:01"); // "2001:db8::1"
 * ```
 */
export function canonicalIp(text: string): string {
  const bytes = ipBytes(text);
  return bytes === null ? text : ipText(bytes);
}
