/**
 * {@linkcode bytesRepr}: bytes as Python's `repr()` shows them.
 *
 * @module
 */

const HEX = "0123456789abcdef";
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Each byte's escaped form as ASCII, for the single-quoted or double-quoted
 * case: byte `b`'s escape is `chars[4 * b]` onwards, `lengths[b]` long.
 */
interface Escapes {
  chars: Uint8Array;
  lengths: Uint8Array;
}

function table(quote: "'" | '"'): Escapes {
  const chars = new Uint8Array(4 * 256);
  const lengths = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) {
    const char = String.fromCharCode(byte);
    let escape;
    if (char === "\\") escape = "\\\\";
    else if (char === quote) escape = "\\" + quote;
    else if (byte === 0x09) escape = "\\t";
    else if (byte === 0x0a) escape = "\\n";
    else if (byte === 0x0d) escape = "\\r";
    else if (byte < 0x20 || byte >= 0x7f) {
      escape = "\\x" + HEX[byte >> 4] + HEX[byte & 15];
    } else escape = char;
    chars.set(encoder.encode(escape), 4 * byte);
    lengths[byte] = escape.length;
  }
  return { chars, lengths };
}

const SINGLE = table("'");
const DOUBLE = table('"');
const QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;

/** Output memory reused across calls, for chunks up to 64 KiB. */
let scratch = new Uint8Array(0);
const SCRATCH_LIMIT = 4 * 64 * 1024 + 3;

/**
 * Formats bytes exactly as Python's `repr(bytes)` does: `b'...'`, with
 * `\t`, `\n`, `\r`, `\\` and `\xhh` escapes for every other byte outside
 * printable ASCII, and double quotes when the data holds a single quote but
 * no double quote. No control byte passes through unescaped, so the result
 * is safe to print to a terminal.
 *
 * With `limit`, at most that many bytes are shown: a longer array shows its
 * first `limit` bytes, then `...` and its length, so a log line stays short
 * whatever a peer sends.
 *
 * @example
 * ```ts
 * import { bytesRepr } from "./bytes_repr.ts";
 *
 * bytesRepr(new TextEncoder().encode("in parts.\n")); // "b'in parts.\\n'"
 * bytesRepr(new TextEncoder().encode("it's")); // `b"it's"`
 * bytesRepr(new Uint8Array(1000), 4); // "b'\\x00\\x00\\x00\\x00'... (1000 bytes)"
 * ```
 */
export function bytesRepr(data: Uint8Array, limit = Infinity): string {
  if (data.length > limit) {
    return `${bytesRepr(data.subarray(0, limit))}... (${data.length} bytes)`;
  }
  const useDouble = data.includes(QUOTE) && !data.includes(DOUBLE_QUOTE);
  const { chars, lengths } = useDouble ? DOUBLE : SINGLE;
  // Built as ASCII bytes and decoded once: a string joined from one piece
  // per byte makes garbage that costs far more than the bytes themselves.
  const size = 4 * data.length + 3;
  let out = scratch;
  if (out.length < size) {
    out = new Uint8Array(size);
    if (size <= SCRATCH_LIMIT) scratch = out;
  }
  out[0] = 0x62; // b
  out[1] = useDouble ? DOUBLE_QUOTE : QUOTE;
  let length = 2;
  for (let i = 0; i < data.length; i++) {
    // All four bytes are copied and the length decides how many count:
    // branching on the length mispredicts on binary data.
    const at = 4 * data[i];
    out[length] = chars[at];
    out[length + 1] = chars[at + 1];
    out[length + 2] = chars[at + 2];
    out[length + 3] = chars[at + 3];
    length += lengths[data[i]];
  }
  out[length++] = out[1];
  return decoder.decode(out.subarray(0, length));
}
