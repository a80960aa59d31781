/**
 * Bytes a peer sent, made safe to quote in an error or a log line.
 *
 * @module
 */

/**
 * Quotes bytes as `'...'`: printable ASCII as it is, `\\` and `'` escaped,
 * every other byte as `\xhh`; at most `limit` bytes, then `...` and the
 * length. No control byte passes through.
 */
export function escapeBytes(data: Uint8Array, limit = 64): string {
  let out = "'";
  for (const byte of data.subarray(0, limit)) {
    if (byte === 0x5c || byte === 0x27) out += "\\" + String.fromCharCode(byte);
    else if (byte >= 0x20 && byte < 0x7f) out += String.fromCharCode(byte);
    else out += "\\x" + byte.toString(16).padStart(2, "0");
  }
  out += "'";
  return data.length > limit ? `${out}... (${data.length} bytes)` : out;
}
