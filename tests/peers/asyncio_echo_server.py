"""The seed's asyncio echo server, for interop tests: port from argv (0 = any)."""
import asyncio
import logging
import signal
import sys

logging.basicConfig(level=logging.DEBUG, format="%(name)s: %(message)s", stream=sys.stderr)
log = logging.getLogger("main")


class EchoServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.address = transport.get_extra_info("peername")
        self.log = logging.getLogger("EchoServer_{}_{}".format(*self.address[:2]))
        self.log.debug("connection accepted")

    def data_received(self, data):
        self.log.debug("received {!r}".format(data))
        self.transport.write(data)
        self.log.debug("sent {!r}".format(data))

    def eof_received(self):
        self.log.debug("received EOF")
        if self.transport.can_write_eof():
            self.transport.write_eof()

    def connection_lost(self, error):
        if error:
            self.log.error("ERROR: {}".format(error))
        else:
            self.log.debug("closing")
        super().connection_lost(error)


async def main(host, port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(EchoServer, host, port)
    log.debug("starting up on {} port {}".format(host, server.sockets[0].getsockname()[1]))
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, stop.set_result, None)
    await stop
    log.debug("closing server")
    server.close()
    await server.wait_closed()


asyncio.run(main(sys.argv[1], int(sys.argv[2])))
