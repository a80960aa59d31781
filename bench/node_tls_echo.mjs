// Node's TLS echo server for the benchmark, the anchor of the TLS rows:
// `node bench/node_tls_echo.mjs CERT KEY` prints `listening on PORT`.
import { readFileSync } from "node:fs";
import tls from "node:tls";

const [cert, key] = process.argv.slice(2).map((file) => readFileSync(file));
const server = tls.createServer({ cert, key }, (socket) => {
  socket.setNoDelay(true);
  socket.pipe(socket);
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
