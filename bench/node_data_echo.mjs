// Node's `data` echo for the benchmark, the anchor Node's `pipe` row is
// measured against: each chunk written back, reading paused while the
// socket's buffer is full. Prints `listening on PORT`.
import net from "node:net";

const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on("data", (data) => {
    if (!socket.write(data)) socket.pause();
  });
  socket.on("drain", () => socket.resume());
  socket.on("end", () => socket.end());
  socket.on("error", () => socket.destroy());
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on ${server.address().port}`);
});
