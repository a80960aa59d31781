import assert from "node:assert/strict";
import { namedConnectError } from "./_connect_error.ts";
import { AllAttemptsFailedError, staggeredConnect } from "./_happy_eyeballs.ts";

const TARGET = "cannot connect to localhost port 9";

/** A port nothing listens on, on both loopback addresses. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** What connecting to every one of `addresses` fails with. */
function failAll(addresses: string[], port: number): Promise<unknown> {
  return staggeredConnect(
    addresses,
    port,
    null,
    (attempt) => Deno.connect(attempt),
  ).then(
    () => assert.fail("a connection succeeded"),
    (error) => error,
  );
}

Deno.test("several addresses refused alike: a ConnectionRefused naming each, the attempts as its cause", async () => {
  const port = closedPort();
  const failed = await failAll(["::1", "127.0.0.1"], port);
  const error = namedConnectError(failed, TARGET);
  assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
  assert.match(error.message, /^cannot connect to localhost port 9: ::1: /);
  assert.match(error.message, /; 127\.0\.0\.1: /);
  assert.equal(error.cause, failed);
  const { errors } = error.cause as { errors: { address: string }[] };
  assert.deepEqual(errors.map((e) => e.address), ["::1", "127.0.0.1"]);
});

Deno.test("addresses failing differently: an Error naming each, the attempts as its cause", () => {
  const port = closedPort();
  const attempts = [
    {
      address: "127.0.0.1",
      error: new Deno.errors.ConnectionRefused("refused"),
    },
    { address: "::1", error: new Deno.errors.TimedOut("timed out") },
  ];
  const failed = new AllAttemptsFailedError(attempts);
  const error = namedConnectError(
    failed,
    `cannot connect to localhost port ${port}`,
  );
  assert.equal(error.constructor, Error);
  assert.equal(
    error.message,
    `cannot connect to localhost port ${port}: 127.0.0.1: refused; ::1: timed out`,
  );
  assert.equal(error.cause, failed);
});

Deno.test("one error keeps its class; an unknown class or a non-error becomes an Error", () => {
  const refused = new Deno.errors.ConnectionRefused("Connection refused");
  const named = namedConnectError(refused, TARGET);
  assert.ok(named instanceof Deno.errors.ConnectionRefused);
  assert.equal(named.cause, refused);

  class Odd extends Error {
    constructor(readonly parts: string[]) {
      super(parts.join(" "));
    }
  }
  const odd = namedConnectError(new Odd(["a", "b"]), TARGET);
  assert.equal(odd.constructor, Error);
  assert.equal(odd.message, `${TARGET}: a b`);
  assert.equal(namedConnectError("down", TARGET).message, `${TARGET}: down`);
});
