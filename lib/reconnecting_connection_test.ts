import assert from "node:assert/strict";
import {
  type Connector,
  createReconnectingConnection,
  createServer,
  type Protocol,
  type Server,
  type Transport,
} from "./mod.ts";
import { connectPair, FakeClock, RecordingProtocol } from "./testing.ts";
import { captureLogs, EchoProtocol, waitFor } from "./_test_helpers.ts";

captureLogs("error");

/** The retries a client announces, to be awaited one by one. */
function retries() {
  const seen: { error: Error | null; delay: number; attempts: number }[] = [];
  let waiting: (() => void) | null = null;
  return {
    seen,
    onRetry(error: Error | null, delay: number, attempts: number) {
      seen.push({ error, delay, attempts });
      waiting?.();
    },
    /** Resolves once `count` retries have been announced. */
    async reach(count: number) {
      while (seen.length < count) {
        await new Promise<void>((resolve) => waiting = resolve);
      }
      return seen[count - 1];
    },
  };
}

/** A port nothing listens on now (free a moment ago). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

function listen(port: number, accepted: Transport[]): Promise<Server> {
  return createServer(() => {
    const protocol = new EchoProtocol();
    const made = protocol.connectionMade.bind(protocol);
    protocol.connectionMade = (t: Transport) => {
      accepted.push(t);
      made(t);
    };
    return protocol;
  }, { hostname: "127.0.0.1", port });
}

async function restart(server: Server): Promise<void> {
  server.close();
  server.closeClients();
  await server.waitClosed();
}

Deno.test("reconnecting: down, then up, then restarted twice: growing delays, reset after each connection", async () => {
  const clock = new FakeClock();
  const port = freePort();
  const retry = retries();
  const made: RecordingProtocol[] = [];
  const client = createReconnectingConnection(() => {
    const protocol = new RecordingProtocol();
    made.push(protocol);
    return protocol;
  }, {
    hostname: "127.0.0.1",
    port,
    clock,
    retry: { initialDelay: 1, factor: 2, jitter: 0 },
    onRetry: retry.onRetry,
  });
  // Down: refused three times, waiting 1, 2, then 4 s.
  for (const delay of [1, 2, 4]) {
    const event = await retry.reach(Math.log2(delay) + 1);
    assert.ok(event.error instanceof Deno.errors.ConnectionRefused);
    assert.equal(event.delay, delay);
    assert.equal(client.transport, undefined);
    if (delay < 4) clock.advance(delay);
  }
  assert.equal(client.attempts, 3);
  // Up: the next attempt, 4 s later, connects.
  const accepted: Transport[] = [];
  let server = await listen(port, accepted);
  clock.advance(3.9);
  assert.equal(client.attempts, 3, "not before the delay");
  clock.advance(0.1);
  await waitFor(() => accepted.length === 1, "the server accepts");
  await waitFor(() => client.transport !== undefined, "connected");
  assert.equal(made.length, 1);
  // Restarted twice: each time the delay is back to 1 s.
  for (let restarts = 1; restarts <= 2; restarts++) {
    await restart(server);
    const event = await retry.reach(3 + restarts);
    assert.equal(event.delay, 1, "reset after a connection was made");
    assert.equal(client.transport, undefined);
    server = await listen(port, accepted);
    clock.advance(1);
    await waitFor(() => accepted.length === 1 + restarts, "reconnected");
    await waitFor(() => client.transport !== undefined, "connected");
  }
  assert.equal(made.length, 3, "a new protocol for each connection");
  assert.equal(client.attempts, 6);
  // The live connection works.
  client.transport!.write("ping");
  await waitFor(() => made[2].text() === "ping", "the echo");
  await client.stop();
  assert.equal(await client.closed, null);
  assert.equal(await made[2].lost.promise, null, "closed by stop()");
  assert.equal(clock.pending, 0, "no attempt left to come");
  await restart(server);
});

Deno.test("reconnecting: stop() during a delay: no attempt after it", async () => {
  const clock = new FakeClock();
  const retry = retries();
  const client = createReconnectingConnection(() => ({}), {
    hostname: "127.0.0.1",
    port: freePort(),
    clock,
    onRetry: retry.onRetry,
  });
  await retry.reach(1);
  await client.stop();
  assert.equal(await client.closed, null);
  clock.advance(3600 * 24);
  assert.equal(client.attempts, 1);
  assert.equal(clock.pending, 0);
});

Deno.test("reconnecting: stop() or the signal during an attempt abandons it", async () => {
  for (const how of ["stop", "signal"]) {
    const signals: AbortSignal[] = [];
    const hanging: Connector<Protocol> = (_factory, options) =>
      new Promise((_, reject) => {
        signals.push(options.signal!);
        options.signal!.addEventListener(
          "abort",
          () => reject(options.signal!.reason),
        );
      });
    const controller = new AbortController();
    const client = createReconnectingConnection(() => ({}), {
      port: 1,
      clock: new FakeClock(),
      connect: hanging,
      signal: controller.signal,
    });
    assert.equal(signals.length, 1, "the first attempt starts at once");
    if (how === "stop") await client.stop();
    else controller.abort();
    assert.equal(await client.closed, null);
    assert.equal(signals[0].aborted, true, how);
    assert.equal(client.attempts, 1);
  }
});

Deno.test("reconnecting: maxRetries counts the attempts after the first, then closed has the last error", async () => {
  const clock = new FakeClock();
  const retry = retries();
  const client = createReconnectingConnection(() => ({}), {
    hostname: "127.0.0.1",
    port: freePort(),
    clock,
    retry: { maxRetries: 2, jitter: 0, initialDelay: 1, factor: 1.6 },
    onRetry: retry.onRetry,
  });
  await retry.reach(1);
  clock.advance(1);
  assert.equal((await retry.reach(2)).delay, 1.6);
  clock.advance(1.6);
  const error = await client.closed;
  assert.ok(error instanceof Deno.errors.ConnectionRefused, String(error));
  assert.equal(client.attempts, 3);
  assert.equal(retry.seen.length, 2, "no retry announced when giving up");
});

/**
 * A thousand clients of one in-memory server that is down: each attempt
 * is refused, at the clock's time, which is recorded.
 */
function thousandClients(jitter: number) {
  const clock = new FakeClock();
  const attemptsAt: number[][] = [];
  let up = false;
  const connect = (index: number): Connector<Protocol> => (factory) => {
    (attemptsAt[index] ??= []).push(clock.now());
    if (!up) {
      return Promise.reject(new Deno.errors.ConnectionRefused("refused"));
    }
    const [transport] = connectPair(factory(), new EchoProtocol(), { clock });
    return Promise.resolve({ transport, protocol: {} as Protocol });
  };
  let announced = 0;
  const all = Promise.withResolvers<void>();
  const clients = Array.from(
    { length: 1000 },
    (_, i) =>
      createReconnectingConnection(() => ({}), {
        port: 1,
        clock,
        retry: { jitter },
        connect: connect(i),
        onRetry: () => {
          if (++announced === 1000) all.resolve();
        },
      }),
  );
  return {
    clock,
    clients,
    attemptsAt,
    firstRetries: all.promise,
    up: () => up = true,
  };
}

/** The most attempts that fall in one 10 ms slice of the clock. */
function busiestSlice(times: number[]): number {
  const slices = new Map<number, number>();
  for (const t of times) {
    const slice = Math.floor(t * 100);
    slices.set(slice, (slices.get(slice) ?? 0) + 1);
  }
  return Math.max(...slices.values());
}

Deno.test("reconnecting: a thousand clients that lost one server spread their attempts across the delay", async () => {
  const { clock, clients, attemptsAt, firstRetries, up } = thousandClients(
    0.2,
  );
  await firstRetries;
  up();
  // Every second attempt falls between 0.8 and 1.2 s, spread out.
  for (let i = 0; i < 125; i++) clock.advance(0.01);
  const second = attemptsAt.map((times) => times[1]);
  assert.ok(second.every((t) => t >= 0.8 && t <= 1.2), "within +-20 %");
  const busiest = busiestSlice(second);
  // 1000 attempts over 40 slices: about 25 in each; in step, all 1000 in one.
  assert.ok(busiest < 100, `${busiest} attempts in one 10 ms slice`);
  await waitFor(
    () => clients.every((c) => c.transport !== undefined),
    "all connected",
  );
  await Promise.all(clients.map((c) => c.stop()));
});

Deno.test("reconnecting: without jitter, a thousand clients come back in step (what jitter prevents)", async () => {
  const { clock, clients, attemptsAt, firstRetries } = thousandClients(0);
  await firstRetries;
  clock.advance(1);
  assert.equal(busiestSlice(attemptsAt.map((times) => times[1])), 1000);
  await Promise.all(clients.map((c) => c.stop()));
});

Deno.test("reconnecting: bad options are a RangeError from the call, naming the option", () => {
  const cases: [Record<string, number>, string][] = [
    [
      { initialDelay: -1 },
      "retry.initialDelay must be a number of seconds >= 0, got -1",
    ],
    [
      { maxDelay: Infinity },
      "retry.maxDelay must be a number of seconds >= 0, got Infinity",
    ],
    [
      { initialDelay: NaN },
      "retry.initialDelay must be a number of seconds >= 0, got NaN",
    ],
    [{ factor: 0.5 }, "retry.factor must be a number >= 1, got 0.5"],
    [{ jitter: 1.5 }, "retry.jitter must be a number from 0 to 1, got 1.5"],
    [{ jitter: -0.1 }, "retry.jitter must be a number from 0 to 1, got -0.1"],
    [
      { maxRetries: -1 },
      "retry.maxRetries must be a whole number >= 0, got -1",
    ],
    [
      { maxRetries: 1.5 },
      "retry.maxRetries must be a whole number >= 0, got 1.5",
    ],
  ];
  for (const [retry, message] of cases) {
    assert.throws(
      () => createReconnectingConnection(() => ({}), { port: 1, retry }),
      new RangeError(message),
    );
  }
  assert.throws(
    () => createReconnectingConnection(() => ({}), { port: 70000 }),
    new RangeError("port must be a whole number from 0 to 65535, got 70000"),
  );
  assert.throws(
    () =>
      createReconnectingConnection(() => ({}), { port: 1, idleTimeout: -5 }),
    RangeError,
  );
});
