import assert from "node:assert/strict";
import { createConnection } from "@protocols/core";
import { describeError } from "../echo/errors.ts";

/** A port nothing listens on. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

Deno.test("describeError: a connection refused on every address is one short line", async () => {
  const error = await createConnection(() => ({}), {
    hostname: "localhost",
    port: closedPort(),
  }).catch((e) => e);
  assert.equal(describeError(error), "connection refused");
});

Deno.test("describeError: an error of many attempts that differ keeps its message", () => {
  const error = new Error(
    "cannot connect to localhost port 9: 127.0.0.1: refused; ::1: timed out",
  );
  assert.equal(describeError(error), error.message);
});
