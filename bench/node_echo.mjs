// Node's net echo server for the benchmark: prints `listening on PORT`.
import net from "node:net";

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.pipe(socket);
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
