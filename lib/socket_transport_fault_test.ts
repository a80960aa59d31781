// Faults in the surroundings of a transport - a stream that throws where it
// should reject, rejects with a non-error, a protocol that detaches memory
// it handed over - must lose that connection only: connectionLost(error),
// the error reported with its stack, never an unhandled rejection (which
// kills a default Deno process). Every test here fails on any unhandled
// rejection or uncaught error, named.

import assert from "node:assert/strict";
import {
  type ByteStream,
  type Protocol,
  SocketTransport,
  type Transport,
} from "./mod.ts";

/** Rejections and errors nobody handled while `body` ran, as text. */
async function unhandledDuring(body: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onRejection = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    seen.push(`unhandled rejection: ${event.reason}`);
  };
  const onError = (event: ErrorEvent) => {
    event.preventDefault();
    seen.push(`uncaught error: ${event.error ?? event.message}`);
  };
  globalThis.addEventListener("unhandledrejection", onRejection);
  globalThis.addEventListener("error", onError);
  try {
    await body();
    // Rejections are reported after the microtasks that could handle them.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onRejection);
    globalThis.removeEventListener("error", onError);
  }
  return seen;
}

/** Standard error written while `body` ran, as text. */
async function stderrDuring(body: () => Promise<void>): Promise<string> {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...parts: unknown[]) => lines.push(parts.join(" "));
  try {
    await body();
  } finally {
    console.error = original;
  }
  return lines.join("\n");
}

type Fault = Partial<
  Record<"read" | "write" | "closeWrite" | "close", () => unknown>
>;

/**
 * A stream that hands out `input` then ends, takes any write, and does
 * what `fault` says instead where it says it.
 */
function faultyStream(input: string[], fault: Fault): ByteStream {
  const chunks = input.map((text) => new TextEncoder().encode(text));
  return {
    read(p: Uint8Array) {
      if (fault.read) return fault.read() as Promise<number | null>;
      const next = chunks.shift();
      if (!next) return new Promise(() => {}); // no more for now
      p.set(next);
      return Promise.resolve(next.byteLength);
    },
    write(p: Uint8Array) {
      if (fault.write) return fault.write() as Promise<number>;
      return Promise.resolve(p.byteLength);
    },
    closeWrite() {
      if (fault.closeWrite) return fault.closeWrite() as Promise<void>;
      return Promise.resolve();
    },
    close() {
      fault.close?.();
    },
  };
}

/** Runs `protocol` over `stream`; what connectionLost got. */
async function lostWith(
  stream: ByteStream,
  protocol: Protocol = {},
): Promise<Error | null> {
  const lost = Promise.withResolvers<Error | null>();
  SocketTransport.start(stream, {
    ...protocol,
    connectionLost: (error) => lost.resolve(error),
  });
  return await lost.promise;
}

const echoOnce: Protocol & { t?: Transport } = {
  connectionMade(t: Transport) {
    echoOnce.t = t;
  },
  dataReceived(data: Uint8Array) {
    echoOnce.t!.write(data);
    echoOnce.t!.writeEof();
  },
};

const cases: [string, Fault, RegExp][] = [
  ["read throws instead of rejecting", {
    read: () => {
      throw new Deno.errors.ConnectionReset("reset on read");
    },
  }, /reset on read/],
  ["read rejects with a string", {
    read: () => Promise.reject("gone"),
  }, /gone/],
  ["write throws instead of rejecting", {
    write: () => {
      throw new Deno.errors.BrokenPipe("broken on write");
    },
  }, /broken on write/],
  ["write rejects with a non-error", {
    write: () => Promise.reject(42),
  }, /42/],
  ["closeWrite throws instead of rejecting", {
    closeWrite: () => {
      throw new Deno.errors.NotConnected("not connected");
    },
  }, /not connected/],
  ["close throws as well as write", {
    write: () => Promise.reject(new Deno.errors.BrokenPipe("broken")),
    close: () => {
      throw new Error("close failed");
    },
  }, /broken/],
];

for (const [title, fault, message] of cases) {
  Deno.test(`a stream whose ${title}: that connection is lost with the error, nothing unhandled`, async () => {
    let error: Error | null = null;
    const unhandled = await unhandledDuring(async () => {
      error = await lostWith(faultyStream(["ping"], fault), echoOnce);
    });
    assert.deepEqual(unhandled, []);
    assert.ok(error !== null, "connectionLost(null): the fault was lost");
    assert.match(String(error), message);
  });
}

Deno.test("a protocol that detaches memory it wrote loses that connection only, the error reported with its stack", async () => {
  let error: Error | null = null;
  const unhandled = await unhandledDuring(async () => {
    const said = await stderrDuring(async () => {
      let release: () => void = () => {};
      const held = new Promise<number>((resolve) => release = () => resolve(4));
      let writes = 0;
      const stream = faultyStream(["go"], {
        // The first write stays in flight, so later ones queue behind it.
        write: () => writes++ === 0 ? held : Promise.resolve(4),
      });
      error = await lostWith(stream, {
        connectionMade(t: Transport) {
          t.write("wait");
          const queued = new Uint8Array([1, 2, 3]);
          t.write(queued);
          t.write(new Uint8Array([4]));
          queued.buffer.transfer(); // the protocol's mistake
          release();
        },
      });
    });
    assert.match(said, /Fatal error in the transport for .*detached/);
    assert.match(said, /\n\s+at /, "the stack follows the line");
  });
  assert.deepEqual(unhandled, []);
  assert.ok(error! instanceof TypeError, String(error));
});
