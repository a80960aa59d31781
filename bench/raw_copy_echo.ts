/**
 * The floor for owned chunks: the hand-written Deno echo loop of
 * raw_echo.ts, but each read is copied into an array of its own
 * (`buffer.slice(0, n)`) before it is written back — what a loop must do to
 * hand every read to code that may keep it, as a plain Protocol's
 * `dataReceived` does.
 *
 * `deno run --allow-net bench/raw_copy_echo.ts PORT` prints
 * `listening on PORT`.
 *
 * @module
 */

const port = Number(Deno.args[0] ?? 0);
const listener = Deno.listen({ hostname: "127.0.0.1", port });
console.log(`listening on ${listener.addr.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buffer = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      const chunk = buffer.slice(0, n);
      let offset = 0;
      while (offset < n) offset += await conn.write(chunk.subarray(offset));
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
