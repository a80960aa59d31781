/**
 * The baselines the library is measured against: the plain hand-written
 * Deno echo loop, `conn.read()` into one reused buffer, then write it all
 * back; with `--copy`, the same loop copying each read into an array of its
 * own first (`buffer.slice(0, n)`), which any loop must do to hand reads to
 * code that may keep them, as a plain Protocol's `dataReceived` does: the
 * floor for owned chunks. With `--load-library`, the process also loads the
 * library (`@protocols/core`) and never uses it: the loop as it runs in a
 * process holding the library's code (see bench/gc.ts).
 *
 * `deno run --allow-net bench/raw_echo.ts [--copy] [--load-library] [PORT]`
 * prints `listening on PORT`.
 *
 * @module
 */

const FLAGS = ["--copy", "--load-library"];
const copy = Deno.args.includes("--copy");
if (Deno.args.includes("--load-library")) await import("@protocols/core");
const port = Number(Deno.args.find((arg) => !FLAGS.includes(arg)) ?? 0);
const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`listening on ${listener.addr.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const chunk = copy ? buffer.slice(0, n) : buffer;
      let offset = 0;
      while (offset < n) {
        offset += await conn.write(chunk.subarray(offset, n));
      }
    }
    await conn.closeWrite();
  } catch {
    // A reset peer ends this connection only.
  } finally {
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }
}

while (true) {
  try {
    for await (const conn of listener) serve(conn);
  } catch {
    // accept() failed for one connection: keep accepting.
  }
}
