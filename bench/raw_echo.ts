/**
 * The baseline the library is measured against: the plain hand-written Deno
 * echo loop, `conn.read()` into one reused buffer, then write it all back.
 *
 * `deno run --allow-net bench/raw_echo.ts PORT` prints `listening on PORT`.
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
      let offset = 0;
      while (offset < n) {
        offset += await conn.write(buffer.subarray(offset, n));
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
