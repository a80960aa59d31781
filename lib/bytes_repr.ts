/**
 * {@linkcode bytesRepr}: bytes as Python's `repr()` shows them.
 *
 * @module
 */

const HEX = "0123456789abcdef";

/** Each byte's escaped form, for the single-quoted and double-quoted cases. */
function table(quote: "'" | '"'): string[] {
  const out: string[] = [];
  for (let byte = 0; byte < 256; byte++) {
    const char = String.fromCharCode(byte);
    if (char === "\\") out.push("\\\\");
    else if (char === quote) out.push("\\" + quote);
    else if (byte === 0x09) out.push("\\t");
    else if (byte === 0x0a) out.push("\\n");
    else if (byte === 0x0d) out.push("\\r");
    else if (byte < 0x20 || byte >= 0x7f) {
      out.push("\\x" + HEX[byte >> 4] + HEX[byte & 15]);
    } else out.push(char);
  }
  return out;
}

const SINGLE = table("'");
const DOUBLE = table('"');
const QUOTE = 0x27;
const DOUBLE_QUOTE = 0x22;

/**
 * Formats bytes exactly as Python's `repr(bytes)` does: `b'...'`, with
 * `\t`, `\n`, `\r`, `\\` and `\xhh` escapes for every other byte outside
 * printable ASCII, and double quotes when the data holds a single quote but
 * no double quote. No control byte passes through unescaped, so the result
 * is safe to print to a terminal.
 *
 * @example
 * ```ts
 * import { bytesRepr } from "./bytes_repr.ts";
 *
 * bytesRepr(new TextEncoder().encode("in parts.\n")); // "b'in parts.\\n'"
 * bytesRepr(new TextEncoder().encode("it's")); // `b"it's"`
 * ```
 */
export function bytesRepr(data: Uint8Array): string {
  const useDouble = data.includes(QUOTE) && !data.includes(DOUBLE_QUOTE);
  const escapes = useDouble ? DOUBLE : SINGLE;
  const quote = useDouble ? '"' : "'";
  let out = "b" + quote;
  for (let i = 0; i < data.length; i++) out += escapes[data[i]];
  return out + quote;
}
