import assert from "node:assert/strict";
import {
  AllAttemptsFailedError,
  type ConnectFunction,
  interleave,
  staggeredConnect,
} from "./_happy_eyeballs.ts";
import { createConnection } from "./mod.ts";
import { FakeClock } from "./fake_clock.ts";

/** A fake connection that records being closed. */
function fakeConn(name: string) {
  const conn = {
    name,
    closed: false,
    close() {
      conn.closed = true;
    },
  };
  return conn;
}

/**
 * A connect function whose attempts the test settles by hand; it records
 * the order of attempts and whether each was aborted.
 */
function scripted() {
  const attempts: {
    hostname: string;
    signal: AbortSignal;
    succeed: () => ReturnType<typeof fakeConn>;
    fail: (error: Error) => void;
  }[] = [];
  const started = Promise.withResolvers<void>();
  let waiting: { count: number; resolve: () => void } | null = null;
  const connect: ConnectFunction = ({ hostname, signal }) =>
    new Promise((resolve, reject) => {
      attempts.push({
        hostname,
        signal,
        succeed: () => {
          const conn = fakeConn(hostname);
          resolve(conn as unknown as Deno.TcpConn);
          return conn;
        },
        fail: reject,
      });
      if (waiting && attempts.length >= waiting.count) waiting.resolve();
      started.resolve();
    });
  const attemptsReach = (count: number) =>
    attempts.length >= count ? Promise.resolve() : new Promise<void>(
      (resolve) => waiting = { count, resolve },
    );
  return { connect, attempts, attemptsReach };
}

Deno.test("Happy Eyeballs: families interleave, the resolver's first family first", () => {
  assert.deepEqual(
    interleave(["::1", "::2", "10.0.0.1", "10.0.0.2", "10.0.0.3"]),
    ["::1", "10.0.0.1", "::2", "10.0.0.2", "10.0.0.3"],
  );
  assert.deepEqual(interleave(["10.0.0.1", "::1", "::2"]), [
    "10.0.0.1",
    "::1",
    "::2",
  ]);
});

Deno.test("Happy Eyeballs: the next attempt starts after the delay, without waiting; the winner closes the race", async () => {
  const { connect, attempts, attemptsReach } = scripted();
  const clock = new FakeClock();
  const racing = staggeredConnect(
    ["::1", "10.0.0.1"],
    80,
    0.25,
    connect,
    undefined,
    clock,
  );
  await attemptsReach(1);
  clock.advance(0.249);
  assert.equal(attempts.length, 1, "one attempt before the delay");
  // The first neither connects nor fails: the delay alone starts the next.
  clock.advance(0.001);
  await attemptsReach(2);
  assert.deepEqual(attempts.map((a) => a.hostname), ["::1", "10.0.0.1"]);
  const winner = attempts[1].succeed();
  assert.equal((await racing) as unknown, winner);
  assert.ok(attempts[0].signal.aborted, "the loser's attempt is aborted");
  // A loser that connects anyway is closed.
  const late = attempts[0].succeed();
  await Promise.resolve();
  assert.ok(late.closed);
  assert.ok(!winner.closed);
});

Deno.test("Happy Eyeballs: a failure starts the next attempt at once", async () => {
  const { connect, attempts, attemptsReach } = scripted();
  const clock = new FakeClock();
  const racing = staggeredConnect(
    ["::1", "10.0.0.1"],
    80,
    60,
    connect,
    undefined,
    clock,
  );
  await attemptsReach(1);
  attempts[0].fail(new Deno.errors.ConnectionRefused("refused"));
  await attemptsReach(2); // no time has passed on the clock
  attempts[1].succeed();
  await racing;
});

Deno.test("Happy Eyeballs: when every address fails, one error names each", async () => {
  const { connect, attempts, attemptsReach } = scripted();
  const racing = staggeredConnect(
    ["::1", "10.0.0.1", "::2"],
    80,
    5,
    connect,
    undefined,
    new FakeClock(),
  );
  for (let i = 1; i <= 3; i++) {
    await attemptsReach(i);
    attempts[i - 1].fail(new Error(`refused ${i}`));
  }
  const error = await racing.catch((e) => e);
  assert.ok(error instanceof AllAttemptsFailedError);
  assert.equal(
    error.message,
    "::1: refused 1; 10.0.0.1: refused 2; ::2: refused 3",
  );
  assert.equal(error.errors.length, 3);
});

Deno.test("Happy Eyeballs: null delay tries one address at a time", async () => {
  const { connect, attempts, attemptsReach } = scripted();
  const clock = new FakeClock();
  const racing = staggeredConnect(
    ["::1", "10.0.0.1"],
    80,
    null,
    connect,
    undefined,
    clock,
  );
  await attemptsReach(1);
  assert.equal(clock.pending, 0, "no timer for a next attempt");
  clock.advance(3600);
  assert.equal(attempts.length, 1, "no second attempt while the first runs");
  attempts[0].fail(new Error("refused"));
  await attemptsReach(2);
  attempts[1].succeed();
  await racing;
});

/** Whether this machine can listen on `hostname` (::1 needs IPv6). */
function canListen(hostname: string): boolean {
  try {
    Deno.listen({ hostname, port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

const BOTH_LOOPBACKS = canListen("127.0.0.1") && canListen("::1");
if (!BOTH_LOOPBACKS) {
  console.log(
    "Happy Eyeballs loopback test ignored: this machine lacks ::1 or 127.0.0.1",
  );
}

Deno.test({
  name: "Happy Eyeballs on loopback: ::1 and 127.0.0.1, whichever listens wins",
  ignore: !BOTH_LOOPBACKS,
}, async () => {
  const connect: ConnectFunction = (o) => Deno.connect(o);
  for (const hostname of ["127.0.0.1", "::1"]) {
    const listener = Deno.listen({ hostname, port: 0 });
    try {
      const conn = await staggeredConnect(
        ["::1", "127.0.0.1"],
        listener.addr.port,
        0.25,
        connect,
      );
      const accepted = await listener.accept();
      assert.equal((conn.remoteAddr as Deno.NetAddr).hostname, hostname);
      conn.close();
      accepted.close();
    } finally {
      listener.close();
    }
  }
});

Deno.test("createConnection: a bad happyEyeballsDelay is a RangeError", async () => {
  await assert.rejects(
    createConnection(() => ({}), { port: 1, happyEyeballsDelay: -1 }),
    RangeError,
  );
});
