import assert from "node:assert/strict";
import { EchoCheck } from "../echo/echo_check.ts";
import { randomBytes, randomChunks } from "./_helpers.ts";

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("EchoCheck: an exact echo in other chunks than were sent has no difference", () => {
  const data = randomBytes(100_000);
  const check = new EchoCheck();
  for (const chunk of randomChunks(data, 1000)) check.sent(chunk);
  for (const chunk of randomChunks(data, 3000)) check.received(chunk);
  assert.equal(check.firstDifference, null);
  assert.equal(check.gaveUp, false);
});

Deno.test("EchoCheck: the first changed byte is found across chunk boundaries", () => {
  const data = randomBytes(10_000);
  const changed = data.slice();
  changed[7_777] ^= 0x20; // a proxy that changes one letter's case
  const check = new EchoCheck();
  for (const chunk of randomChunks(data, 500)) check.sent(chunk);
  for (const chunk of randomChunks(changed, 700)) check.received(chunk);
  assert.equal(check.firstDifference, 7_777);
});

Deno.test("EchoCheck: bytes past what was sent are a difference where the sent bytes end", () => {
  const check = new EchoCheck();
  check.sent(bytes("hello"));
  check.received(bytes("helloEXTRA"));
  assert.equal(check.firstDifference, 5);
});

Deno.test("EchoCheck: a short echo that matched so far is no difference", () => {
  const check = new EchoCheck();
  check.sent(bytes("hello"));
  check.received(bytes("hel"));
  assert.equal(check.firstDifference, null);
});

Deno.test("EchoCheck: past the limit of bytes waiting it stops comparing", () => {
  const check = new EchoCheck(10);
  check.sent(bytes("12345"));
  check.sent(bytes("67890"));
  assert.equal(check.gaveUp, false);
  check.sent(bytes("x")); // 11 waiting
  assert.equal(check.gaveUp, true);
  check.received(bytes("different"));
  assert.equal(check.firstDifference, null);
});
