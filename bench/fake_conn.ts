/**
 * The library's own JavaScript per round trip, with no socket: an echo
 * protocol over a stream whose reads and writes complete at once, so what
 * is timed is the transport's read loop, write buffer and callbacks (and
 * the memory each read takes). The system calls a real connection adds
 * are the same for any code, and are in `deno task bench`.
 *
 * `deno run bench/fake_conn.ts [SIZE] [plain|release]` prints nanoseconds
 * per round trip for SIZE-byte messages (default 1024), the echo keeping
 * its chunks (plain) or releasing them.
 *
 * @module
 */

import {
  type ByteStream,
  SocketTransport,
  type Transport,
} from "@protocols/core";

const size = Number(Deno.args[0] ?? 1024);
const release = Deno.args[1] === "release";
const ROUNDS = 300_000;
const message = new Uint8Array(size).fill(7);

let pendingRead: ((n: number | null) => void) | null = null;
let target: Uint8Array | null = null;
let rounds = 0;
const done = Promise.withResolvers<void>();

/** Puts the next message into the pending read. */
function feed(): void {
  const resolve = pendingRead;
  if (resolve === null || target === null) {
    queueMicrotask(feed); // the read is not issued yet
    return;
  }
  pendingRead = null;
  const n = Math.min(size, target.byteLength);
  target.set(message.subarray(0, n));
  resolve(n);
}

const stream: ByteStream = {
  read(p) {
    target = p;
    return new Promise((resolve) => pendingRead = resolve);
  },
  write(p) {
    if (++rounds >= ROUNDS) done.resolve();
    else queueMicrotask(feed); // the echo is back: the next message
    return Promise.resolve(p.byteLength);
  },
  closeWrite: () => Promise.resolve(),
  close() {},
};

let transport!: Transport;
SocketTransport.start(stream, {
  connectionMade(t: Transport) {
    transport = t;
  },
  dataReceived(data: Uint8Array) {
    transport.write(data);
    if (release) transport.release(data);
  },
});
queueMicrotask(feed);
const start = performance.now();
await done.promise;
const ns = (performance.now() - start) * 1e6 / ROUNDS;
console.log(
  `${size} B, ${release ? "released" : "kept"} chunks: ${
    ns.toFixed(0)
  } ns per round trip`,
);
transport.abort();
