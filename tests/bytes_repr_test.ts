import assert from "node:assert/strict";
import { bytesRepr } from "../echo/bytes_repr.ts";
import { randomBytes } from "./_helpers.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("bytesRepr formats the seed's messages as Python does", () => {
  assert.equal(
    bytesRepr(encode("This is the message. ")),
    "b'This is the message. '",
  );
  assert.equal(bytesRepr(new Uint8Array(0)), "b''");
  assert.equal(bytesRepr(encode("it's")), `b"it's"`);
  assert.equal(bytesRepr(encode(`it's "x"`)), `b'it\\'s "x"'`);
  assert.equal(
    bytesRepr(new Uint8Array([0, 9, 10, 13, 27, 92, 127, 255])),
    "b'\\x00\\t\\n\\r\\x1b\\\\\\x7f\\xff'",
  );
});

Deno.test("bytesRepr matches python3's repr() on random and edge-case bytes", async () => {
  const samples: Uint8Array[] = [
    new Uint8Array(Array.from({ length: 256 }, (_, i) => i)),
    encode("'"),
    encode('"'),
    encode(`'"`),
    encode("\x1b[31mred\x1b[0m"),
  ];
  for (let i = 0; i < 20; i++) samples.push(randomBytes(1 + i * 13));
  const hex = samples.map((s) =>
    Array.from(s, (b) => b.toString(16).padStart(2, "0")).join("")
  );
  const script =
    "import sys\nfor line in sys.stdin.read().split():\n    print(repr(bytes.fromhex(line)))";
  const child = new Deno.Command("python3", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(encode(hex.join("\n")));
  await writer.close();
  const { stdout, code } = await child.output();
  assert.equal(code, 0);
  const expected = new TextDecoder().decode(stdout).trimEnd().split("\n");
  assert.equal(expected.length, samples.length);
  samples.forEach((sample, i) => assert.equal(bytesRepr(sample), expected[i]));
});

Deno.test("bytesRepr never lets a control byte through", () => {
  const all = new Uint8Array(Array.from({ length: 256 }, (_, i) => i));
  const out = bytesRepr(all);
  for (let i = 0; i < out.length; i++) {
    const code = out.charCodeAt(i);
    assert.ok(code >= 0x20 && code < 0x7f, `char ${code} at ${i}`);
  }
});

Deno.test("bytesRepr with a limit shows that many bytes, then the length", () => {
  const seed = new TextEncoder().encode(
    "This is the message. It will be sent in parts.",
  );
  assert.equal(bytesRepr(seed, 64), `b'${new TextDecoder().decode(seed)}'`);
  assert.equal(
    bytesRepr(new Uint8Array(100_000).fill(0x41), 4),
    "b'AAAA'... (100000 bytes)",
  );
  assert.equal(bytesRepr(new Uint8Array([0, 1]), 0), "b''... (2 bytes)");
});
